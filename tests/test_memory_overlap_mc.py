"""The overlap-based Monte Carlo kernel against brute force: P-body tensors on tiny N, a
pure-Python Glauber sweep with the same random numbers, mean-field thermal averages."""

from __future__ import annotations

import math

import numba
import numpy as np
import pytest

from neurosim.engine.rng import splitmix64
from neurosim.models import dense_hebbian as dh
from neurosim.models.chain_rng import streams
from neurosim.models.overlap_mc import OverlapEnergy, energy_value, flip_energy_differences, sweep


def tensor_energy(zeta: np.ndarray, weights: np.ndarray, scale: float, p: int, sigma: np.ndarray) -> float:
    """E = −scale Σ_{i1..iP} J_{i1..iP} σ_i1..σ_iP with J = Σ_ℓ w_ℓ ζ^ℓ ⊗ … ⊗ ζ^ℓ built explicitly."""
    n = zeta.shape[1]
    j = np.zeros((n,) * p)
    for w, z in zip(weights, zeta.astype(np.float64)):
        t = z
        for _ in range(p - 1):
            t = np.multiply.outer(t, z)
        j += w * t
    contracted = j
    for _ in range(p):
        contracted = contracted @ sigma
    return -scale * float(contracted)


def tiny_dataset(seed: int = 0) -> dh.Dataset:
    return dh.make_dataset(2, 7, 3, 0.6, np.random.default_rng(seed))


@pytest.mark.parametrize("p", [2, 4])
@pytest.mark.parametrize("rule", ["supervised", "unsupervised", "storage"])
def test_energy_and_flip_differences_match_the_explicit_coupling_tensor(p, rule):
    data = tiny_dataset()
    energy = {"supervised": lambda: dh.supervised_energy(data, p), "unsupervised": lambda: dh.unsupervised_energy(data, p),
              "storage": lambda: dh.storage_energy(data.archetypes, p)}[rule]()
    rng = np.random.default_rng(1)
    states = rng.choice(np.array([-1, 1], dtype=np.int8), size=(5, data.n))
    de = flip_energy_differences(energy, states)
    for b, s in enumerate(states):
        e0 = tensor_energy(energy.patterns, energy.weights, energy.scale, p, s.astype(float))
        assert energy_value(energy, s)[0] == pytest.approx(e0, rel=1e-12, abs=1e-15)
        for i in range(data.n):
            flipped = s.astype(float)
            flipped[i] *= -1
            e1 = tensor_energy(energy.patterns, energy.weights, energy.scale, p, flipped)
            assert de[b, i] == pytest.approx(e1 - e0, rel=1e-9, abs=1e-13)


def test_supervised_and_unsupervised_energies_are_the_published_costs():
    data = tiny_dataset(3)
    p, n, m = 4, data.n, data.m
    big_r = data.quality * math.sqrt(1 + data.entropy)
    sigma = np.random.default_rng(2).choice([-1, 1], size=n)
    eta = data.examples.astype(float)
    sup = -(n / math.factorial(p)) * sum((eta[mu].sum(axis=0) @ sigma / (n * big_r * m)) ** p for mu in range(data.k))
    uns = -(n / math.factorial(p)) * sum(np.mean((eta[mu] @ sigma / (n * big_r)) ** p) for mu in range(data.k))
    assert energy_value(dh.supervised_energy(data, p), sigma)[0] == pytest.approx(sup, rel=1e-12)
    assert energy_value(dh.unsupervised_energy(data, p), sigma)[0] == pytest.approx(uns, rel=1e-12)


def test_rectified_flip_differences_match_direct_energies():
    rng = np.random.default_rng(4)
    xi = rng.choice(np.array([-1, 1], dtype=np.int8), size=(9, 11))
    energy = OverlapEnergy(xi, np.ones(9), 1.0, 3, rectified=True)
    s = rng.choice(np.array([-1, 1], dtype=np.int8), size=11)
    de = flip_energy_differences(energy, s)[0]
    direct = lambda v: -np.sum(np.maximum(xi.astype(float) @ v, 0) ** 3)  # noqa: E731
    for i in range(11):
        flipped = s.astype(float)
        flipped[i] *= -1
        assert de[i] == pytest.approx(direct(flipped) - direct(s.astype(float)), rel=1e-12)


