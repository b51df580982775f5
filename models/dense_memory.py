"""Dense associative memory (Krotov & Hopfield 2016, arXiv 1606.01164).

Energy E(σ) = −Σ_μ F(ξ^μ·σ) with F(x) = xⁿ, or the rectified polynomial F(x) = max(x, 0)ⁿ;
n = 2 is the Hopfield network. Asynchronous update of site i (Krotov & Hopfield's rule):

    σ_i ← sign Σ_μ [F(ξ_i^μ + S_μ) − F(−ξ_i^μ + S_μ)],   S_μ = Σ_{j≠i} ξ_j^μ σ_j,

i.e. σ_i takes the value of lower energy; it runs through the overlap kernel of
:mod:`neurosim.models.overlap_mc` at zero temperature (O(K) per site, batched over states;
a tie keeps σ_i).

Capacity (signal-to-noise, polynomial F): at a stored pattern the update of a bit has signal
2n N^{n−1} and a cross-talk from the K − 1 other patterns of variance 4n² (2n−3)!! K N^{n−1},
so a bit is unstable with probability Q(√(N^{n−1} / ((2n−3)!! K))), Q the Gaussian tail:
K_max ≈ α_n N^{n−1}. Asking every bit of a pattern to be stable gives the error-free capacity
K ≈ N^{n−1} / (2 (2n−3)!! ln N) (N / (2 ln N) at n = 2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from neurosim.models.overlap_mc import OverlapEnergy, as_spins, energy_value, flip_energy_differences, sweep


@dataclass(frozen=True)
class DenseMemory:
    """K stored patterns ``patterns`` (K, N) of ±1 and the interaction function F."""

    patterns: np.ndarray
    power: int = 3
    rectified: bool = False

    def __post_init__(self):
        xi = np.asarray(self.patterns)
        if xi.ndim != 2 or xi.shape[0] < 1 or xi.shape[1] < 2:
            raise ValueError(f"patterns: must be 2-D (K >= 1, N >= 2), got shape {xi.shape}")
        if not np.all(np.abs(xi) == 1):
            raise ValueError("patterns: entries must be -1 or +1")
        if isinstance(self.power, bool) or int(self.power) != self.power or self.power < 2:
            raise ValueError(f"power: must be an integer >= 2, got {self.power!r}")
        object.__setattr__(self, "patterns", np.ascontiguousarray(xi, dtype=np.int8))

    @property
    def energy_function(self) -> OverlapEnergy:
        """E(σ) = −Σ_μ F(ξ^μ·σ) as an :class:`OverlapEnergy`."""
        return OverlapEnergy(self.patterns, np.ones(self.patterns.shape[0]), 1.0, self.power, self.rectified)


def energy(memory: DenseMemory, sigma: np.ndarray) -> np.ndarray:
    """E(σ) = −Σ_μ F(ξ^μ·σ) for every state: (B,)."""
    return energy_value(memory.energy_function, sigma)


def update(memory: DenseMemory, sigma: np.ndarray, max_sweeps: int = 100) -> np.ndarray:
    """Asynchronous updates (sites 0..N−1 in turn) of every state until none changes or
    ``max_sweeps`` sweeps were made: (B, N)."""
    s = as_spins(sigma, memory.patterns.shape[1])
    return sweep(memory.energy_function, s, np.zeros(s.shape[0], np.uint64), np.inf, max_sweeps)[0]


def unstable_fraction(memory: DenseMemory, which: np.ndarray | None = None) -> float:
    """Fraction of the bits of the stored patterns ``which`` (default: all) that one update
    would flip (ΔE < 0 at the stored pattern)."""
    idx = np.arange(memory.patterns.shape[0]) if which is None else np.asarray(which)
    de = flip_energy_differences(memory.energy_function, memory.patterns[idx])
    return float((de < 0).mean())


def double_factorial(k: int) -> int:
    """k!! for odd k >= −1 (1 for k <= 0)."""
    return math.prod(range(k, 0, -2)) if k > 0 else 1


def bit_error_theory(n: int, k: float, power: int) -> float:
    """Probability Q(√(N^{n−1} / ((2n−3)!! K))) that a bit of a stored pattern is unstable
    (polynomial F, Gaussian cross-talk)."""
    snr = n ** (power - 1) / (double_factorial(2 * power - 3) * k)
    return 1.0 - NormalDist().cdf(math.sqrt(snr))


def capacity_theory(n: float, power: int, error: float) -> float:
    """K at which :func:`bit_error_theory` equals ``error``: N^{n−1} / ((2n−3)!! z²),
    z = Q⁻¹(error)."""
    if not 0.0 < error < 0.5:
        raise ValueError(f"error: must be in (0, 0.5), got {error!r}")
    z = NormalDist().inv_cdf(1.0 - error)
    return n ** (power - 1) / (double_factorial(2 * power - 3) * z * z)


def error_free_capacity(n: float, power: int) -> float:
    """K ≈ N^{n−1} / (2 (2n−3)!! ln N): every bit of a pattern stable."""
    return n ** (power - 1) / (2 * double_factorial(2 * power - 3) * math.log(n))


def measure_capacity(n: int, power: int, error: float, rng: np.random.Generator, rectified: bool = False,
                     test_patterns: int = 32, draws: int = 1, step: float = 2 ** 0.25, span: float = 16.0) -> float:
    """Largest K at which at most a fraction ``error`` of the bits of stored patterns are
    unstable, for N = ``n``. The fraction is measured on the first ``test_patterns`` patterns,
    averaged over ``draws`` independent pattern sets, for K on a geometric grid (ratio
    ``step``) from :func:`capacity_theory` / √span up to the first K above ``error`` (the K
    patterns are the first K of each set, so the curve is smooth in K); log K is interpolated
    linearly in log(fraction) between the bracketing points."""
    if not 0.0 < error < 0.5:
        raise ValueError(f"error: must be in (0, 0.5), got {error!r}")
    if draws < 1:
        raise ValueError(f"draws: must be >= 1, got {draws!r}")
    guess = capacity_theory(n, power, error)
    ks = np.unique(np.maximum(2, np.round(guess / np.sqrt(span) * step ** np.arange(np.log(span) / np.log(step) + 1))))
    xi = rng.choice(np.array([-1, 1], dtype=np.int8), size=(draws, int(ks[-1]), n))
    previous = None
    for k in ks.astype(int):
        tested = min(test_patterns, k)
        fraction = np.mean([unstable_fraction(DenseMemory(x[:k], power, rectified), np.arange(tested)) for x in xi])
        fraction = max(fraction, 0.5 / (draws * tested * n))
        if fraction > error:
            if previous is None:
                break
            k0, f0 = previous
            t = (np.log(error) - np.log(f0)) / (np.log(fraction) - np.log(f0))
            return float(np.exp(np.log(k0) + t * (np.log(k) - np.log(k0))))
        previous = (k, fraction)
    raise ValueError(f"error: the unstable fraction does not cross {error} between K = {ks[0]:g} and {ks[-1]:g}")


def fit_exponent(n_values: np.ndarray, capacities: np.ndarray) -> float:
    """Slope of log K against log N (least squares)."""
    return float(np.polyfit(np.log(n_values), np.log(capacities), 1)[0])
