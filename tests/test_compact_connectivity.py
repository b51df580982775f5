"""Compact connectivity: synapses generated block by block of targets, held once (int32 target,
weight, smallest delay type), and networks split into parts that threads run with the spikes of
one thread."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from neurosim import CubaLIF, LIF, Network, Uniform
from neurosim.connectivity import (
    AllToAll,
    DistanceDependent,
    FixedInDegree,
    FixedOutDegree,
    FixedProbability,
    FixedTotalNumber,
    OneToOne,
    Redrawn,
)
from neurosim.connectivity.connectors import TARGET_BLOCK
from neurosim.engine.footprint import resident_synapse_bytes
from test_engine import random_network, spike_data

RULES = {
    "fixed_probability": FixedProbability(0.05),
    "fixed_in_degree": FixedInDegree(7),
    "fixed_out_degree": FixedOutDegree(9),
    "fixed_total_number": FixedTotalNumber(20_000),
    "all_to_all": AllToAll(),
    "one_to_one": OneToOne(),
    "distance": DistanceDependent(0.5, 3.0),
}


def _net(rule, n=700, delay="1 ms", threads=1, precision="float64"):
    net = Network(dt="0.1 ms", seed=11, precision=precision, threads=threads)
    grid = {"grid": (10, 10, 7)} if isinstance(rule, DistanceDependent) else {}
    a = net.population("a", n, CubaLIF(), **grid)
    net.connect(a, a, rule, weight=Uniform("-5 pA", "10 pA"), delay=delay)
    return net


@pytest.mark.parametrize("name", sorted(RULES))
def test_the_layout_holds_the_synapses_the_blocks_generate(name):
    """700 targets are three blocks; the synapses read back from the layout are those generated
    before it was built (joined from the blocks), in CSR order."""
    net = _net(RULES[name])
    proj = net.projections[0]
    assert len(proj.blocks) == (1 if name == "fixed_out_degree" else 3)
    before = proj.synapses
    net.layout
    after = proj.synapses
    for field in ("indptr", "post", "weight", "delay"):
        assert np.array_equal(getattr(before, field), getattr(after, field)), field
    assert before.n_synapses > 0


def test_rules_hold_across_blocks():
    """No autapse where they are off, in-degrees exact, and the total of FixedTotalNumber exact."""
    for name in ("fixed_probability", "fixed_in_degree", "all_to_all", "distance"):
        csr = _net(RULES[name]).projections[0].synapses
        assert not np.any(csr.pre == csr.post), name
    assert np.all(_net(RULES["fixed_in_degree"]).projections[0].synapses.in_degree() == 7)
    csr = _net(RULES["all_to_all"]).projections[0].synapses
    assert csr.n_synapses == 700 * 699
    csr = _net(RULES["one_to_one"]).projections[0].synapses
    assert np.array_equal(csr.pre, csr.post) and csr.n_synapses == 700


def test_fixed_total_number_spreads_its_synapses_uniformly_over_the_blocks():
    """The blocks' counts are one multinomial draw: over many seeds the share of a block of 188 of
    the 700 targets has the binomial mean and variance (a 4-sigma band of 400 draws)."""
    shares = []
    for seed in range(400):
        net = Network(dt="0.1 ms", seed=seed)
        a = net.population("a", 700, LIF())
        net.connect(a, a, FixedTotalNumber(1000), weight="1 mV")
        shares.append(net.projections[0].blocks[-1][2].n)
    p = (700 - 2 * TARGET_BLOCK) / 700
    mean, var = 1000 * p, 1000 * p * (1 - p)
    assert abs(np.mean(shares) - mean) < 4 * np.sqrt(var / 400)
    assert 0.7 * var < np.var(shares) < 1.3 * var


def test_a_float32_synapse_holds_nine_bytes_and_the_build_peaks_below_sixteen():
    """PD14-like drive: 6.3 million synapses of FixedTotalNumber onto 5000 neurons. Held: int32
    target, float32 weight, uint8 delay, and per row a few tables; the peak of the build (every
    allocation, tracemalloc) stays below 16 B per synapse."""
    net = Network(dt="0.1 ms", seed=2, precision="float32")
    e = net.population("e", 4000, CubaLIF())
    i = net.population("i", 1000, CubaLIF())
    for pre in (e, i):
        for post in (e, i):
            w = "10 pA" if pre is e else "-40 pA"
            net.connect(pre, post, FixedTotalNumber(pre.size * post.size // 4),
                        weight=Redrawn(w, "1 pA"), delay=Redrawn("1.5 ms", "0.75 ms", "0.05 ms", None))
    tracemalloc.start()
    try:
        net.layout
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    n_syn, held = resident_synapse_bytes(net)
    assert n_syn == 5000 * 5000 // 4
    assert net.layout.syn.delay.dtype == np.uint8 and net.layout.syn.target.dtype == np.int32
    rows = 8 * 5001 + 9 * 5000 + 2 * 8 * (4000 + 4000 + 1000 + 1000)  # row pointers, per-row tables, row starts and counts
    plastic = sum(a.nbytes for a in net.layout.plastic if hasattr(a, "nbytes"))  # empty tables: a few hundred B
    assert held == 9 * n_syn + rows + plastic and plastic < 1000
    assert peak / n_syn < 16.0, peak / n_syn


def test_delays_beyond_255_steps_widen_the_delay_type():
    net = _net(FixedProbability(0.05), delay=Uniform("1 ms", "40 ms"))
    before = net.projections[0].synapses
    assert before.delay.max() > 255
    assert net.layout.syn.delay.dtype == np.uint16
    assert np.array_equal(net.projections[0].synapses.delay, before.delay)


def test_spikes_and_states_do_not_depend_on_the_number_of_threads():
    """Currents, spike generators, Poisson sources, delays of 0 and more, LIF and CubaLIF: 1, 2, 3
    and 5 parts give the same spikes and recorded states bit for bit."""
    results = {}
    for threads in (1, 2, 3, 5):
        net, mons = random_network()
        net.threads = threads
        net.run("60 ms", backend="numba")
        assert net.layout.n_parts == threads
        results[threads] = (spike_data(mons), mons[3]["v"], mons[3]["i_exc"], mons[5].rate)
    base = results[1]
    assert sum(t.size for t, _ in base[0]) > 300
    for threads in (2, 3, 5):
        spikes, v, i_exc, rate = results[threads]
        for (ta, ia), (tb, ib) in zip(base[0], spikes):
            assert np.array_equal(ta, tb) and np.array_equal(ia, ib)
        assert np.array_equal(base[1], v) and np.array_equal(base[2], i_exc) and np.array_equal(base[3], rate)


def test_a_run_on_threads_continues_exactly_across_blocks():
    """Blocks end with the last step's spikes delivered: short blocks, ended early when the spike
    buffer could overflow, give one long block's spikes and states."""
    net, mons = random_network(block_steps=7, spike_capacity=64)
    net.threads = 3
    net.run("12 ms", backend="numba")
    net.run("18 ms", backend="numba")
    ref, ref_mons = random_network()
    ref.run("30 ms", backend="numba")
    for (ta, ia), (tb, ib) in zip(spike_data(mons), spike_data(ref_mons)):
        assert np.array_equal(ta, tb) and np.array_equal(ia, ib)
    assert np.array_equal(net.layout.state.vars, ref.layout.state.vars)


def test_only_numba_runs_parts_and_plastic_networks_run_in_one():
    from neurosim import STDP

    net, _ = random_network()
    net.threads = 2
    with pytest.raises(ValueError, match=r"simulation.threads: only the numba backend .* 'numpy'"):
        net.run("1 ms", backend="numpy")
    net = Network(dt="0.1 ms", threads=4)
    src = net.poisson_source("src", 50, "20 Hz")
    a = net.population("a", 40, CubaLIF())
    net.connect(src, a, FixedProbability(0.5), weight="5 pA", plasticity=STDP(a_plus="0.1 pA", a_minus="0.1 pA",
                                                                             w_max="10 pA"))
    assert net.layout.n_parts == 1
    with pytest.raises(ValueError, match="simulation.threads: must be a positive integer"):
        Network(threads=0)
