"""Single-neuron dynamics against closed-form solutions, and parameter validation."""

import numpy as np
import pytest

from neurosim import LIF, CubaLIF, Network
from neurosim.hardware.nir.closed_form import synapse_to_membrane

BACKENDS = ["numba", "numpy"]


def lif(**kw):
    base = dict(tau_m="20 ms", c_m="200 pF", v_rest="-65 mV", v_th="-50 mV", v_reset="-65 mV", t_ref="2 ms")
    base.update(kw)
    return LIF(**base)


@pytest.mark.parametrize("backend", BACKENDS)
def test_subthreshold_trace_is_the_analytic_solution(backend):
    net = Network(dt="0.1 ms")
    pop = net.population("p", 1, lif())
    net.current(pop, amplitudes="100 pA")  # R I = 10 mV, below threshold
    mon = net.state_monitor(pop, "v")
    net.run("100 ms", backend=backend)
    t = mon.t
    expected = -65e-3 + 100e6 * 100e-12 * (1 - np.exp(-t / 20e-3))
    assert mon["v"][:, 0] == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("current", ["1 nA", "250 pA"])
def test_regular_firing_interval_matches_closed_form(backend, current):
    dt = 1e-4
    net = Network(dt=dt)
    pop = net.population("p", 1, lif())
    net.current(pop, amplitudes=current)
    mon = net.spike_monitor(pop)
    net.run("300 ms", backend=backend)
    ri = 100e6 * {"1 nA": 1e-9, "250 pA": 250e-12}[current]
    to_threshold = 20e-3 * np.log(ri / (ri - 15e-3))
    # first spike starts from rest, later ones from reset after the refractory period
    assert mon.t[0] == pytest.approx(to_threshold, abs=dt)
    assert np.diff(mon.t) == pytest.approx(np.full(mon.t.size - 1, to_threshold + 2e-3), abs=dt)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("tau_syn", ["5 ms", "20 ms"])  # 20 ms = tau_m: the degenerate limit
def test_cuba_psp_is_a_difference_of_exponentials(backend, tau_syn):
    net = Network(dt="0.1 ms")
    model = CubaLIF(tau_m="20 ms", c_m="200 pF", v_rest="-65 mV", v_th="-50 mV", v_reset="-65 mV",
                    tau_syn_exc=tau_syn, tau_syn_inh="10 ms")
    src = net.spike_source("s", 1, times=["1 ms"], indices=[0])
    pop = net.population("p", 1, model)
    from neurosim import OneToOne
    net.connect(src, pop, OneToOne(), weight="100 pA")
    mon = net.state_monitor(pop, ("v", "i_exc"))
    net.run("60 ms", backend=backend)
    s = np.clip(mon.t - 1e-3, 0, None)
    ts, tm, c, w = float(model.tau_syn_exc), 20e-3, 200e-12, 100e-12
    if ts == tm:
        psp = w / c * s * np.exp(-s / tm)
    else:
        psp = w / c * tm * ts / (ts - tm) * (np.exp(-s / ts) - np.exp(-s / tm))
    assert mon["v"][:, 0] + 65e-3 == pytest.approx(psp, rel=1e-9, abs=1e-15)
    i_expected = np.where(mon.t > 1e-3 - 1e-12, w * np.exp(-s / ts), 0.0)  # right-continuous samples
    assert mon["i_exc"][:, 0] == pytest.approx(i_expected, rel=1e-9, abs=1e-24)


@pytest.mark.parametrize("backend", BACKENDS)
def test_refractory_clamp_and_soft_reset(backend):
    net = Network(dt="0.1 ms")
    hard = net.population("hard", 1, lif(t_ref="3 ms"))
    soft = net.population("soft", 1, lif(t_ref=0.0, reset="soft"))
    net.current(hard, amplitudes="1 nA")
    net.current(soft, amplitudes="1 nA")
    vh = net.state_monitor(hard, "v")
    vs = net.state_monitor(soft, "v")
    sh, ss = net.spike_monitor(hard), net.spike_monitor(soft)
    net.run("20 ms", backend=backend)
    first = int(round(sh.t[0] / 1e-4))  # sample index at the spike time: value after the reset
    assert np.all(vh["v"][first:first + 31, 0] == pytest.approx(-65e-3))
    assert vh["v"][first + 31, 0] > -65e-3
    k = int(round(ss.t[0] / 1e-4))
    # soft reset subtracts v_th - v_reset from the value that crossed threshold
    before = vs["v"][k - 1, 0]
    p_vv, p_vi = np.exp(-0.1 / 20), 100e6 * 1e-9 * (1 - np.exp(-0.1 / 20))
    crossed = -65e-3 + (before + 65e-3) * p_vv + p_vi
    assert vs["v"][k, 0] == pytest.approx(crossed - 15e-3, rel=1e-12)


def test_parameters_accept_units_numbers_and_arrays():
    a = LIF(tau_m="20 ms", v_th=-0.05, v_reset=[-0.07, -0.065])
    assert a.tau_m == pytest.approx(0.02)
    assert a.v_th == pytest.approx(-0.05)
    assert np.allclose(a.v_reset, [-0.07, -0.065])
    assert CubaLIF(tau_syn_exc="2 ms").tau_syn_exc == pytest.approx(2e-3)


@pytest.mark.parametrize(
    "kwargs, field",
    [
        (dict(tau_m="-20 ms"), "tau_m"),
        (dict(tau_m=0.0), "tau_m"),
        (dict(c_m="0 pF"), "c_m"),
        (dict(v_th="-70 mV"), "v_th"),
        (dict(tau_m="20 parsecs"), "tau_m"),
        (dict(tau_m="20 mV"), "tau_m"),
        (dict(t_ref="-1 ms"), "t_ref"),
        (dict(reset="sideways"), "reset"),
        (dict(tau_syn_exc="-5 ms"), "tau_syn_exc"),
    ],
)
def test_bad_parameters_name_the_field(kwargs, field):
    with pytest.raises(ValueError, match=rf"CubaLIF\.{field}"):
        CubaLIF(**kwargs)


def test_parameter_array_of_wrong_length_is_rejected():
    net = Network()
    with pytest.raises(ValueError, match=r"LIF\.v_th: has 3 values but population 'p' has 4"):
        net.population("p", 4, LIF(v_th=[-0.05, -0.05, -0.05]))


def test_propagator_degenerate_limit_is_continuous():
    tm, c, h = np.array([0.02]), np.array([2e-10]), 1e-4
    near = synapse_to_membrane(tm, tm * (1 + 1e-7), c, h)
    exact = synapse_to_membrane(tm, tm, c, h)
    assert near == pytest.approx(exact, rel=1e-6)
    assert exact == pytest.approx(h / c * np.exp(-h / tm), rel=1e-12)
