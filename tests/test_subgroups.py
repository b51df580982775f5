"""Subgroups (``P[a:b]``): connected, stimulated and recorded like populations, on every backend,
with merged spike monitors and slices in scenario files."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from cudasim import run_simulated
from neurosim import CubaLIF, FromArrays, Network, STDP
from neurosim.cli import main
from neurosim.io.reader import load
from neurosim.subgroup import Subgroup

N, NE, DT = 40, 30, 1e-4


def _arrays(rng, n_pre, n_post, p, **kw):
    pre, post = np.nonzero(rng.random((n_pre, n_post)) < p)
    return FromArrays(pre, post, **kw)


def ei_network(split: bool):
    """An E/I network of ``N`` neurons: two populations (``split``) or slices of one population
    ``P``, with the same explicit synapses, initial values and Poisson drive; E->E is plastic."""
    net = Network(dt=DT, seed=3)
    model = CubaLIF(v_rest="-60 mV", v_reset="-60 mV", v_th="-50 mV", t_ref="2 ms")
    v0 = np.linspace(-60e-3, -50.5e-3, N)
    if split:
        exc = net.population("E", NE, model, v_init=v0[:NE])
        inh = net.population("I", N - NE, model, v_init=v0[NE:])
    else:
        whole = net.population("P", N, model, v_init=v0)
        exc, inh = whole[:NE], whole[NE:]
    noise = net.poisson_source("noise", 20, rate="400 Hz")
    rng = np.random.default_rng(7)
    net.connect(noise, exc, _arrays(rng, 20, NE, 0.3), weight="120 pA", delay="0.5 ms")
    net.connect(noise, inh, _arrays(rng, 20, N - NE, 0.3), weight="120 pA")
    net.connect(exc, exc, _arrays(rng, NE, NE, 0.2), weight="60 pA", delay="1 ms",
                plasticity=STDP(a_plus="5 pA", a_minus="6 pA", w_min="0 pA", w_max="150 pA"))
    net.connect(exc, inh, _arrays(rng, NE, N - NE, 0.3), weight="80 pA", delay="0.3 ms")
    net.connect(inh, exc, _arrays(rng, N - NE, NE, 0.4), weight="-200 pA")
    net.connect(inh, inh, _arrays(rng, N - NE, N - NE, 0.4), weight="-100 pA", delay="0.2 ms")
    net.current(inh, amplitudes=["0 pA", "150 pA"], times=["0 ms", "20 ms"])
    mons = [net.spike_monitor(exc), net.spike_monitor(inh), net.state_monitor(inh, ("v", "i_exc"), indices=[1, 4])]
    return net, mons


def outcome(net, mons):
    return [(m.t, m.i) for m in mons[:2]], mons[2]["v"], mons[2]["i_exc"], \
        [p.synapses.weight.copy() for p in net.projections]


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_slices_of_one_population_equal_two_populations_bit_for_bit(backend):
    runs = []
    for split in (True, False):
        net, mons = ei_network(split)
        net.run("60 ms", backend=backend)
        runs.append(outcome(net, mons))
    (spikes_a, v_a, i_a, w_a), (spikes_b, v_b, i_b, w_b) = runs
    assert all(t.size > 20 for t, _ in spikes_a)
    for (ta, ia), (tb, ib) in zip(spikes_a, spikes_b):
        assert np.array_equal(ta, tb) and np.array_equal(ia, ib)
    assert np.array_equal(v_a, v_b) and np.array_equal(i_a, i_b)
    assert not np.array_equal(w_a[2], ei_network(True)[0].projections[2].synapses.weight)  # STDP learned
    for wa, wb in zip(w_a, w_b):
        assert np.array_equal(wa, wb)


def test_monitors_of_a_subgroup_are_the_parents_rows_relative_to_the_slice():
    net, _ = ei_network(split=False)
    whole = net.populations[0]
    sub = whole[10:35]
    spikes, sub_spikes = net.spike_monitor(whole), net.spike_monitor(sub)
    some = net.spike_monitor(sub, indices=[0, 3, 24], name="some")
    state, sub_state = net.state_monitor(whole, ("v", "i_inh")), net.state_monitor(sub, ("v", "i_inh"), indices=[2, 20])
    rate, sub_rate, full_rate = net.rate_monitor(whole), net.rate_monitor(sub), net.rate_monitor(whole[0:N])
    net.run("40 ms", backend="numba")
    inside = (spikes.i >= 10) & (spikes.i < 35)
    assert inside.sum() > 10 and sub_spikes.i.max() < 25
    assert np.array_equal(sub_spikes.t, spikes.t[inside]) and np.array_equal(sub_spikes.i, spikes.i[inside] - 10)
    keep = np.isin(sub_spikes.i, [0, 3, 24])
    assert np.array_equal(some.t, sub_spikes.t[keep]) and np.array_equal(some.i, sub_spikes.i[keep])
    for var in ("v", "i_inh"):
        assert np.array_equal(sub_state[var], state[var][:, [12, 30]])
    assert np.array_equal(full_rate.rate, rate.rate)
    stamps = np.rint(sub_spikes.t / DT).astype(int)  # a spike of step m is stamped t_{m+1}
    expected = [np.sum(stamps == m + 1) for m in np.rint(sub_rate.t / DT).astype(int)]
    assert np.sum(expected) == sub_spikes.t.size
    assert np.allclose(sub_rate.rate, np.array(expected) / (25 * DT))


def test_a_merged_monitor_has_global_ids_in_time_order():
    net, (m_exc, m_inh, _) = ei_network(split=True)
    exc, inh = net.populations
    noise = net.groups[2]
    merged = net.spike_monitor([inh, exc, noise[5:15]])
    m_noise = net.spike_monitor(noise)
    net.run("40 ms", backend="numba")
    assert merged.name == "spikes_I_E_noise[5:15]"
    assert np.all(np.diff(merged.t) >= 0)
    sel = (m_noise.i >= 5) & (m_noise.i < 15)
    parts = [(m_exc.t, m_exc.i + exc.offset), (m_inh.t, m_inh.i + inh.offset),
             (m_noise.t[sel], m_noise.i[sel] + noise.offset)]
    expected = sorted(zip(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])))
    assert sorted(zip(merged.t, merged.i)) == expected and len(expected) > 50
    member, local = merged.locate(merged.i)
    assert np.array_equal(local[member == 0], m_inh.i) and np.array_equal(local[member == 2], m_noise.i[sel] - 5)
    split = merged.split()
    assert np.array_equal(split["E"][0], m_exc.t) and np.array_equal(split["E"][1], m_exc.i)
    with pytest.raises(ValueError, match="not a recorded neuron"):
        merged.locate([noise.offset])


def test_a_current_into_a_subgroup_changes_only_its_neurons():
    net = Network(dt=DT)
    pop = net.population("P", 10, CubaLIF(v_rest="-60 mV", v_th="-40 mV"))
    net.current(pop[3:6], amplitudes="200 pA", indices=[1, 2])
    state = net.state_monitor(pop, "v")
    net.run("5 ms", backend="numba")
    moved = np.flatnonzero(np.any(state["v"] != -60e-3, axis=0))
    assert moved.tolist() == [4, 5]


def test_slices_are_views_validated_on_construction():
    net = Network(dt=DT)
    pop = net.population("P", 100, CubaLIF())
    sub = pop[:30]
    assert isinstance(sub, Subgroup) and sub.parent is pop and (sub.start, sub.stop) == (0, 30)
    assert sub.name == "P[0:30]" and len(sub) == sub.size == 30 and pop[70:].name == "P[70:100]"
    assert sub[5:10] == pop[5:10] and sub[5:10].name == "P[5:10]"
    for key, message in [(slice(50, 200), "P[50:200] is out of range: P has 100 neurons"),
                         (slice(10, 10), "P[10:10] is empty"), (slice(0, 10, 2), "has step 2"),
                         (slice(-5, None), "out of range"), (3, "index it with a slice"),
                         (slice("a", 3), "integer bounds")]:
        with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
            pop[key]
    with pytest.raises(ValueError, match=r"population\.P\[0:30\]: P\[0:30\]\[20:40\] is out of range: P\[0:30\] has 30"):
        sub[20:40]
    with pytest.raises(ValueError, match="overlap"):
        net.spike_monitor([pop[:20], pop[10:30]])
    source = net.spike_source("S", 4, times=[0.0], indices=[0])
    with pytest.raises(ValueError, match="S\\[0:2\\]' is a spike source"):
        net.connect(pop, source[:2], FromArrays([0], [0]), weight="1 pA")


SCENARIO = textwrap.dedent("""\
    schema_version = 1
    name = "slices"
    [simulation]
    duration = "30 ms"
    dt = "0.1 ms"
    seed = 2
    backend = "numba"
    [[model.populations]]
    name = "P"
    size = 50
    neuron = { model = "CubaLIF", v_rest = "-60 mV", v_reset = "-60 mV", v_th = "-50 mV" }
    v_init = { dist = "uniform", low = "-60 mV", high = "-50 mV" }
    [[model.sources]]
    name = "noise"
    type = "poisson"
    size = 20
    rate = "300 Hz"
    [[model.connections]]
    pre = "noise"
    post = "P[:40]"
    connector = { type = "fixed_probability", p = 0.5 }
    weight = "150 pA"
    [[model.connections]]
    pre = "P[:40]"
    post = "P"
    connector = { type = "fixed_probability", p = 0.1 }
    weight = "50 pA"
    delay = "1 ms"
    [[model.connections]]
    pre = "P[40:]"
    post = "P[0:40]"
    connector = { type = "fixed_probability", p = 0.3 }
    weight = "-100 pA"
    [[model.currents]]
    target = "P[40:50]"
    amplitudes = "300 pA"
    [[record]]
    type = "spikes"
    populations = ["P[40:]"]
    [[record]]
    type = "state"
    populations = ["P[10:20]"]
    indices = [0, 9]
    [[record]]
    type = "rate"
    populations = ["P[:40]", "P"]
    """)


def test_a_scenario_with_slices_writes_parent_node_ids(tmp_path, capsys):
    path = tmp_path / "s.toml"
    path.write_text(SCENARIO)
    assert main(["run", str(path), "--out", str(tmp_path / "a.h5"), "--quiet"]) == 0
    res = load(tmp_path / "a.h5")
    t, ids = res.spikes["P"]
    assert t.size > 10 and ids.min() >= 40 and ids.max() < 50
    assert res.reports["P"].node_ids.tolist() == [10, 19]
    merged = SCENARIO.replace('populations = ["P[40:]"]', 'populations = ["P[40:45]", "P[:10]", "P[45:]"]\nmerge = true')
    path.write_text(merged)
    assert main(["run", str(path), "--out", str(tmp_path / "b.h5"), "--quiet"]) == 0
    t_b, ids_b = load(tmp_path / "b.h5").spikes["P"]
    assert np.all(np.diff(t_b) >= 0) and np.any(ids_b < 10)
    keep = ids_b >= 40
    assert np.array_equal(t_b[keep], t) and np.array_equal(ids_b[keep], ids)


@pytest.mark.parametrize("old, new, message", [
    ('post = "P[:40]"', 'post = "Q[:40]"', "model.connections.0.post: unknown population 'Q'"),
    ('post = "P[:40]"', 'post = "P[0:99999]"', "model.connections.0.post: P[0:99999] is out of range: P has 50 neurons"),
    ('pre = "P[40:]"', 'pre = "P[45:40]"', "model.connections.2.pre: P[45:40] is empty"),
    ('pre = "P[40:]"', 'pre = "P[0:40:2]"', "model.connections.2.pre: P[0:40:2] has step 2"),
    ('pre = "P[40:]"', 'pre = "P[a:b]"', "model.connections.2.pre: expected a population name or a slice"),
    ('target = "P[40:50]"', 'target = "P[40:60]"', "model.currents.0.target: P[40:60] is out of range"),
    ('populations = ["P[40:]"]', 'populations = ["P[50:]"]', "record.0.populations: P[50:] is empty"),
    ('populations = ["P[10:20]"]', 'populations = ["noise[0:5]"]',
     "record.1.populations: 'noise[0:5]' is a spike source"),
    ('populations = ["P[40:]"]', 'populations = ["P[:10]", "P[40:]"]',
     "record.0: record.0 already writes /spikes/P"),
    ('populations = ["P[40:]"]', 'populations = ["P[:10]", "P[5:]"]\nmerge = true',
     "record.0: record.spikes_0.populations: P[0:10] and P[5:50] overlap"),
])
def test_bad_slices_exit_2_naming_the_field(tmp_path, capsys, old, new, message):
    path = tmp_path / "s.toml"
    assert old in SCENARIO
    path.write_text(SCENARIO.replace(old, new, 1))
    for command in ("validate", "run"):
        assert main([command, str(path), "--out", str(tmp_path / "x.h5"), "--quiet"] if command == "run"
                    else [command, str(path)]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.toml"]


CUDA_CHECK = """
import json
import numpy as np
from neurosim.engine import cuda_kernels
from test_subgroups import ei_network, outcome
assert cuda_kernels.SIMULATED
runs = []
for backend in ("numpy", "cuda"):
    net, mons = ei_network(split=False)
    net.run("15 ms", backend=backend)
    runs.append(outcome(net, mons))