def python_glauber(energy: OverlapEnergy, sigma: np.ndarray, state: int, beta: float, n_sweeps: int):
    """Reference: the documented algorithm, one site at a time, with the same random numbers."""
    s = sigma.astype(np.int64).copy()
    rng = np.uint64(state)
    golden = np.uint64(0x9E3779B97F4A7C15)
    with np.errstate(over="ignore"):
        for _ in range(n_sweeps):
            for i in range(s.size):
                flipped = s.copy()
                flipped[i] *= -1
                de = energy_value(energy, flipped)[0] - energy_value(energy, s)[0]
                u = float(splitmix64(rng) >> np.uint64(11)) * 2.0**-53
                rng = rng + golden
                if u * (1.0 + math.exp(beta * de)) < 1.0:
                    s = flipped
    return s


def test_kernel_is_the_glauber_sweep_of_the_reference_implementation():
    data = tiny_dataset(5)
    energy = dh.supervised_energy(data, 4)
    sigma = np.random.default_rng(6).choice(np.array([-1, 1], dtype=np.int8), size=(1, data.n))
    state = streams(7, 1)
    beta = 1.0 / np.median(np.abs(flip_energy_differences(energy, sigma)))  # |β ΔE| ~ 1: both outcomes occur
    out, _, flips = sweep(energy, sigma, state, beta, 6)
    assert 0 < flips[0] < 6 * data.n
    np.testing.assert_array_equal(out[0], python_glauber(energy, sigma[0], int(state[0]), beta, 6))


def test_zero_temperature_never_raises_the_energy_and_ends_in_a_local_minimum():
    rng = np.random.default_rng(8)
    xi = rng.choice(np.array([-1, 1], dtype=np.int8), size=(40, 60))
    energy = OverlapEnergy(xi, np.ones(40), 1.0, 3)
    s = rng.choice(np.array([-1, 1], dtype=np.int8), size=(4, 60))
    zeros = np.zeros(4, np.uint64)
    e = energy_value(energy, s)
    for _ in range(30):
        s, _, flips = sweep(energy, s, zeros, np.inf, 1)
        e_new = energy_value(energy, s)
        assert np.all(e_new <= e + 1e-9 * np.abs(e))
        e = e_new
    assert np.all(flips == 0)
    assert np.all(flip_energy_differences(energy, s) >= 0)


def test_results_do_not_depend_on_threads_and_follow_the_seed():
    xi = np.random.default_rng(9).choice(np.array([-1, 1], dtype=np.int8), size=(3, 500))
    energy = dh.storage_energy(xi, 2)
    start = np.repeat(xi[:1], 6, axis=0)
    runs = []
    for threads in (1, 2):
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
        runs.append(sweep(energy, start, streams(11, 6), 1.5, 5))
    numba.set_num_threads(1)
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    other = sweep(energy, start, streams(12, 6), 1.5, 5)[0]
    assert not np.array_equal(runs[0][0], other)


def test_thermal_overlap_matches_the_mean_field_equation():
    """K = 1, P = 2 (Curie–Weiss): ⟨m⟩ solves m = tanh(βm); β = 2 gives 0.9575."""
    xi = np.random.default_rng(10).choice(np.array([-1, 1], dtype=np.int8), size=(1, 3000))
    m, _ = dh.glauber_overlaps(dh.storage_energy(xi, 2), xi, xi, 2.0, 20, 60, 13)
    assert dh.hopfield_overlap(2.0, 2) == pytest.approx(math.tanh(2.0 * dh.hopfield_overlap(2.0, 2)), abs=1e-12)
    assert m[0, 0] == pytest.approx(dh.hopfield_overlap(2.0, 2), abs=0.01)


def test_bad_input_names_the_field():
    xi = np.ones((2, 5), dtype=np.int8)
    with pytest.raises(ValueError, match="^patterns:"):
        OverlapEnergy(xi.astype(float), np.ones(2))
    with pytest.raises(ValueError, match="^weights:"):
        OverlapEnergy(xi, np.ones(3))
    with pytest.raises(ValueError, match="^power:"):
        OverlapEnergy(xi, np.ones(2), power=0)
    energy = OverlapEnergy(xi, np.ones(2))
    with pytest.raises(ValueError, match="^beta:"):
        sweep(energy, np.ones((1, 5), np.int8), streams(0, 1), -1.0)
    with pytest.raises(ValueError, match="^sigma:"):
        sweep(energy, np.zeros((1, 5), np.int8), streams(0, 1), 1.0)
    with pytest.raises(ValueError, match="^rng_state:"):
        sweep(energy, np.ones((2, 5), np.int8), streams(0, 1), 1.0)
    with pytest.raises(ValueError, match="^p:"):
        dh.storage_energy(xi, 3)
