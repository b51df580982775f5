"""NIR export and import (``neurosim.hardware.nir``): round trips, runs in snnTorch and Norse,
graphs exported by snnTorch and Norse, engine networks, refused inputs, and import traps (an
unstated dt, layers that cannot fire, reset by subtraction, IF and biases in the engine).

Every test fails on a ``NIRImportWarning`` it does not expect: the import checks raise no false
alarms on round trips and on snnTorch's and Norse's graphs."""

from __future__ import annotations

import json
import re

import nir
import nirtorch
import norse.torch as norse
import numpy as np
import pytest
import snntorch as snn
import torch
from norse.torch import LIFBoxCell, LIFBoxParameters, SequentialState
from snntorch import utils as snn_utils
from snntorch.export_nir import export_to_nir
from torch import nn

import neurosim
from neurosim import CubaLIF, FixedProbability, LIF, Network, Normal, Uniform
from neurosim.hardware import nir as hn
from neurosim.hardware.graph import Affine, Conv2d, Flatten, LayerGraph, Leaky, Spiking, SumPool2d, to_model
from neurosim.hardware.profiles import Profile

DT = 1e-3
pytestmark = pytest.mark.filterwarnings("error::neurosim.hardware.nir.NIRImportWarning")


def f32(a) -> np.ndarray:
    """Values as trained models hold them (float32) in the graph's float64 arrays."""
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def _graphs() -> dict[str, LayerGraph]:
    rng = np.random.default_rng(0)
    w = lambda *shape: f32(rng.normal(0.0, 0.6, shape))
    u = lambda lo, hi, n: f32(rng.uniform(lo, hi, n))
    return {
        # β spans (0.2, 0.95): below 1/2 the map β -> τ is not injective in float64
        "lif": LayerGraph((Affine(w(20, 12), w(20)), Spiking(20, u(0.2, 0.95, 20), u(0.5, 1.5, 20), "hard"),
                           Affine(w(14, 20), None), Spiking(14, 1.0, 1.2, "hard"),  # β = 1: IF
                           Affine(w(6, 14), w(6)), Spiking(6, u(0.3, 0.9, 6), 0.8, "hard")), (12,), DT, 25),
        "cuba": LayerGraph((Affine(w(16, 12), w(16)), Spiking(16, u(0.2, 0.95, 16), 1.0, "hard", u(0.1, 0.9, 16)),
                            Affine(w(5, 16), w(5)), Spiking(5, 0.85, 0.7, "hard", 0.6)), (12,), DT, 25,
                           {"type": "rate", "gain": 0.5}),
        "rlif": LayerGraph((Affine(w(18, 12), w(18)), Spiking(18, u(0.2, 0.95, 18), 1.0, "hard", None, w(18, 18)),
                            Affine(w(8, 18), None),
                            Spiking(8, u(0.3, 0.9, 8), 0.9, "hard", u(0.2, 0.8, 8), w(8, 8) * 0.5)), (12,), DT, 25),
        "conv": LayerGraph((Conv2d(w(4, 1, 3, 3), (1, 8, 8), w(4), (1, 1), (1, 1)),
                            Spiking(256, np.repeat(u(0.3, 0.9, 4), 64), 1.0, "hard"),
                            SumPool2d(2, (4, 8, 8), 0.25), Flatten((4, 4, 4)),
                            Affine(w(6, 64), None), Spiking(6, 0.8, 0.6, "hard")), (1, 8, 8), DT, 10),
    }


def _with_readout(graph: LayerGraph) -> LayerGraph:
    rng = np.random.default_rng(1)
    n = graph.layers[-1].size
    return LayerGraph(graph.layers + (Affine(f32(rng.normal(0, 0.5, (3, n))), f32(rng.normal(0, 0.1, 3))),
                                      Leaky(3, f32([0.5, 0.8, 0.95]))), graph.input_shape, graph.dt, graph.steps,
                      graph.encoder)


GRAPHS = _graphs()


def _input(graph: LayerGraph, steps: int = 40, batch: int = 3, seed: int = 0) -> torch.Tensor:
    return torch.rand((steps, batch, *graph.input_shape), generator=torch.Generator().manual_seed(seed)) * 2


def _active(spikes: torch.Tensor) -> None:
    rate = spikes.float().mean().item()
    assert 0.01 < rate < 0.9, f"the test needs spiking activity, got a rate of {rate}"


def _assert_same_graph(a: LayerGraph, b: LayerGraph) -> None:
    assert (a.input_shape, a.dt, a.steps, a.encoder) == (b.input_shape, b.dt, b.steps, b.encoder)
    assert [type(x) for x in a.layers] == [type(x) for x in b.layers]
    for x, y in zip(a.layers, b.layers):
        for field, value in vars(x).items():
            other = getattr(y, field)
            if isinstance(value, np.ndarray) or isinstance(other, np.ndarray):
                assert value is not None and other is not None, field
                assert value.dtype == other.dtype and np.array_equal(value, other), f"{type(x).__name__}.{field}"
            else:
                assert value == other, f"{type(x).__name__}.{field}"


# ----------------------------------------------------------------- 1. LayerGraph round trip

