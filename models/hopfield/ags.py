"""Replica-symmetric theory of the Hopfield network at load α = K/N and temperature T = 1/β
(Amit, Gutfreund & Sompolinsky, Ann. Phys. 173, 30 (1987)).

With s = √(αr) and ⟨⟨·⟩⟩ the average over a standard Gaussian z, the order parameters of a
retrieval state (overlap m with one condensed pattern, Edwards–Anderson q, noise r) solve

    m = ⟨⟨tanh β(m + s z)⟩⟩,   q = ⟨⟨tanh² β(m + s z)⟩⟩,   r = q / (1 − C)²,  C = β(1 − q),

and the free energy per neuron is

    f = α/2 + m²/2 + (α/2β) [ln(1 − C) − βq/(1 − C)] + (αβ/2) r (1 − q)
        − (1/β) ⟨⟨ln 2cosh β(m + s z)⟩⟩.

At T = 0 the equations become those of :func:`~neurosim.models.hopfield.classical.ags_overlap`.
Phase boundaries in the (α, T) plane:

- T_g(α) = 1 + √α: the paramagnet (m = q = 0) gives way to the spin glass (q > 0);
- T_M(α) (:func:`retrieval_temperature`): retrieval states exist below it (α = 0.138 at T = 0,
  T → 1 as α → 0);
- T_c(α) (:func:`stable_retrieval_temperature`): retrieval states are the global minima
  (f_retrieval < f_glass) below it (α ≈ 0.051 at T → 0).

Gaussian averages use the trapezoid rule on z ∈ [−10, 10] (:data:`Z_POINTS` points); the
integrands are smooth on that grid for β ≤ 200, and the rule is then exact to ~1e−10.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

from neurosim.models.hopfield.classical import ALPHA_C, ags_overlap

#: trapezoid grid for the Gaussian averages
Z_POINTS = 8001
_Z = np.linspace(-10.0, 10.0, Z_POINTS)
_W = np.exp(-0.5 * _Z**2) * (_Z[1] - _Z[0]) / math.sqrt(2.0 * math.pi)
_W[[0, -1]] *= 0.5
#: overlap below which a solution counts as non-retrieval
M_RETRIEVAL = 0.3
BETA_MAX = 200.0


@dataclass(frozen=True)
class State:
    """A replica-symmetric solution: overlap m, Edwards–Anderson q, noise r, free energy f."""

    m: float
    q: float
    r: float
    f: float


def _check(alpha: float, temperature: float) -> None:
    if not (math.isfinite(alpha) and alpha >= 0.0):
        raise ValueError(f"alpha: must be a finite number >= 0, got {alpha!r}")
    if not (math.isfinite(temperature) and temperature > 1.0 / BETA_MAX):
        raise ValueError(f"temperature: must be finite and > {1.0 / BETA_MAX}, got {temperature!r}")


def free_energy(alpha: float, beta: float, m: float, q: float, r: float) -> float:
    """f(m, q, r) per neuron at load α and inverse temperature β (module docstring)."""
    x = beta * (m + math.sqrt(alpha * r) * _Z)
    log_2cosh = np.logaddexp(x, -x)
    c = beta * (1.0 - q)
    glass = 0.0 if alpha == 0.0 else alpha / (2.0 * beta) * (math.log1p(-c) - beta * q / (1.0 - c))
    return float(alpha / 2.0 + m * m / 2.0 + glass + alpha * beta / 2.0 * r * (1.0 - q) - _W @ log_2cosh / beta)


def solve(alpha: float, temperature: float, m0: float = 1.0, iterations: int = 20_000,
          tol: float = 1e-11) -> State | None:
    """The solution reached by iterating the equations from m = m0, q = r = 1 (m0 = 1: the
    retrieval branch), or None when the iteration leaves the region C < 1 where they hold."""
    _check(alpha, temperature)
    beta, m, q = 1.0 / temperature, float(m0), 1.0
    r = 1.0
    for _ in range(iterations):
        t = np.tanh(beta * (m + math.sqrt(alpha * r) * _Z))
        m_new, q_new = float(_W @ t), float(_W @ (t * t))
        c = beta * (1.0 - q_new)
        if c >= 1.0:
            return None
        r_new = q_new / (1.0 - c) ** 2
        done = abs(m_new - m) < tol and abs(q_new - q) < tol
        m, q, r = m_new, q_new, r_new
        if done:
            break
    return State(m, q, r, free_energy(alpha, beta, m, q, r))


def overlap(alpha: float, temperature: float) -> float:
    """Retrieval overlap m(α, T), or NaN where no retrieval state exists (T = 0: the AGS
    zero-temperature equations)."""
    if temperature == 0.0:
        return ags_overlap(alpha) if alpha > 0 else 1.0
    state = solve(alpha, temperature)
    return state.m if state is not None and state.m >= M_RETRIEVAL else math.nan


def glass(alpha: float, temperature: float) -> State | None:
    """The spin-glass solution (m = 0, q > 0), or None above T_g. With m = 0 the equations
    reduce to one for the noise s = √(αr): s (1 − C(s)) = √(α q(s)), solved by bracketing
    (iterating them is unstable at low T)."""
    _check(alpha, temperature)
    beta = 1.0 / temperature
    if alpha == 0.0 or temperature >= glass_temperature(alpha):
        return None

    def q_of(s: float) -> float:
        t = np.tanh(beta * s * _Z)
        return float(_W @ (t * t))

    def excess(s: float) -> float:
        q = q_of(s)
        return s * (1.0 - beta * (1.0 - q)) - math.sqrt(alpha * q)

    s_hi = 10.0 * (1.0 + math.sqrt(alpha))
    s_lo = brentq(lambda s: beta * (1.0 - q_of(s)) - 1.0, 1e-9, s_hi) * (1.0 + 1e-9) if beta > 1.0 else 1e-6
    if excess(s_lo) >= 0.0:
        return None
    s = brentq(excess, s_lo, s_hi, xtol=1e-13)
    q = q_of(s)
    r = s * s / alpha
    return State(0.0, q, r, free_energy(alpha, beta, 0.0, q, r))


def glass_temperature(alpha: float) -> float:
    """T_g = 1 + √α: below it the paramagnet is replaced by the spin glass."""
    return 1.0 + math.sqrt(alpha)


def _bisect(inside, lo: float, hi: float, tol: float) -> float:
    """The boundary between ``inside(lo)`` true and ``inside(hi)`` false."""
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if inside(mid) else (lo, mid)
    return 0.5 * (lo + hi)


def retrieval_load(temperature: float, tol: float = 1e-4) -> float:
    """α_M(T): the largest load at which a retrieval state exists (T = 0: α_c = 0.138)."""
    if temperature == 0.0:
        return ALPHA_C
    if not math.isfinite(overlap(1e-6, temperature)):
        return 0.0
    return _bisect(lambda a: math.isfinite(overlap(a, temperature)), 1e-6, ALPHA_C + 0.01, tol)


def stable_retrieval_load(temperature: float, tol: float = 1e-4) -> float:
    """α_c(T): the largest load at which the retrieval state has a lower free energy than the
    spin glass (≈ 0.051 as T → 0), or 0 where retrieval is never stable."""
    def stable(alpha: float) -> bool:
        retrieval = solve(alpha, temperature)
        if retrieval is None or retrieval.m < M_RETRIEVAL:
            return False
        other = glass(alpha, temperature)
        return other is None or retrieval.f < other.f

    if not stable(1e-6):
        return 0.0
    return _bisect(stable, 1e-6, retrieval_load(temperature), tol)
