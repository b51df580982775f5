"""Replica-symmetric theory of dense Hebbian learning (Agliari et al., supervised arXiv 2212.00606,
unsupervised arXiv 2211.14067) for the energies of :mod:`neurosim.models.dense_hebbian`.

The papers' own self-consistency equations could not be retrieved (only their abstracts were
reachable), so the equations below are derived here, for exactly the energies that are simulated:

    H_sup(σ) = −(N/P!) Σ_μ (ẑ^μ·σ/N)^P,          ẑ_i^μ = (1/(R M)) Σ_a η_i^{μa} = ξ_i^μ w_i^μ
    H_uns(σ) = −(N/P!) Σ_μ (1/M) Σ_a (η^{μa}·σ/(N R))^P,

R = r √(1 + ρ), ρ = (1 − r²)/(M r²), no dilution. w = (2B − M)/(M R), B ~ Bin(M, (1 + r)/2),
so E w = g = 1/√(1 + ρ), E w² = 1. Load α = K/N^{P−1}, β = 1/T.

Derivation (retrieval of archetype 1, RS):

* Signal. With the mean normalised example overlap n = ẑ¹·σ/N (supervised; for the unsupervised
  rule the same quantity, (1/M) Σ_a η^{1a}·σ/(N R), under the example-symmetric ansatz) the condensed
  term is (N/P!) n^P for both rules: the local field is b ξ_i w_i with b = n^{P−1}/(P−1)!.
* Noise. Each of the other K − 1 patterns adds (N/P!) X^P N^{−P/2}, X = ẑ·σ/√N Gaussian (CLT),
  a small term (N^{1−P/2}); their sum over K = α N^{P−1} patterns is a Gaussian energy with
  covariance N Γ(q) between two states of overlap q (higher cumulants are o(N) for P ≥ 3).
  With x^P = Σ_k a_k He_k(x), a_{P−2j} = P!/(2^j j! (P−2j)!), two unit Gaussians of correlation q
  have Cov(X^P, Y^P) = c(q) = Σ_{k≥1} a_k² k! q^k, and

      Γ_sup(q) = α c(q)/P!²,
      Γ_uns(q) = α [c(q)/M + (1 − 1/M) c(r² q)] / (P!² R^{2P})

  (two examples of one archetype are correlated r² q across the two states). The terms k < P of
  c are the repeated-index (self-interaction) terms that the overlap energies contain
  (e.g. P = 4: c = 24 q⁴ + 72 q²); ``self_interaction=False`` keeps only k = P, c = P! q^P,
  the sum over distinct indices (simulated by ``dense_hebbian.DistinctEnergy``).
* The model is then a mixed p-spin glass with a Mattis signal; its RS free energy is

      −βf = −β (P−1) n^P/P! + (β²/2)[Γ(1) − Γ(q) − (1 − q) Γ'(q)] + E log 2cosh(β h),
      h = b w + √Γ'(q) z,  z ~ N(0, 1),

  stationary at the self-consistency equations

      n = E_{w,z}[w tanh(β h)],   q = E_{w,z}[tanh²(β h)],   m = E_{w,z}[tanh(β h)]

  (m is the archetype overlap, the unsupervised example overlap is R n). β → ∞: q → 1 and
  n = E_w[w erf(b w/√(2Γ'(1)))], m = E_w[erf(b w/√(2Γ'(1)))].

Limits: M → ∞ (w → 1) gives the P-spin Hopfield storage equations for the supervised rule (and
for the unsupervised one when ``self_interaction=False``); α = 0 gives the low-load equations,
identical for both rules; P = 2 needs α = 0 (at K ∝ N the Gaussian-noise step fails).

The retrieval solution is the fixed point reached by iterating from the archetype (n = g,
q = 1, the simulations' start); it exists when its m ≥ ``M_RETRIEVAL``. For P > 2 it appears
discontinuously: M* (:func:`threshold_examples`) is the smallest M with a retrieval solution.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import special, stats

#: archetype overlap above which a fixed point counts as retrieval
M_RETRIEVAL = 0.1
RULES = ("supervised", "unsupervised")
_GH_Z, _GH_W = np.polynomial.hermite_e.hermegauss(40)
_GH_W = _GH_W / _GH_W.sum()


@dataclass(frozen=True)
class Solution:
    """RS fixed point: archetype overlap m, normalised example overlap n, spin overlap q."""

    m: float
    n: float
    q: float
    converged: bool

    @property
    def retrieval(self) -> bool:
        return self.m >= M_RETRIEVAL


def _check(p: int, beta: float, alpha: float, r: float, m: float, rule: str) -> None:
    if isinstance(p, bool) or int(p) != p or p < 2:
        raise ValueError(f"p: must be an integer >= 2, got {p!r}")
    if not beta > 0:
        raise ValueError(f"beta: must be > 0 (inf allowed), got {beta!r}")
    if not (np.isfinite(alpha) and alpha >= 0):
        raise ValueError(f"alpha: must be finite and >= 0, got {alpha!r}")
    if p == 2 and alpha > 0:
        raise ValueError("alpha: the Gaussian-noise theory needs p >= 3 at high load (alpha > 0)")
    if not 0.0 < r <= 1.0:
        raise ValueError(f"r: must be in (0, 1], got {r!r}")
    if not m >= 1:
        raise ValueError(f"m: examples must be >= 1 (inf allowed), got {m!r}")
    if rule not in RULES:
        raise ValueError(f"rule: must be one of {RULES}, got {rule!r}")


def hermite_coefficients(p: int) -> dict[int, float]:
    """a_k of x^P = Σ_k a_k He_k(x): a_{P−2j} = P!/(2^j j! (P−2j)!)."""
    return {p - 2 * j: math.factorial(p) / (2**j * math.factorial(j) * math.factorial(p - 2 * j))
            for j in range(p // 2 + 1)}


def covariance_terms(p: int, self_interaction: bool = True) -> dict[int, float]:
    """c(q) = Σ_k c_k q^k = Cov(X^P, Y^P) for unit Gaussians of correlation q: c_k = a_k² k!
    (k ≥ 1); only c_P = P! without the self-interaction terms."""
    if not self_interaction:
        return {p: float(math.factorial(p))}
    return {k: a * a * math.factorial(k) for k, a in hermite_coefficients(p).items() if k >= 1}


def entropy(r: float, m: float) -> float:
    """ρ = (1 − r²)/(M r²) (0 at M = ∞)."""
    return (1.0 - r * r) / (m * r * r)


def noise_derivative(q: float, p: int, alpha: float, r: float, m: float, rule: str,
                     self_interaction: bool = True) -> float:
    """Γ'(q): the variance of the Gaussian (pattern-interference) part of the local field."""
    terms = covariance_terms(p, self_interaction)
    dc = lambda x: sum(k * c * x ** (k - 1) for k, c in terms.items())  # noqa: E731
    scale = alpha / math.factorial(p) ** 2
    if rule == "supervised":
        return scale * dc(q)
    big_r2 = r * r * (1.0 + entropy(r, m))
    inv_m = 0.0 if m == np.inf else 1.0 / m
    return scale * (inv_m * dc(q) + (1.0 - inv_m) * r * r * dc(r * r * q)) / big_r2**p


