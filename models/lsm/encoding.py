"""Input encodings of images for the liquid's input neurons (one per pixel).

Each returns the ``drive`` of every sample for :mod:`neurosim.models.lsm.kernel`: per-input
probabilities ``[n, 1, n_in]`` (a step's Bernoulli draw), or events ``[n, T, n_in]``.
"""

from __future__ import annotations

import numpy as np

from neurosim.models.lsm.kernel import BERNOULLI_CURRENT, EVENT_CURRENT, POISSON_SPIKES

ENCODINGS = {"bernoulli": BERNOULLI_CURRENT, "poisson": POISSON_SPIKES, "events": EVENT_CURRENT}


def _fractions(images: np.ndarray) -> np.ndarray:
    """p = img / Σ img per image (flattened)."""
    x = images.reshape(images.shape[0], -1).astype(np.float64)
    total = x.sum(axis=1, keepdims=True)
    return np.divide(x, total, out=np.zeros_like(x), where=total > 0)


def nalsm_peak(images: np.ndarray) -> float:
    """The largest p = img / Σ img of a set: NALSM's normaliser."""
    return float(_fractions(images).max()) if images.size else 0.0


def nalsm_probabilities(images: np.ndarray, peak: float | None = None) -> np.ndarray:
    """NALSM's encoding: p = img / Σ img per image, divided by ``peak`` (default: the largest p
    of this set, as the authors do per set).

    Input neuron k then receives the current 100 with probability p_k in every 1 ms step.
    """
    if peak is not None and not peak > 0:
        raise ValueError(f"lsm.peak: must be > 0, got {peak!r}")
    p = _fractions(images)
    peak = p.max() if peak is None else peak
    return (p / peak if peak > 0 else p)[:, None, :]


def rate_probabilities(images: np.ndarray, max_rate_hz: float, dt: float = 1e-3) -> np.ndarray:
    """Poisson rate coding: pixel intensity in [0, 1] -> rate up to ``max_rate_hz``; the input
    neuron spikes with probability 1 - exp(-rate dt) per step."""
    if max_rate_hz <= 0:
        raise ValueError(f"lsm.max_rate: must be > 0, got {max_rate_hz!r}")
    x = images.reshape(images.shape[0], -1).astype(np.float64)
    x = x / x.max() if x.max() > 0 else x
    return (-np.expm1(-x * max_rate_hz * dt))[:, None, :]


def event_drive(events: np.ndarray) -> np.ndarray:
    """An event stream ``[n, T, n_in]`` (counts per step): each event injects the input current."""
    ev = np.asarray(events, dtype=np.float64)
    if ev.ndim != 3:
        raise ValueError(f"lsm.events: expected [samples, steps, inputs], got shape {ev.shape}")
    return ev
