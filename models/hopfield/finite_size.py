"""The storage capacity α_c of the Hopfield network by finite-size scaling.

At size N, a network started at one of its K = αN stored patterns ends (zero-temperature
asynchronous dynamics) retrieved, m ≥ 0.9, with a probability f_N(α) that falls from 1 to 0
around a load α_½(N). Each curve is fitted by a probit, f_N(α) = Φ((α_½ − α) / w), by
maximum likelihood (:func:`probit_fit`). Both the width w and the shift α_½ − α_c shrink as
N^{−1/2} (the retrieval state's metastability lives on the scale of its O(√N) fluctuations; the
fitted widths check the exponent), so

    α_½(N) = α_c + a N^{−1/2},

and a weighted straight line through (N^{−1/2}, α_½) extrapolates to α_c at N = ∞
(:func:`extrapolate`). Error bars: the probit's Fisher information, inflated by the
overdispersion of the fit (probes of one network share its couplings), then the line's
covariance, inflated by its own χ²/dof when above 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.stats import norm

from neurosim.models.hopfield import classical


@dataclass(frozen=True)
class Threshold:
    """A fitted retrieval curve f(α) = Φ((alpha_half − α) / width) and its standard errors."""

    alpha_half: float
    width: float
    alpha_half_err: float
    width_err: float

    def curve(self, alphas: np.ndarray) -> np.ndarray:
        return norm.cdf((self.alpha_half - np.asarray(alphas, dtype=np.float64)) / self.width)


@dataclass(frozen=True)
class Extrapolation:
    """α_½(N) = alpha_c + slope · N^{−1/2}: the intercept, its error, and the fit's χ²/dof."""

    alpha_c: float
    alpha_c_err: float
    slope: float
    chi2_per_dof: float

    def line(self, inv_sqrt_n: np.ndarray) -> np.ndarray:
        return self.alpha_c + self.slope * np.asarray(inv_sqrt_n, dtype=np.float64)


def final_overlaps(n: int, alpha: float, networks: int, probes: int, seed: np.random.SeedSequence,
                   max_sweeps: int = 500) -> np.ndarray:
    """Final Mattis overlaps (networks × probes,) of zero-temperature runs started at the first
    ``probes`` of K = round(αN) random patterns, one pattern set per network."""
    k = round(alpha * n)
    if not 1 <= probes <= k:
        raise ValueError(f"probes: must be in [1, K = {k}], got {probes}")
    out = []
    for child in seed.spawn(networks):
        xi = classical.random_patterns(k, n, np.random.default_rng(child))
        sigma = classical.asynchronous(classical.hebbian_couplings(xi), xi[:probes], max_sweeps)
        out.append(np.einsum("bi,bi->b", sigma.astype(np.float64), xi[:probes]) / n)
    return np.concatenate(out)


def probit_fit(alphas: np.ndarray, successes: np.ndarray, trials: np.ndarray) -> Threshold:
    """Maximum-likelihood probit through binomial counts (successes of trials at each α)."""
    a = np.asarray(alphas, dtype=np.float64)
    k, t = np.asarray(successes, dtype=np.float64), np.asarray(trials, dtype=np.float64)
    if not (a.shape == k.shape == t.shape and a.size >= 3 and np.all(t > 0) and np.all((0 <= k) & (k <= t))):
        raise ValueError("probit_fit: need >= 3 loads with 0 <= successes <= trials, trials > 0")
    inside = (k > 0) & (k < t)
    if not inside.any() and not (k[0] == t[0] and k[-1] == 0):
        raise ValueError("probit_fit: the retrieval fraction must fall from 1 to 0 across the loads")

    def nll(theta: np.ndarray) -> float:
        p = np.clip(norm.cdf((theta[0] - a) / math.exp(theta[1])), 1e-300, 1.0 - 1e-16)
        return -float(np.sum(k * np.log(p) + (t - k) * np.log1p(-p)))

    frac = k / t
    start = np.array([a[np.argmin(np.abs(frac - 0.5))], math.log(max(np.ptp(a) / 4.0, 1e-6))])
    theta = minimize(nll, start, method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-10, "maxiter": 10_000}).x
    centre, width = float(theta[0]), float(math.exp(theta[1]))
    eta = (centre - a) / width
    p = np.clip(norm.cdf(eta), 1e-12, 1.0 - 1e-12)
    gradient = np.stack([np.full_like(eta, 1.0 / width), -eta / width])  # ∂η/∂(centre, width)
    info = (gradient * (t * norm.pdf(eta) ** 2 / (p * (1.0 - p)))) @ gradient.T
    cov = np.linalg.inv(info) * _overdispersion(k, t, p)
    return Threshold(centre, width, float(math.sqrt(cov[0, 0])), float(math.sqrt(cov[1, 1])))


def _overdispersion(k: np.ndarray, t: np.ndarray, p: np.ndarray) -> float:
    """Pearson χ²/dof of a two-parameter binomial fit, at least 1."""
    dof = k.size - 2
    if dof < 1:
        return 1.0
    return max(1.0, float(np.sum((k - t * p) ** 2 / (t * p * (1.0 - p)))) / dof)


def extrapolate(sizes: np.ndarray, alpha_half: np.ndarray, errors: np.ndarray) -> Extrapolation:
    """Weighted least-squares line α_½ = α_c + a N^{−1/2} through at least two sizes."""
    x = 1.0 / np.sqrt(np.asarray(sizes, dtype=np.float64))
    y, e = np.asarray(alpha_half, dtype=np.float64), np.asarray(errors, dtype=np.float64)
    if not (x.shape == y.shape == e.shape and x.size >= 2 and np.all(e > 0) and np.unique(x).size == x.size):
        raise ValueError("extrapolate: need >= 2 distinct sizes, each with an error > 0")
    design = np.stack([np.ones_like(x), x], axis=1) / e[:, None]
    coef, *_ = np.linalg.lstsq(design, y / e, rcond=None)
    cov = np.linalg.inv(design.T @ design)
    dof = x.size - 2
    chi2 = float(np.sum(((y - design @ coef * e) / e) ** 2)) / dof if dof > 0 else 0.0
    return Extrapolation(float(coef[0]), float(math.sqrt(cov[0, 0] * max(1.0, chi2))), float(coef[1]), chi2)


def width_exponent(sizes: np.ndarray, widths: np.ndarray) -> float:
    """Slope of log w against log N (−1/2 if the widths scale as N^{−1/2})."""
    return float(np.polyfit(np.log(np.asarray(sizes, dtype=np.float64)), np.log(widths), 1)[0])
