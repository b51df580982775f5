"""Noise inputs (neurosim.noise_input): Ornstein–Uhlenbeck variables exact in distribution, the
Wiener increment's √dt scaling, and the same draws on every backend."""

from __future__ import annotations

import numpy as np
import pytest

from cudasim import run_simulated
from neurosim.network import Network
from neurosim.neurons import CubaLIF, EquationModel

#: a neuron whose v has no dynamics at all (and never spikes): it integrates the noise
WIENER = dict(name="wiener", equations="dv/dt = 0*volt/second : volt", threshold="v > 1e9*volt")


def _samples(model, n: int, dt: str, steps: int, sigma: str, mean: str = "0", variable: str | None = None,
             seed: int = 4) -> np.ndarray:
    """The recorded variable (steps + 1, n), samples at t_0 .. t_steps."""
    net = Network(dt=dt, seed=seed)
    pop = net.population("p", n, model, v_init=0.0)
    noise = net.noise_input(pop, sigma, mean=mean, variable=variable)
    mon = net.state_monitor(pop, [noise.variable])
    net.run(steps * net.dt + net.dt, backend="numba")
    return mon[noise.variable]


def test_a_variable_without_dynamics_performs_a_wiener_process():
    """Var v(t) = sigma² t, E v(t) = mean t, for any dt: the increment scales with √dt."""
    for dt in ("0.1 ms", "1 ms"):
        v = _samples(EquationModel(**WIENER), 20_000, dt, 10, "2 mV/ms**0.5", mean="1 mV/ms")
        t = 10 * float(dt.split()[0]) * 1e-3  # the sample at t_m follows m steps of noise
        sigma, mean = 2e-3 / np.sqrt(1e-3), 1.0
        assert np.var(v[10]) == pytest.approx(sigma ** 2 * t, rel=0.04)  # 4 standard errors of a variance
        assert np.mean(v[10]) == pytest.approx(mean * t, abs=4 * sigma * np.sqrt(t / 20_000))


def test_an_exponentially_decaying_current_is_an_exact_ornstein_uhlenbeck_process():
    """CubaLIF's i_exc (tau = 2 ms) with dt = 1 ms: one step from 0 has the exact variance
    sigma² tau/2 (1 - e^{-2dt/tau}) (Euler–Maruyama would give sigma² dt e^{-2dt/tau}: 42 % less),
    the stationary state sigma² tau/2 and mean mean·tau, and the lag-1 correlation e^{-dt/tau}."""
    tau, dt, sigma, mean = 2e-3, 1e-3, 10e-12 / np.sqrt(1e-3), 4e-9
    cell = CubaLIF(v_rest="-65 mV", v_th="1 V", tau_syn_exc="2 ms")
    i = _samples(cell, 20_000, "1 ms", 40, "10 pA/ms**0.5", mean="4 pA/ms", variable="i_exc")
    p = np.exp(-dt / tau)
    assert np.var(i[1]) == pytest.approx(sigma ** 2 * tau / 2 * (1 - p * p), rel=0.04)
    stationary = i[20:].ravel()
    assert np.var(stationary) == pytest.approx(sigma ** 2 * tau / 2, rel=0.03)
    assert np.mean(stationary) == pytest.approx(mean * tau, rel=0.01)
    x = i[20:] - mean * tau
    assert np.mean(x[1:] * x[:-1]) / np.mean(x * x) == pytest.approx(p, abs=0.02)


def _noisy(backend: str, precision: str = "float64") -> list[np.ndarray]:
    net = Network(dt="0.1 ms", seed=3, precision=precision)
    q = net.population("q", 12, CubaLIF(v_rest="-65 mV", v_th="-55 mV", tau_syn_exc="5 ms"))
    net.noise_input(q, "300 pA/ms**0.5", mean="40 pA/ms")
    net.noise_input(q[4:8], "1 mV/ms**0.5", variable="v", start="2 ms", stop="15 ms")
    state, spikes = net.state_monitor(q, ["v", "i_exc"]), net.spike_monitor(q)
    net.run("30 ms", backend=backend)
    return [state["v"], state["i_exc"], spikes.t, spikes.i]


@pytest.mark.parametrize("precision", ["float64", "float32"])
def test_numpy_and_numba_add_the_same_noise_bit_for_bit(precision):
    a, b = _noisy("numpy", precision), _noisy("numba", precision)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert a[2].size > 0  # the noise makes neurons fire


CUDA_CHILD = r"""
import json
import numpy as np
from neurosim.engine import cuda_kernels
from test_noise_input import _noisy

assert cuda_kernels.SIMULATED
a, b = _noisy("numba"), _noisy("cuda")
print(json.dumps({"spikes": int(a[2].size), "equal": all(np.array_equal(x, y) for x, y in zip(a, b))}))
"""


def test_cuda_under_the_simulator_adds_the_same_noise():
    report = run_simulated(CUDA_CHILD)
    assert report["spikes"] > 0 and report["equal"]


def test_brian2_backend_adds_the_same_noise():
    a, b = _noisy("numba"), _noisy("brian2")
    for x, y in zip(a[:2], b[:2]):
        np.testing.assert_allclose(x, y, rtol=0, atol=1e-12 * np.max(np.abs(x)))
    assert np.array_equal(a[2], b[2]) and np.array_equal(a[3], b[3])


def test_bad_arguments_name_the_field():
    net = Network()
    pop = net.population("p", 3, CubaLIF())
    with pytest.raises(ValueError, match=r"noise\.x\.sigma: '1 mV/ms\*\*0\.5' is in .* but s\^-1/2 A is expected"):
        net.noise_input(pop, "1 mV/ms**0.5", name="x")
    with pytest.raises(ValueError, match=r"noise\.x\.variable: 'w' is not a state variable"):
        net.noise_input(pop, "1 pA/ms**0.5", variable="w", name="x")
    with pytest.raises(ValueError, match=r"noise\.x\.sigma: must be >= 0"):
        net.noise_input(pop, "-1 pA/ms**0.5", name="x")
    with pytest.raises(ValueError, match=r"noise\.x\.mean: must be a finite number"):
        net.noise_input(pop, 0.0, mean=float("nan"), name="x")
