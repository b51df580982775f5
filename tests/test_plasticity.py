"""Trace-based STDP and modulators: closed forms, delays, backends agreeing bit for bit, validation."""

from __future__ import annotations

import copy
import json
import re

import h5py
import numpy as np
import pytest
import tomli_w

from neurosim import LIF, CubaLIF, FixedProbability, FromArrays, Network, OneToOne, Uniform
from neurosim.cli import main
from neurosim.io import load
from neurosim.plasticity import STDP

BACKENDS = ["numba", "numpy"]
DT = 1e-4
MS = 1e-3
W0 = 1e-3  # initial plastic weight (V, onto LIF)
A_PLUS, A_MINUS = 1e-4, 1.2e-4


def rule(**kw) -> STDP:
    params = dict(a_plus="0.1 mV", a_minus="0.12 mV", w_min="0 mV", w_max="5 mV", tau_pre="20 ms",
                  tau_post="30 ms")
    return STDP(**{**params, **kw})


def pair(pre_ms, post_ms, plasticity, backend, delay_ms=0.0, w0=W0, n_post=1, connector=None, modulators=(),
         record_v=False):
    """One spike source ``pre`` onto ``n_post`` LIF neurons through plastic synapses; the posts
    spike exactly at ``post_ms`` (a 20 mV kick one step earlier). Returns (weights, net, v monitor or None)."""
    net = Network(dt=DT)
    pre = net.spike_source("pre", 1, times=[t * MS for t in pre_ms], indices=[0] * len(pre_ms))
    kick = net.spike_source("kick", 1, times=[t * MS - DT for t in post_ms], indices=[0] * len(post_ms))
    post = net.population("post", n_post, LIF(tau_m="20 ms", v_rest="-65 mV", v_reset="-65 mV", v_th="-50 mV",
                                              t_ref="1 ms"))
    net.connect(kick, post, FromArrays([0] * n_post, list(range(n_post))), weight="20 mV")
    proj = net.connect(pre, post, connector or OneToOne(), weight=w0, delay=None if connector else delay_ms * MS,
                       plasticity=plasticity)
    for m in modulators:
        net.modulator(targets=[proj], **m)
    spikes = net.spike_monitor(post)
    v = net.state_monitor(post, "v") if record_v else None
    net.run("40 ms", backend=backend)
    post_steps = sorted(set(np.rint(spikes.t / DT).astype(int).tolist()))
    assert post_steps == [int(round(t * MS / DT)) for t in post_ms]  # the posts spike when told
    return proj.synapses.weight.copy(), net, v


def decay(ms, tau_ms):
    return np.exp(-ms / tau_ms)


