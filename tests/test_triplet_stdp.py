"""Triplet STDP (Pfister & Gerstner 2006) and same-step pairing: an event-driven reference of the
paper's equations, the four backends, and the one description every backend is generated from."""

from __future__ import annotations

import math

import numpy as np
import pytest

from neurosim import CubaLIF, FixedProbability, Network, Uniform
from neurosim.plasticity import STDP, rules, triplet
from test_plasticity import DT, MS, W0, assert_same, pair, rule

BACKENDS = ["numba", "numpy", "brian2"]
# amplitudes (V, onto LIF) and time constants (ms) of the rule under test
A2P, A3P, A2M, A3M = 1e-4, 2e-4, 1.2e-4, 0.8e-4
TAU_PLUS, TAU_MINUS, TAU_X, TAU_Y = 16.8, 33.7, 101.0, 125.0


def rule_3(traces: str, same_step: bool = False) -> STDP:
    return triplet(a2_plus="0.1 mV", a3_plus="0.2 mV", a2_minus="0.12 mV", a3_minus="0.08 mV", w_max="5 mV",
                   traces=traces, same_step=same_step)


def reference(pre_ms: list[float], post_ms: list[float], traces: str) -> float:
    """The weight change of Pfister & Gerstner's triplet rule, evaluated at the spike times with
    exponentials (no time step): at a post spike ``+ r1 (A2+ + A3+ o2)``, at a pre spike
    ``- o1 (A2- + A3- r2)``, every trace taken just before the spike that reads it."""

    def trace(times: list[float], t: float, tau: float) -> float:
        before = [s for s in times if s < t]
        if not before:
            return 0.0
        if traces == "nearest":
            return math.exp(-(t - max(before)) / tau)
        return sum(math.exp(-(t - s) / tau) for s in before)

    dw = 0.0
    for t, kind in sorted([(t, "pre") for t in pre_ms] + [(t, "post") for t in post_ms]):
        if kind == "pre":
            dw -= trace(post_ms, t, TAU_MINUS) * (A2M + A3M * trace(pre_ms, t, TAU_X))
        else:
            dw += trace(pre_ms, t, TAU_PLUS) * (A2P + A3P * trace(post_ms, t, TAU_Y))
    return dw