@pytest.mark.parametrize("name", ["lif", "cuba", "rlif", "conv"])
def test_layer_graph_round_trip_is_bit_identical(name, tmp_path):
    graph = _with_readout(GRAPHS[name])
    g = hn.to_nir(graph)
    assert g.metadata["dt"] == DT and json.loads(g.metadata["encoder"]) == graph.encoder
    report = hn.export(graph, tmp_path / f"{name}.nir")
    assert report["file"] == str(tmp_path / f"{name}.nir") and report["dt"] == DT
    assert report["nodes"] == len(g.nodes) and report["edges"] == len(g.edges)
    back = hn.from_nir(tmp_path / f"{name}.nir")
    _assert_same_graph(graph, back)
    x = _input(graph)
    a, b = to_model(graph).run(x), to_model(back).run(x)
    for m, n in zip(a.membranes, b.membranes):
        assert torch.equal(m, n)
    spikes = to_model(GRAPHS[name]).run(x).out
    _active(spikes)
    assert torch.equal(spikes, to_model(hn.from_nir(hn.to_nir(GRAPHS[name]))).run(x).out)
    # without the exact β, α kept in node metadata, they come from τ (β = 1 - dt/τ): equal up to
    # rounding in float64, and the same float32 values in the torch model
    for node in g.nodes.values():
        node.metadata = {}
    derived = hn.from_nir(g)
    for x_layer, y_layer in zip(graph.layers, derived.layers):
        if isinstance(x_layer, (Spiking, Leaky)):
            assert np.allclose(x_layer.beta, y_layer.beta, rtol=0, atol=1e-15)
    assert torch.equal(to_model(derived).run(x).out, a.out)


def test_node_types_and_parameter_mapping():
    g = hn.to_nir(_with_readout(GRAPHS["rlif"]))
    kinds = {k: type(n).__name__ for k, n in g.nodes.items()}
    assert kinds == {"input": "Input", "affine0": "Affine", "lif1": "LIF", "lif1_rec": "Linear", "affine2": "Linear",
                     "lif3": "CubaLIF", "lif3_rec": "Linear", "affine4": "Affine", "li5": "LI", "output": "Output"}
    assert ("lif1", "lif1_rec") in g.edges and ("lif1_rec", "lif1") in g.edges
    layer = GRAPHS["rlif"].layers[3]
    node = g.nodes["lif3"]
    np.testing.assert_array_equal(node.tau_mem, DT / (1 - layer.beta))
    np.testing.assert_array_equal(node.tau_syn, DT / (1 - layer.alpha))
    np.testing.assert_array_equal(node.r, node.tau_mem / DT)
    np.testing.assert_array_equal(node.w_in, node.tau_syn / DT)
    assert not node.v_leak.any() and not node.v_reset.any()
    assert g.metadata["reset"] == "hard" and "reset_delay=False" in g.metadata["reset_doc"]
    assert type(hn.to_nir(GRAPHS["lif"]).nodes["if3"]) is nir.IF
    assert isinstance(hn.to_nir(GRAPHS["conv"]).nodes["pool2"], nir.AvgPool2d)
    assert hn.to_nir(GRAPHS["conv"]).nodes["lif1"].tau.shape == (4, 8, 8)


# ----------------------------------------------------------------- 2. our graphs in snnTorch and Norse

class _Membrane(nn.Module):
    """An snnTorch Leaky without reset whose output is its membrane (the LI readout)."""

    def __init__(self, leaky: snn.Leaky):
        super().__init__()
        self.leaky = leaky

    def forward(self, x):
        return self.leaky(x)[1]


def _snntorch_node_map(dt: float) -> dict:
    """NIR -> snnTorch modules at the graph's dt (snnTorch's own import hard-codes dt = 1e-4 and
    builds IF as Leaky(beta=0.9)); reset to zero right after a spike (reset_delay=False)."""
    t = lambda a: torch.as_tensor(np.asarray(a, dtype=np.float64), dtype=torch.float32)
    zero = dict(reset_mechanism="zero", reset_delay=False, init_hidden=True)

    def lif(n):
        assert np.allclose(n.r * dt / n.tau, 1)
        return snn.Leaky(beta=t(1 - dt / n.tau), threshold=t(n.v_threshold), **zero)

    def if_(n):
        assert np.allclose(n.r * dt, 1)
        return snn.Leaky(beta=1.0, threshold=t(n.v_threshold), **zero)

    def cuba(n):
        assert np.allclose(n.r * dt / n.tau_mem, 1) and np.allclose(n.w_in * dt / n.tau_syn, 1)
        return snn.Synaptic(alpha=t(1 - dt / n.tau_syn), beta=t(1 - dt / n.tau_mem), threshold=t(n.v_threshold),
                            **zero)

    def li(n):
        return _Membrane(snn.Leaky(beta=t(1 - dt / n.tau), reset_mechanism="none", init_hidden=True, output=True))

    def linear(n):
        m = nn.Linear(n.weight.shape[1], n.weight.shape[0], bias=isinstance(n, nir.Affine))
        m.weight.data = t(n.weight)
        if isinstance(n, nir.Affine):  # nirtorch's default Affine map drops the bias
            m.bias.data = t(n.bias)
        return m

    return {nir.LIF: lif, nir.IF: if_, nir.CubaLIF: cuba, nir.LI: li, nir.Affine: linear, nir.Linear: linear,
            # NIR's Flatten dimensions exclude the batch; torch's include it
            nir.Flatten: lambda n: nn.Flatten(n.start_dim + 1, n.end_dim if n.end_dim < 0 else n.end_dim + 1)}


def _step(module, x: torch.Tensor) -> torch.Tensor:
    state, outs = None, []
    with torch.no_grad():
        for x_t in x:
            out, state = module(x_t, state)
            outs.append(out)
    return torch.stack(outs)


