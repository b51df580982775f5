"""Dense Hebbian learning from examples (Agliari, Albanese, Alemanno, Alessandrelli, Barra,
Giannotti, Lotito, Pedreschi: supervised arXiv 2212.00606, unsupervised arXiv 2211.14067).

Data: K archetypes ξ^μ ∈ {±1}^N (entries 0 with probability ``dilution`` d, the multitasking
network's blanks), M examples per archetype η_i^{μa} = χ_i^{μa} ξ_i^μ with
P(χ = ±1) = (1 ± r)/2 (quality r). Dataset entropy ρ = (1 − r²)/(M r²).

P-body costs (P even), with R = r √((1 − d)(1 + ρ)) so that the normalised class sum has unit
second moment per non-blank site:

- supervised (product of class means):
      H_sup(σ) = −(N/P!) Σ_μ ( (1/(N R M)) Σ_a η^{μa}·σ )^P
- unsupervised (average of products):
      H_uns(σ) = −(N/P!) Σ_μ (1/M) Σ_a ( (1/(N R)) η^{μa}·σ )^P
- storage (the Hopfield limit M → ∞): H(σ) = −(N/P!) Σ_μ (ξ^μ·σ / N)^P.

Each is an :class:`~neurosim.models.overlap_mc.OverlapEnergy`: the couplings
J_{i1..iP} ∝ Σ_μ Π_k (Σ_a η^{μa}_{ik}) are never formed; a single-spin update costs O(K)
(supervised, storage) or O(K M) (unsupervised) through the overlaps. Glauber dynamics at
β = 1/T as in that module; order parameters are the Mattis overlaps with the archetypes
m_μ = ξ^μ·σ / N and with the examples n_{μa} = η^{μa}·σ / N.

The papers' normalisation r² + (1 − r²)/M = r²(1 + ρ) (as recorded in the project's notes; their
full text was not reachable) is R² here at d = 0: each factor is divided by its square root.
:mod:`neurosim.models.dense_hebbian_theory` solves the replica-symmetric equations of exactly
these energies (full index sums, self-interaction terms included) with the same R.
``self_interaction=False`` builds a :class:`DistinctEnergy` instead: the same couplings summed over
distinct sites only (the convention in which M → ∞ gives the P-spin Hopfield equations for both
rules), at O(L P²) per flip.

Zero-temperature, low-load reference (K = 1, supervised, P even): the minimum of H_sup is
σ = sign(Σ_a η^a), whose overlap with the archetype is P(majority of M examples right) −
P(wrong) (:func:`supervised_overlap_zero_t`, odd M), → erf(1/√(2ρ)) for large M: the
threshold depends on ρ only, and m → 1, the Hopfield value, as M grows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from numba import prange

from neurosim.engine.jit_cache import njit
from neurosim.models.chain_rng import check_streams, glauber_accept, streams
from neurosim.models.overlap_mc import OverlapEnergy, as_spins, sweep


@dataclass(frozen=True)
class Dataset:
    """Archetypes (K, N) and examples (K, M, N), int8, with the quality and dilution used."""

    archetypes: np.ndarray
    examples: np.ndarray
    quality: float
    dilution: float = 0.0

    @property
    def k(self) -> int:
        return self.archetypes.shape[0]

    @property
    def m(self) -> int:
        return self.examples.shape[1]

    @property
    def n(self) -> int:
        return self.archetypes.shape[1]

    @property
    def entropy(self) -> float:
        return dataset_entropy(self.quality, self.m)


def dataset_entropy(r: float, m: int) -> float:
    """ρ = (1 − r²) / (M r²)."""
    if not 0.0 < r <= 1.0:
        raise ValueError(f"r: must be in (0, 1], got {r!r}")
    if m < 1:
        raise ValueError(f"m: must be >= 1, got {m!r}")
    return (1.0 - r * r) / (m * r * r)


def archetypes(k: int, n: int, rng: np.random.Generator, dilution: float = 0.0) -> np.ndarray:
    """K patterns of N entries: 0 with probability d, else ±1 with equal probability: int8."""
    if k < 1 or n < 1:
        raise ValueError(f"archetypes: need k >= 1 and n >= 1, got k={k}, n={n}")
    if not 0.0 <= dilution < 1.0:
        raise ValueError(f"dilution: must be in [0, 1), got {dilution!r}")
    signs = rng.choice(np.array([-1, 1], dtype=np.int8), size=(k, n))
    return np.where(rng.random((k, n)) < dilution, 0, signs).astype(np.int8)


def make_dataset(k: int, n: int, m: int, r: float, rng: np.random.Generator, dilution: float = 0.0) -> Dataset:
    """Archetypes and M examples of each, η = χ ξ with P(χ = ±1) = (1 ± r)/2."""
    dataset_entropy(r, m)
    if m > 32767:
        raise ValueError(f"m: at most 32767 examples per archetype, got {m}")
    xi = archetypes(k, n, rng, dilution)
    chi = np.where(rng.random((k, m, n)) < (1.0 + r) / 2.0, 1, -1).astype(np.int8)
    return Dataset(xi, chi * xi[:, None, :], float(r), float(dilution))


def _check_power(p: int) -> int:
    if isinstance(p, bool) or int(p) != p or p < 2 or p % 2:
        raise ValueError(f"p: must be an even integer >= 2, got {p!r}")
    return int(p)


def _norm(data: Dataset) -> float:
    """R = r √((1 − d)(1 + ρ))."""
    return data.quality * math.sqrt((1.0 - data.dilution) * (1.0 + data.entropy))


def supervised_energy(data: Dataset, p: int, self_interaction: bool = True) -> "OverlapEnergy | DistinctEnergy":
    """H_sup: patterns ζ^μ = Σ_a η^{μa} (int16), scale (N/P!) (N R M)^−P; without the
    repeated-index terms (:class:`DistinctEnergy`) when ``self_interaction`` is false."""
    p = _check_power(p)
    sums = data.examples.sum(axis=1, dtype=np.int16)
    kind = OverlapEnergy if self_interaction else DistinctEnergy
    return kind(sums, np.ones(data.k), data.n / math.factorial(p) / (data.n * _norm(data) * data.m) ** p, p)


def unsupervised_energy(data: Dataset, p: int, self_interaction: bool = True) -> "OverlapEnergy | DistinctEnergy":
    """H_uns: patterns ζ^{μa} = η^{μa}, weights 1/M, scale (N/P!) (N R)^−P; without the
    repeated-index terms when ``self_interaction`` is false."""
    p = _check_power(p)
    flat = data.examples.reshape(data.k * data.m, data.n)
    kind = OverlapEnergy if self_interaction else DistinctEnergy
    return kind(flat, np.full(flat.shape[0], 1.0 / data.m), data.n / math.factorial(p) / (data.n * _norm(data)) ** p, p)


@dataclass(frozen=True)
class DistinctEnergy:
    """E(σ) = −scale Σ_ℓ w_ℓ Σ_{i1..iP distinct} Π_k ζ^ℓ_{ik} σ_{ik}: the P-body energy of the
    same patterns without the repeated-index (self-interaction) terms of
    :class:`~neurosim.models.overlap_mc.OverlapEnergy`. With y_i = ζ_i σ_i the inner sum is
    P! e_P(y), e_P from the power sums p_k = Σ_i y_i^k by Newton's identities
    k e_k = Σ_{j=1..k} (−1)^{j−1} e_{k−j} p_j; since σ_i² = 1, p_k = Σ_i ζ_i^k is constant for
    even k and the overlap ζ^k·σ for odd k, so a flip updates P/2 overlaps per pattern."""

    patterns: np.ndarray
    weights: np.ndarray
    scale: float
    power: int

    def __post_init__(self):
        check = OverlapEnergy(self.patterns, self.weights, self.scale, self.power)
        object.__setattr__(self, "patterns", check.patterns)
        object.__setattr__(self, "weights", check.weights)

    @property
    def n(self) -> int:
        return self.patterns.shape[1]

    def powers(self) -> np.ndarray:
        """ζ_i^k for k = 1..P: (N, L, P) float64."""
        z = self.patterns.T.astype(np.float64)
        return np.ascontiguousarray(np.stack([z**k for k in range(1, self.power + 1)], axis=2))

    def power_sums(self, sigma: np.ndarray) -> np.ndarray:
        """p_k = Σ_i ζ_i^k σ_i^k for every state: (B, L, P)."""
        s = as_spins(sigma, self.n).astype(np.float64)
        zk = self.powers()
        parity = np.arange(1, self.power + 1) % 2
        odd = np.einsum("bi,ilk->blk", s, zk)
        even = zk.sum(axis=0)[None]
        return np.ascontiguousarray(np.where(parity == 1, odd, even))

    def value(self, sigma: np.ndarray) -> np.ndarray:
        """E(σ) for every state: (B,)."""
        ps = self.power_sums(sigma)
        out = np.empty(ps.shape[:2])
        for b in range(ps.shape[0]):
            for ell in range(ps.shape[1]):
                out[b, ell] = _distinct_sum(ps[b, ell])
        return -self.scale * out @ self.weights


@njit(cache=True)
def _distinct_sum(p):
    """P! e_P from the power sums p[0..P−1] = p_1..p_P (Newton's identities)."""
    n_p = p.shape[0]
    e = np.zeros(n_p + 1)
    e[0] = 1.0
    for k in range(1, n_p + 1):
        acc = 0.0
        sign = 1.0
        for j in range(1, k + 1):
            acc += sign * e[k - j] * p[j - 1]
            sign = -sign
        e[k] = acc / k
    fact = 1.0
    for k in range(2, n_p + 1):
        fact *= k
    return fact * e[n_p]


@njit(cache=True, parallel=True)
def _distinct_sweeps(zk, weights, scale, sigma, ps, state, beta, n_sweeps):
    """Glauber sweeps (systematic scan) of :class:`DistinctEnergy`; ``ps`` (B, L, P) in place."""
    n, n_patterns, n_p = zk.shape
    zero_t = beta == np.inf
    for b in prange(sigma.shape[0]):
        rng = state[b]
        sig = sigma[b]
        trial = np.empty(n_p)
        for _ in range(n_sweeps):
            flipped = 0
            for i in range(n):
                si = sig[i]
                de = 0.0
                for ell in range(n_patterns):
                    for k in range(n_p):
                        trial[k] = ps[b, ell, k] - 2.0 * si * zk[i, ell, k] if k % 2 == 0 else ps[b, ell, k]
                    de += weights[ell] * (_distinct_sum(trial) - _distinct_sum(ps[b, ell]))
                accept, rng = glauber_accept(-scale * de, beta, rng)
                if accept:
                    sig[i] = -si
                    for ell in range(n_patterns):
                        for k in range(0, n_p, 2):
                            ps[b, ell, k] -= 2.0 * si * zk[i, ell, k]
                    flipped += 1
            if zero_t and flipped == 0:
                break
        state[b] = rng


def _sweep(energy: "OverlapEnergy | DistinctEnergy", s: np.ndarray, state: np.ndarray, beta: float,
           n_sweeps: int) -> tuple[np.ndarray, np.ndarray]:
    """``n_sweeps`` Glauber sweeps of either energy kind: (new states, new rng states)."""
    if isinstance(energy, OverlapEnergy):
        s, state, _ = sweep(energy, s, state, beta, n_sweeps)
        return s, state
    s = as_spins(s, energy.n).copy()
    state = check_streams(state, s.shape[0]).copy()
    _distinct_sweeps(energy.powers(), energy.weights, float(energy.scale), s, energy.power_sums(s), state,
                     float(beta), int(n_sweeps))
    return s, state


def storage_energy(patterns: np.ndarray, p: int) -> OverlapEnergy:
    """H = −(N/P!) Σ_μ (ξ^μ·σ / N)^P: the P-body Hopfield network of the patterns."""
    p = _check_power(p)
    xi = np.asarray(patterns)
    return OverlapEnergy(xi.astype(np.int8), np.ones(xi.shape[0]), xi.shape[1] / math.factorial(p) / xi.shape[1] ** p, p)


def mattis_overlaps(patterns: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """m_μ = ξ^μ·σ / N for every state: (B, K) (patterns (K, N), or examples (K, M, N) ->
    (B, K, M))."""
    xi = np.asarray(patterns)
    s = as_spins(sigma, xi.shape[-1]).astype(np.float64)
    return np.tensordot(s, xi.astype(np.float64), axes=([1], [xi.ndim - 1])) / xi.shape[-1]


def glauber_overlaps(energy: "OverlapEnergy | DistinctEnergy", observed: np.ndarray, sigma: np.ndarray, beta: float,
                     burn_in: int, samples: int, seed: int | np.random.SeedSequence) -> tuple[np.ndarray, np.ndarray]:
    """Run ``burn_in`` Glauber sweeps from ``sigma`` (B, N), then ``samples`` sweeps measuring
    the Mattis overlaps with ``observed`` (K, N) after each; returns (mean overlaps (B, K),
    final states). At β = ∞ the zero-temperature dynamics stop once stable and the overlaps of
    the fixed point are returned."""
    if burn_in < 0 or samples < 1:
        raise ValueError(f"samples: need burn_in >= 0 and samples >= 1, got {burn_in}, {samples}")
    s = as_spins(sigma, energy.n)
    state = streams(seed, s.shape[0])
    if beta == np.inf:
        s, state = _sweep(energy, s, state, beta, burn_in + samples)
        return mattis_overlaps(observed, s), s
    s, state = _sweep(energy, s, state, beta, burn_in)
    total = np.zeros((s.shape[0], np.asarray(observed).shape[0]))
    for _ in range(samples):
        s, state = _sweep(energy, s, state, beta, 1)
        total += mattis_overlaps(observed, s)
    return total / samples, s


def supervised_overlap_zero_t(r: float, m: int) -> float:
    """E[ξ sign(Σ_a η^a)] = P(Bin(M, (1+r)/2) > M/2) − P(< M/2): the archetype overlap of the
    zero-temperature supervised minimum for K = 1 (ties at even M count 0)."""
    dataset_entropy(r, m)
    q = (1.0 + r) / 2.0
    right = sum(math.comb(m, j) * q**j * (1 - q) ** (m - j) for j in range(m // 2 + 1, m + 1))
    wrong = sum(math.comb(m, j) * q**j * (1 - q) ** (m - j) for j in range(0, (m + 1) // 2))
    return right - wrong


def hopfield_overlap(beta: float, p: int) -> float:
    """Retrieval solution of m = tanh(β m^{P−1} / (P−1)!) (the storage network's mean-field
    overlap at low load), iterated from m = 1; 1 at β = ∞."""
    p = _check_power(p)
    if beta == np.inf:
        return 1.0
    m = 1.0
    for _ in range(10_000):
        new = math.tanh(beta * m ** (p - 1) / math.factorial(p - 1))
        if abs(new - m) < 1e-14:
            break
        m = new
    return m
