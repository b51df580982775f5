"""Dense associative memory, dense Hebbian learning and the multitasking network: update rules
against their definitions, closed forms (capacity, ρ, zero-temperature overlaps, cascade
amplitudes) and the published limits."""

from __future__ import annotations

import math

import numpy as np
import pytest

from neurosim.models import dense_hebbian as dh
from neurosim.models import dense_memory as dm
from neurosim.models import multitask as mt
from neurosim.models.overlap_mc import flip_energy_differences


# --- dense associative memory --------------------------------------------------------------

def krotov_sweep(xi: np.ndarray, sigma: np.ndarray, f) -> np.ndarray:
    """One asynchronous sweep of σ_i ← sign Σ_μ [F(ξ_i^μ + S) − F(−ξ_i^μ + S)], ties keep σ_i."""
    s = sigma.astype(np.int64).copy()
    xi = xi.astype(np.int64)
    for i in range(s.size):
        rest = xi @ s - xi[:, i] * s[i]
        drive = np.sum(f(xi[:, i] + rest) - f(-xi[:, i] + rest))
        s[i] = np.sign(drive) if drive != 0 else s[i]
    return s


@pytest.mark.parametrize("power,rectified", [(2, False), (3, False), (4, True)])
def test_update_is_the_krotov_hopfield_rule(power, rectified):
    rng = np.random.default_rng(power)
    xi = rng.choice(np.array([-1, 1], dtype=np.int8), size=(60, 25))
    memory = dm.DenseMemory(xi, power, rectified)
    f = (lambda x: np.maximum(x, 0) ** power) if rectified else (lambda x: x**power)
    s = rng.choice(np.array([-1, 1], dtype=np.int8), size=25)
    np.testing.assert_array_equal(dm.update(memory, s, max_sweeps=1)[0], krotov_sweep(xi, s, f))
    e = dm.energy(memory, s)
    final = dm.update(memory, s)
    assert dm.energy(memory, final)[0] <= e[0]
    np.testing.assert_array_equal(dm.update(memory, final, max_sweeps=1), final)


def test_unstable_fraction_matches_the_signal_to_noise_theory():
    rng = np.random.default_rng(3)
    n, power = 120, 3
    k = round(dm.capacity_theory(n, power, 0.03))
    xi = rng.choice(np.array([-1, 1], dtype=np.int8), size=(k, n))
    measured = dm.unstable_fraction(dm.DenseMemory(xi, power), np.arange(64))
    assert dm.bit_error_theory(n, k, power) == pytest.approx(0.03, rel=0.02)
    assert measured == pytest.approx(0.03, rel=0.25)


def test_capacity_exponents_are_n_minus_one():
    rng = np.random.default_rng(4)
    for power, sizes in ((2, [100, 200, 400, 800]), (3, [40, 60, 90]), (4, [24, 34, 48])):
        caps = [dm.measure_capacity(n, power, 0.01, rng, test_patterns=64, draws=2) for n in sizes]
        assert dm.fit_exponent(np.array(sizes), np.array(caps)) == pytest.approx(power - 1, abs=0.3)


def test_capacity_closed_forms():
    assert dm.double_factorial(5) == 15 and dm.double_factorial(1) == 1 and dm.double_factorial(-1) == 1
    assert dm.error_free_capacity(1000, 2) == pytest.approx(1000 / (2 * math.log(1000)))
    assert dm.error_free_capacity(100, 4) == pytest.approx(100**3 / (30 * math.log(100)))
    z = 2.3263478740408408  # Q⁻¹(0.01)
    assert dm.capacity_theory(500, 3, 0.01) == pytest.approx(500**2 / (3 * z * z))


def test_dense_memory_bad_input_names_the_field():
    with pytest.raises(ValueError, match="^power:"):
        dm.DenseMemory(np.ones((2, 4), np.int8), 1)
    with pytest.raises(ValueError, match="^patterns:"):
        dm.DenseMemory(np.zeros((2, 4), np.int8))
    with pytest.raises(ValueError, match="^error:"):
        dm.capacity_theory(100, 2, 0.7)


# --- dense Hebbian learning ----------------------------------------------------------------

def test_dataset_statistics_and_entropy():
    rng = np.random.default_rng(5)
    data = dh.make_dataset(4, 5000, 30, 0.3, rng, dilution=0.25)
    assert data.entropy == pytest.approx((1 - 0.09) / (30 * 0.09))
    assert dh.dataset_entropy(0.5, 4) == pytest.approx(0.75)
    blank = data.archetypes == 0
    assert blank.mean() == pytest.approx(0.25, abs=0.01)
    assert np.all(data.examples[np.broadcast_to(blank[:, None, :], data.examples.shape)] == 0)
    agree = (data.examples * data.archetypes[:, None, :]).sum(dtype=float) / (np.count_nonzero(data.archetypes) * 30)
    assert agree == pytest.approx(0.3, abs=0.01)  # E[χ] = r


def test_supervised_zero_temperature_overlap_is_the_majority_vote():
    """K = 1, P = 2: the fixed point reached from the archetype is sign(Σ_a η^a), whose overlap
    with the archetype is P(majority right) − P(wrong)."""
    rng = np.random.default_rng(6)
    for m in (5, 25):
        data = dh.make_dataset(1, 4000, m, 0.2, rng)
        overlap, sigma = dh.glauber_overlaps(dh.supervised_energy(data, 2), data.archetypes, data.archetypes,
                                             np.inf, 0, 50, 1)
        np.testing.assert_array_equal(sigma[0], np.sign(data.examples[0].sum(axis=0)))
        assert overlap[0, 0] == pytest.approx(dh.supervised_overlap_zero_t(0.2, m), abs=0.03)
    assert dh.supervised_overlap_zero_t(0.2, 1) == pytest.approx(0.2)
    assert dh.supervised_overlap_zero_t(0.2, 25) == pytest.approx(math.erf(1 / math.sqrt(2 * dh.dataset_entropy(0.2, 25))),
                                                                   abs=0.02)