(sa, va, ia, wa), (sb, vb, ib, wb) = runs
assert sum(t.size for t, _ in sa) > 5
assert all(np.array_equal(x, y) for a, b in zip(sa, sb) for x, y in zip(a, b))
assert np.array_equal(va, vb) and np.array_equal(ia, ib) and all(np.array_equal(x, y) for x, y in zip(wa, wb))
print(json.dumps({"same": True}))
"""


def test_cuda_simulator_runs_slices_bit_for_bit_like_numpy():
    assert run_simulated(CUDA_CHECK)["same"]


def test_brian2_runs_slices_spike_for_spike_with_numba():
    from test_brian2_backend import assert_same_spikes, brian

    runs = []
    for backend in ("numba", brian()):
        net, mons = ei_network(split=False)
        net.run("30 ms", backend=backend)
        runs.append(outcome(net, mons))
    (spikes_a, v_a, _, w_a), (spikes_b, v_b, _, w_b) = runs
    assert all(t.size > 5 for t, _ in spikes_a)
    for a, b in zip(spikes_a, spikes_b):
        assert_same_spikes(a, b)
    assert np.allclose(v_a, v_b, rtol=1e-12, atol=1e-15)
    for wa, wb in zip(w_a, w_b):
        assert np.allclose(wa, wb, rtol=1e-12, atol=1e-24)


def test_a_slice_of_a_source_drives_like_its_synapses_given_on_the_whole_source():
    runs = []
    for sliced in (True, False):
        net = Network(dt=DT, seed=5)
        pop = net.population("P", 8, CubaLIF(v_rest="-60 mV", v_th="-50 mV"))
        src = net.poisson_source("src", 12, rate="500 Hz")
        pre, post = np.repeat(np.arange(4), 6), np.tile(np.arange(6), 4)  # src[6:10] -> P[2:8], all to all
        if sliced:
            net.connect(src[6:10], pop[2:], FromArrays(pre, post), weight="300 pA")
        else:
            net.connect(src, pop, FromArrays(pre + 6, post + 2), weight="300 pA")
        mon = net.spike_monitor(pop)
        net.run("20 ms", backend="numpy")
        runs.append((mon.t, mon.i))
    assert runs[0][0].size > 5 and np.all(runs[0][1] >= 2)
    assert np.array_equal(runs[0][0], runs[1][0]) and np.array_equal(runs[0][1], runs[1][1])
