"""Changing a built network between runs, as Brian2 users do: rates, state variables, weights."""

from __future__ import annotations

import math

import numpy as np
import pytest

from neurosim import LIF, Network, OneToOne
from neurosim.neurons.user import EquationModel

BACKENDS = ["numpy", "numba", "brian2"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_new_weights_are_the_ones_delivered_even_where_a_row_shared_one_weight(backend):
    """A constant weight makes every row deliver one shared value; weights set afterwards must win."""
    net = Network(dt=1e-4, seed=0)
    src = net.spike_source("src", 3, times=[0.001, 0.003, 0.003], indices=[0, 1, 2])
    cells = net.population("cells", 3, LIF(v_th="100 mV", tau_m="1 s", t_ref=0.0))
    proj = net.connect(src, cells, OneToOne(), weight="1 mV")
    proj.set_weights([2e-3, 3e-3, 4e-3])
    net.run(0.002, backend=backend)
    v1 = cells.state("v")
    net.run(0.002, backend=backend)
    v2 = cells.state("v")
    rest = -65e-3
    decay = math.exp(-1e-3 / 1.0)  # the jump at 1 ms, seen 1 ms later (tau_m = 1 s)
    assert v1[0] - rest == pytest.approx(2e-3 * decay, rel=1e-9)
    assert v1[1] == pytest.approx(rest, rel=1e-12) and v1[2] == pytest.approx(rest, rel=1e-12)
    assert v2[1] - rest == pytest.approx(3e-3 * decay, rel=1e-9) and v2[2] - rest == pytest.approx(4e-3 * decay, rel=1e-9)
    np.testing.assert_array_equal(proj.weights, [2e-3, 3e-3, 4e-3])
    with pytest.raises(ValueError, match=r"connection.src_to_cells.weight: has 2 values but the connection has 3"):
        proj.set_weights([1e-3, 1e-3])
    with pytest.raises(ValueError, match=r"connection.src_to_cells.weight: a weight changes sign, but receptor = 'auto'"):
        proj.set_weights([1e-3, -1e-3, 1e-3])
    with pytest.raises(ValueError, match=r"connection.src_to_cells.weight"):
        proj.set_weights([1e-3, float("inf"), 1e-3])


@pytest.mark.parametrize("backend", BACKENDS)
def test_set_rate_changes_the_rate_from_the_next_run(backend):
    net = Network(dt=1e-3, seed=1)
    src = net.poisson_source("src", 4, rate=0.0)
    cells = net.population("cells", 1, LIF())
    spikes = net.spike_monitor(src)
    net.run(0.5, backend=backend)
    assert spikes.sink.get("t", np.zeros(0)).size == 0
    src.set_rate([0.0, 100.0, 200.0, 500.0])
    net.run(2.0, backend=backend)
    counts = np.bincount(spikes.sink.get("i", np.zeros(0, int)), minlength=4)
    expected = np.array([0.0, 200.0, 400.0, 1000.0])  # rate x 2 s
    assert counts[0] == 0
    assert np.all(np.abs(counts[1:] - expected[1:]) < 5 * np.sqrt(expected[1:]))  # Poisson, 5 sigma
    src.set_rate(0.0)
    net.run(0.5, backend=backend)
    assert np.all(spikes.sink.get("t", np.zeros(0)) < 2.5 + 1e-9)
    with pytest.raises(ValueError, match=r"population.src.rate: .*rate·dt <= 1"):
        src.set_rate(2000.0)
    assert cells.size == 1


def test_set_rate_gives_the_same_spikes_on_both_cpu_backends():
    def run(backend: str) -> np.ndarray:
        net = Network(dt=1e-3, seed=5)
        src = net.poisson_source("src", 20, rate=10.0)
        net.population("cells", 1, LIF())
        spikes = net.spike_monitor(src)
        net.run(0.1, backend=backend)
        src.set_rate(np.linspace(0, 300, 20))
        net.run(0.3, backend=backend)
        return np.stack([spikes.sink.get("t", np.zeros(0)), spikes.sink.get("i", np.zeros(0))])
    np.testing.assert_array_equal(run("numpy"), run("numba"))


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_state_set_between_runs_is_where_the_dynamics_continue(backend):
    net = Network(dt=1e-4, seed=0)
    cells = net.population("cells", 2, LIF(tau_m="10 ms", v_th="0 mV"))
    cells.set_state("v", [-55e-3, -75e-3])
    np.testing.assert_array_equal(cells.state("v"), [-55e-3, -75e-3])
    net.run(0.005, backend=backend)
    expected = -65e-3 + np.array([10e-3, -10e-3]) * math.exp(-0.5)
    np.testing.assert_allclose(cells.state("v"), expected, rtol=1e-12)
    with pytest.raises(ValueError, match=r"population.cells.w: not a state variable of the model; state variables: v"):
        cells.set_state("w", 0.0)
    with pytest.raises(ValueError, match=r"population.cells.v"):
        cells.set_state("v", float("nan"))


@pytest.mark.parametrize("backend", ["numpy", "numba"])  # Brian2's own exponential Euler divides by the coefficient
def test_exponential_euler_with_a_zero_coefficient_is_its_limit(backend):
    """``dv/dt = (c - k v)/tau`` with k = 0 (a switch, as Diehl & Cook's frozen θ) integrates to
    ``v = c t/tau`` rather than 0/0."""
    model = EquationModel(
        name="switched", equations="dv/dt = (c - k*v)/tau : volt", threshold="v > 1*volt",
        parameters={"k": 0.0, "tau": "10 ms", "c": "20 mV", "v_rest": "0 V"}, method="exponential_euler")
    net = Network(dt=1e-4, seed=0)
    cells = net.population("cells", 1, model)
    net.run(0.01, backend=backend)
    assert cells.state("v")[0] == pytest.approx(0.02, rel=1e-12)
