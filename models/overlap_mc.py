"""Single-spin Monte Carlo of energies that depend on the spins only through pattern overlaps.

    E(σ) = −scale · Σ_ℓ w_ℓ F(s_ℓ),   s_ℓ = ζ^ℓ · σ = Σ_i ζ_i^ℓ σ_i,   F(x) = xᴾ or max(x, 0)ᴾ

σ ∈ {−1, +1}^N; ζ^ℓ are integer pattern vectors (L of them). This one form covers the
Krotov–Hopfield dense memory (ζ = ξ, w = 1, scale = 1), the P-body Hebbian networks of
Agliari et al. (ζ = archetypes, class sums of examples or single examples) and the diluted
multitasking network. Flipping spin i changes every overlap by −2 ζ_i^ℓ σ_i, so the exact
energy difference

    ΔE_i = −scale · Σ_ℓ w_ℓ [F(s_ℓ − 2 ζ_i^ℓ σ_i) − F(s_ℓ)]

costs O(L) and an accepted flip updates the L overlaps in O(L): no coupling tensor (N^P
entries) is ever formed. Sweeps visit the sites in order 0..N−1 (systematic scan). At inverse
temperature β a site flips with the Glauber (heat-bath) probability 1 / (1 + exp(β ΔE)); at
β = ∞ it flips iff ΔE < 0 (zero-temperature asynchronous dynamics: E never increases), and a
chain stops as soon as one whole sweep flips nothing.

Random numbers: one stream per chain (:mod:`neurosim.models.chain_rng`); chains run in
parallel (``prange``) and results do not depend on the thread count.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numba import prange

from neurosim.engine.jit_cache import njit
from neurosim.models.chain_rng import check_streams, glauber_accept


@dataclass(frozen=True)
class OverlapEnergy:
    """E(σ) = −scale Σ_ℓ w_ℓ F(ζ^ℓ·σ) with F(x) = x^power (max(x, 0)^power if ``rectified``).

    ``patterns``: integer array (L, N) of the ζ^ℓ; ``weights``: (L,) non-negative.
    """

    patterns: np.ndarray
    weights: np.ndarray
    scale: float = 1.0
    power: int = 2
    rectified: bool = False
    by_site: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        patterns = np.asarray(self.patterns)
        weights = np.asarray(self.weights, dtype=np.float64)
        if patterns.ndim != 2 or patterns.shape[0] < 1 or patterns.shape[1] < 1:
            raise ValueError(f"patterns: must be a non-empty 2-D array (L, N), got shape {patterns.shape}")
        if patterns.dtype.kind not in "iu":
            raise ValueError(f"patterns: must be integers, got dtype {patterns.dtype}")
        if weights.shape != (patterns.shape[0],) or not np.all(np.isfinite(weights)) or np.any(weights < 0):
            raise ValueError(f"weights: must be {patterns.shape[0]} finite values >= 0")
        if not (np.isfinite(self.scale) and self.scale > 0):
            raise ValueError(f"scale: must be finite and > 0, got {self.scale!r}")
        if int(self.power) != self.power or self.power < 1:
            raise ValueError(f"power: must be an integer >= 1, got {self.power!r}")
        object.__setattr__(self, "patterns", patterns)
        object.__setattr__(self, "weights", weights)
        object.__setattr__(self, "power", int(self.power))
        object.__setattr__(self, "by_site", np.ascontiguousarray(patterns.T))

    @property
    def n(self) -> int:
        return self.patterns.shape[1]

    def f(self, x: np.ndarray) -> np.ndarray:
        """F(x) = x^power, or max(x, 0)^power when rectified."""
        x = np.asarray(x, dtype=np.float64)
        return (np.maximum(x, 0.0) if self.rectified else x) ** self.power


def as_spins(sigma: np.ndarray, n: int) -> np.ndarray:
    """``sigma`` as a C-contiguous int8 array (B, n) of ±1; ValueError otherwise."""
    s = np.atleast_2d(np.asarray(sigma))
    if s.ndim != 2 or s.shape[1] != n:
        raise ValueError(f"sigma: expected shape (B, {n}) or ({n},), got {np.shape(sigma)}")
    if not np.all(np.abs(s) == 1):
        raise ValueError("sigma: entries must be -1 or +1")
    return np.ascontiguousarray(s, dtype=np.int8)


def overlaps(energy: OverlapEnergy, sigma: np.ndarray) -> np.ndarray:
    """s_ℓ = ζ^ℓ · σ for every state: (B, L) float64."""
    s = as_spins(sigma, energy.n)
    return s.astype(np.float64) @ energy.patterns.T.astype(np.float64)


def energy_value(energy: OverlapEnergy, sigma: np.ndarray) -> np.ndarray:
    """E(σ) = −scale Σ_ℓ w_ℓ F(s_ℓ) for every state: (B,)."""
    return -energy.scale * (energy.f(overlaps(energy, sigma)) @ energy.weights)


@njit(cache=True, inline="always")
def _f(x, power, rectified):
    if rectified and x < 0.0:
        return 0.0
    if power == 2:
        return x * x
    if power == 4:
        y = x * x
        return y * y
    r = x
    for _ in range(power - 1):
        r *= x
    return r


@njit(cache=True, inline="always")
def _delta(by_site, weights, scale, power, rectified, ov, i, si):
    """ΔE of flipping site i (value si) given the overlaps ``ov``."""
    de = 0.0
    for l in range(by_site.shape[1]):
        x = ov[l]
        de += weights[l] * (_f(x - 2.0 * si * by_site[i, l], power, rectified) - _f(x, power, rectified))
    return -scale * de


@njit(cache=True, parallel=True)
def _differences(by_site, weights, scale, power, rectified, sigma, s, out):
    for b in prange(sigma.shape[0]):
        for i in range(by_site.shape[0]):
            out[b, i] = _delta(by_site, weights, scale, power, rectified, s[b], i, sigma[b, i])


@njit(cache=True, parallel=True)
def _sweeps(by_site, weights, scale, power, rectified, sigma, s, state, beta, n_sweeps, flips):
    """Run ``n_sweeps`` systematic-scan sweeps of every chain in place (see module doc)."""
    n, n_patterns = by_site.shape
    zero_t = beta == np.inf
    for b in prange(sigma.shape[0]):
        rng = state[b]
        sig = sigma[b]
        ov = s[b]
        total = 0
        for _ in range(n_sweeps):
            flipped = 0
            for i in range(n):
                si = sig[i]
                de = _delta(by_site, weights, scale, power, rectified, ov, i, si)
                accept, rng = glauber_accept(de, beta, rng)
                if accept:
                    sig[i] = -si
                    for l in range(n_patterns):
                        ov[l] -= 2.0 * si * by_site[i, l]
                    flipped += 1
            total += flipped
            if zero_t and flipped == 0:
                break
        state[b] = rng
        flips[b] = total


def flip_energy_differences(energy: OverlapEnergy, sigma: np.ndarray) -> np.ndarray:
    """ΔE_i = E(σ with σ_i flipped) − E(σ) for every state and site: (B, N), through the
    overlaps, ΔE_i = −scale Σ_ℓ w_ℓ [F(s_ℓ − 2ζ_i^ℓσ_i) − F(s_ℓ)] (the kernel's own formula)."""
    s = as_spins(sigma, energy.n)
    out = np.empty(s.shape, dtype=np.float64)
    _differences(energy.by_site, energy.weights, float(energy.scale), energy.power, energy.rectified, s,
                 np.ascontiguousarray(overlaps(energy, s)), out)
    return out


def sweep(energy: OverlapEnergy, sigma: np.ndarray, rng_state: np.ndarray, beta: float,
          n_sweeps: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n_sweeps`` Glauber sweeps (zero-temperature asynchronous updates at β = ∞, stopping
    early once stable) of the states ``sigma`` (B, N); returns (new sigma, new rng states,
    flips per chain). The inputs are not modified."""
    s = as_spins(sigma, energy.n).copy()
    state = check_streams(rng_state, s.shape[0])
    if not beta >= 0:
        raise ValueError(f"beta: must be >= 0 (inf for zero temperature), got {beta!r}")
    if n_sweeps < 0:
        raise ValueError(f"n_sweeps: must be >= 0, got {n_sweeps!r}")
    ov = np.ascontiguousarray(overlaps(energy, s))
    flips = np.zeros(s.shape[0], dtype=np.int64)
    _sweeps(energy.by_site, energy.weights, float(energy.scale), energy.power, energy.rectified, s, ov, state,
            float(beta), int(n_sweeps), flips)
    return s, state, flips
