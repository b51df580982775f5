"""The torch step generated from a model's description (``neurosim.train.described``).

(a) forward it is the engine: a :class:`DescribedLayer` fed the increments that a spike source
    delivers (and the same injected currents) gives the NumPy backend's spikes and states;
(b) gradients flow through it, and a small network with it learns a target spike count;
(c) the gradient of one step is the analytic surrogate derivative, and ``detach_reset`` cuts
    the path through the reset.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from neurosim.connectivity.connectors import FromArrays
from neurosim.network import Network
from neurosim.neurons import LIF, MODELS, ALIF, AlphaLIF, CubaLIF
from neurosim.neurons.description import Description, compile_model
from neurosim.neurons.dimensions import named
from neurosim.train.described import DescribedLayer
from neurosim.train.surrogates import ATan, FastSigmoid

DT = 5e-4
T = 200
N = 6


def _cases():
    pa = (5e-11, 3e-10)  # current weights (A)
    return [
        pytest.param(LIF(i_bias=1.3e-10), (1e-3, 4e-3), id="LIF"),
        pytest.param(LIF(i_bias=1.3e-10, reset="soft"), (1e-3, 4e-3), id="LIF-soft"),
        pytest.param(CubaLIF(i_bias=1.2e-10), pa, id="CubaLIF"),
        pytest.param(ALIF(i_bias=1.2e-10, reset="soft", theta_plus="2 mV", tau_theta="50 ms"), pa, id="ALIF"),
        pytest.param(AlphaLIF(i_bias=1.2e-10), pa, id="AlphaLIF"),
    ]


@pytest.mark.parametrize("model, weights", _cases())
def test_forward_equals_numpy_engine(model, weights):
    """Spike source -> one population (one synapse per neuron, per-synapse weights, delay 0) and two
    piecewise currents, run on the NumPy backend step by step, against the layer fed ``spikes*w``."""
    rng = np.random.default_rng(7)
    w = rng.uniform(*weights, N)
    s = rng.random((T, N)) < 0.15
    steps, ids = np.nonzero(s)
    v0 = rng.uniform(-0.065, -0.052, N)

    net = Network(dt=DT, precision="float64")
    pop = net.population("p", N, model, v_init=v0)
    src = net.spike_source("s", N, times=steps * DT, indices=ids)
    net.connect(src, pop, FromArrays(np.arange(N), np.arange(N), weight=w), receptor="exc")
    net.current(pop, [4e-11, 1e-11, 6e-11], times=[0.0, 50 * DT, 120 * DT])
    net.current(pop, [3e-11, 0.0], times=[20 * DT, 150 * DT], indices=[0, 2])
    mon = net.spike_monitor(pop)
    k = len(model.compiled.state)
    engine = np.empty((T, k, N))
    for m in range(T):
        net.run(DT, backend="numpy")
        engine[m] = net.layout.state.vars[:k, :N]
    engine_spikes = np.zeros((T, N), bool)
    engine_spikes[np.rint(mon.t / DT).astype(int) - 1, mon.i] = True  # found in step m: stamped m + 1

    t = np.arange(T)
    current = np.zeros((T, N)) + np.where(t < 50, 4e-11, np.where(t < 120, 1e-11, 6e-11))[:, None]
    current[20:150, [0, 2]] += 3e-11
    layer = DescribedLayer(model, DT, N, v_init=v0, dtype=torch.float64)
    out, final, rec = layer(torch.tensor(s * w)[:, None, :], current=torch.tensor(current)[:, None, :], record=True)
    ours = np.stack([rec[x][:, 0].numpy() for x in model.compiled.state], axis=1)

    assert engine_spikes.sum() > 20, "the drive should make the neurons fire"
    assert out.dtype == torch.float64
    np.testing.assert_array_equal(out[:, 0].numpy() > 0, engine_spikes)
    np.testing.assert_array_equal(np.unique(out.numpy()), [0.0, 1.0])
    np.testing.assert_allclose(ours, engine, rtol=1e-12, atol=0)
    np.testing.assert_array_equal(final["ref"][0].numpy(), net.layout.state.ref[:N])


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_model_matches_its_numpy_step(name):
    """Every registered model (RK4, exponential Euler included) runs in torch as its NumPy step."""
    model = MODELS[name]()
    c = model.compiled
    n, steps = 4, 150
    dt = 1e-4
    layer = DescribedLayer(model, dt, n, dtype=torch.float64)
    rows, ref_steps = model.kernel_rows(n, dt, "layer")
    init = {x: getattr(layer, f"init_{x}").numpy().copy() for x in c.state}
    s, ref = [init[x] for x in c.state], np.zeros(n, np.int32)
    i_ext = np.array([0.0, 2e-10, 5e-10, 1e-9])
    spikes = []
    for _ in range(steps):
        *s, ref, spike = c.numpy_step(*s, ref, i_ext, *[rows[r] for r in c.rows], ref_steps)
        spikes.append(spike)
    out, final = layer(torch.zeros(steps, 1, n), current=torch.tensor(i_ext).expand(steps, 1, n))
    np.testing.assert_array_equal(out[:, 0].numpy() > 0, np.array(spikes))
    for x, ref_value in zip(c.state, s):
        np.testing.assert_allclose(final[x][0].numpy(), ref_value, rtol=1e-12, atol=0)


def test_torch_body_is_the_body_up_to_the_spike():
    """The torch body shares every line before the spike; only spike, reset and n_ref differ."""
    c = ALIF().compiled
    k = c.body.index(next(line for line in c.body if line.startswith("spike =")))
    assert c.torch_body[:k] == c.body[:k]
    assert c.torch_body[k] == "spike = heaviside_ge(n_v - (n_theta + p_v_th))*(ref <= 0)"
    assert all(line.startswith(("n_v = spike_where(spike,", "n_theta = spike_where(spike,"))
               for line in c.torch_body[k + 1:-1])
    assert "heaviside" not in c.source and "spike_where" not in c.source
    adex = MODELS["AdEx"]().compiled  # v > v_peak: the open Heaviside
    assert "spike = heaviside(n_v - p_v_peak)*(ref <= 0)" in adex.torch_body


def test_mirrored_and_equality_thresholds():
    """``v <= v_th`` is ``heaviside_ge(v_th - v)``; an equation is refused as a threshold."""
    import sympy

    from neurosim.neurons.codegen import Printer
    from neurosim.neurons.description import _torch_threshold

    d = Description(equations="dv/dt = -v/tau : volt", threshold="v <= v_th", reset="v = v_th")
    c = compile_model("Below", d, {"tau": named("time"), "v_th": named("voltage")})
    assert "spike = heaviside_ge(p_v_th - n_v)*(ref <= 0)" in c.torch_body
    v, v_th = sympy.symbols("v v_th")
    printer = Printer({"v": "n_v", "v_th": "p_v_th"})
    assert _torch_threshold(sympy.Lt(v, v_th), printer) == "heaviside(p_v_th - n_v)"
    with pytest.raises(ValueError, match="is not a condition"):  # an equation is no threshold at all
        compile_model("Eq", dataclasses.replace(d, threshold="v == v_th"), {"tau": named("time"), "v_th": named("voltage")})


# --- (b) gradients ------------------------------------------------------------------------------


def test_gradient_reaches_input_weights():
    torch.manual_seed(0)
    layer = DescribedLayer(ALIF(), "1 ms", 5, input_scale=1e-12)  # input in pA
    fc = torch.nn.Linear(10, 5)
    with torch.no_grad():
        fc.weight.uniform_(0, 400)
        fc.bias.zero_()
    x = (torch.rand(40, 4, 10) < 0.3).float()
    spikes, _ = layer(fc(x))
    loss = (spikes.sum(0) - 3.0).pow(2).mean()
    loss.backward()
    g = fc.weight.grad
    assert torch.isfinite(g).all()
    assert g.abs().sum() > 0 and (g != 0).float().mean() > 0.5


def test_small_network_learns_a_spike_count():
    """Linear(10 -> 5) + ALIF, Adam: the spike count of every neuron towards 4 in 50 updates."""
    torch.manual_seed(1)
    layer = DescribedLayer(ALIF(tau_theta="100 ms", theta_plus="1 mV"), "1 ms", 5, input_scale=1e-12,
                           surrogate=FastSigmoid(slope=5.0))
    fc = torch.nn.Linear(10, 5)
    with torch.no_grad():
        fc.weight.uniform_(0, 60)
        fc.bias.zero_()
    x = (torch.rand(40, 8, 10) < 0.2).float()
    target = 4.0
    opt = torch.optim.Adam(fc.parameters(), lr=5.0)

    def loss_fn():
        spikes, _ = layer(fc(x))
        return (spikes.sum(0) - target).pow(2).mean()

    first = loss_fn().item()
    for _ in range(50):
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        opt.step()
    last = loss_fn().item()
    assert first > 4.0
    assert last < 0.2 * first, (first, last)


# --- (c) the surrogate --------------------------------------------------------------------------


@pytest.mark.parametrize("v_before", [-0.0505, -0.0495])
def test_one_step_gradient_is_the_surrogate_derivative(v_before):
    """LIF, one step, input ``a*u`` (V): ``spike = H((P (v + a u) + G - v_th)/s)``, so
    ``d spike/d a = σ'(x/s)/s * P u`` -- below and above threshold."""
    model = LIF()
    sg = ATan(slope=2.0)
    layer = DescribedLayer(model, 1e-4, 1, surrogate=sg, v_init=v_before, dtype=torch.float64)
    u = 1e-4
    a = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    spike, _ = layer(torch.ones(1, 1, 1, dtype=torch.float64) * u * a)
    spike.sum().backward()
    rows, _ = model.kernel_rows(1, 1e-4, "layer")
    p, g = rows["_P_v_v"][0], rows["_G_v"][0]
    x = p * (v_before + u) + g - model.v_th
    s = layer.threshold_scale
    assert s == pytest.approx(0.015)
    expected = (0.5 * sg.slope) / (1 + (0.5 * math.pi * sg.slope * x / s) ** 2) / s * p * u
    assert spike.item() == (1.0 if x >= 0 else 0.0)
    assert a.grad.item() == pytest.approx(expected, rel=1e-9)
    # a finite difference of the surrogate-smoothed spike, (1/2 + atan(π k x/2)/π), agrees
    smooth = [0.5 + math.atan(0.5 * math.pi * sg.slope * (p * (v_before + u * (1 + h)) + g - model.v_th) / s) / math.pi
              for h in (-1e-3, 1e-3)]
    assert a.grad.item() == pytest.approx((smooth[1] - smooth[0]) / 2e-3, rel=1e-4)


