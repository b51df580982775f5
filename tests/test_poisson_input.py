"""Per-target Poisson drive (neurosim.poisson_input): Binomial counts, the step they arrive in,
and every backend drawing the same counts."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from neurosim.connectivity import AllToAll
from cudasim import run_simulated
from neurosim.network import Network
from neurosim.neurons import CubaLIF, EquationModel, LIF

DT = 1e-4
#: a neuron that only accumulates its input (no dynamics, never spikes): its state is the running sum
COUNTER = dict(name="counter", equations="dv/dt = 0*volt/second : volt", threshold="v > 1e9*volt",
               receptors=["v", "v"])


def _counts(n: int, rate: float, steps: int, size: int = 400, seed: int = 5, backend: str = "numba") -> np.ndarray:
    """Per-step counts (steps, size) a counter population receives from one input of weight 1 mV."""
    net = Network(dt=DT, seed=seed)
    pop = net.population("c", size, EquationModel(**COUNTER), v_init=0.0)
    net.poisson_input(pop, n, f"{rate} Hz", "1 mV")
    mon = net.state_monitor(pop, ["v"])
    net.run(steps * DT + DT, backend=backend)
    x = np.rint(mon["v"] / 1e-3).astype(np.int64)  # samples at t_m are taken after step m's input
    return np.diff(x, axis=0)


def _chi2_pvalue(counts: np.ndarray, n: int, p: float) -> float:
    ks = np.arange(n + 1)
    expected = stats.binom.pmf(ks, n, p) * counts.size
    observed = np.bincount(counts.ravel(), minlength=n + 1)
    keep = expected >= 5
    o = np.append(observed[keep], observed[~keep].sum())
    e = np.append(expected[keep], expected[~keep].sum())
    if e[-1] < 5:
        o, e = o[:-1], e[:-1]
        o[-1] += observed[~keep].sum()
    return stats.chisquare(o, e * o.sum() / e.sum()).pvalue


@pytest.mark.parametrize("n, rate", [
    (1000, 20.0),    # mean 2: alias table
    (40, 9000.0),    # p = 0.9: alias table of the upper counts
    (200, 5000.0),   # mean 100: rejection (BTRS)
    (300, 8000.0),   # p = 0.8, mean 240: rejection of the complement
])
def test_counts_follow_the_binomial_distribution(n, rate):
    counts = _counts(n, rate, steps=100)
    p = rate * DT
    assert counts.min() >= 0 and counts.max() <= n
    assert _chi2_pvalue(counts, n, p) > 1e-3
    mean, sd = counts.mean(), np.sqrt(n * p * (1 - p) / counts.size)
    assert abs(mean - n * p) < 4 * sd


def test_draws_are_independent_across_neurons_and_steps():
    counts = _counts(1000, 20.0, steps=200, size=200).astype(float)
    c = counts - counts.mean()
    across_neurons = np.mean(c[:, 1:] * c[:, :-1]) / c.var()
    across_steps = np.mean(c[1:] * c[:-1]) / c.var()
    bound = 4 / np.sqrt(c.size)
    assert abs(across_neurons) < bound and abs(across_steps) < bound


def test_rate_one_per_step_gives_n_spikes_in_every_step_from_the_first():
    counts = _counts(7, 1e4, steps=5, size=3)
    assert np.array_equal(counts, np.full((5, 3), 7))


def _driven(backend: str, precision: str = "float64", sources: bool = False) -> tuple:
    net = Network(dt=DT, seed=3, precision=precision)
    lif = net.population("p", 30, LIF(v_rest="-65 mV", v_th="-50 mV", v_reset="-65 mV", tau_m="20 ms", t_ref="2 ms"))
    cuba = net.population("q", 12, CubaLIF(v_rest="-65 mV"))
    net.poisson_input(lif, 1000, "16 Hz", "0.2 mV")
    net.poisson_input(cuba, 200, "5000 Hz", "12 pA", start="1 ms", stop="30 ms")
    net.poisson_input(cuba, 50, "100 Hz", "-20 pA")
    net.poisson_input(lif, 40, "9000 Hz", "0.02 mV")
    spikes = [net.spike_monitor(lif), net.spike_monitor(cuba)]
    state = net.state_monitor(cuba, ["v", "i_exc", "i_inh"])
    net.run("40 ms", backend=backend)
    return [m.t for m in spikes] + [m.i for m in spikes], [state[v] for v in ("v", "i_exc", "i_inh")]


@pytest.mark.parametrize("precision", ["float64", "float32"])
def test_numpy_and_numba_draw_the_same_counts_bit_for_bit(precision):
    (s_np, x_np), (s_nb, x_nb) = _driven("numpy", precision), _driven("numba", precision)
    assert all(np.array_equal(a, b) for a, b in zip(s_np, s_nb))
    assert all(np.array_equal(a, b) for a, b in zip(x_np, x_nb))
    assert s_np[0].size > 50  # the LIF population fires: the drive reaches it


def test_the_input_is_what_n_sources_with_delay_0_deliver():
    """A deterministic input (rate·dt = 1) equals n explicit sources of the same rate, delay 0."""
    def run(explicit: bool) -> np.ndarray:
        net = Network(dt=DT, seed=0)
        pop = net.population("p", 4, CubaLIF(v_rest="-65 mV"))
        if explicit:
            src = net.poisson_source("s", 3, "10 kHz")
            net.connect(src, pop, AllToAll(), weight="10 pA", delay=0.0)
        else:
            net.poisson_input(pop, 3, "10 kHz", "10 pA")
        mon = net.state_monitor(pop, ["v", "i_exc"])
        net.run("5 ms", backend="numba")
        return np.stack([mon["v"], mon["i_exc"]])

    a, b = run(True), run(False)
    np.testing.assert_allclose(a, b, rtol=1e-14, atol=0)
    assert b[1, 0, 0] == pytest.approx(30e-12, rel=1e-14)  # the first sample already holds step 0's input


def test_nothing_arrives_outside_start_stop():
    net = Network(dt=DT, seed=1)
    pop = net.population("c", 50, EquationModel(**COUNTER), v_init=0.0)
    net.poisson_input(pop, 100, "100 Hz", "1 mV", start="2 ms", stop="3 ms")
    mon = net.state_monitor(pop, ["v"])
    net.run("5 ms", backend="numba")
    steps = np.rint(mon.t / DT).astype(int)
    total = mon["v"].sum(axis=1)
    assert np.all(total[steps < 20] == 0)
    assert np.all(np.diff(total[steps >= 30]) == 0)
    assert total[steps == 29][0] > 0


CUDA_CHILD = r"""
import json
import numpy as np
from neurosim.engine import cuda_kernels
from test_poisson_input import _driven

