"""Low-load mean-field theory of the multitasking Hebbian network (Agliari, Barra, Galluzzi,
Guerra & Moauro, PRL 109, 268101, 2012) and its (d, T) phase boundaries, against closed forms
derived here from m_μ = E_ξ[ξ^μ tanh(β Σ_ν ξ^ν m_ν)] and against Glauber simulations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import brentq

from neurosim.models import multitask as mt


def curie_weiss(a: float, beta: float) -> float:
    """m > 0 of m = a tanh(β m) (the pure state), by bisection."""
    return brentq(lambda m: m - a * math.tanh(beta * m), 1e-12, a) if beta * a > 1 else 0.0


def pure_boundary_k2(d: float) -> float:
    """T where the pure state's transverse curvature 1 − β a [d + a sech²(β m_1)] vanishes
    (a = 1 − d; E[(ξ²)² sech²(β ξ¹ m_1)] split over ξ¹ = 0 and ξ¹ = ±1)."""
    a = 1 - d
    g = lambda t: 1 - a / t * (d + a / math.cosh(curie_weiss(a, 1 / t) / t) ** 2)
    return brentq(g, 0.5 * a * d, (1 - 1e-6) * a)  # g < 0 at T = a d/2, > 0 just below T_c


def parallel_boundary_k2(d: float) -> float:
    """T where the K = 2 symmetric state m_1 = m_2 = m loses stability along (1, −1):
    m = a d tanh(βm) + (a²/2) tanh(2βm) and β[a d sech²(βm) + a²] = 1 (ξ¹ − ξ² is ±1 with
    probability 2ad at field ±m, ±2 with probability a²/2 at field 0)."""
    a = 1 - d

    def curvature(t: float) -> float:
        b = 1 / t
        m = brentq(lambda x: x - a * d * math.tanh(b * x) - a * a / 2 * math.tanh(2 * b * x), 1e-12, a)
        return 1 - b * (a * d / math.cosh(b * m) ** 2 + a * a)

    return brentq(curvature, 0.5 * a * a, 0.999 * a)


def test_zero_temperature_limit_is_the_cascade():
    """At β = ∞ (sign) and at β = 10⁴ the fixed point reached from the cascade must be
    (1 − d) d^{k−1} below the cascade threshold (K = 3: d < 0.618): every cascade field
    exceeds 0.06, so at β = 10⁴ the tanh corrections are below e^{−600}; 1e-9 leaves room for
    the iteration's stopping tolerance."""
    for d in (0.1, 0.3, 0.5):
        h = mt.hierarchical_amplitudes(3, d)
        np.testing.assert_allclose(mt.solve_overlaps(h, np.inf, d), h, atol=1e-12)
    for d in (0.3, 0.5):
        h = mt.hierarchical_amplitudes(3, d)
        np.testing.assert_allclose(mt.solve_overlaps(h * 0.9, 1e4, d), h, atol=1e-9)


def test_gradient_and_hessian_are_those_of_the_free_energy():
    """m − E[ξ tanh(β ξ·m)] and 1 − β E[ξξᵀ sech²] must be the derivatives of
    f = |m|²/2 − (1/β) E ln 2cosh(β ξ·m): central differences (step 1e-5, error ~1e-10)."""
    m, beta, d, eps = np.array([0.3, -0.1, 0.05]), 4.0, 0.4, 1e-5
    unit = np.eye(3) * eps
    grad = np.array([(mt.free_energy(m + e, beta, d) - mt.free_energy(m - e, beta, d)) / (2 * eps) for e in unit])
    np.testing.assert_allclose(grad, m - mt.mean_field_map(m, beta, d), atol=1e-8)
    g = lambda x: x - mt.mean_field_map(x, beta, d)
    hess = np.array([(g(m + e) - g(m - e)) / (2 * eps) for e in unit])
    np.testing.assert_allclose(hess, mt.hessian(m, beta, d), atol=1e-7)


