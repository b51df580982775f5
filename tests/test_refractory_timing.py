"""Refractory timing on the step grid, against the continuous solution and Brian2's convention.

A LIF driven to mu > threshold fires periodically with the continuous period
T = t_ref + tau ln((mu - v_reset) / (mu - theta)). On a grid of step dt, neurosim (as NEST)
detects the crossing at the end of the step in which it happens, stamps the spike there and
holds the neuron for t_ref from that stamp: its period is t_ref + ceil(T_free / dt) dt, at most
one step longer than T. Brian2 stamps the spike at the start of that step and counts t_ref from
the stamp: its period is one step shorter than neurosim's.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from neurosim.network import Network
from neurosim.neurons import LIF

TAU, THETA, V_RESET, T_REF = 0.020, 0.020, 0.010, 0.002


def _period(mu: float, dt: float) -> float:
    net = Network(dt=dt)
    cell = LIF(tau_m=TAU, v_rest=mu, v_th=THETA, v_reset=V_RESET, t_ref=T_REF)
    pop = net.population("p", 1, cell, v_init=V_RESET)
    mon = net.spike_monitor(pop)
    net.run(0.3, backend="numba")
    isi = np.diff(mon.t)
    assert isi.size > 5 and np.allclose(isi, isi[-1], rtol=0, atol=1e-12)
    return float(isi[-1])


@pytest.mark.parametrize("mu, dt", [(0.025, 1e-4), (0.030, 1e-4), (0.022, 1e-4), (0.025, 2.5e-4), (0.040, 5e-5)])
def test_the_period_is_t_ref_plus_the_free_run_rounded_up_to_the_grid(mu, dt):
    free = TAU * math.log((mu - V_RESET) / (mu - THETA))
    period = _period(mu, dt)
    steps = round(T_REF / dt) + math.ceil(free / dt - 1e-9)
    assert period == pytest.approx(steps * dt, abs=1e-12)
    assert 0 <= period - (T_REF + free) < dt  # never shorter than the continuous period, less than a step longer


def test_brian2_runs_the_same_neuron_one_step_shorter():
    import brian2 as b2

    b2.start_scope()
    b2.prefs.codegen.target = "numpy"
    group = b2.NeuronGroup(1, "dv/dt = (mu - v)/tau : volt (unless refractory)", threshold="v > theta",
                           reset="v = v_reset", refractory=T_REF * b2.second, method="exact",
                           namespace={"mu": 25 * b2.mV, "tau": TAU * b2.second, "theta": THETA * b2.volt,
                                      "v_reset": V_RESET * b2.volt}, dt=1e-4 * b2.second)
    group.v = V_RESET * b2.volt
    mon = b2.SpikeMonitor(group)
    b2.run(0.3 * b2.second, namespace={})
    brian = float(np.diff(np.asarray(mon.t_[:]))[-1])
    assert brian == pytest.approx(_period(0.025, 1e-4) - 1e-4, abs=1e-12)


# ----------------------------------------------------------------------------- continuous timing
def _mean_period(mu: float, dt: float, timing: str, duration: float = 2.0) -> float:
    net = Network(dt=dt)
    pop = net.population("p", 1, LIF(tau_m=TAU, v_rest=mu, v_th=THETA, v_reset=V_RESET, t_ref=T_REF, timing=timing),
                         v_init=V_RESET)
    mon = net.spike_monitor(pop)
    net.run(duration, backend="numba")
    assert mon.t.size > 40
    return float(np.diff(mon.t).mean())


@pytest.mark.parametrize("mu, dt", [(0.025, 1e-4), (0.030, 1e-4), (0.022, 2.5e-4), (0.040, 5e-5)])
def test_continuous_timing_gives_the_continuous_period(mu, dt):
    """timing = "continuous" counts t_ref from the interpolated crossing and lets the neuron go
    mid-step: spikes stay on the grid (single intervals are whole steps), but their mean interval
    is the continuous period. The mean over n spikes is exact up to the grid rounding of the first
    and last spike, dt/(n-1) < 0.03 dt here, plus the O(dt^2) interpolation error; grid timing is
    off by up to one step (and Brian2's convention by up to one step the other way)."""
    period = T_REF + TAU * math.log((mu - V_RESET) / (mu - THETA))
    assert abs(_mean_period(mu, dt, "continuous") - period) < 0.03 * dt
    grid_error = T_REF + math.ceil((period - T_REF) / dt - 1e-9) * dt - period
    assert grid_error > 0.1 * dt  # these cases tell the conventions apart
    assert _mean_period(mu, dt, "grid") - period == pytest.approx(grid_error, abs=0.03 * dt)


def _continuous_network(backend: str, precision: str = "float64") -> list[np.ndarray]:
    from neurosim import CubaLIF, FixedProbability, Uniform

    net = Network(dt=1e-4, seed=3, precision=precision)
    a = net.population("a", 50, LIF(t_ref="2 ms", i_bias="0.2 nA", timing="continuous"),
                       v_init=Uniform("-65 mV", "-50 mV"))
    b = net.population("b", 40, CubaLIF(t_ref="1.5 ms", i_bias="0.2 nA", v_th="-52 mV", timing="continuous"),
                       v_init=Uniform("-65 mV", "-52 mV"))
    net.connect(a, b, FixedProbability(0.3), weight="30 pA", delay="1 ms")
    net.connect(b, a, FixedProbability(0.2), weight="-0.5 mV")
    mons = [net.spike_monitor(a), net.spike_monitor(b)]
    v = net.state_monitor(b, ("v", "ref_lag"), interval="0.3 ms")
    net.run("150 ms", backend=backend)
    return [x for m in mons for x in (m.t, m.i)] + [v["v"], v["ref_lag"]]


@pytest.mark.parametrize("precision", ["float64", "float32"])
def test_continuous_timing_numba_equals_numpy_bit_for_bit(precision):
    a, b = _continuous_network("numba", precision), _continuous_network("numpy", precision)
    assert a[0].size > 50 and a[2].size > 50
    assert np.any((a[5] > 0) & (a[5] < 1))  # neurons were let go mid-step
    for x, y in zip(a, b):
        assert x.dtype == y.dtype and np.array_equal(x, y)


def test_continuous_timing_under_the_cuda_simulator_equals_numpy():
    from cudasim import run_simulated

    report = run_simulated("""
import json
import numpy as np
from test_refractory_timing import _continuous_network
a, b = _continuous_network("cuda"), _continuous_network("numpy")
print(json.dumps({"equal": all(np.array_equal(x, y) for x, y in zip(a, b)), "spikes": int(a[2].size)}))
""")
    assert report["equal"] and report["spikes"] > 50


def test_continuous_timing_is_refused_where_it_has_no_meaning():
    with pytest.raises(ValueError, match=r"LIF\.timing: must be .grid. or .continuous."):
        Network().population("p", 1, LIF(timing="exact"))
    net = Network()
    net.population("p", 1, LIF(timing="continuous"))
    with pytest.raises(ValueError, match="brian2 has no continuous refractory timing"):
        net.run("1 ms", backend="brian2")
    with pytest.raises(ValueError, match="training steps are on the grid"):
        LIF(timing="continuous").compiled.torch_source
    from neurosim.neurons import EquationModel

    with pytest.raises(ValueError, match="'continuous' needs a refractory period t_ref"):
        EquationModel(name="leaky", equations="dv/dt = -v/(10*ms) : volt", threshold="v > 1*mV",
                      reset="v = 0*mV", timing="continuous")