def example_weights(r: float, m: float) -> tuple[np.ndarray, np.ndarray]:
    """Support and probabilities of w = (2B − M)/(M R), B ~ Bin(M, (1+r)/2): exact for integer
    M ≤ 10⁵ (tails below 1e-13 dropped), Gaussian N(g, ρ/(1+ρ)) otherwise, w = 1 at M = ∞."""
    if m == np.inf:
        return np.ones(1), np.ones(1)
    rho = entropy(r, m)
    big_r = r * math.sqrt(1.0 + rho)
    if float(m).is_integer() and m <= 100_000:
        m = int(m)
        b = np.arange(m + 1)
        prob = stats.binom.pmf(b, m, (1.0 + r) / 2.0)
        keep = prob > 1e-13
        prob = prob[keep] / prob[keep].sum()
        return (2.0 * b[keep] - m) / (m * big_r), prob
    return 1.0 / math.sqrt(1.0 + rho) + math.sqrt(rho / (1.0 + rho)) * _GH_Z, _GH_W


def _averages(beta: float, b: float, s: float, w: np.ndarray, pw: np.ndarray) -> tuple[float, float, float]:
    """E[w t], E[t²], E[t] with t = tanh(β(b w + s z)): z on a grid of step ≤ 0.1/(βs); t = sign
    (and t² = 1) at β = ∞ or once βs > 200, where tanh is a step on the scale of z."""
    if beta == np.inf or beta * s > 200.0:
        t = special.erf(b * w / (math.sqrt(2.0) * s)) if s > 0 else np.sign(b * w)
        return float(pw @ (w * t)), 1.0, float(pw @ t)
    dz = min(0.05, 0.1 / max(beta * s, 1e-12))
    z = np.arange(-9.0, 9.0 + dz / 2, dz) if s > 0 else np.zeros(1)
    pz = np.exp(-z * z / 2.0)
    pz /= pz.sum()
    t = np.tanh(beta * (b * w[:, None] + s * z[None, :]))
    tz, t2 = t @ pz, (t * t) @ pz
    return float(pw @ (w * tz)), float(pw @ t2), float(pw @ tz)


