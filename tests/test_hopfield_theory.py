"""Hopfield network theory (replica-symmetric AGS at finite T) and the finite-size scaling of
its capacity, checked against published values, closed-form limits, independent solvers and
Monte Carlo."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.stats import norm

from neurosim.models.chain_rng import streams
from neurosim.models.hopfield import ags, classical, finite_size as fs


def test_zero_temperature_limit_is_the_ags_capacity():
    """Amit, Gutfreund & Sompolinsky (1987): retrieval states exist up to α_c = 0.138 at T = 0
    and are global minima up to α ≈ 0.051. At T = 0.01 the finite-T equations must be within
    0.001 of the first (the RS line is nearly flat there) and 0.0015 of the second (its value
    0.0522 at T = 0.01; a wrong free energy, e.g. without the (αβ/2) r(1 − q) term, moves it
    by more than 0.01); the overlaps within 2e−3 of the T = 0 equations."""
    assert ags.retrieval_load(0.01) == pytest.approx(0.138, abs=1e-3)
    assert ags.stable_retrieval_load(0.01) == pytest.approx(0.051, abs=1.5e-3)
    for alpha in (0.05, 0.1, 0.13):
        assert ags.overlap(alpha, 0.01) == pytest.approx(classical.ags_overlap(alpha), abs=2e-3)


def test_zero_load_is_the_curie_weiss_magnet():
    """At α = 0 the overlap solves m = tanh(m/T) (solved here by bracketing)."""
    for temperature in (0.3, 0.5, 0.9):
        m = brentq(lambda x: x - math.tanh(x / temperature), 1e-6, 1.0)
        assert ags.overlap(0.0, temperature) == pytest.approx(m, abs=1e-9)
    assert math.isnan(ags.overlap(0.0, 1.05))


def test_boundaries_meet_at_the_published_end_points():
    """T_M → 1 as α → 0: at T = 0.95 retrieval survives only below α ≈ 0.0006 (AGS's line ends
    at (0, 1)); T_g = 1 + √α is where the glass solution q > 0 appears, continuously."""
    assert 0.0 < ags.retrieval_load(0.95) < 0.002
    assert ags.retrieval_load(0.5) > ags.retrieval_load(0.8) > ags.retrieval_load(0.95)
    alpha = 0.05
    t_g = ags.glass_temperature(alpha)
    assert t_g == pytest.approx(1.0 + math.sqrt(alpha))
    assert ags.glass(alpha, t_g + 0.01) is None
    near, below = ags.glass(alpha, t_g - 0.002), ags.glass(alpha, t_g - 0.1)
    assert 0.0 < near.q < 0.01 < below.q


def test_free_energy_is_stationary_at_the_solution():
    """The saddle-point equations are the stationarity conditions of f: at a solution the
    numerical derivatives of f in m and q vanish (to the finite-difference error), while they
    do not at a point off it."""
    state = ags.solve(0.08, 0.3)
    beta, h = 1.0 / 0.3, 1e-5

    def df(dm: float, dq: float, point=state) -> float:
        return (ags.free_energy(0.08, beta, point.m + dm, point.q + dq, point.r)
                - ags.free_energy(0.08, beta, point.m - dm, point.q - dq, point.r)) / (2 * h)

    assert abs(df(h, 0.0)) < 1e-6
    off = ags.State(state.m - 0.05, state.q, state.r, math.nan)
    assert abs(df(h, 0.0, off)) > 1e-3


@pytest.mark.parametrize("alpha,temperature,theory", [(0.04, 0.5, 0.9237), (0.05, 0.45, None)])
def test_monte_carlo_retrieval_overlap_matches_the_theory(alpha, temperature, theory):
    """Glauber dynamics (N = 1500, 8 chains started at stored patterns, m averaged over sweeps
    21-60) has the RS overlap (0.9237 at (0.04, 0.5)). Sampling and finite-N error is ~0.005;
    the tolerance 0.015 rejects both limits the finite-load, finite-T theory differs from by
    more than 0.03 at these points: the Curie-Weiss overlap (α = 0) and the T = 0 overlap."""
    expected = ags.overlap(alpha, temperature)
    if theory is not None:
        assert expected == pytest.approx(theory, abs=1e-4)
    assert abs(expected - ags.overlap(0.0, temperature)) > 0.03
    assert abs(expected - classical.ags_overlap(alpha)) > 0.03
    n, rng = 1500, np.random.default_rng(5)
    xi = classical.random_patterns(round(alpha * n), n, rng)
    j = classical.hebbian_couplings(xi)
    sigma, state, _ = classical.glauber(j, xi[:8], streams(np.random.SeedSequence(9), 8), 1.0 / temperature, 20)
    samples = []
    for _ in range(40):
        sigma, state, _ = classical.glauber(j, sigma, state, 1.0 / temperature, 1)
        samples.append(np.einsum("bi,bi->b", sigma.astype(np.float64), xi[:8]) / n)
    assert float(np.mean(samples)) == pytest.approx(expected, abs=0.015)


def test_monte_carlo_loses_the_pattern_beyond_the_retrieval_line():
    """At (α, T) = (0.1, 0.6) theory has no retrieval state (α_M(0.6) = 0.039): Glauber runs
    started at the pattern end far from it (m < 0.5 after 100 sweeps, N = 1500)."""
    assert math.isnan(ags.overlap(0.1, 0.6)) and ags.retrieval_load(0.6) < 0.05
    n, rng = 1500, np.random.default_rng(6)
    xi = classical.random_patterns(150, n, rng)
    sigma, _, _ = classical.glauber(classical.hebbian_couplings(xi), xi[:4], streams(np.random.SeedSequence(1), 4),
                                    1.0 / 0.6, 100)
    assert np.all(np.einsum("bi,bi->b", sigma.astype(np.float64), xi[:4]) / n < 0.5)


def test_probit_fit_recovers_the_truth_with_calibrated_errors():
    """Binomial counts drawn from a known probit (α_½ = 0.15, w = 0.01): over 150 data sets
    the estimates are unbiased (mean within 3 standard errors of the truth) and the reported
    error matches the estimates' spread within 20 % (a Fisher information off by a factor of
    2 in variance fails this)."""
    alphas, trials = np.linspace(0.12, 0.18, 13), np.full(13, 200)
    p = norm.cdf((0.15 - alphas) / 0.01)
    rng = np.random.default_rng(0)
    fits = [fs.probit_fit(alphas, rng.binomial(trials, p), trials) for _ in range(150)]
    est = np.array([f.alpha_half for f in fits])
    reported = np.mean([f.alpha_half_err for f in fits])
    assert abs(est.mean() - 0.15) < 3 * est.std() / math.sqrt(est.size)
    assert reported == pytest.approx(est.std(), rel=0.2)
    assert np.mean([f.width for f in fits]) == pytest.approx(0.01, rel=0.03)


def test_overdispersed_counts_widen_the_error():
    """Counts whose probability varies from set to set (as probes of one network share its
    couplings) must get a larger error than the binomial one."""
    alphas, trials = np.linspace(0.12, 0.18, 13), np.full(13, 200)
    rng = np.random.default_rng(1)
    clean = rng.binomial(trials, norm.cdf((0.15 - alphas) / 0.01))
    noisy = rng.binomial(trials, norm.cdf((0.15 + rng.normal(0, 0.004, 13) - alphas) / 0.01))
    assert fs.probit_fit(alphas, noisy, trials).alpha_half_err > 1.5 * fs.probit_fit(alphas, clean, trials).alpha_half_err


def test_extrapolation_is_the_weighted_line_to_infinite_size():
    """Exact data on α_½ = 0.138 + 0.7 N^{−1/2} give 0.138 exactly; noisy data (σ = 0.001)
    give an intercept whose reported error matches its spread over 400 sets within 20 %."""
    sizes = np.array([500, 1000, 2000, 4000, 8000])
    exact = 0.138 + 0.7 / np.sqrt(sizes)
    line = fs.extrapolate(sizes, exact, np.full(5, 1e-3))
    assert line.alpha_c == pytest.approx(0.138, abs=1e-12) and line.slope == pytest.approx(0.7)
    rng = np.random.default_rng(2)
    fits = [fs.extrapolate(sizes, exact + rng.normal(0, 1e-3, 5), np.full(5, 1e-3)) for _ in range(400)]
    spread = np.std([f.alpha_c for f in fits])
    assert np.mean([f.alpha_c_err for f in fits]) == pytest.approx(spread, rel=0.2)
    assert fs.width_exponent(sizes, 0.5 / np.sqrt(sizes)) == pytest.approx(-0.5)


def test_fit_inputs_are_checked():
    with pytest.raises(ValueError, match="trials"):
        fs.probit_fit([0.1, 0.2, 0.3], [1, 2, 3], [2, 1, 3])
    with pytest.raises(ValueError, match="fall from 1 to 0"):
        fs.probit_fit([0.1, 0.2, 0.3], [5, 5, 5], [5, 5, 5])
    with pytest.raises(ValueError, match="distinct sizes"):
        fs.extrapolate([100, 100], [0.2, 0.2], [0.01, 0.01])
    with pytest.raises(ValueError, match="temperature"):
        ags.overlap(0.1, float("nan"))
    with pytest.raises(ValueError, match="alpha"):
        ags.solve(-0.1, 0.5)
