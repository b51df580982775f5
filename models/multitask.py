"""Multitasking Hebbian network (Agliari, Barra, Galluzzi, Guerra, Moauro, PRL 2012; learning
version: Agliari, Alessandrelli, Barra, Ricci-Tersenghi, arXiv 2308.04106).

Diluted archetypes ξ_i^μ ∈ {−1, 0, +1}, P(0) = d, P(±1) = (1 − d)/2, stored with
J_ij = (1/N) Σ_μ ξ_i^μ ξ_j^μ (H = −(N/2) Σ_μ m_μ², the P = 2 storage energy of
:mod:`neurosim.models.dense_hebbian`), or learnt from examples with its supervised or
unsupervised costs (normalised by r²(1 − d)(1 + ρ)). The Mattis overlaps are
m_μ = (1/N) Σ_i ξ_i^μ σ_i, so a state equal to ξ^μ on its non-blank sites has m_μ = 1 − d.

Parallel retrieval. Since a diluted pattern leaves a fraction d of the sites free, the
network retrieves several patterns at once. In the hierarchical regime (mild dilution, low
T) the state is the cascade "σ_i = ξ_i^1 if ξ_i^1 ≠ 0, else ξ_i^2 if ≠ 0, …" (random where
every pattern is blank), whose overlaps are

    m_k = (1 − d) d^{k−1}:

pattern k fills the sites left blank by patterns 1..k−1. The cascade is a fixed point at
T = 0 while every overlap outweighs the sum of the later ones, m_k > Σ_{l>k} m_l
(for K = 3: d < (√5 − 1)/2 ≈ 0.618). At stronger dilution it breaks down, but at T = 0 the
amplitudes stay ordered (K = 3, d = 0.9: (0.995, 0.905, 0.815)(1 − d); only sites where
pattern 1 is opposed by both others change); they level out (the parallel regime, where all
K overlaps are raised together) at low but finite temperature (d = 0.9: β below about 70),
as the low-load mean-field equations m_μ = E[ξ^μ tanh(β Σ_ν ξ^ν m_ν)] and simulations show.
"""

from __future__ import annotations

import functools

import numpy as np

from neurosim.models import dense_hebbian


def hierarchical_amplitudes(k: int, d: float) -> np.ndarray:
    """m_k = (1 − d) d^{k−1}, k = 1..K."""
    if k < 1:
        raise ValueError(f"k: must be >= 1, got {k!r}")
    if not 0.0 <= d < 1.0:
        raise ValueError(f"d: must be in [0, 1), got {d!r}")
    return (1.0 - d) * d ** np.arange(k)


def cascade_stable(k: int, d: float) -> bool:
    """Whether m_k > Σ_{l>k} m_l for every k of the hierarchical amplitudes (the cascade
    survives every sign configuration of the later patterns at T = 0)."""
    m = hierarchical_amplitudes(k, d)
    tails = np.cumsum(m[::-1])[::-1]
    return bool(np.all(m[:-1] > tails[1:]))