@pytest.mark.parametrize("name", ["lif", "cuba", "rlif", "conv"])
def test_exported_graph_runs_identically_in_snntorch(name, tmp_path):
    graph = GRAPHS[name]
    for g in (graph, _with_readout(graph)):
        nir.write(tmp_path / "g.nir", hn.to_nir(g))
        read = nir.read(tmp_path / "g.nir")
        module = nirtorch.nir_to_torch(read, _snntorch_node_map(read.metadata["dt"]))
        x = _input(g, seed=3)
        ours = to_model(g).run(x).out
        assert torch.equal(_step(module, x), ours)
    _active(to_model(graph).run(x).out)


@pytest.mark.parametrize("name", ["cuba", "rlif"])
def test_exported_graph_runs_identically_in_norse(name, tmp_path):
    """Norse's LIF ignores r, so the graph is written with r = 1 (τ/dt folded into the weights)."""
    graph = GRAPHS[name]
    g = hn.to_nir(graph, r_one=True)
    assert all(np.all(n.r == 1) for n in g.nodes.values() if isinstance(n, (nir.LIF, nir.CubaLIF)))
    nir.write(tmp_path / "g.nir", g)
    read = nir.read(tmp_path / "g.nir")
    module = norse.from_nir(read, dt=float(read.metadata["dt"]))
    x = _input(graph, steps=120, seed=4)
    ours = to_model(graph).run(x).out
    _active(ours)
    assert torch.equal(_step(module, x), ours)
    back = hn.from_nir(read)  # r = 1 comes back as gain folded into the weights, equal up to rounding
    assert np.allclose(back.layers[0].weight, graph.layers[0].weight, rtol=1e-12, atol=0)
    assert torch.equal(to_model(back).run(x).out, ours)


# ----------------------------------------------------------------- 3. graphs exported by snnTorch and Norse

def test_snntorch_export_imports_with_identical_spikes(tmp_path):
    torch.manual_seed(0)
    n1, n2, n3 = 20, 16, 5
    model = nn.Sequential(
        nn.Linear(12, n1), snn.Leaky(beta=torch.rand(n1) * 0.7 + 0.25, threshold=torch.rand(n1) + 0.5,
                                     reset_mechanism="zero", init_hidden=True),
        nn.Linear(n1, n2), snn.RLeaky(beta=torch.rand(n2) * 0.7 + 0.25, linear_features=n2, reset_mechanism="zero",
                                      reset_delay=False, init_hidden=True),
        nn.Linear(n2, n3), snn.Synaptic(alpha=torch.rand(n3) * 0.8 + 0.1, beta=torch.rand(n3) * 0.7 + 0.25,
                                        threshold=torch.full((n3,), 0.8), reset_mechanism="zero", reset_delay=False,
                                        init_hidden=True))
    with torch.no_grad():
        for m in model:
            if isinstance(m, nn.Linear):
                m.weight.mul_(3)
    g = export_to_nir(model, torch.rand(1, 12), ignore_dims=[0])  # per-neuron parameters, no batch dimension
    nir.write(tmp_path / "snntorch.nir", g)
    with pytest.raises(ValueError, match="dt"):
        hn.from_nir(tmp_path / "snntorch.nir")  # snnTorch writes no dt
    graph = hn.from_nir(tmp_path / "snntorch.nir", dt=1e-4)  # snnTorch's exporter uses dt = 1e-4
    with pytest.warns(hn.NIRImportWarning) as caught:  # r = τ/1e-4 read at another dt: gain dt/1e-4
        hn.from_nir(tmp_path / "snntorch.nir", dt=5e-5)
    assert re.search(r"node '1' \(LIF\), node '3\.lif' \(LIF\): input gain is 0\.5, but r = τ/0\.0001 s is "
                     r"snnTorch's convention r = τ/dt for dt = 0\.0001 s: for that, pass dt=0\.0001; node '5' "
                     r"\(CubaLIF\): input gain is 0\.25", str(caught[0].message))
    assert [type(layer).__name__ for layer in graph.layers] == ["Affine", "Spiking"] * 3
    assert graph.layers[3].recurrent is not None and graph.layers[5].cuba
    x = torch.rand(100, 4, 12)
    snn_utils.reset(model)
    with torch.no_grad():
        expected = torch.stack([model(x_t) for x_t in x])
    _active(expected)
    assert torch.equal(to_model(graph).run(x).out, expected)


def test_norse_export_imports_with_identical_spikes():
    torch.manual_seed(0)
    dt, n1, n2 = 1e-3, 20, 6
    model = SequentialState(
        nn.Linear(12, n1),
        LIFBoxCell(LIFBoxParameters(tau_mem_inv=1 / (torch.rand(n1) * 0.02 + 0.005), v_th=torch.rand(n1) * 0.5 + 0.3,
                                    v_leak=torch.zeros(n1)), dt=dt),
        nn.Linear(n1, n2),
        LIFBoxCell(LIFBoxParameters(tau_mem_inv=torch.full((n2,), 100.0), v_th=torch.full((n2,), 0.4),
                                    v_leak=torch.zeros(n2)), dt=dt))
    with torch.no_grad():
        for m in model:
            if isinstance(m, nn.Linear):
                m.weight.mul_(6)
    g = norse.to_nir(model, torch.rand(1, 12), dt=dt)
    assert isinstance(g.nodes["1"], nir.LIF) and np.all(np.asarray(g.nodes["1"].r) == 1)
    with pytest.raises(ValueError, match="tau_times_dt=True"):
        hn.from_nir(g, dt=dt)  # Norse 1.1 writes τ·dt (norse#411)
    graph = hn.from_nir(g, dt=dt, tau_times_dt=True)
    x = torch.rand(200, 4, 12) * 3
    expected = _step(model, x)
    _active(expected)
    assert torch.equal(to_model(graph).run(x).out, expected)


