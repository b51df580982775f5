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


def parallel_retrieval(patterns: np.ndarray, beta: float, burn_in: int, samples: int,
                       seed: int | np.random.SeedSequence, energy=None) -> np.ndarray:
    """Mean Mattis overlaps m_k (K,) of Glauber dynamics at β started from the cascade state;
    ``energy`` defaults to the storage network of ``patterns`` (pass a supervised or
    unsupervised energy to learn from examples)."""
    seq = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    start_seq, chain_seq = seq.spawn(2)
    sigma = cascade_state(patterns, np.random.default_rng(start_seq))
    energy = dense_hebbian.storage_energy(patterns, 2) if energy is None else energy
    m, _ = dense_hebbian.glauber_overlaps(energy, patterns, sigma, beta, burn_in, samples, chain_seq)
    return m[0]
