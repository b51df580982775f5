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

Zero-temperature, low-load reference (K = 1, supervised, P even): the minimum of H_sup is
σ = sign(Σ_a η^a), whose overlap with the archetype is P(majority of M examples right) −
P(wrong) (:func:`supervised_overlap_zero_t`, odd M), → erf(1/√(2ρ)) for large M: the
threshold depends on ρ only, and m → 1, the Hopfield value, as M grows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from neurosim.models.chain_rng import streams
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


def supervised_energy(data: Dataset, p: int) -> OverlapEnergy:
    """H_sup: patterns ζ^μ = Σ_a η^{μa} (int16), scale (N/P!) (N R M)^−P."""
    p = _check_power(p)
    sums = data.examples.sum(axis=1, dtype=np.int16)
    return OverlapEnergy(sums, np.ones(data.k), data.n / math.factorial(p) / (data.n * _norm(data) * data.m) ** p, p)


def unsupervised_energy(data: Dataset, p: int) -> OverlapEnergy:
    """H_uns: patterns ζ^{μa} = η^{μa}, weights 1/M, scale (N/P!) (N R)^−P."""
    p = _check_power(p)
    flat = data.examples.reshape(data.k * data.m, data.n)
    return OverlapEnergy(flat, np.full(flat.shape[0], 1.0 / data.m), data.n / math.factorial(p) / (data.n * _norm(data)) ** p, p)


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


def glauber_overlaps(energy: OverlapEnergy, observed: np.ndarray, sigma: np.ndarray, beta: float,
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
        s, state, _ = sweep(energy, s, state, beta, burn_in + samples)
        return mattis_overlaps(observed, s), s
    s, state, _ = sweep(energy, s, state, beta, burn_in)
    total = np.zeros((s.shape[0], np.asarray(observed).shape[0]))
    for _ in range(samples):
        s, state, _ = sweep(energy, s, state, beta, 1)
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