# ----------------------------------------------------------------- 4. engine networks

def _network(precision: str = "float64", soft: bool = False) -> Network:
    net = Network(dt="0.1 ms", seed=7, precision=precision)
    rng = np.random.default_rng(1)
    times, indices = np.round(rng.uniform(0, 0.04, 500) / 1e-4) * 1e-4, rng.integers(0, 20, 500)
    src = net.spike_source("src", 20, times=times, indices=indices)
    noise = net.poisson_source("noise", 10, rate="200 Hz")
    exc = net.population("exc", 30, LIF(tau_m="10 ms", v_rest="-65 mV", v_th="-50 mV", v_reset="-70 mV", t_ref=0,
                                         reset="soft" if soft else "hard"))
    cuba = net.population("cuba", 10, CubaLIF(tau_m="15 ms", tau_syn_exc="4 ms", tau_syn_inh="4 ms", v_rest="-60 mV",
                                              v_th="-52 mV", v_reset="-60 mV", t_ref=0))
    net.connect(src, exc, FixedProbability(0.4), weight=Uniform("2 mV", "6 mV"))
    net.connect(noise, exc, FixedProbability(0.3), weight="3 mV", delay="0.2 ms")
    net.connect(exc, exc, FixedProbability(0.2), weight=Normal("0 mV", "2 mV"), name="rec")
    net.connect(exc, cuba, FixedProbability(0.5), weight=Uniform("-50 pA", "400 pA"), delay=Uniform("0 ms", "0.3 ms"))
    return net


def _spikes(net: Network, duration: str = "50 ms") -> dict[str, tuple[np.ndarray, np.ndarray]]:
    monitors = {p.name: net.spike_monitor(p) for p in net.populations}
    net.run(duration, backend="numpy")
    return {name: (m.t, m.i) for name, m in monitors.items()}


@pytest.mark.parametrize("precision", ["float64", "float32"])
def test_engine_network_round_trip_gives_identical_spikes(precision, tmp_path):
    net = _network(precision)
    g = hn.network_to_nir(net)
    nir.write(tmp_path / "net.nir", g)
    back = hn.to_network(tmp_path / "net.nir")
    assert [grp.name for grp in back.groups] == [grp.name for grp in net.groups]
    for a, b in zip(net.populations, back.populations):
        assert type(a.model) is type(b.model)
        for field in ("tau_m", "c_m", "v_rest", "v_th", "v_reset", "tau_syn_exc", "tau_syn_inh"):
            if hasattr(a.model, field):
                assert np.array_equal(getattr(a.model, field), getattr(b.model, field)), field
    # delays: synapses with d > 0 steps go through Delay nodes of d·dt seconds and come back as d steps
    delays = {k: n.delay for k, n in g.nodes.items() if isinstance(n, nir.Delay)}
    assert set(delays) == {"noise_to_exc_d2_delay", "exc_to_cuba_d1_delay", "exc_to_cuba_d2_delay",
                           "exc_to_cuba_d3_delay"}
    assert np.allclose(delays["exc_to_cuba_d3_delay"], 3e-4, rtol=1e-12)
    # a projection comes back as one projection per delay (named <projection>_d<steps>), same synapses
    split: dict[str, list] = {}
    for p in back.projections:
        split.setdefault(re.sub(r"_d\d+$", "", p.name), []).append(p.synapses)
    for p in net.projections:
        columns = [np.concatenate([getattr(s, f) for s in split[p.name]]) for f in ("pre", "post", "weight", "delay")]
        mine, theirs = np.lexsort(columns[1::-1]), np.lexsort((p.synapses.post, p.synapses.pre))
        for got, field in zip(columns, ("pre", "post", "weight", "delay")):
            assert np.array_equal(got[mine], getattr(p.synapses, field)[theirs]), (p.name, field)
    a, b = _spikes(net), _spikes(back)
    for name in a:
        assert a[name][0].size > 50, name
        assert np.array_equal(a[name][0], b[name][0]) and np.array_equal(a[name][1], b[name][1]), name


