"""The memory estimate made before building bounds what building really takes (tracemalloc)."""

from __future__ import annotations

import tracemalloc

import pytest

from neurosim import STDP, AllToAll, CubaLIF, FixedInDegree, FixedProbability, LIF, Network, Normal, Uniform
from neurosim.engine.footprint import estimate
from neurosim.engine.placement import construction_threads


def _all_to_all(net):
    a = net.population("a", 1500, CubaLIF(), v_init=Uniform("-70 mV", "-60 mV"))
    net.connect(a, a, AllToAll(), weight=Uniform("1 pA", "2 pA"), delay="1 ms")


def _random_delays(net):
    a = net.population("a", 2000, LIF())
    b = net.population("b", 500, CubaLIF())
    net.connect(a, b, FixedProbability(0.3), weight="1 pA", delay=Uniform("0.1 ms", "20 ms"))
    net.connect(b, a, FixedInDegree(50), weight=Normal("0.1 mV", "0.01 mV"), delay="0.5 ms")


def _plastic(net):
    src = net.poisson_source("src", 1000, "10 Hz")
    a = net.population("a", 1000, CubaLIF())
    rule = STDP(a_plus="0.1 pA", a_minus="0.12 pA", w_max="10 pA")
    net.connect(src, a, FixedProbability(0.4), weight="5 pA", delay="2 ms", plasticity=rule)


def _neurons_only(net):
    a = net.population("a", 200_000, CubaLIF(), v_init=Uniform("-70 mV", "-60 mV"))
    net.spike_monitor(a)


@pytest.mark.parametrize("make", [_all_to_all, _random_delays, _plastic, _neurons_only])
@pytest.mark.parametrize("precision", ["float64", "float32"])
def test_estimate_bounds_the_measured_peak_within_a_factor_of_two(make, precision):
    net = Network(dt="0.1 ms", seed=3, precision=precision)
    make(net)
    predicted = estimate(net, construction_threads()).total
    tracemalloc.start()
    try:
        net.layout
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak <= predicted <= 2.0 * peak, (peak, predicted)


def test_the_largest_projection_is_named():
    net = Network(dt="0.1 ms")
    _random_delays(net)
    fp = estimate(net)
    assert fp.largest == "a_to_b" and fp.largest_synapses == pytest.approx(0.3 * 2000 * 500)


def test_a_network_that_cannot_fit_is_refused_before_anything_is_allocated():
    net = Network(dt="0.1 ms")
    a = net.population("a", 100_000, LIF())
    net.connect(a, a, AllToAll(), weight="0.1 mV")
    net.memory_limit = 1 << 30
    tracemalloc.start()
    try:
        # 1e10 - 1e5 synapses of 13 B held (int32 target, float64 weight, uint8 delay), a block of 256
        # of the 100,000 targets generated at 140 B per synapse, 360 B per neuron
        synapses = 1e10 - 1e5
        total = (synapses * 13 + synapses * 256 / 100_000 * 140 + 100_000 * 360) / 2**30
        with pytest.raises(ValueError, match=rf"model: the network needs about {total:.3g} GiB .* set Network.memory_limit"):
            net.layout
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 50 << 20


@pytest.mark.parametrize("precision, weight_bytes", [("float64", 8), ("float32", 4)])
def test_the_bytes_held_per_synapse_are_the_arrays_that_hold_them(precision, weight_bytes):
    """What ``resident_synapse_bytes`` reports (the run log's and ``inspect``'s ``bytes_per_synapse``)
    is the layout's merged CSR (int32 target, weight, uint8 delay: the longest is 200 steps), its
    row pointers (int64) and per-row tables (int32 delay, weight, uint8 flag), and each
    projection's row starts and counts (int64 per source): 9 B per float32 synapse."""
    from neurosim.engine.footprint import resident_synapse_bytes

    net = Network(dt="0.1 ms", seed=3, precision=precision)
    _random_delays(net)
    n_syn, held = resident_synapse_bytes(net)
    assert n_syn == sum(p.synapses.n_synapses for p in net.projections) > 100_000
    rows = 8 * (2500 + 1) + (4 + weight_bytes + 1) * 2500 + 2 * 8 * (2000 + 500)
    expected = n_syn * (4 + weight_bytes + 1) + rows
    plastic = sum(a.nbytes for a in net.layout.plastic if hasattr(a, "nbytes"))  # empty tables: a few kB
    assert held == expected + plastic and plastic < 10_000