def solve(p: int, beta: float, alpha: float, r: float, m: float, rule: str = "supervised", *,
          self_interaction: bool = True, tol: float = 1e-10, max_iter: int = 5000,
          give_up: float = 0.0) -> Solution:
    """Iterate n ← E[w tanh βh], q ← E[tanh² βh] from the archetype (n = g, q = 1) to the RS
    fixed point (see module doc); ``m`` is the number of examples per archetype (inf allowed).
    The iteration stops early, unconverged, once the archetype overlap falls below ``give_up``
    (the retrieval branch is lost: used by the threshold searches)."""
    _check(p, beta, alpha, r, m, rule)
    w, pw = example_weights(r, m)
    n, q = float(pw @ w), 1.0
    mag, converged = 1.0, False
    for _ in range(max_iter):
        s = math.sqrt(noise_derivative(q, p, alpha, r, m, rule, self_interaction))
        new_n, new_q, mag = _averages(beta, n ** (p - 1) / math.factorial(p - 1), s, w, pw)
        if abs(new_n - n) < tol and abs(new_q - q) < tol:
            converged = True
            n, q = new_n, new_q
            break
        n, q = new_n, new_q
        if mag < give_up:
            break
    return Solution(float(mag), float(n), float(q), converged)


def zero_temperature(p: int, alpha: float, r: float, m: float, rule: str = "supervised", *,
                     self_interaction: bool = True, tol: float = 1e-12, max_iter: int = 5000) -> Solution:
    """β = ∞: n = E_w[w erf(b w/√(2Γ'(1)))], m = E_w[erf(b w/√(2Γ'(1)))], q = 1."""
    return solve(p, np.inf, alpha, r, m, rule, self_interaction=self_interaction, tol=tol, max_iter=max_iter)


def _retrieves(p: int, beta: float, alpha: float, r: float, m: float, rule: str, self_interaction: bool) -> bool:
    return solve(p, beta, alpha, r, m, rule, self_interaction=self_interaction, tol=1e-8,
                 give_up=M_RETRIEVAL / 2).retrieval


def retrieval_overlap(p: int, beta: float, alpha: float, r: float, m: float, rule: str = "supervised", *,
                      self_interaction: bool = True) -> float:
    """m of the retrieval solution, 0 where there is none (what a phase map shows)."""
    sol = solve(p, beta, alpha, r, m, rule, self_interaction=self_interaction, tol=1e-8, give_up=M_RETRIEVAL / 2)
    return sol.m if sol.retrieval else 0.0


def threshold_examples(p: int, beta: float, alpha: float, r: float, rule: str = "supervised", *,
                       self_interaction: bool = True, m_max: int = 100_000) -> float:
    """M*: the smallest integer M from which on a retrieval solution exists (up to ``m_max``; at
    very small M the network may instead retrieve an example, m ≈ r, which is not counted when a
    larger M fails). A log-spaced scan finds the last failing M, bisection refines it; inf if
    ``m_max`` fails."""
    ok = lambda m: _retrieves(p, beta, alpha, r, m, rule, self_interaction)  # noqa: E731
    grid = np.unique(np.round(np.geomspace(1, m_max, 40)).astype(int))
    passed = [ok(int(m)) for m in grid]
    if not passed[-1]:
        return float("inf")
    failing = [j for j, good in enumerate(passed) if not good]
    if not failing:
        return 1.0
    lo, hi = int(grid[failing[-1]]), int(grid[failing[-1] + 1])
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if ok(mid) else (mid, hi)
    return float(hi)


def _edge(ok, grid: np.ndarray, rtol: float) -> float:
    """Scan the increasing ``grid`` from grid[0] (where ``ok`` holds) to the first failing point
    and bisect (geometrically) between it and the last passing one: the edge of the region
    connected to grid[0]. grid[-1] if all pass."""
    last = grid[0]
    for x in grid[1:]:
        if not ok(x):
            lo, hi = last, x
            while hi / lo > 1.0 + rtol:
                mid = math.sqrt(lo * hi)
                lo, hi = (mid, hi) if ok(mid) else (lo, mid)
            return math.sqrt(lo * hi)
        last = x
    return float(grid[-1])


def threshold_entropy(p: int, beta: float, alpha: float, r: float, rule: str = "supervised", *,
                      self_interaction: bool = True, rho_max: float = 1e3, rtol: float = 1e-3) -> float:
    """ρ*: the edge of the retrieval region connected to ρ → 0 (M → ∞) at quality r, with
    M = (1 − r²)/(ρ r²) taken continuous (Gaussian w); 0 if there is no retrieval at M = ∞,
    ``rho_max`` if it persists there. (At ρ of order 1/r² − 1, M ≈ 1, the network retrieves the
    examples themselves, m ≈ r: that disconnected region is not this boundary.)"""
    def ok(rho: float) -> bool:
        return _retrieves(p, beta, alpha, r, max(continuous_examples(r, rho), 1.0), rule, self_interaction)

    if not ok(0.0):
        return 0.0
    return _edge(ok, np.geomspace(1e-4, rho_max, 12), rtol)