def test_engine_export_matches_an_euler_step_of_the_nir_equations():
    """τ = dt/(1 - e^(-dt/τ_m)) and r make the Euler step of the NIR equations reproduce the engine's
    exact integration (source -> recurrent LIF, source -> CubaLIF; NIR index m = engine step m + 1)."""
    net = Network(dt="0.1 ms", seed=3)
    rng = np.random.default_rng(2)
    times, indices = np.round(rng.uniform(0, 0.03, 400) / 1e-4) * 1e-4, rng.integers(0, 15, 400)
    src = net.spike_source("src", 15, times=times, indices=indices)
    exc = net.population("exc", 25, LIF(tau_m="8 ms", v_rest="-65 mV", v_th="-52 mV", v_reset="-68 mV", t_ref=0))
    cuba = net.population("cuba", 12, CubaLIF(tau_m="12 ms", tau_syn_exc="3 ms", tau_syn_inh="3 ms", t_ref=0,
                                              v_rest="-65 mV", v_th="-55 mV", v_reset="-65 mV"))
    net.connect(src, exc, FixedProbability(0.4), weight=Uniform("1 mV", "5 mV"))
    net.connect(exc, exc, FixedProbability(0.2), weight=Normal("0 mV", "3 mV"), name="rec")
    net.connect(src, cuba, FixedProbability(0.5), weight=Uniform("-100 pA", "500 pA"))
    g = hn.network_to_nir(net)
    steps = 400
    spikes = _spikes(net, "40 ms")
    s_in = np.zeros((steps, 15))
    np.add.at(s_in, (np.rint(times / 1e-4).astype(int), indices), 1.0)
    dt = g.metadata["dt"]
    lif, cub = g.nodes["exc"], g.nodes["cuba"]
    v, z = lif.v_leak.copy(), np.zeros(25)
    u, j = cub.v_leak.copy(), np.zeros(12)
    out_exc, out_cuba = np.zeros((steps, 25), bool), np.zeros((steps, 12), bool)
    for m in range(steps):
        current = g.nodes["src_to_exc"].weight @ s_in[m] + g.nodes["rec"].weight @ z
        v = v + dt / lif.tau * (lif.v_leak - v + lif.r * current)
        z = (v > lif.v_threshold).astype(float)
        v = np.where(z > 0, lif.v_reset, v)
        j = j + dt / cub.tau_syn * (-j + cub.w_in * (g.nodes["src_to_cuba"].weight @ s_in[m]))
        u = u + dt / cub.tau_mem * (cub.v_leak - u + cub.r * j)
        out_cuba[m] = u > cub.v_threshold
        u = np.where(out_cuba[m], cub.v_reset, u)
        out_exc[m] = z > 0
    for name, out in (("exc", out_exc), ("cuba", out_cuba)):
        t, i = spikes[name]
        engine = np.zeros_like(out)
        engine[np.rint(t / 1e-4).astype(int) - 1, i] = True
        assert out.sum() > 30 and np.array_equal(engine, out), name


# ----------------------------------------------------------------- 5. refused inputs

def test_bad_inputs_raise_value_errors_naming_the_field_or_node(tmp_path):
    lif = GRAPHS["lif"]
    soft = LayerGraph(lif.layers[:1] + (Spiking(20, 0.9, 1.0, "soft"),), (12,), DT, 5)
    with pytest.raises(ValueError, match=r"layers\[1\] \(Spiking\)\.reset: 'soft'"):
        hn.to_nir(soft)
    with pytest.raises(ValueError, match=r"layers\[0\]: r_one .* first layer"):
        hn.to_nir(LayerGraph((Spiking(12, 0.9, 1.0, "hard"),), (12,), DT, 5), r_one=True)
    with pytest.raises(ValueError, match="profile: 'loihi1' is a loihi profile, not for target 'nir'"):
        hn.export(lif, tmp_path / "x.nir", Profile("loihi1", "loihi"))
    with pytest.raises(ValueError, match="neurons = 40"):
        hn.export(lif, tmp_path / "x.nir", Profile("tiny", "nir", limits={"neurons": 10}))

    base = hn.to_nir(GRAPHS["cuba"])

    def edited(name: str, node: nir.NIRNode, **meta) -> nir.NIRGraph:
        nodes = dict(base.nodes)
        nodes[name] = node
        return nir.NIRGraph(nodes=nodes, edges=list(base.edges), metadata={**base.metadata, **meta}, type_check=False)

    with pytest.raises(ValueError, match=r"node 'affine2' \(Threshold\): not supported"):
        hn.from_nir(edited("affine2", nir.Threshold(threshold=np.ones(16))))
    with pytest.raises(ValueError, match=r"node 'affine2' \(Delay\): not supported"):
        hn.from_nir(edited("affine2", nir.Delay(delay=np.ones(16))))
    leaky = nir.LIF(tau=np.full(16, 0.01), r=np.full(16, 10.0), v_leak=np.full(16, -0.5), v_threshold=np.ones(16))
    with pytest.raises(ValueError, match=r"node 'lif1' \(LIF\)\.v_leak"):
        hn.from_nir(edited("lif1", leaky))
    with pytest.raises(ValueError, match="dt: the graph has no metadata"):
        hn.from_nir(nir.NIRGraph(nodes=dict(base.nodes), edges=list(base.edges), metadata={}))
    with pytest.raises(ValueError, match="dt: the graph was exported for dt = 0.001"):
        hn.from_nir(base, dt=1e-4)
    batched = nir.NIRGraph(nodes={**base.nodes, "input": nir.Input(input_type={"input": np.array([1, 12])})},
                           edges=list(base.edges), metadata=base.metadata, type_check=False)
    assert hn.from_nir(batched).input_shape == (12,)  # a leading batch dimension of 1 is dropped
    branched = nir.NIRGraph(nodes={**base.nodes, "extra": nir.Linear(weight=np.ones((2, 16)))},
                            edges=list(base.edges) + [("lif1", "extra")], metadata=base.metadata, type_check=False)
    with pytest.raises(ValueError, match="node 'lif1': feeds 2 nodes"):
        hn.from_nir(branched)

    net = _network(soft=True)
    with pytest.raises(ValueError, match=r"population\.exc\.reset: 'soft'"):
        hn.network_to_nir(net)
    net = Network(dt="0.1 ms")
    net.population("p", 3, LIF(t_ref="2 ms"))
    with pytest.raises(ValueError, match=r"population\.p\.t_ref"):
        hn.network_to_nir(net)
    net = Network(dt="0.1 ms")
    net.population("p", 3, CubaLIF(t_ref=0))
    with pytest.raises(ValueError, match=r"population\.p\.tau_syn_inh"):
        hn.network_to_nir(net)
    net = Network(dt="0.1 ms")
    net.current(net.population("p", 3, LIF(t_ref=0)), "100 pA")
    with pytest.raises(ValueError, match="current"):
        hn.network_to_nir(net)

    g = hn.network_to_nir(_network())
    nodes = dict(g.nodes)
    nodes["noise_to_exc_d2_delay"] = nir.Delay(delay=np.full(30, 0.25e-4))
    with pytest.raises(ValueError, match=r"node 'noise_to_exc_d2_delay'\.delay: delay .* not a multiple of dt"):
        hn.to_network(nir.NIRGraph(nodes=nodes, edges=list(g.edges), metadata=g.metadata, type_check=False))
    nodes = dict(g.nodes)
    nodes["cuba"] = nir.LI(tau=np.full(10, 0.01), r=np.ones(10), v_leak=np.zeros(10))
    with pytest.raises(ValueError, match=r"node 'cuba' \(LI\): the engine has no such neuron"):
        hn.to_network(nir.NIRGraph(nodes=nodes, edges=list(g.edges), metadata=g.metadata, type_check=False))
    with pytest.raises(ValueError, match="to_network"):
        hn.from_nir(g)