PROTOCOLS = {  # (pre spike times, post spike times) in ms
    "pre-post-post": ([10], [15, 25]),  # the second post spike reads o2: triplet potentiation
    "post-pre-pre": ([15, 20], [10]),  # the second pre spike reads r2: triplet depression
    "bursts": ([5, 8, 30], [12, 14, 20, 33]),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("traces", ["all_to_all", "nearest"])
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_triplet_rule_follows_the_event_driven_reference(backend, traces, protocol):
    pre, post = PROTOCOLS[protocol]
    w, _, _ = pair(pre, post, rule_3(traces), backend)
    assert w[0] - W0 == pytest.approx(reference(pre, post, traces), rel=1e-9)


@pytest.mark.parametrize("traces", ["all_to_all", "nearest"])
def test_the_triplet_terms_change_the_result(traces):
    """The protocols above are not pair-blind: with a3 = 0 the weight change differs by the
    triplet terms the reference predicts (so the test above could not pass with a pair rule)."""
    for pre, post in PROTOCOLS.values():
        w3, _, _ = pair(pre, post, rule_3(traces), "numba")
        w2, _, _ = pair(pre, post, triplet(a2_plus="0.1 mV", a3_plus=0.0, a2_minus="0.12 mV", a3_minus=0.0,
                                           w_max="5 mV", traces=traces), "numba")
        assert abs(w3[0] - w2[0]) > 1e-6


def test_the_default_parameters_are_the_visual_cortex_fit():
    """Pfister & Gerstner (2006), Table 4, visual cortex, as NEST's stdp_triplet_synapse documents them."""
    r = triplet()
    assert (r.tau_pre, r.tau_post, r.tau_x, r.tau_y) == pytest.approx((16.8e-3, 33.7e-3, 101e-3, 125e-3))
    assert (r.a_plus, r.a3_plus, r.a_minus, r.a3_minus) == (7.5e-10, 9.3e-3, 7e-3, 2.3e-4)


# ----------------------------------------------------------------------------- same-step pairing
@pytest.mark.parametrize("backend", BACKENDS)
def test_same_step_pairing_counts_a_coincidence_as_causal(backend):
    """Brian2 runs the presynaptic pathway before the postsynaptic one: a pre arrival and a post
    spike in one step potentiate by a_plus times the trace including that arrival."""
    a_plus = 1e-4
    w, _, _ = pair([15], [15], rule(same_step=True), backend)
    assert w[0] == pytest.approx(W0 + a_plus, rel=1e-12)
    w, _, _ = pair([10, 15], [15], rule(same_step=True), backend)  # all-to-all: both arrivals count
    assert w[0] - W0 == pytest.approx(a_plus * (1 + math.exp(-5 / 20)), rel=1e-9)
    w, _, _ = pair([10, 15], [15], rule(same_step=True, traces="nearest"), backend)  # nearest: the latest
    assert w[0] - W0 == pytest.approx(a_plus, rel=1e-9)
    w, _, _ = pair([12], [15], rule(same_step=True), backend, delay_ms=3)  # the arrival, not the emission
    assert w[0] - W0 == pytest.approx(a_plus, rel=1e-9)
    w, _, _ = pair([15], [15], rule(same_step=False), backend)  # the default does not pair them
    assert w[0] == W0


def recurrent_network(precision: str = "float64") -> tuple[Network, list]:
    """CubaLIF network with Poisson input, delays, and triplet rules in every variant: all-to-all
    and nearest, additive and multiplicative, with and without same-step pairing."""
    net = Network(dt="0.1 ms", seed=9, precision=precision)
    exc = net.population("exc", 80, CubaLIF(v_rest="-60 mV", v_th="-50 mV", v_reset="-60 mV", t_ref="1 ms"),
                         v_init=Uniform("-60 mV", "-50 mV"))
    noise = net.poisson_source("noise", 40, rate="400 Hz")
    add = dict(a_plus="2 pA", a_minus="2.4 pA", a3_plus="3 pA", a3_minus="1 pA", w_max="120 pA", tau_x="40 ms",
               tau_y="60 ms")
    net.connect(noise, exc, FixedProbability(0.3), weight=Uniform("40 pA", "80 pA"), delay=Uniform("0 ms", "2 ms"),
                plasticity=STDP(**add, same_step=True))
    net.connect(exc, exc, FixedProbability(0.1), weight=Uniform("10 pA", "60 pA"), delay="1 ms",
                plasticity=STDP(a_plus=0.05, a_minus=0.06, a3_plus=0.04, a3_minus=0.02, w_max="120 pA",
                                dependence="multiplicative", traces="nearest", same_step=True))
    net.connect(exc, exc, FixedProbability(0.05), weight="20 pA", plasticity=STDP(**add, traces="nearest"),
                name="exc_to_exc_nearest")
    net.modulator("m", tau="5 ms", weight=0.01, bias=0.9, targets=[net.projections[1]], drive=[exc])
    return net, [net.spike_monitor(exc), net.spike_monitor(noise), net.state_monitor(exc, "v", interval="0.5 ms")]


@pytest.mark.parametrize("precision", ["float64", "float32"])
def test_numba_and_numpy_agree_bit_for_bit_with_triplets_and_same_step_pairing(precision):
    results = {}
    for backend in ("numba", "numpy"):
        net, mons = recurrent_network(precision)
        initial = [p.synapses.weight.copy() for p in net.projections]
        net.run("60 ms", backend=backend)
        results[backend] = ([(m.t, m.i) for m in mons[:2]], mons[2]["v"], [p.synapses.weight for p in net.projections],
                            net.modulators[0].value)
    assert sum(t.size for t, _ in results["numba"][0]) > 300
    assert_same(results["numba"], results["numpy"])
    assert all(np.count_nonzero(w != w0) > 0 for w, w0 in zip(results["numba"][2], initial))


def test_same_step_pairing_changes_a_busy_network():
    """Coincidences happen in a network driven at 400 Hz: the option is not a no-op there. The
    plastic weights are too small to change the spikes, so both runs see the same spike trains."""
    weights = []
    for same in (True, False):
        net = Network(dt=DT, seed=4)
        exc = net.population("exc", 20, CubaLIF(v_rest="-60 mV", v_th="-50 mV", v_reset="-60 mV", t_ref="1 ms"))
        drive = net.poisson_source("drive", 50, rate="400 Hz")
        net.connect(drive, exc, FixedProbability(0.5), weight="120 pA")
        proj = net.connect(drive, exc, FixedProbability(0.5), weight="0.001 pA", name="plastic",
                           plasticity=STDP(a_plus="0.001 pA", a_minus="0.001 pA", w_max="1 nA", w_min="-1 nA",
                                           same_step=same))
        net.run(40 * MS)
        weights.append(proj.synapses.weight.copy())
    assert np.count_nonzero(weights[0] > weights[1]) > 10
    assert np.all(weights[0] >= weights[1])  # a coincidence only ever adds potentiation


# ----------------------------------------------------------------------------- one description
def test_every_backend_runs_the_statements_of_the_rule():
    """The scalar, NumPy and Brian2 forms are generated from rules.POTENTIATION / DEPRESSION."""
    args = dict(w=2.0, x=0.5, y=0.25, a2=0.1, a3=0.2, lr=0.9, lo=0.0, hi=3.0, soft=0.0, hard=1.0)
    expected = 2.0 + 0.9 * (0.1 + 0.2 * 0.25) * 0.5  # additive potentiation
    assert rules.potentiate(**args) == pytest.approx(expected, rel=1e-15)
    arrays = {k: np.full(3, v) for k, v in args.items()}
    assert np.array_equal(rules.NUMPY_POTENTIATE(**arrays), np.full(3, rules.potentiate(**args)))
    soft = {**args, "soft": 1.0, "hard": 0.0, "alpha": 0.1}
    assert rules.depress(**soft) == pytest.approx(2.0 - 0.9 * (0.1 + 0.2 * 0.25) * (2.0 - 0.0) * (0.5 - 0.1),
                                                  rel=1e-15)
    code = rules.brian2_code(rules.DEPRESSION, {"w": "syn_w", "x": "xp_post", "y": "y2_pre", "lo": "w_min",
                                                "hi": "w_max"}, "_d_")
    lines = code.splitlines()
    assert len(lines) == len(rules.DEPRESSION) + 1 and lines[-1] == "syn_w = clip(_d_moved, w_min, w_max)"
    assert "_d_xa = xp_post - alpha" in lines and "_d_triplet = a3 * y2_pre" in lines


def test_the_numba_kernel_compiles_the_generated_rule():
    """The kernels reach the rule only through the generated functions (no hand copy)."""
    from neurosim.engine import cuda_plasticity, numba_backend

    assert numba_backend._potentiate.py_func is rules.potentiate
    assert numba_backend._depress.py_func is rules.depress
    assert cuda_plasticity._potentiate.py_func is rules.potentiate
    assert cuda_plasticity._depress.py_func is rules.depress