def threshold_load(p: int, beta: float, r: float, m: float, rule: str = "supervised", *,
                   self_interaction: bool = True, alpha_max: float = 10.0, rtol: float = 1e-3) -> float:
    """α*: the largest load of the retrieval region connected to α → 0; 0 if none at α = 10⁻⁸."""
    ok = lambda a: _retrieves(p, beta, a, r, m, rule, self_interaction)  # noqa: E731
    if not ok(1e-8):
        return 0.0
    return _edge(ok, np.geomspace(1e-8, alpha_max, 16), rtol)


def free_energy(sol: Solution, p: int, beta: float, alpha: float, r: float, m: float, rule: str = "supervised", *,
                self_interaction: bool = True) -> float:
    """RS free energy per spin f at a fixed point (finite β; the module doc's −βf)."""
    gamma = lambda x: alpha / math.factorial(p) ** 2 * _cov(x, p, r, m, rule, self_interaction)  # noqa: E731
    d1 = noise_derivative(sol.q, p, alpha, r, m, rule, self_interaction)
    w, pw = example_weights(r, m)
    dz = min(0.05, 0.1 / max(beta * math.sqrt(d1), 1e-12))
    z = np.arange(-9.0, 9.0 + dz / 2, dz)
    pz = np.exp(-z * z / 2.0)
    pz /= pz.sum()
    x = beta * (sol.n ** (p - 1) / math.factorial(p - 1) * w[:, None] + math.sqrt(d1) * z[None, :])
    logcosh = np.abs(x) + np.log1p(np.exp(-2.0 * np.abs(x)))  # log 2cosh x
    mbf = (-beta * (p - 1) * sol.n**p / math.factorial(p) + beta**2 / 2 * (gamma(1.0) - gamma(sol.q) - (1 - sol.q) * d1)
           + float(pw @ (logcosh @ pz)))
    return -mbf / beta


def _cov(q: float, p: int, r: float, m: float, rule: str, self_interaction: bool) -> float:
    terms = covariance_terms(p, self_interaction)
    c = lambda x: sum(ck * x**k for k, ck in terms.items())  # noqa: E731
    if rule == "supervised":
        return c(q)
    inv_m = 0.0 if m == np.inf else 1.0 / m
    return (inv_m * c(q) + (1.0 - inv_m) * c(r * r * q)) / (r * r * (1.0 + entropy(r, m))) ** p


def glass_solution(p: int, beta: float, alpha: float, r: float, m: float, rule: str = "supervised", *,
                   self_interaction: bool = True, tol: float = 1e-10, max_iter: int = 5000) -> Solution:
    """The n = 0 (spin-glass or paramagnetic) fixed point: q = E tanh²(β √Γ'(q) z) from q = 1."""
    q = 1.0
    for _ in range(max_iter):
        s = math.sqrt(noise_derivative(q, p, alpha, r, m, rule, self_interaction))
        _, new_q, _ = _averages(beta, 0.0, s, np.ones(1), np.ones(1))
        if abs(new_q - q) < tol:
            return Solution(0.0, 0.0, new_q, True)
        q = new_q
    return Solution(0.0, 0.0, q, False)


def threshold_temperature(p: int, alpha: float, r: float, m: float, rule: str = "supervised", *,
                          self_interaction: bool = True, t_max: float = 1.0, rtol: float = 1e-3) -> float:
    """T*: the highest temperature β⁻¹ of the retrieval region connected to T = 0; 0 if none at
    T = 0, ``t_max`` if retrieval persists there."""
    ok = lambda t: _retrieves(p, np.inf if t == 0 else 1.0 / t, alpha, r, m, rule, self_interaction)  # noqa: E731
    if not ok(0.0):
        return 0.0
    return _edge(ok, np.geomspace(t_max * 1e-4, t_max, 12), rtol)


def continuous_examples(r: float, rho: float) -> float:
    """M = (1 − r²)/(ρ r²) as a non-integer float (so :func:`example_weights` takes the Gaussian
    w of the papers' large-M picture); inf at ρ = 0."""
    if rho < 0:
        raise ValueError(f"rho: must be >= 0, got {rho!r}")
    if rho == 0:
        return np.inf
    m = (1.0 - r * r) / (rho * r * r)
    return float(np.nextafter(m, np.inf)) if float(m).is_integer() else m