@pytest.mark.parametrize("k", [2, 3])
def test_paramagnetic_boundary_is_one_minus_d(k):
    """m = 0 is unstable iff β(1 − d) > 1. Just below T_c = 1 − d the equilibrium is the pure
    state for d < 2/3 and the parallel one above, with the Curie–Weiss amplitude
    m_1/a = tanh(β a · m_1/a), (m_1/a)² ≈ 3ε at T = T_c(1 − ε) (checked to 3 % at ε = 0.01,
    where the next order is ~ε); just above T_c every overlap vanishes."""
    assert mt.paramagnetic_temperature(0.3) == pytest.approx(0.7)
    for d in (0.2, 0.5, 0.8):
        t_c = 1 - d
        assert np.all(mt.equilibrium_overlaps(k, 1 / (1.02 * t_c), d) < 1e-6)
        m = mt.equilibrium_overlaps(k, 1 / (0.99 * t_c), d)
        assert m[0] > 0.05 * t_c
        if d < 2 / 3:
            assert m[1] < 1e-6 and (m[0] / t_c) ** 2 == pytest.approx(0.03, rel=0.03)
    ev = np.linalg.eigvalsh(mt.hessian(np.zeros(k), 1 / 0.59, 0.4))[0]
    assert ev == pytest.approx(1 - 0.6 / 0.59)


def test_pure_and_parallel_boundaries_match_their_closed_forms():
    """The solver's stability windows (grid + bisection on the smallest Hessian eigenvalue) must
    give the K = 2 closed forms above to 1e-6; the pure state's instability involves one
    further pattern only, so K = 3 gives the same T; at d = 0.9 the parallel boundary is
    ≈ (1 − d)² (the sech² term is then below 1e-3)."""
    for d in (0.2, 0.4, 0.6):
        t_p = pure_boundary_k2(d)
        assert mt.pure_window(2, d)[0] == pytest.approx(t_p, abs=1e-6)
        assert mt.pure_window(3, d)[0] == pytest.approx(t_p, abs=1e-6)
        assert mt.pure_window(2, d)[1] == pytest.approx(1 - d)
    for d in (0.7, 0.8, 0.9):
        assert mt.parallel_window(2, d)[0] == pytest.approx(parallel_boundary_k2(d), abs=1e-6)
        assert mt.parallel_window(2, d)[1] == pytest.approx(1 - d)
    assert mt.parallel_window(2, 0.9)[0] == pytest.approx(0.01, rel=1e-3)


def test_pure_and_parallel_regions_meet_at_two_thirds():
    """Fourth order of f: (a − 3a²) Σ m_μ⁴ + 3a²|m|⁴ (a = 1 − d), so below T_c the pure state
    wins for d < 2/3 and the parallel state for d > 2/3, for every K: the pure window reaches
    T_c only below 2/3 and the parallel one only above."""
    for k in (2, 3):
        assert mt.pure_window(k, 0.66)[1] == pytest.approx(0.34) and math.isnan(mt.pure_window(k, 0.67)[1])
        assert mt.parallel_window(k, 0.67)[1] == pytest.approx(0.33)
        assert not mt.parallel_window(k, 0.66)[1] > 0.34 - 1e-6


def test_equilibrium_phases_follow_the_boundaries():
    """The lowest-free-energy state must change phase where the closed forms say (K = 2:
    T_p(0.5) = 0.287, T_s(0.8) = 0.040, T_c = 1 − d), on either side with a margin of 20 %."""
    t_p, t_s = pure_boundary_k2(0.5), parallel_boundary_k2(0.8)
    cases = [(0.5, 0.8 * t_p, mt.HIERARCHICAL), (0.5, 1.2 * t_p, mt.PURE), (0.5, 0.6, mt.PARAMAGNETIC),
             (0.8, 0.8 * t_s, mt.HIERARCHICAL), (0.8, 1.2 * t_s, mt.PARALLEL), (0.8, 0.25, mt.PARAMAGNETIC)]
    for d, t, phase in cases:
        assert mt.equilibrium_phase(2, 1 / t, d) == phase, (d, t)


def test_balanced_patterns_have_exact_dilution_and_no_cross_talk():
    """Exactly round((1 − d)N) non-blank entries per pattern, and |ξ^μ·ξ^ν| at most the number
    of site classes (3^{μ−1}, one odd leftover each) instead of ~√((1 − d)² N) ≈ 35 here."""
    xi = mt.balanced_archetypes(3, 5001, 0.5, np.random.default_rng(1))
    assert np.all(np.count_nonzero(xi, axis=1) == round(0.5 * 5001))
    gram = xi.astype(np.int64) @ xi.T.astype(np.int64)
    assert np.all(np.abs(gram[np.triu_indices(3, 1)]) <= 3)