def test_refractory_neurons_have_no_spike_gradient():
    layer = DescribedLayer(LIF(), 1e-4, 1, v_init=-0.0495, dtype=torch.float64)
    state = layer.initial_state(1)
    state["ref"] = torch.full((1, 1), 3, dtype=torch.int32)
    a = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    spike, new = layer.step(state, a * 1e-4 * torch.ones(1, 1, dtype=torch.float64))
    spike.sum().backward()
    assert spike.item() == 0.0 and new["ref"].item() == 2 and a.grad.item() == 0.0


def test_detach_reset_cuts_the_gradient_through_the_reset():
    """Hard reset, one step that spikes: ``n_v = spike v_reset + (1 - spike) v'``, so
    ``d n_v/d a = (v_reset - v') d spike/d a`` with the reset's path and 0 without it."""
    grads = {}
    for detach in (False, True):
        layer = DescribedLayer(LIF(), 1e-4, 1, v_init=-0.0499, detach_reset=detach, dtype=torch.float64)
        a = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
        spike, final = layer(torch.ones(1, 1, 1, dtype=torch.float64) * 1e-4 * a)
        assert spike.item() == 1.0 and final["v"].item() == pytest.approx(-0.065, abs=1e-15)
        (d_spike,) = torch.autograd.grad(spike.sum(), a, retain_graph=True)
        (d_v,) = torch.autograd.grad(final["v"].sum(), a)
        grads[detach] = (d_spike.item(), d_v.item())
    rows, _ = LIF().kernel_rows(1, 1e-4, "layer")
    v_pre = rows["_P_v_v"][0] * (-0.0499 + 1e-4) + rows["_G_v"][0]
    assert grads[False][1] == pytest.approx((-0.065 - v_pre) * grads[False][0], rel=1e-9)
    assert grads[True][1] == 0.0 and grads[True][0] == grads[False][0] != 0.0