assert cuda_kernels.SIMULATED
(s_nb, x_nb), (s_cu, x_cu) = _driven("numba"), _driven("cuda")
print(json.dumps({"spikes": int(s_nb[0].size), "equal": all(np.array_equal(a, b) for a, b in zip(s_nb + x_nb, s_cu + x_cu))}))
"""


def test_cuda_under_the_simulator_draws_the_same_counts():
    report = run_simulated(CUDA_CHILD)
    assert report["spikes"] > 50 and report["equal"]


def test_brian2_backend_adds_the_same_counts():
    (s_nb, x_nb), (s_b2, x_b2) = _driven("numba"), _driven("brian2")
    assert all(np.array_equal(a, b) for a, b in zip(s_nb, s_b2))
    for a, b in zip(x_nb, x_b2):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12 * np.max(np.abs(a)))


def test_bad_arguments_name_the_field():
    net = Network(dt=DT)
    pop = net.population("p", 3, CubaLIF())
    src = net.poisson_source("s", 2, "5 Hz")
    with pytest.raises(ValueError, match=r"input\.x\.n: the number of input synapses"):
        net.poisson_input(pop, 0, "5 Hz", "1 pA", name="x")
    with pytest.raises(ValueError, match=r"input\.x\.rate: 20000 Hz asks for 2 spikes per step"):
        net.poisson_input(pop, 5, "20 kHz", "1 pA", name="x")
    with pytest.raises(ValueError, match=r"input\.x\.weight: '1 mV' is a voltage but a current is expected"):
        net.poisson_input(pop, 5, "5 Hz", "1 mV", name="x")
    with pytest.raises(ValueError, match=r"input\.x\.target: 's' is not a neuron population"):
        net.poisson_input(src, 5, "5 Hz", "1 pA", name="x")
    with pytest.raises(ValueError, match=r"input\.x\.receptor: must be one of"):
        net.poisson_input(pop, 5, "5 Hz", "1 pA", receptor="ampa", name="x")


def test_an_input_into_a_slice_gives_its_neurons_the_counts_of_an_input_into_the_whole():
    """Counts are keyed by (input, step, global neuron): the slice's neurons get the same draws."""
    def counts(whole: bool) -> np.ndarray:
        net = Network(dt=DT, seed=9)
        pop = net.population("c", 30, EquationModel(**COUNTER), v_init=0.0)
        net.poisson_input(pop if whole else pop[10:20], 500, "40 Hz", "1 mV")
        mon = net.state_monitor(pop, ["v"])
        net.run("3 ms", backend="numba")
        return np.rint(mon["v"] / 1e-3).astype(np.int64)

    whole, part = counts(True), counts(False)
    assert np.array_equal(part[:, 10:20], whole[:, 10:20]) and whole[:, 10:20].sum() > 0
    assert not part[:, :10].any() and not part[:, 20:].any()