def cascade_state(patterns: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """σ_i = the first non-zero ξ_i^k in pattern order, ±1 at random where all are blank: int8 (N,)."""
    xi = np.asarray(patterns)
    if xi.ndim != 2:
        raise ValueError(f"patterns: must be 2-D (K, N), got shape {xi.shape}")
    first = np.argmax(xi != 0, axis=0)
    sigma = xi[first, np.arange(xi.shape[1])].astype(np.int8)
    blank = sigma == 0
    sigma[blank] = rng.choice(np.array([-1, 1], dtype=np.int8), size=int(blank.sum()))
    return sigma


STARTS = ("cascade", "random", "cue")


def start_state(patterns: np.ndarray, start: str, rng: np.random.Generator) -> np.ndarray:
    """The initial state: the ``"cascade"`` state, a ``"random"`` one, or a ``"cue"`` of pattern 1
    alone (ξ^1 on its non-blank sites, ±1 at random on its blanks): int8 (N,)."""
    xi = np.asarray(patterns)
    if start == "cascade":
        return cascade_state(xi, rng)
    if start not in STARTS:
        raise ValueError(f"start: must be one of {STARTS}, got {start!r}")
    if xi.ndim != 2:
        raise ValueError(f"patterns: must be 2-D (K, N), got shape {xi.shape}")
    sigma = rng.choice(np.array([-1, 1], dtype=np.int8), size=xi.shape[1])
    if start == "cue":
        sigma[xi[0] != 0] = xi[0][xi[0] != 0]
    return sigma


def parallel_retrieval(patterns: np.ndarray, beta: float, burn_in: int, samples: int,
                       seed: int | np.random.SeedSequence, energy=None, start: str = "cascade") -> np.ndarray:
    """Mean Mattis overlaps m_k (K,) of Glauber dynamics at β started from :func:`start_state`
    (the cascade by default); ``energy`` defaults to the storage network of ``patterns`` (pass
    a supervised or unsupervised energy to learn from examples)."""
    seq = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    start_seq, chain_seq = seq.spawn(2)
    sigma = start_state(patterns, start, np.random.default_rng(start_seq))
    energy = dense_hebbian.storage_energy(patterns, 2) if energy is None else energy
    m, _ = dense_hebbian.glauber_overlaps(energy, patterns, sigma, beta, burn_in, samples, chain_seq)
    return m[0]


# ------------------------------------------------------------------ low-load mean-field theory
#
# With J = (1/N) Σ_μ ξ^μ ξ^μᵀ and K finite, the free energy per neuron at β = 1/T is
#     f(m) = |m|²/2 − (1/β) E_ξ[ln 2cosh(β ξ·m)]
# (ξ one site's K entries: 3^K configurations, P(0) = d, P(±1) = (1 − d)/2). Its stationary
# points solve m_μ = E_ξ[ξ^μ tanh(β ξ·m)], its Hessian is H = 1 − β E_ξ[ξ ξᵀ sech²(β ξ·m)]
# (a state is locally stable iff H > 0), and the equilibrium is the global minimum of f.
#
# Phases (a state's sorted |m_μ|): paramagnetic (all 0), pure (one non-zero), parallel (all K
# equal and non-zero: the symmetric mixture) and hierarchical (the rest: unequal amplitudes).
# With a = 1 − d:
# - m = 0 is stable iff β a < 1: T_c = 1 − d for every K.
# - Expanding f to fourth order, f = (1 − βa)|m|²/2 + (β³/12)[(a − 3a²) Σ m_μ⁴ + 3a² |m|⁴]: just
#   below T_c the pure state wins for d < 2/3 and the parallel one for d > 2/3.
# - The pure state loses stability (a second pattern is retrieved on the blanks of the first) at
#   β a E[sech²(β ξ^1 m_1)] = 1, and the parallel state at its transverse eigenvalue
#   1 − β E[((ξ^1)² − ξ^1 ξ^2) sech²(β m Σ_ν ξ^ν)] = 0; below both the network is hierarchical.
#   For K = 2 the latter is β[a d sech²(βm) + a²] = 1, T ≈ (1 − d)² at strong dilution: the
#   parallel window T_s < T < T_c covers all T/T_c > a as cross-talk vanishes (d → 1), and
#   shrinks as it grows, as Bartolucci & Annibale (arXiv 1405.2454, J. Phys. A 2014) describe.
# - Just below d = 2/3 the parallel window sits inside the ordered phase (hierarchical above
#   and below it); for K >= 3 partly equal states near d = 2/3, e.g. (m, m, 0) or (m_1, m_2,
#   m_2), count as hierarchical here.

PARAMAGNETIC, PURE, PARALLEL, HIERARCHICAL = 0, 1, 2, 3
PHASES = ("paramagnetic", "pure", "parallel", "hierarchical")


def _check(k: int, d: float, beta: float | None = None) -> None:
    if int(k) != k or not 1 <= k <= 10:
        raise ValueError(f"k: must be an integer in [1, 10], got {k!r}")
    if not 0.0 <= d < 1.0:
        raise ValueError(f"d: must be in [0, 1), got {d!r}")
    if beta is not None and not beta > 0.0:
        raise ValueError(f"beta: must be > 0 (inf allowed), got {beta!r}")


@functools.lru_cache(maxsize=64)
def entry_configurations(k: int, d: float) -> tuple[np.ndarray, np.ndarray]:
    """The 3^K values (ξ^1..ξ^K) of one site, float (3^K, K), and their probabilities (3^K,)
    (read-only: cached)."""
    _check(k, d)
    grids = np.meshgrid(*([np.array([-1.0, 0.0, 1.0])] * k), indexing="ij")
    xi = np.stack([g.ravel() for g in grids], axis=1)
    p = np.prod(np.where(xi == 0.0, d, (1.0 - d) / 2.0), axis=1)
    xi.flags.writeable = p.flags.writeable = False
    return xi, p


def mean_field_map(m: np.ndarray, beta: float, d: float) -> np.ndarray:
    """E_ξ[ξ tanh(β ξ·m)] (E_ξ[ξ sign(ξ·m)], sign(0) = 0, at β = ∞): (K,)."""
    m = np.asarray(m, dtype=np.float64)
    _check(m.size, d, beta)
    xi, p = entry_configurations(m.size, d)
    h = xi @ m
    return (p * (np.sign(h) if beta == np.inf else np.tanh(beta * h))) @ xi


def free_energy(m: np.ndarray, beta: float, d: float) -> float:
    """f(m) = |m|²/2 − (1/β) E_ξ[ln 2cosh(β ξ·m)] (|m|²/2 − E|ξ·m| at β = ∞)."""
    m = np.asarray(m, dtype=np.float64)
    _check(m.size, d, beta)
    xi, p = entry_configurations(m.size, d)
    h = xi @ m
    if beta == np.inf:
        return float(m @ m / 2.0 - p @ np.abs(h))
    return float(m @ m / 2.0 - p @ np.logaddexp(beta * h, -beta * h) / beta)


def hessian(m: np.ndarray, beta: float, d: float) -> np.ndarray:
    """∂²f/∂m∂m = 1 − β E_ξ[ξ ξᵀ sech²(β ξ·m)] (finite β): (K, K)."""
    m = np.asarray(m, dtype=np.float64)
    _check(m.size, d, beta)
    if beta == np.inf:
        raise ValueError("beta: the Hessian needs a finite beta")
    xi, p = entry_configurations(m.size, d)
    sech2 = 1.0 / np.cosh(np.clip(beta * (xi @ m), -350.0, 350.0)) ** 2
    return np.eye(m.size) - beta * (xi.T * (p * sech2)) @ xi


def solve_overlaps(start: np.ndarray, beta: float, d: float, tol: float = 1e-12,
                   max_iter: int = 20_000) -> np.ndarray:
    """Fixed point of m ← E_ξ[ξ tanh(β ξ·m)] reached from ``start`` (iteration, then Newton
    steps on m − E[ξ tanh(β ξ·m)] once close, since iteration slows near a bifurcation)."""
    m = np.asarray(start, dtype=np.float64).copy()
    for _ in range(max_iter):
        new = mean_field_map(m, beta, d)
        step = np.abs(new - m).max()
        m = new
        if step < tol or (beta != np.inf and step < 1e-7):
            break
    if beta == np.inf:
        return m
    for _ in range(50):
        residual = m - mean_field_map(m, beta, d)
        if np.abs(residual).max() < tol:
            break
        try:
            delta = np.linalg.solve(hessian(m, beta, d), residual)
        except np.linalg.LinAlgError:
            break
        if np.abs(delta).max() > 1e-3:  # not near a fixed point: keep the iterate
            break
        m = m - delta
    return m


def classify(m: np.ndarray, tol: float = 1e-6) -> int:
    """PARAMAGNETIC, PURE, PARALLEL or HIERARCHICAL from the sorted |m_μ| (``tol`` absolute)."""
    a = np.sort(np.abs(np.asarray(m, dtype=np.float64)))[::-1]
    if a[0] < tol:
        return PARAMAGNETIC
    if a.size == 1 or a[1] < tol:
        return PURE
    return PARALLEL if a[0] - a[-1] < tol else HIERARCHICAL


def _starts(k: int, d: float) -> list[np.ndarray]:
    """Cascade, parallel, pure and two-pattern starts, nudged off their symmetric manifolds
    (which the iteration preserves) so that a start at a saddle moves to a minimum."""
    a = 1.0 - d
    starts = [hierarchical_amplitudes(k, d), np.full(k, a), a * np.eye(k)[0]]
    if k > 2:
        starts.append(a * (np.arange(k) < 2))
    nudge = 1e-4 * a * np.linspace(1.0, -1.0, k)
    return [s + nudge for s in starts]


def equilibrium_overlaps(k: int, beta: float, d: float) -> np.ndarray:
    """Sorted |m| of the lowest-free-energy fixed point among those reached from the cascade,
    parallel, pure and (K > 2) two-pattern starts: the equilibrium state, (K,). Near a
    continuous transition the iteration converges slowly; Newton steps finish it."""
    _check(k, d, beta)
    best, best_f = None, np.inf
    for start in _starts(k, d):
        m = solve_overlaps(start, beta, d)
        f = free_energy(m, beta, d)
        if f < best_f - 1e-13:
            best, best_f = m, f
    return np.sort(np.abs(best))[::-1]


def equilibrium_phase(k: int, beta: float, d: float) -> int:
    """The phase of :func:`equilibrium_overlaps` (tolerance 1e-5: iteration may stop short of
    exact equality near a bifurcation)."""
    return classify(equilibrium_overlaps(k, beta, d), 1e-5)


def paramagnetic_temperature(d: float) -> float:
    """T_c = 1 − d: m = 0 loses stability when β E[(ξ^μ)²] = β (1 − d) reaches 1 (every K)."""
    _check(1, d)
    return 1.0 - d


def _positive_root(g, a: float) -> float:
    """The root m in (0, a] of m = g(m) with g(0) = 0, g'(0) > 1 and g(a) < a; 0 if g'(0) <= 1
    (checked just above 0)."""
    from scipy.optimize import brentq

    low = 1e-9 * a
    if low - g(low) >= 0.0:
        return 0.0
    return float(brentq(lambda m: m - g(m), low, a, xtol=1e-15, rtol=1e-14))


def pure_overlap(beta: float, d: float) -> float:
    """m_1 > 0 solving m_1 = (1 − d) tanh(β m_1) (pure state; 0 at T >= 1 − d)."""
    _check(1, d, beta)
    a = 1.0 - d
    return a if beta == np.inf else _positive_root(lambda m: a * np.tanh(beta * m), a)


def symmetric_overlap(k: int, beta: float, d: float) -> float:
    """m > 0 of the parallel state m_μ = m: m = E_ξ[ξ^1 tanh(β m Σ_ν ξ^ν)] (0 at T >= 1 − d)."""
    _check(k, d, beta)
    return _positive_root(lambda m: mean_field_map(np.full(k, m), beta, d)[0], 1.0 - d)


def pure_eigenvalue(k: int, beta: float, d: float) -> float:
    """Smallest Hessian eigenvalue of the pure state (m_1, 0, …, 0)."""
    m = np.zeros(k)
    m[0] = pure_overlap(beta, d)
    return float(np.linalg.eigvalsh(hessian(m, beta, d))[0])


def parallel_eigenvalue(k: int, beta: float, d: float) -> float:
    """Smallest Hessian eigenvalue of the parallel state (m, …, m)."""
    return float(np.linalg.eigvalsh(hessian(np.full(k, symmetric_overlap(k, beta, d)), beta, d))[0])


def _stable_window(eigenvalue, k: int, d: float, points: int = 100) -> tuple[float, float]:
    """(T_low, T_high): the highest interval of T in (0, T_c) where ``eigenvalue(k, 1/T, d)``
    is positive (the state locally stable), its ends found by bisection on a grid of
    ``points`` temperatures; (NaN, NaN) if there is none. T_high = T_c when the state is
    stable just below T_c; T_low = NaN if it stays stable down to 0.005 T_c."""
    from scipy.optimize import brentq

    def root(lo: float, hi: float) -> float:
        return float(brentq(lambda t: eigenvalue(k, 1.0 / t, d), lo, hi, xtol=1e-10))

    t_c = paramagnetic_temperature(d)
    grid = t_c * np.linspace(0.995, 0.005, points)
    stable = np.array([eigenvalue(k, 1.0 / t, d) > 0.0 for t in grid])
    if not stable.any():
        return float("nan"), float("nan")
    top = int(np.argmax(stable))
    high = t_c if top == 0 else root(grid[top], grid[top - 1])
    below = np.flatnonzero(~stable[top:])
    low = float("nan") if below.size == 0 else root(grid[top + below[0]], grid[top + below[0] - 1])
    return low, high


def pure_window(k: int, d: float) -> tuple[float, float]:
    """(T_low, T_high) where the pure state is stable: for d < 2/3 T_high = T_c, and at T_low
    a second pattern is retrieved on the blanks of the first (the pure–hierarchical boundary,
    β(1 − d)[d + (1 − d) sech²(β m_1)] = 1); NaN, NaN for d >= 2/3 or K = 1."""
    _check(k, d)
    return (float("nan"),) * 2 if k < 2 else _stable_window(pure_eigenvalue, k, d)


def parallel_window(k: int, d: float) -> tuple[float, float]:
    """(T_low, T_high) where the parallel state is stable: for d > 2/3 T_high = T_c and T_low is
    the parallel–hierarchical boundary; just below d = 2/3 the window lies inside the ordered
    phase (T_high < T_c, hierarchical on both sides); NaN, NaN where it is never stable."""
    _check(k, d)
    return (float("nan"),) * 2 if k < 2 else _stable_window(parallel_eigenvalue, k, d)


# ------------------------------------------------------------------ simulated phase boundaries


def balanced_archetypes(k: int, n: int, d: float, rng: np.random.Generator) -> np.ndarray:
    """Diluted archetypes (K, N) int8 without the O(N^{-1/2}) finite-size cross-talk: each has
    exactly round((1 − d) N) non-blank sites (placed at random), and the signs of pattern μ are
    split evenly (±1 in equal numbers, one left over where a count is odd) within each class
    of sites sharing the entries of patterns 1..μ−1, so that ξ^μ·ξ^ν = O(1) instead of O(√N).
    In random patterns those O(√N) terms are quenched fields that round the transitions at
    finite N (the pure state's m_2 responds to ξ^1·ξ^2/N with a susceptibility that stays large
    over the whole pure region); the entries' statistics are otherwise those of
    :func:`neurosim.models.dense_hebbian.archetypes`."""
    _check(k, d)
    if n < 1:
        raise ValueError(f"n: must be >= 1, got {n!r}")
    xi = np.zeros((k, n), dtype=np.int8)
    support = round((1.0 - d) * n)
    for mu in range(k):
        sites = np.sort(rng.choice(n, size=support, replace=False))
        _, cls = np.unique(xi[:mu, sites].T, axis=0, return_inverse=True) if mu else (None, np.zeros(support, int))
        for c in np.unique(cls):
            members = rng.permutation(sites[cls == c])
            signs = np.where(np.arange(members.size) < members.size // 2, 1, -1).astype(np.int8)
            if members.size % 2:
                signs[-1] = rng.choice(np.array([-1, 1], dtype=np.int8))
            xi[mu, members] = signs
    return xi


def simulated_amplitudes(k: int, n: int, d: float, temperatures, burn_in: int, samples: int,
                         seed: int | np.random.SeedSequence, start: str = "cascade", networks: int = 1,
                         balanced: bool = False) -> np.ndarray:
    """Sorted |m_μ| (len(temperatures), K) of Glauber dynamics of the storage network at each
    temperature, from ``start``, averaged over ``networks`` pattern sets (one set per network,
    shared by all temperatures; :func:`balanced_archetypes` if ``balanced``)."""
    _check(k, d)
    temps = np.asarray(temperatures, dtype=np.float64)
    if temps.ndim != 1 or not np.all(temps > 0):
        raise ValueError("temperatures: must be a 1-D list of values > 0")
    seq = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    out = np.zeros((temps.size, k))
    for net_seq in seq.spawn(networks):
        data_seq, *run_seqs = net_seq.spawn(1 + temps.size)
        rng = np.random.default_rng(data_seq)
        xi = balanced_archetypes(k, n, d, rng) if balanced else dense_hebbian.archetypes(k, n, rng, d)
        energy = dense_hebbian.storage_energy(xi, 2)
        for j, (t, run_seq) in enumerate(zip(temps, run_seqs)):
            m = parallel_retrieval(xi, 1.0 / t, burn_in, samples, run_seq, energy, start)
            out[j] += np.sort(np.abs(m))[::-1]
    return out / networks


def extrapolated_onset(temperatures, order_squared, low: float = 0.03, high: float = 0.6) -> float:
    """Temperature at which an order parameter q = x² vanishes: the root of a straight line
    fitted to the (T, q) points with low·max(q) <= q <= high·max(q) (mean-field: q ∝ T_b − T
    near a continuous transition; the window keeps away from both the finite-N rounding at
    T_b and the curvature far below it). NaN with fewer than two such points."""
    t = np.asarray(temperatures, dtype=np.float64)
    q = np.asarray(order_squared, dtype=np.float64)
    if t.shape != q.shape or t.ndim != 1:
        raise ValueError("order_squared: must match temperatures (1-D)")
    top = q.max()
    chosen = (q >= low * top) & (q <= high * top)
    if top <= 0 or chosen.sum() < 2:
        return float("nan")
    slope, intercept = np.polyfit(t[chosen], q[chosen], 1)
    return float(-intercept / slope) if slope < 0 else float("nan")


def simulated_phase(amplitudes: np.ndarray, d: float, floor: float = 0.2, equal: float = 0.1) -> int:
    """Rough phase of simulated sorted |m|: paramagnetic if m_1 < ``floor``·(1 − d), pure if
    m_2 < ``floor``·d·m_1 (d·m_1 is m_2 of the T = 0 cascade), parallel if
    m_1 − m_K < ``equal``·m_1, else hierarchical. Finite-N noise makes thresholds necessary;
    boundaries are measured by :func:`extrapolated_onset`, not by these."""
    a = np.asarray(amplitudes, dtype=np.float64)
    if a[0] < floor * (1.0 - d):
        return PARAMAGNETIC
    if a.size == 1 or a[1] < floor * d * a[0]:
        return PURE
    return PARALLEL if a[0] - a[-1] < equal * a[0] else HIERARCHICAL