def test_simulations_land_in_the_predicted_phase_from_every_start():
    """Glauber dynamics (K = 2, N = 5000, balanced patterns, 60 + 80 sweeps) from the cascade,
    a random state and a single-pattern cue must reach the mean-field state in the pure
    (d = 0.5, T = 0.4), hierarchical (0.5, 0.15), parallel (0.8, 0.1) and paramagnetic (0.5, 0.6)
    phases: a random start reaches parallel retrieval spontaneously. Sorted |m| within 0.025
    of the theory (measured <= 0.015 over two seed sets), except m_2 in the pure phase: that
    state is only marginally stable (Hessian eigenvalue ~0.05), so m_2 fluctuates by
    √(χ/N) ≈ 0.06 with a correlation of ~20 sweeps (measured up to 0.038); it must stay below
    0.06, against 0.24 in the hierarchical state."""
    for d, t in ((0.5, 0.4), (0.5, 0.15), (0.8, 0.1), (0.5, 0.6)):
        theory = mt.equilibrium_overlaps(2, 1 / t, d)
        for j, start in enumerate(mt.STARTS):
            m = mt.simulated_amplitudes(2, 5000, d, [t], 60, 80, 7 + j, start, balanced=True)[0]
            if mt.classify(theory, 1e-6) == mt.PURE:
                assert m[0] == pytest.approx(theory[0], abs=0.025) and m[1] < 0.06, (start, m)
            else:
                np.testing.assert_allclose(m, theory, atol=0.025, err_msg=f"{d} {t} {start}")


def test_pure_boundary_from_simulation_within_ten_percent_of_theory():
    """The pure–hierarchical boundary at d = 0.5 (theory 0.2872), from m_2² extrapolated to 0
    over 10 temperatures in 0.5–1.25 T_p (N = 5000, balanced patterns, 80 + 80 sweeps): the
    issue's target is 10 %; measured −4.4 % to +2.5 % over seeds 21–24 (the estimator applied
    to the mean-field curve itself is 1.8 % high). Random patterns, whose cross-talk field
    ~N^{-1/2} rounds the transition, give −9 % to +44 % on the same seeds."""
    t_p = mt.pure_window(2, 0.5)[0]
    temps = t_p * np.linspace(0.5, 1.25, 10)
    m = mt.simulated_amplitudes(2, 5000, 0.5, temps, 80, 80, 21, balanced=True)
    assert mt.extrapolated_onset(temps, m[:, 1] ** 2) == pytest.approx(t_p, rel=0.10)


def test_bad_input_names_the_parameter():
    with pytest.raises(ValueError, match="^d:"):
        mt.pure_window(2, 1.0)
    with pytest.raises(ValueError, match="^k:"):
        mt.parallel_window(0, 0.5)
    with pytest.raises(ValueError, match="^beta:"):
        mt.mean_field_map([0.1, 0.1], -1.0, 0.5)
    with pytest.raises(ValueError, match="^start:"):
        mt.start_state(np.ones((2, 10), dtype=np.int8), "middle", np.random.default_rng(0))
    with pytest.raises(ValueError, match="^temperatures:"):
        mt.simulated_amplitudes(2, 100, 0.5, [0.1, -0.2], 1, 1, 0)


def test_experiment_checks_name_the_field():
    """Balanced patterns only exist for the storage network; the phase scan needs increasing
    temperatures: both problems name their scenario field."""
    from neurosim.scenario.memory import multitask, multitask_phases

    defaults = {name: field.default for name, field in multitask.FIELDS.items()}
    problems = multitask.check({**defaults, "balanced": True, "learning": "supervised"}, "memory.multitask")
    assert [p for p, _ in problems] == ["memory.multitask.balanced"]
    defaults = {name: field.default for name, field in multitask_phases.FIELDS.items()}
    problems = multitask_phases.check({**defaults, "temperatures": [0.2, 0.1]}, "memory.multitask_phases")
    assert [p for p, _ in problems] == ["memory.multitask_phases.temperatures"]