# ----------------------------------------------------------------------------- closed forms
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("traces", ["all_to_all", "nearest"])
def test_single_pairs_follow_the_closed_form(backend, traces):
    w, _, _ = pair([10], [15], rule(traces=traces), backend)
    assert w[0] - W0 == pytest.approx(A_PLUS * decay(5, 20), rel=1e-9)  # post 5 ms after pre: potentiation
    w, _, _ = pair([13], [10], rule(traces=traces), backend)
    assert w[0] - W0 == pytest.approx(-A_MINUS * decay(3, 30), rel=1e-9)  # pre 3 ms after post: depression
    w, _, _ = pair([10, 20], [15], rule(traces=traces), backend)  # both, in order
    assert w[0] == pytest.approx(W0 + A_PLUS * decay(5, 20) - A_MINUS * decay(5, 30), rel=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_bursts_distinguish_all_to_all_from_nearest_traces(backend):
    pre_burst = ([10, 12], [15])  # pre, pre, post
    w, _, _ = pair(*pre_burst, rule(traces="all_to_all"), backend)
    assert w[0] - W0 == pytest.approx(A_PLUS * (decay(5, 20) + decay(3, 20)), rel=1e-9)
    w, _, _ = pair(*pre_burst, rule(traces="nearest"), backend)
    assert w[0] - W0 == pytest.approx(A_PLUS * decay(3, 20), rel=1e-9)
    post_burst = ([16], [10, 12])  # post, post, pre
    w, _, _ = pair(*post_burst, rule(traces="all_to_all"), backend)
    assert w[0] - W0 == pytest.approx(-A_MINUS * (decay(6, 30) + decay(4, 30)), rel=1e-9)
    w, _, _ = pair(*post_burst, rule(traces="nearest"), backend)
    assert w[0] - W0 == pytest.approx(-A_MINUS * decay(4, 30), rel=1e-9)
    w, _, _ = pair([10, 12], [15], rule(traces="all_to_all", trace_increment=0.5), backend)
    assert w[0] - W0 == pytest.approx(0.5 * A_PLUS * (decay(5, 20) + decay(3, 20)), rel=1e-9)


@pytest.mark.parametrize("backend", BACKENDS)
def test_multiplicative_dependence(backend):
    mult = rule(dependence="multiplicative", a_plus=0.1, a_minus=0.2, w_min="0.5 mV", w_max="5 mV")
    w, _, _ = pair([10], [15], mult, backend)
    assert w[0] - W0 == pytest.approx(0.1 * (5e-3 - W0) * decay(5, 20), rel=1e-9)
    w, _, _ = pair([13], [10], mult, backend)
    assert w[0] - W0 == pytest.approx(-0.2 * (W0 - 0.5e-3) * decay(3, 30), rel=1e-9)


@pytest.mark.parametrize("backend", BACKENDS)
def test_hard_bounds_clip(backend):
    w, _, _ = pair([10], [11], rule(a_plus="10 mV", w_max="2 mV"), backend)
    assert w[0] == 2e-3
    w, _, _ = pair([11], [10], rule(a_minus="10 mV", w_min="0.5 mV"), backend)
    assert w[0] == 0.5e-3
    w, _, _ = pair([10], [11], rule(dependence="multiplicative", a_plus=50.0, a_minus=0.1, w_max="2 mV"), backend)
    assert w[0] == 2e-3  # a_plus (w_max - w) x > w_max - w: clipped


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_pre_and_a_post_spike_in_the_same_step_do_not_pair(backend):
    w, _, _ = pair([15], [15], rule(), backend)
    assert w[0] == W0
    # the earlier pre spike still pairs with the post spike; the simultaneous one adds nothing
    w, _, _ = pair([10, 15], [15], rule(), backend)
    assert w[0] - W0 == pytest.approx(A_PLUS * decay(5, 20), rel=1e-9)


# ----------------------------------------------------------------------------- delays
@pytest.mark.parametrize("backend", BACKENDS)
def test_delays_pair_the_arrival_time(backend):
    # pre at 10 ms arrives at 13 ms: a post spike at 15 ms is 2 ms after the arrival
    w, _, _ = pair([10], [15], rule(), backend, delay_ms=3)
    assert w[0] - W0 == pytest.approx(A_PLUS * decay(2, 20), rel=1e-9)
    # a post spike at 12 ms is after the emission but before the arrival: depression at 13 ms
    w, _, _ = pair([10], [12], rule(), backend, delay_ms=3)
    assert w[0] - W0 == pytest.approx(-A_MINUS * decay(1, 30), rel=1e-9)
    # arrival in the same step as the post spike: no pairing
    w, _, _ = pair([10], [13], rule(), backend, delay_ms=3)
    assert w[0] == W0


@pytest.mark.parametrize("backend", BACKENDS)
def test_synapses_of_one_row_with_different_delays(backend):
    conn = FromArrays([0, 0, 0], [0, 1, 2], delay=[1 * MS, 4 * MS, 0.0])
    w, _, _ = pair([10], [15], rule(traces="nearest"), backend, n_post=3, connector=conn)
    expected = W0 + A_PLUS * decay(np.array([4.0, 1.0, 5.0]), 20)
    assert w == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_static_synapses_in_rows_with_plastic_ones_arrive_on_time(backend):
    net = Network(dt=DT)
    pre = net.spike_source("pre", 1, times=["1 ms"], indices=[0])
    pop = net.population("pop", 4, LIF(v_rest="-65 mV", v_reset="-65 mV", v_th="-50 mV"))
    net.connect(pre, pop, FromArrays([0, 0], [0, 1], delay=[0.0, 2 * MS]), weight="1 mV", plasticity=rule())
    net.connect(pre, pop, FromArrays([0, 0], [2, 3], delay=[0.0, 3 * MS]), weight="2 mV", name="static")
    v = net.state_monitor(pop, "v")
    net.run("6 ms", backend=backend)
    first = [int(np.flatnonzero(v["v"][:, i] != -65e-3)[0]) for i in range(4)]
    assert first == [10, 30, 10, 40]
    assert v["v"][40, 3] == pytest.approx(-63e-3, rel=1e-12) and v["v"][30, 1] == pytest.approx(-64e-3, rel=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_delayed_plastic_synapse_delivers_its_weight_at_arrival(backend):
    # pre at 2 and 10 ms, delay 5 ms (arrivals 7 and 15 ms); post at 12 ms: potentiated by the
    # 7 ms arrival, so the 10 ms spike delivers the learned weight at 15 ms
    w, net, v = pair([2, 10], [12], rule(), backend, delay_ms=5, record_v=True)
    learned = W0 + A_PLUS * decay(5, 20)
    assert w[0] == pytest.approx(learned - A_MINUS * decay(3, 30), rel=1e-12)
    trace, p_vv = v["v"][:, 0], np.exp(-DT / 20e-3)
    jump = trace[150] - (-65e-3 + (trace[149] + 65e-3) * p_vv)
    assert jump == pytest.approx(learned, rel=1e-9)


# ----------------------------------------------------------------------------- modulators
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_modulator_without_drive_relaxes_to_its_bias(backend):
    mod = dict(name="m", tau="10 ms", weight=0.0, bias=0.3, initial=1.0, acts_on="potentiation")
    _, net, _ = pair([10], [15], rule(), backend, modulators=[mod])
    n = 400  # steps run
    assert net.modulators[0].value == pytest.approx(0.3 + 0.7 * (1 - 1 / 100) ** n, rel=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_modulated_learning_rates(backend):
    zero = dict(name="m", tau="1 ms", weight=0.0, bias=0.0, initial=0.0, acts_on="depression")
    w, _, _ = pair([13], [10], rule(), backend, modulators=[zero])
    assert w[0] == W0  # depression factor 0: never depresses
    w, _, _ = pair([10], [15], rule(), backend, modulators=[zero])
    assert w[0] - W0 == pytest.approx(A_PLUS * decay(5, 20), rel=1e-9)  # potentiation untouched
    half = dict(name="m", tau="1 ms", weight=0.0, bias=0.5, acts_on="potentiation")
    w, _, _ = pair([10], [15], rule(), backend, modulators=[half])
    assert w[0] - W0 == pytest.approx(0.5 * A_PLUS * decay(5, 20), rel=1e-9)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_modulator_integrates_spike_counts(backend):
    """A <- A + (w (n_pre - n_kick) + b - A) / tau_steps, counting the spikes of each step."""
    net = Network(dt=DT)
    a = net.spike_source("a", 3, times=["1 ms", "1 ms", "1.1 ms"], indices=[0, 1, 2])
    b = net.spike_source("b", 1, times=["1 ms"], indices=[0])
    post = net.population("post", 1, LIF())
    proj = net.connect(a, post, FromArrays([0], [0]), weight="0.1 mV", plasticity=rule())
    m = net.modulator("m", tau="0.5 ms", weight=0.25, bias=0.1, targets=[proj], drive=[(a, 1.0), (b, -1.0)],
                      acts_on="potentiation")
    net.run("1.2 ms", backend=backend)
    value, counts = 0.1, {10: 2 - 1, 11: 1}
    for step in range(12):
        value = value + (0.25 * counts.get(step, 0) + 0.1 - value) / 5.0
    assert m.value == pytest.approx(value, rel=1e-14)


@pytest.mark.parametrize("traces", ["all_to_all", "nearest"])
def test_learned_weights_equal_the_pair_sums_over_the_recorded_spikes(traces):
    """A recurrent network with random and uniform delays: every synapse's weight change is the
    sum over (arrival, post spike) pairs of the closed forms (additive, bounds never reached)."""
    net = Network(dt=DT, seed=2)
    exc = net.population("exc", 60, CubaLIF(v_rest="-60 mV", v_th="-50 mV", v_reset="-60 mV", t_ref="2 ms"),
                         v_init=Uniform("-60 mV", "-50 mV"))
    noise = net.poisson_source("noise", 30, rate="400 Hz")
    stdp = STDP(a_plus="0.5 pA", a_minus="0.6 pA", w_min="-1 nA", w_max="1 nA", tau_pre="15 ms", tau_post="25 ms",
                traces=traces)
    projs = [net.connect(noise, exc, FixedProbability(0.3), weight="70 pA", delay=Uniform("0 ms", "2 ms"),
                         plasticity=stdp),
             net.connect(exc, exc, FixedProbability(0.1), weight="30 pA", delay="1.5 ms", plasticity=stdp)]
    mons = {g.name: net.spike_monitor(g) for g in (exc, noise)}
    initial = [p.synapses.weight.copy() for p in projs]
    n_steps = 600
    net.run(n_steps * DT)
    trains = {name: [np.rint(m.t[m.i == k] / DT).astype(np.int64) for k in range(m.target.size)]
              for name, m in mons.items()}
    d_pre, d_post = np.exp(-DT / 15e-3), np.exp(-DT / 25e-3)
    for proj, w0 in zip(projs, initial):
        csr = proj.synapses
        expected = w0.copy()
        for k, (j, i, d) in enumerate(zip(csr.pre, csr.post, csr.delay)):
            arrivals = trains[proj.pre.name][j] + d
            arrivals, posts = arrivals[arrivals < n_steps], trains["exc"][i]
            posts = posts[posts < n_steps]
            lag = posts[:, None] - arrivals[None, :]  # post - arrival, in steps
            if traces == "all_to_all":
                ltp = np.where(lag > 0, d_pre ** np.maximum(lag, 0), 0).sum()
                ltd = np.where(lag < 0, d_post ** np.maximum(-lag, 0), 0).sum()
            else:  # nearest: the latest arrival before each post, the latest post before each arrival
                ltp = sum(d_pre ** (t - arrivals[arrivals < t].max()) for t in posts if np.any(arrivals < t))
                ltd = sum(d_post ** (a - posts[posts < a].max()) for a in arrivals if np.any(posts < a))
            expected[k] += 0.5e-12 * ltp - 0.6e-12 * ltd
        assert np.count_nonzero(expected != w0) > 0.5 * w0.size
        assert proj.synapses.weight == pytest.approx(expected, rel=1e-9, abs=1e-21)


# ----------------------------------------------------------------------------- backends agree
def plastic_network(precision="float64", block_steps=10_000, spike_capacity=1 << 20):
    """Recurrent CubaLIF/LIF network with Poisson input, random and uniform delays, all rule
    variants, a spike source and a modulator."""
    net = Network(dt="0.1 ms", seed=5, precision=precision, block_steps=block_steps, spike_capacity=spike_capacity)
    rng = np.random.default_rng(7)
    exc = net.population("exc", 120, CubaLIF(v_rest="-60 mV", v_th=rng.uniform(-52e-3, -48e-3, 120),
                                             v_reset="-60 mV", t_ref="2 ms"), v_init=Uniform("-60 mV", "-50 mV"))
    inh = net.population("inh", 30, LIF(v_rest="-60 mV", v_th="-50 mV", v_reset="-60 mV", t_ref="1 ms"),
                         v_init=Uniform("-60 mV", "-50 mV"))
    noise = net.poisson_source("noise", 40, rate="300 Hz")
    stim = net.spike_source("stim", 2, times=["5 ms", "5 ms", "20.3 ms"], indices=[0, 1, 0])
    add = dict(a_plus="2 pA", a_minus="2.4 pA", w_min="0 pA", w_max="120 pA")
    p_in = net.connect(noise, exc, FixedProbability(0.3), weight=Uniform("40 pA", "80 pA"),
                       delay=Uniform("0 ms", "2 ms"), plasticity=STDP(**add))
    net.connect(stim, exc, FixedProbability(0.2), weight="100 pA", plasticity=STDP(**add, traces="nearest"))
    p_ee = net.connect(exc, exc, FixedProbability(0.1), weight=Uniform("10 pA", "60 pA"), delay="1 ms",
                       plasticity=STDP(a_plus=0.05, a_minus=0.06, w_max="120 pA", dependence="multiplicative",
                                       traces="nearest", tau_post="15 ms"))
    net.connect(exc, inh, FixedProbability(0.2), weight="0.8 mV", delay="0.5 ms",
                plasticity=STDP(a_plus="0.02 mV", a_minus="0.03 mV", w_max="2 mV"))
    net.connect(inh, exc, FixedProbability(0.2), weight="-120 pA")
    net.connect(inh, inh, FixedProbability(0.2), weight="-0.5 mV", delay="0.3 ms")
    net.connect(noise, inh, FixedProbability(0.2), weight="0.5 mV", delay="0.7 ms")  # static, in plastic rows
    net.modulator("astro", tau="5 ms", weight=0.01, bias=0.8, targets=[p_ee, (p_in, "potentiation")],
                  drive=[(exc, 1.0), (noise, -0.5)])
    monitors = [net.spike_monitor(exc), net.spike_monitor(inh), net.spike_monitor(noise),
                net.state_monitor(exc, ("v", "i_exc"), indices=[0, 5, 7], interval="0.5 ms")]
    return net, monitors


def outcome(net, monitors):
    return ([(m.t, m.i) for m in monitors[:3]], monitors[3]["v"], [p.synapses.weight.copy() for p in net.projections],
            net.modulators[0].value)


def assert_same(a, b):
    for (ta, ia), (tb, ib) in zip(a[0], b[0]):
        assert np.array_equal(ta, tb) and np.array_equal(ia, ib)
    assert np.array_equal(a[1], b[1])
    for wa, wb in zip(a[2], b[2]):
        assert wa.dtype == wb.dtype and np.array_equal(wa, wb)
    assert a[3] == b[3]


@pytest.mark.parametrize("precision", ["float64", "float32"])
def test_numba_and_numpy_agree_bit_for_bit_with_plasticity(precision):
    results, initial = {}, None
    for backend in BACKENDS:
        net, mons = plastic_network(precision)
        if initial is None:
            initial = [p.synapses.weight.copy() for p in net.projections]
        net.run("60 ms", backend=backend)
        results[backend] = outcome(net, mons)
    a, b = results["numba"], results["numpy"]
    assert sum(t.size for t, _ in a[0]) > 300  # the network is active
    assert_same(a, b)
    changed = [np.count_nonzero(w != w0) for w, w0 in zip(a[2], initial)]
    assert all(c > 0 for c in changed[:4])  # every plastic projection learned
    assert not any(changed[4:])  # the static ones did not
    assert a[3] != 0.8


def test_block_boundaries_do_not_change_learning():
    ref_net, ref = plastic_network()
    ref_net.run("60 ms")
    split_net, split = plastic_network(block_steps=7, spike_capacity=64)  # forces early block returns
    split_net.run("25 ms")
    split_net.run("35 ms")
    assert_same(outcome(ref_net, ref), outcome(split_net, split))


def test_networks_without_plasticity_run_the_plain_kernel():
    from neurosim.engine.layout import NoPlasticity

    net = Network()
    pop = net.population("p", 2, LIF())
    net.connect(pop, pop, FromArrays([0], [1]), weight="1 mV")
    assert isinstance(net.layout.plastic, NoPlasticity)
    assert (net.layout.syn.row_delay >= 0).all()


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("kwargs, message", [
    (dict(tau_pre="-1 ms"), r"plasticity\.tau_pre: must be > 0"),
    (dict(tau_post="5 mV"), r"plasticity\.tau_post: .* is a voltage"),
    (dict(w_min="6 mV"), r"plasticity\.w_min: .* is above w_max"),
    (dict(traces="closest"), r"plasticity\.traces: must be one of"),
    (dict(dependence="exponential"), r"plasticity\.dependence: must be one of"),
    (dict(a_plus="1 pA"), r"plasticity\.a_minus: is a voltage but plasticity\.a_plus is a current"),
    (dict(dependence="multiplicative", a_plus="1 mV"), r"plasticity\.a_plus: the multiplicative rule takes a"),
    (dict(trace_increment=0), r"plasticity\.trace_increment: must be > 0"),
    (dict(a_minus=float("nan")), r"plasticity\.a_minus: must be a finite number"),
    (dict(w_max="5 parsecs"), r"plasticity\.w_max: unknown unit"),
])
def test_bad_rules_name_the_field(kwargs, message):
    with pytest.raises(ValueError, match=message):
        rule(**kwargs)


def small_net():
    net = Network(dt=DT)
    src = net.spike_source("src", 2, times=["1 ms"], indices=[0])
    pop = net.population("pop", 2, LIF())
    return net, src, pop


@pytest.mark.parametrize("action, message", [
    (lambda net, src, pop: net.connect(pop, src, OneToOne(), weight="1 mV", plasticity=rule()),
     r"connection\.pop_to_src\.post: 'src' is a spike source and cannot receive synapses"),
    (lambda net, src, pop: net.connect(src, pop, OneToOne(), weight="1 mV", plasticity="stdp"),
     r"connection\.src_to_pop\.plasticity: expected a plasticity rule"),
    (lambda net, src, pop: net.connect(src, pop, OneToOne(), weight="1 mV",
                                       plasticity=STDP(a_plus="1 pA", a_minus="1 pA", w_max="5 pA")),
     r"connection\.src_to_pop\.plasticity: .* given as currents but .* voltages"),
    (lambda net, src, pop: net.connect(src, pop, OneToOne(), weight="9 mV", plasticity=rule()),
     r"connection\.src_to_pop\.weight: initial weights must lie within the plasticity bounds"),
    (lambda net, src, pop: net.connect(src, pop, OneToOne(), weight=Uniform("6 mV", "9 mV"), plasticity=rule())
     and net.run("1 ms"), r"connection\.src_to_pop\.weight: initial weights must lie within the plasticity bounds"),
    (lambda net, src, pop: net.modulator("m", "1 ms", 0, 1, targets=[net.connect(src, pop, OneToOne(), weight="1 mV")]),
     r"modulator\.m\.targets\.0: connection 'src_to_pop' is not plastic"),
    (lambda net, src, pop: net.modulator("m", "0.01 ms", 0, 1, targets=[
        net.connect(src, pop, OneToOne(), weight="1 mV", plasticity=rule())]), r"modulator\.m\.tau: must be >= dt"),
    (lambda net, src, pop: net.modulator("m", "1 ms", 0, 1, acts_on="both", targets=[
        net.connect(src, pop, OneToOne(), weight="1 mV", plasticity=rule())]), r"modulator\.m\.acts_on"),
    (lambda net, src, pop: net.modulator("m", "1 ms", 0, 1, drive=["pop"], targets=[
        net.connect(src, pop, OneToOne(), weight="1 mV", plasticity=rule())]), r"modulator\.m\.drive\.0"),
])
def test_bad_plastic_connections_and_modulators_name_the_field(action, message):
    net, src, pop = small_net()
    with pytest.raises(ValueError, match=message):
        action(net, src, pop)


def test_a_projection_is_modulated_at_most_once_per_factor():
    net, src, pop = small_net()
    proj = net.connect(src, pop, OneToOne(), weight="1 mV", plasticity=rule())
    net.modulator("m1", "1 ms", 0, 1, targets=[proj])
    net.modulator("m2", "1 ms", 0, 1, targets=[proj], acts_on="potentiation")
    with pytest.raises(ValueError, match=r"modulator\.m3\.targets\.0: the depression of 'src_to_pop' is modulated"):
        net.modulator("m3", "1 ms", 0, 1, targets=[proj])


def test_a_source_driving_plastic_synapses_spikes_once_per_step():
    net = Network(dt=DT)
    src = net.spike_source("src", 1, times=["1 ms", "1 ms"], indices=[0, 0])
    pop = net.population("pop", 1, LIF())
    with pytest.raises(ValueError, match=r"population\.src\.times: source 0 spikes more than once"):
        net.connect(src, pop, OneToOne(), weight="1 mV", plasticity=rule())


# ----------------------------------------------------------------------------- scenarios
SCENARIO = {
    "schema_version": 1,
    "name": "plastic",
    "simulation": {"duration": "30 ms", "dt": "0.1 ms", "seed": 3},
    "model": {
        "populations": [{"name": "exc", "size": 40, "neuron": {"model": "CubaLIF", "v_rest": "-49 mV",
                                                                "v_th": "-50 mV", "v_reset": "-60 mV"},
                         "v_init": {"dist": "uniform", "low": "-60 mV", "high": "-50 mV"}}],
        "sources": [{"name": "noise", "type": "poisson", "size": 10, "rate": "200 Hz"}],
        "connections": [
            {"name": "ee", "pre": "exc", "post": "exc", "connector": {"type": "fixed_probability", "p": 0.2},
             "weight": "20 pA", "delay": "1 ms",
             "plasticity": {"rule": "stdp", "tau_pre": "20 ms", "a_plus": "1 pA", "a_minus": "1.2 pA",
                            "w_max": "40 pA", "traces": "nearest"}},
            {"pre": "noise", "post": "exc", "connector": {"type": "fixed_in_degree", "k": 3}, "weight": "50 pA"},
        ],
        "modulators": [{"name": "astro", "tau": "10 ms", "weight": 0.01, "bias": 0.5, "targets": ["ee"],
                        "drive": [{"population": "exc"}, {"population": "noise", "coefficient": -1.0}]}],
    },
    "record": [{"type": "weights"}],
}


def run_scenario(tmp_path, config):
    path = tmp_path / "s.toml"
    path.write_text(tomli_w.dumps(config))
    return main(["run", str(path), "--out", str(tmp_path / "out.h5"), "--quiet"])


def test_a_plastic_scenario_saves_learned_weights(tmp_path):
    assert run_scenario(tmp_path, SCENARIO) == 0
    res = load(tmp_path / "out.h5")
    learned = res.weights["ee"].weight
    assert np.any(learned != 20e-12) and learned.min() >= 0 and learned.max() <= 40e-12
    assert np.all(res.weights["noise_to_exc"].weight == 50e-12)
    with h5py.File(tmp_path / "out.h5") as f:
        params = json.loads(f["weights/ee"].attrs["plasticity"])
    assert params["rule"] == "stdp" and params["traces"] == "nearest" and params["w_max"] == pytest.approx(40e-12)


def test_a_scenario_states_triplet_terms_and_same_step_pairing(tmp_path):
    """The TOML fields reach the rule: the saved parameters name them, and the learned weights
    differ from the pair rule's."""
    triplet = copy.deepcopy(SCENARIO)
    triplet["model"]["connections"][0]["plasticity"].update(a3_plus="2 pA", a3_minus="0.5 pA", tau_x="50 ms",
                                                             tau_y="70 ms", same_step=True)
    assert run_scenario(tmp_path, triplet) == 0
    learned = load(tmp_path / "out.h5").weights["ee"].weight
    with h5py.File(tmp_path / "out.h5") as f:
        params = json.loads(f["weights/ee"].attrs["plasticity"])
    assert params["a3_plus"] == pytest.approx(2e-12) and params["tau_y"] == pytest.approx(0.07)
    assert params["same_step"] is True
    (tmp_path / "pair").mkdir()
    assert run_scenario(tmp_path / "pair", SCENARIO) == 0
    assert np.any(learned != load(tmp_path / "pair" / "out.h5").weights["ee"].weight)


def set_key(config, keys, value):
    node = config
    for k in keys[:-1]:
        node = node[k]
    node[keys[-1]] = value
    return config


@pytest.mark.parametrize("keys, value, message", [
    (["connections", 0, "plasticity", "tau_pr"], "20 ms", r"model\.connections\.0\.plasticity\.tau_pr: unknown key"),
    (["connections", 0, "plasticity", "traces"], "closest", r"model\.connections\.0\.plasticity\.traces: 'closest'"),
    (["connections", 0, "plasticity", "rule"], "bcm", r"model\.connections\.0\.plasticity\.rule: 'bcm'"),
    (["connections", 0, "plasticity", "tau_post"], "-2 ms", r"model\.connections\.0\.plasticity\.tau_post: must be"),
    (["connections", 0, "plasticity", "w_min"], "50 pA", r"model\.connections\.0\.plasticity\.w_min: .* above w_max"),
    (["connections", 0, "plasticity", "w_max"], "4 mV", r"model\.connections\.0\.plasticity\.w_max: is a voltage but"),
    (["connections", 0, "plasticity"], {"rule": "stdp", "a_plus": "0.1 mV", "a_minus": "0.1 mV", "w_max": "4 mV"},
     r"model\.connections\.0: .*plasticity: .* given as voltages but .* currents"),
    (["connections", 0, "weight"], "50 pA", r"model\.connections\.0: .*weight: initial weights must lie within"),
    (["modulators", 0, "targets"], ["e"], r"model\.modulators\.0\.targets\.0: unknown connection 'e'"),
    (["modulators", 0, "drive", 0, "population"], "ex", r"model\.modulators\.0\.drive\.0\.population: unknown"),
    (["modulators", 0, "acts_on"], "all", r"model\.modulators\.0\.acts_on: 'all'"),
    (["modulators", 0, "tau"], "0.01 ms", r"model\.modulators\.0: .*tau: must be >= dt"),
    (["connections", 0, "plasticity", "same_step"], "yes", r"model\.connections\.0\.plasticity\.same_step: "),
    (["connections", 0, "plasticity", "a3_plus"], "4 mV", r"model\.connections\.0\.plasticity\.a3_plus: is a volt"),
    (["connections", 0, "plasticity", "tau_x"], "-1 ms", r"model\.connections\.0\.plasticity\.tau_x: must be"),
    (["connections", 0, "plasticity", "a3_minus"], float("nan"), r"model\.connections\.0\.plasticity\.a3_minus: "),
])
def test_malformed_plastic_scenarios_name_the_field(tmp_path, capsys, keys, value, message):
    config = set_key(copy.deepcopy(SCENARIO), ["model", *keys], value)
    assert run_scenario(tmp_path, config) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert re.search(message, err), err


# ----------------------------------------------------------------------------- Vogels–Sprekeler iSTDP
@pytest.mark.parametrize("backend", BACKENDS + ["brian2"])
def test_vogels_sprekeler_rule_follows_its_closed_form(backend):
    """w += eta (x_post - alpha) on a pre arrival, w += eta x_pre on a post spike (Vogels et al.
    2011), alpha = 2 rho_0 tau: here eta = 0.1 mV, rho_0 = 10 Hz, tau = 20 ms, so alpha = 0.4."""
    from neurosim.plasticity import vogels_sprekeler

    istdp = vogels_sprekeler(eta="0.1 mV", rho_0="10 Hz", w_max="5 mV")
    eta, alpha = 1e-4, 0.4
    assert istdp.alpha == pytest.approx(alpha, rel=1e-15)
    w, _, _ = pair([10], [15], istdp, backend)  # pre alone (no post before): -eta alpha; then post: +eta x_pre
    assert w[0] == pytest.approx(W0 - eta * alpha + eta * decay(5, 20), rel=1e-9)
    w, _, _ = pair([13], [10], istdp, backend)  # post first (no pre trace yet), then pre 3 ms later
    assert w[0] == pytest.approx(W0 + eta * (decay(3, 20) - alpha), rel=1e-9)
    w, _, _ = pair([10, 20, 30], [], istdp, backend)  # presynaptic spikes alone weaken the synapse
    assert w[0] == pytest.approx(W0 - 3 * eta * alpha, rel=1e-9)