def test_packaged_entry_points(tmp_path):
    assert neurosim.hardware.nir is hn
    report = hn.export_network(_network(), None, tmp_path / "net.nir")
    assert report["delay_nodes"] == 4 and report["neurons"] == 40 and (tmp_path / "net.nir").is_file()
    model = hn.to_torch(hn.to_nir(GRAPHS["rlif"]))
    x = _input(GRAPHS["rlif"])
    assert torch.equal(model.run(x).out, to_model(GRAPHS["rlif"]).run(x).out)


# ----------------------------------------------------------------- 6. import traps

def _paper_cnn() -> nir.NIRGraph:
    """A graph in the style of the NIR paper's CNN (Sinabs export): Conv2d -> IF -> SumPool2d -> Conv2d
    -> IF -> SumPool2d -> Flatten -> Linear -> IF, r = 1, v_threshold = 1, no biases, no metadata."""
    rng = np.random.default_rng(5)
    f = lambda a: np.asarray(a, np.float32)
    c1, c2 = 4, 2

    def if_(*shape):
        return nir.IF(r=np.ones(shape, np.float32), v_threshold=np.ones(shape, np.float32))

    def pool():
        return nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0]))

    nodes = {
        "input": nir.Input(input_type={"input": np.array([2, 12, 12])}),
        "0": nir.Conv2d(input_shape=(12, 12), weight=f(rng.uniform(-0.3, 0.5, (c1, 2, 3, 3))), stride=1,
                        padding=1, dilation=1, groups=1, bias=np.zeros(c1, np.float32)),
        "1": if_(c1, 12, 12), "2": pool(),
        "3": nir.Conv2d(input_shape=(6, 6), weight=f(rng.uniform(-0.2, 0.2, (c2, c1, 3, 3))), stride=1,
                        padding=1, dilation=1, groups=1, bias=np.zeros(c2, np.float32)),
        "4": if_(c2, 6, 6), "5": pool(),
        "6": nir.Flatten(input_type={"input": np.array([c2, 3, 3])}, start_dim=0, end_dim=-1),
        "7": nir.Linear(weight=f(rng.uniform(-0.3, 0.5, (5, c2 * 9)))),
        "8": if_(5),
        "output": nir.Output(output_type={"output": np.array([5])}),
    }
    names = list(nodes)
    return nir.NIRGraph(nodes=nodes, edges=list(zip(names[:-1], names[1:])), type_check=False)


def _norse_run(graph: nir.NIRGraph, x: torch.Tensor) -> torch.Tensor:
    """Norse's own import of ``graph`` run one sample at a time (its Flatten flattens the batch too)."""
    module = norse.from_nir(graph, dt=1.0)
    return torch.stack([_step(module, x[:, b:b + 1]) for b in range(x.shape[1])], 1)


def test_paper_cnn_without_dt_warns_and_imports_per_step_with_dt_1():
    """r = 1 IF graphs mean "add I once per step" (Norse, Sinabs); at dt = 1e-4 the Euler gain r·dt
    folds 1e-4 into the weights and the network is silent: both are reported, naming the nodes."""
    g = _paper_cnn()
    x = (torch.rand((80, 3, 2, 12, 12), generator=torch.Generator().manual_seed(0)) < 0.1).float()
    with pytest.warns(hn.NIRImportWarning) as caught:
        silent = hn.from_nir(g, dt=1e-4)
    messages = [str(w.message) for w in caught]
    assert len(messages) == 2
    assert messages[0].startswith("dt: the graph has no metadata['dt']")
    assert "node '1' (IF), node '4' (IF), node '8' (IF): input gain r·dt is 0.0001" in messages[0]
    assert "pass dt=1" in messages[0]
    assert re.match(r"node '4' \(IF\): no neuron can reach v_threshold within 1000 steps: .* largest input per "
                    r"step is 0\.000\d+ \(its input gain 0\.0001 folded", messages[1])
    assert messages[1].endswith("for that, pass dt=1")
    assert to_model(silent).run(x).out.sum() == 0  # the trap is real: not a spike
    with pytest.raises(ValueError, match=r"dt: the graph has no metadata\['dt'\].*node '1' \(IF\)"):
        hn.from_nir(g, dt=1e-4, strict=True)
    ours = to_model(hn.from_nir(g, dt=1.0)).run(x).out  # gain 1: no warning (the module fails on one)
    _active(ours)
    assert torch.equal(ours, _norse_run(g, x))


