"""QIF: the firing period against its closed form, and the backends spike for spike."""

import math

import numpy as np
import pytest

from neurosim.network import Network
from neurosim.neurons import QIF

DT = 1e-5


def _period(tau, c, v_rest, v_crit, delta, v_reset, v_peak, i):
    """Time from v_reset to v_peak of tau dv/dt = (v - v_rest)(v - v_crit)/delta + tau i/c."""
    m, a2 = (v_rest + v_crit) / 2, ((v_crit - v_rest) / 2) ** 2
    b = math.sqrt(delta * tau * i / c - a2)
    return tau * delta / b * (math.atan((v_peak - m) / b) - math.atan((v_reset - m) / b))


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_qif_period_matches_closed_form(backend):
    currents = np.array([0.4e-9, 0.8e-9, 1.6e-9])
    model = QIF(i_bias=currents)
    net = Network(dt=DT, seed=0)
    pop = net.population("q", 3, model, v_init=model.v_reset)
    mon = net.spike_monitor(pop)
    net.run("100 ms", backend=backend)
    for k, i in enumerate(currents):
        t = mon.t[mon.i == k]
        expected = _period(10e-3, 200e-12, -65e-3, -50e-3, 15e-3, -70e-3, 20e-3, i)
        isi = np.diff(np.concatenate([[0.0], t]))
        # a spike is detected at the first grid point past the peak and the reset happens there:
        # every interval lies in [T, T + dt) up to RK4's error
        assert len(t) >= 3
        assert np.all(isi >= expected - 1e-8) and np.all(isi < expected + DT + 1e-8), (i, isi, expected)


def test_qif_numba_equals_numpy():
    def run(backend):
        net = Network(dt=1e-4, seed=3)
        pop = net.population("q", 20, QIF(i_bias=np.linspace(0.1e-9, 1e-9, 20)))
        from neurosim.connectivity import FixedProbability
        net.connect(pop, pop, FixedProbability(0.3), weight="50 pA", delay="1 ms")
        mon, st = net.spike_monitor(pop), net.state_monitor(pop, ["v", "i_exc"], indices=[0, 5])
        net.run("200 ms", backend=backend)
        return mon.t, mon.i, st["v"], st["i_exc"]

    a, b = run("numpy"), run("numba")
    assert a[0].size > 50
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