def test_overlap_tends_to_the_hopfield_value_and_rules_agree_at_low_load():
    rng = np.random.default_rng(7)
    sup, uns = [], []
    for m in (3, 15, 61, 301):
        data = dh.make_dataset(2, 2000, m, 0.25, rng)
        for rule, out in ((dh.supervised_energy, sup), (dh.unsupervised_energy, uns)):
            overlap, _ = dh.glauber_overlaps(rule(data, 2), data.archetypes, data.archetypes, np.inf, 0, 50, 2)
            out.append(np.diag(overlap).mean())
    assert np.all(np.diff(sup) > 0) and np.all(np.diff(uns) > 0)
    assert sup[-1] > 0.995 and uns[-1] > 0.995  # the Hopfield value at T = 0 is 1
    np.testing.assert_allclose(sup, uns, atol=0.06)


def test_hopfield_overlap_solves_the_mean_field_equation():
    for beta, p in ((1.5, 2), (20.0, 4)):
        m = dh.hopfield_overlap(beta, p)
        assert m == pytest.approx(math.tanh(beta * m ** (p - 1) / math.factorial(p - 1)), abs=1e-12)
        assert m > 0.5
    assert dh.hopfield_overlap(0.5, 2) == pytest.approx(0.0, abs=1e-3)


def test_order_parameters():
    data = dh.make_dataset(2, 50, 3, 0.5, np.random.default_rng(8))
    s = data.archetypes[0]
    np.testing.assert_allclose(dh.mattis_overlaps(data.archetypes, s)[0, 0], 1.0)
    n = dh.mattis_overlaps(data.examples, s)
    assert n.shape == (1, 2, 3)
    assert n[0, 0, 1] == pytest.approx(data.examples[0, 1].astype(float) @ s / 50)


def test_unsupervised_energy_is_an_average_of_products():
    data = dh.make_dataset(1, 9, 4, 0.5, np.random.default_rng(9))
    energy = dh.unsupervised_energy(data, 4)
    assert energy.patterns.shape == (4, 9) and np.allclose(energy.weights, 0.25)
    s = np.ones(9, np.int8)
    assert flip_energy_differences(energy, s).shape == (1, 9)


def test_dense_hebbian_bad_input_names_the_field():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="^r:"):
        dh.make_dataset(2, 10, 3, 0.0, rng)
    with pytest.raises(ValueError, match="^m:"):
        dh.dataset_entropy(0.5, 0)
    with pytest.raises(ValueError, match="^dilution:"):
        dh.archetypes(2, 10, rng, 1.0)
    with pytest.raises(ValueError, match="^p:"):
        dh.supervised_energy(dh.make_dataset(2, 10, 3, 0.5, rng), 3)


# --- multitasking network -------------------------------------------------------------------

def test_cascade_state_has_the_hierarchical_amplitudes():
    rng = np.random.default_rng(10)
    xi = dh.archetypes(4, 200_000, rng, 0.3)
    m = dh.mattis_overlaps(xi, mt.cascade_state(xi, rng))[0]
    np.testing.assert_allclose(m, mt.hierarchical_amplitudes(4, 0.3), atol=0.005)


def test_cascade_stability_threshold():
    golden = (math.sqrt(5) - 1) / 2
    assert mt.cascade_stable(3, golden - 1e-6) and not mt.cascade_stable(3, golden + 1e-6)
    assert mt.cascade_stable(2, 0.95)


def test_low_temperature_parallel_retrieval_is_hierarchical_at_mild_dilution():
    rng = np.random.default_rng(11)
    for d in (0.1, 0.3, 0.5):
        xi = dh.archetypes(3, 6000, rng, d)
        for beta in (np.inf, 100.0):
            m = mt.parallel_retrieval(xi, beta, 10, 10, 3)
            np.testing.assert_allclose(m, mt.hierarchical_amplitudes(3, d), atol=0.05)


def test_amplitudes_level_out_at_strong_dilution():
    xi = dh.archetypes(3, 8000, np.random.default_rng(12), 0.9)
    m = mt.parallel_retrieval(xi, np.inf, 10, 10, 4)
    assert m.min() > 0.07 and m.max() - m.min() < 0.025


def test_learning_from_many_examples_recovers_the_storage_network():
    rng = np.random.default_rng(13)
    data = dh.make_dataset(3, 6000, 200, 0.5, rng, dilution=0.2)
    for make in (dh.supervised_energy, dh.unsupervised_energy):
        m = mt.parallel_retrieval(data.archetypes, np.inf, 10, 10, 5, make(data, 2))
        np.testing.assert_allclose(m, mt.hierarchical_amplitudes(3, 0.2), atol=0.05)


def test_multitask_bad_input_names_the_field():
    with pytest.raises(ValueError, match="^d:"):
        mt.hierarchical_amplitudes(3, 1.0)
    with pytest.raises(ValueError, match="^k:"):
        mt.hierarchical_amplitudes(0, 0.5)