def test_norse_if_export_needs_dt_1():
    torch.manual_seed(1)
    model = SequentialState(nn.Linear(12, 20), norse.IAFCell(), nn.Linear(20, 6), norse.IAFCell())
    with torch.no_grad():
        model[0].weight.mul_(2)
    g = norse.to_nir(model, torch.rand(1, 12), dt=1e-3)
    assert isinstance(g.nodes["1"], nir.IF) and "dt" not in g.metadata
    with pytest.warns(hn.NIRImportWarning, match=r"node '1' \(IF\), node '3' \(IF\): input gain r·dt is 0\.001 "
                                                  r".* pass dt=1"):
        hn.from_nir(g, dt=1e-3)
    x = torch.rand(100, 4, 12)
    expected = _step(model, x)
    _active(expected)
    assert torch.equal(to_model(hn.from_nir(g, dt=1.0)).run(x).out, expected)


def test_unreachable_threshold_criterion_is_tight_for_leaky_layers():
    """β = 1/2 and 8 inputs of weight w: sup u = 16 w. At 16 w = 0.984 the layer cannot fire (warned,
    and silent with every input spiking in every step); at 16 w = 1.016 a neuron fires (no warning)."""
    dt = 1e-3

    def graph(w: np.ndarray) -> nir.NIRGraph:
        lif = lambda n: nir.LIF(tau=np.full(n, 2 * dt), r=np.full(n, 2.0), v_leak=np.zeros(n),
                                v_threshold=np.ones(n), v_reset=np.zeros(n))  # β = 1/2, gain 1
        nodes = {"input": nir.Input(input_type={"input": np.array([8])}), "w1": nir.Linear(weight=5 * np.eye(8)),
                 "lif1": lif(8), "w2": nir.Linear(weight=np.repeat(np.asarray(w)[:, None], 8, axis=1)),
                 "lif2": lif(2), "output": nir.Output(output_type={"output": np.array([2])})}
        names = list(nodes)
        return nir.NIRGraph(nodes=nodes, edges=list(zip(names[:-1], names[1:])), metadata={"dt": dt})

    x = torch.ones(30, 1, 8)  # every lif1 neuron spikes in every step
    with pytest.warns(hn.NIRImportWarning, match=r"node 'lif2' \(LIF\): no neuron can reach v_threshold: .* "
                                                  r"largest input per step is 0\.492, against v_threshold >= 1"):
        silent = hn.from_nir(graph([0.0615, 0.0615]))
    run = to_model(silent).run(x)
    assert run.membranes[0].min() > 0 and run.out.sum() == 0
    assert run.membranes[1].max() < 1 and run.membranes[1].max() > 0.98
    fires = to_model(hn.from_nir(graph([0.0615, 0.0635]))).run(x).out[:, 0]
    assert fires[:, 0].sum() == 0  # 1.016 (1 - 2^-t) > 1 first at t = 6, and again 6 steps after each reset
    assert torch.nonzero(fires[:, 1]).flatten().tolist() == [5, 11, 17, 23, 29]


def _bias_graph(b, r: float, dt: float | None, n_in: int = 2, weight=None, **meta) -> nir.NIRGraph:
    """Input -> Affine (bias b) -> IF (r, v_threshold 1) -> Output; metadata dt unless None."""
    b = np.asarray(b, dtype=np.float64)
    weight = np.zeros((b.size, n_in)) if weight is None else weight
    nodes = {"in": nir.Input(input_type={"input": np.array([n_in])}), "w": nir.Affine(weight=weight, bias=b),
             "if": nir.IF(r=np.full(b.size, r), v_threshold=np.full(b.size, meta.pop("v_th", 1.0))),
             "out": nir.Output(output_type={"output": np.array([b.size])})}
    metadata = {**({} if dt is None else {"dt": dt}), **meta}
    return nir.NIRGraph(nodes=nodes, edges=[("in", "w"), ("w", "if"), ("if", "out")], metadata=metadata)


@pytest.mark.parametrize("reset", ["zero", "subtract"])
def test_engine_if_with_bias_fires_at_the_analytic_times(reset):
    """dv/dt = r b from 0 crosses v_th = 1 at t* = 1/(r b). Hard reset: spikes at k·n dt, n = ceil(t*/dt);
    subtraction: at ceil(k t*/dt) dt (no spike time is lost). t*/dt is far from whole numbers here."""
    dt, r, b = 1e-3, 200.0, np.array([0.73, 1.31, 2.93])
    net = hn.to_network(_bias_graph(b, r, dt, reset_mechanism=reset))
    pop = net.populations[0]
    assert pop.model.reset == ("soft" if reset == "subtract" else "hard") and pop.model.v_rest == 0
    assert pop.model.kernel_rows(3, dt, "if")[0]["_P_v_v"].tolist() == [1.0] * 3  # no leak, exactly
    monitor = net.spike_monitor(pop)
    net.run("0.1 s", backend="numpy")
    t_star = 1.0 / (r * b)
    for j in range(3):
        k = np.arange(1, 200)
        steps = k * np.ceil(t_star[j] / dt) if reset == "zero" else np.ceil(k * t_star[j] / dt)
        expected = steps[steps <= 100]
        got = np.rint(monitor.t[monitor.i == j] / dt)
        assert expected.size >= 14 and np.array_equal(got, expected), j


