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
