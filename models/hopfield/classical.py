"""Classical Hopfield network (Hopfield 1982; Amit, Gutfreund & Sompolinsky 1985).

Patterns ξ^μ ∈ {±1}^N, μ = 1..K; Hebbian couplings J_ij = (1/N) Σ_μ ξ_i^μ ξ_j^μ, J_ii = 0;
energy H(σ) = −½ Σ_ij J_ij σ_i σ_j; local field h_i = Σ_j J_ij σ_j.

- asynchronous zero-temperature dynamics: σ_i ← sign(h_i) one site at a time (a site with
  h_i = 0 keeps its value), sweeping i = 0..N−1 until a sweep changes nothing; H never
  increases;
- synchronous dynamics: σ ← sign(J σ) for all sites at once (h_i = 0 keeps σ_i);
- Glauber dynamics at temperature T = 1/β: site i takes the value +1 with probability
  1 / (1 + exp(−2β h_i)), i.e. flips with probability 1 / (1 + exp(β ΔH_i)), ΔH_i = 2σ_i h_i.

The kernels take any symmetric coupling matrix with a zero diagonal (clipped or diluted
couplings as well). Storage capacity (AGS): α_c = K/N ≈ 0.138 at T = 0, with a retrieval
overlap m ≈ 0.967 just below it.
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from neurosim.engine.jit_cache import njit
from neurosim.models.chain_rng import check_streams, glauber_accept
from neurosim.models.overlap_mc import as_spins

#: AGS storage capacity at T = 0 and the retrieval overlap there (:func:`ags_overlap`)
ALPHA_C, M_C = 0.1379, 0.9671


def random_patterns(k: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """K unbiased patterns of N ±1 entries: int8 (K, N)."""
    if k < 1 or n < 1:
        raise ValueError(f"patterns: need k >= 1 and n >= 1, got k={k}, n={n}")
    return rng.choice(np.array([-1, 1], dtype=np.int8), size=(k, n))


def hebbian_couplings(patterns: np.ndarray) -> np.ndarray:
    """J_ij = (1/N) Σ_μ ξ_i^μ ξ_j^μ with J_ii = 0: float64 (N, N)."""
    xi = np.asarray(patterns, dtype=np.float64)
    if xi.ndim != 2:
        raise ValueError(f"patterns: must be 2-D (K, N), got shape {xi.shape}")
    j = xi.T @ xi / xi.shape[1]
    np.fill_diagonal(j, 0.0)
    return j


def _check_couplings(couplings: np.ndarray) -> np.ndarray:
    j = np.ascontiguousarray(couplings, dtype=np.float64)
    if j.ndim != 2 or j.shape[0] != j.shape[1]:
        raise ValueError(f"couplings: must be a square matrix, got shape {j.shape}")
    return j


def energy(couplings: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """H(σ) = −½ σᵀ J σ for every state: (B,)."""
    j = _check_couplings(couplings)
    s = as_spins(sigma, j.shape[0]).astype(np.float64)
    return -0.5 * np.einsum("bi,ij,bj->b", s, j, s)


def synchronous_step(couplings: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """One synchronous update σ ← sign(J σ) (sites with h_i = 0 keep their value): (B, N)."""
    j = _check_couplings(couplings)
    s = as_spins(sigma, j.shape[0])
    h = s.astype(np.float64) @ j  # J symmetric
    return np.where(h > 0, 1, np.where(h < 0, -1, s)).astype(np.int8)


@njit(cache=True, parallel=True)
def _sweeps(j, sigma, state, beta, n_sweeps, flips):
    n = j.shape[0]
    zero_t = beta == np.inf
    for b in prange(sigma.shape[0]):
        sig = sigma[b]
        h = np.zeros(n)
        for i in range(n):
            for k in range(n):
                h[k] += j[i, k] * sig[i]  # J symmetric: rows are contiguous
        rng = state[b]
        total = 0
        for _ in range(n_sweeps):
            flipped = 0
            for i in range(n):
                de = 2.0 * sig[i] * h[i]
                accept, rng = glauber_accept(de, beta, rng)
                if accept:
                    delta = -2.0 * sig[i]
                    sig[i] = -sig[i]
                    for k in range(n):
                        h[k] += j[i, k] * delta
                    flipped += 1
            total += flipped
            if zero_t and flipped == 0:
                break
        state[b] = rng
        flips[b] = total


def glauber(couplings: np.ndarray, sigma: np.ndarray, rng_state: np.ndarray, beta: float,
            n_sweeps: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n_sweeps`` Glauber sweeps at inverse temperature ``beta`` of the states (B, N);
    ``beta = inf`` gives the asynchronous zero-temperature dynamics, which stops once a sweep
    changes nothing. Returns (new sigma, new rng states, flips per chain)."""
    j = _check_couplings(couplings)
    s = as_spins(sigma, j.shape[0]).copy()
    state = check_streams(rng_state, s.shape[0])
    if not beta >= 0:
        raise ValueError(f"beta: must be >= 0 (inf for zero temperature), got {beta!r}")
    flips = np.zeros(s.shape[0], dtype=np.int64)
    _sweeps(j, s, state, float(beta), int(n_sweeps), flips)
    return s, state, flips


def asynchronous(couplings: np.ndarray, sigma: np.ndarray, max_sweeps: int = 100) -> np.ndarray:
    """Zero-temperature asynchronous dynamics until no site changes (or ``max_sweeps``)."""
    s, _, _ = glauber(couplings, sigma, np.zeros(np.atleast_2d(sigma).shape[0], np.uint64), np.inf, max_sweeps)
    return s


def ags_overlap(alpha: float, iterations: int = 100_000) -> float:
    """Retrieval overlap of the replica-symmetric AGS theory at T = 0 and load α, or NaN
    beyond the retrieval phase. Fixed point of

        m = erf(m / √(2αr)),   C = √(2/(παr)) exp(−m² / (2αr)),   r = 1 / (1 − C)²

    iterated from m = 1, r = 1; the solution disappears at α_c ≈ 0.138 with m ≈ 0.967."""
    if not alpha > 0:
        raise ValueError(f"alpha: must be > 0, got {alpha!r}")
    m, r = 1.0, 1.0
    for _ in range(iterations):
        y = m / math.sqrt(2.0 * alpha * r)
        c = math.sqrt(2.0 / (math.pi * alpha * r)) * math.exp(-y * y)
        if c >= 1.0:
            return math.nan
        m_new, r = math.erf(y), 1.0 / (1.0 - c) ** 2
        if abs(m_new - m) < 1e-13:
            return m_new if m_new > 0.5 else math.nan
        m = m_new
    return m if m > 0.5 else math.nan