def test_engine_if_with_inputs_and_bias_spikes_as_the_torch_import():
    """Weights k/8, biases k/16, gain r·dt = 1/2 and v_th = 1.03: every sum is exact in float32 and
    float64, so the engine (exact no-leak LIF, bias current) and the torch import agree spike for spike."""
    rng = np.random.default_rng(0)
    dt = 2.0 ** -10
    weight = rng.integers(-4, 9, (4, 6)) / 8
    b = rng.integers(-1, 4, 4) / 16
    s = rng.random((300, 6)) < 0.2
    g = _bias_graph(b, 512.0, dt, n_in=6, weight=weight, v_th=1.03)
    ours = to_model(hn.from_nir(g)).run(torch.as_tensor(s, dtype=torch.float32)[:, None]).out[:, 0]
    m, i = np.nonzero(s)
    net = hn.to_network(g, inputs={"in": (m * dt, i)})
    monitor = net.spike_monitor(net.populations[0])
    net.run(300 * dt, backend="numpy")
    engine = np.zeros((300, 4), dtype=bool)
    engine[np.rint(monitor.t / dt).astype(int) - 1, monitor.i] = True  # NIR step m ends at engine time (m+1) dt
    assert (engine.sum(0) >= 20).all() and np.array_equal(engine, ours.detach().numpy() > 0)
    assert net.populations[0].model.i_bias[3] < 0  # a negative bias is a negative current


def test_engine_import_without_dt_warns_naming_the_node():
    g = _bias_graph([0.5, 0.75], 1.0, None)
    with pytest.warns(hn.NIRImportWarning) as caught:
        hn.to_network(g, dt=1e-4)
    messages = [str(w.message) for w in caught]
    assert "node 'if' (IF): input gain r·dt is 0.0001" in messages[0] and "pass dt=1" in messages[0]
    assert messages[1].startswith("node 'if' (IF): no neuron of population 'if' can reach v_th within 1000 steps")
    with pytest.raises(ValueError, match=r"dt: the graph has no metadata\['dt'\]"):
        hn.to_network(g, dt=1e-4, strict=True)
    net = hn.to_network(g, dt=1.0)  # gain 1: v += b per step, no warning
    monitor = net.spike_monitor(net.populations[0])
    net.run("10 s", backend="numpy")
    assert np.array_equal(np.rint(monitor.t[monitor.i == 1]), [2, 4, 6, 8, 10])  # 0.75 per step: 1.5 > 1


def test_reset_metadata_is_honoured():
    """Constant drive d per step (bias 2·d at gain 1/2), θ = 1: a hard reset fires every floor(1/d) + 1
    steps; subtraction fires at step n when ceil(n d) - 1 (spikes so far) grows. Node metadata overrides
    the graph's."""
    dt, d, steps = 1e-3, np.array([0.1875, 0.40625, 0.75]), 40
    n = np.arange(1, steps + 1)[:, None]
    hard = n % (np.floor(1 / d) + 1) == 0
    soft = np.diff(np.vstack([np.zeros((1, 3)), np.ceil(n * d) - 1]), axis=0) > 0

    def spikes(graph: nir.NIRGraph) -> np.ndarray:
        return to_model(hn.from_nir(graph)).run(torch.zeros(steps, 1, 2)).out[:, 0].detach().numpy() > 0

    assert np.array_equal(spikes(_bias_graph(2 * d, 500.0, dt)), hard)
    assert np.array_equal(spikes(_bias_graph(2 * d, 500.0, dt, reset_mechanism="subtract")), soft)
    g = _bias_graph(2 * d, 500.0, dt, reset="zero")
    g.nodes["if"].metadata = {"reset_mechanism": "subtract"}
    assert hn.from_nir(g).layers[1].reset == "soft" and np.array_equal(spikes(g), soft)
    assert not np.array_equal(hard, soft)

    def lif_graph(**meta) -> nir.NIRGraph:
        g = _bias_graph([0.5], 500.0, dt, **meta)
        g.nodes["if"] = nir.LIF(tau=np.full(1, 0.01), r=np.full(1, 10.0), v_leak=np.zeros(1), v_threshold=np.ones(1))
        return g

    with pytest.raises(ValueError, match=r"node 'if' \(LIF\): resets by subtraction right after the spike .* "
                                         r"metadata\['reset_delay'\] = True"):
        hn.from_nir(lif_graph(reset_mechanism="subtract"))
    assert hn.from_nir(lif_graph(reset_mechanism="subtract", reset_delay=True)).layers[1].reset == "soft"
    with pytest.raises(ValueError, match=r"node 'if' \(LIF\): graph.metadata\['reset_mechanism'\]: 'none'"):
        hn.from_nir(lif_graph(reset_mechanism="none"))
    with pytest.raises(ValueError, match=r"node 'if' \(LIF\)\.metadata: reset_delay True"):
        hn.to_network(lif_graph(reset_mechanism="subtract", reset_delay=True))
    assert hn.to_network(lif_graph(reset_mechanism="subtract")).populations[0].model.reset == "soft"


def test_engine_bias_refused_where_the_engine_would_differ():
    g = hn.network_to_nir(_network())
    nodes = dict(g.nodes)
    w = nodes["exc_to_cuba_d1"].weight
    nodes["exc_to_cuba_d1"] = nir.Affine(weight=w, bias=np.ones(w.shape[0]))
    with pytest.raises(ValueError, match=r"node 'exc_to_cuba_d1'\.bias: a bias into a CubaLIF \('cuba'\)"):
        hn.to_network(nir.NIRGraph(nodes=nodes, edges=list(g.edges), metadata=g.metadata, type_check=False))
    nodes = dict(g.nodes)
    w = nodes["noise_to_exc_d2"].weight
    nodes["noise_to_exc_d2"] = nir.Affine(weight=w, bias=np.ones(w.shape[0]))
    with pytest.raises(ValueError, match=r"node 'noise_to_exc_d2'\.bias: a bias behind the Delay node"):
        hn.to_network(nir.NIRGraph(nodes=nodes, edges=list(g.edges), metadata=g.metadata, type_check=False))
