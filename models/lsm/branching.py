"""Branching factor of a liquid (NALSM's `compute_branching_factor.py`, Ivanov & Michmizos 2021).

For every spike of liquid neuron n at step t (ignoring the first and last ``skip`` steps):
pre = spikes of n's liquid presynaptic neurons in [t-4, t), post = spikes of n's liquid
postsynaptic neurons in [t+1, t+5); bf = post / max(pre, 1), averaged over the neuron's
spikes, then over the neurons that spiked and over the samples.
"""

from __future__ import annotations

import numpy as np


def branching_factor(rasters: np.ndarray, adjacency: np.ndarray, skip: int = 25, window: int = 4) -> float:
    """``rasters [samples, T, N]`` (0/1), ``adjacency [N, N]`` with ``adjacency[m, n]`` for m -> n."""
    adj = adjacency.astype(np.float64)
    per_sample = []
    for raster in rasters.astype(np.float64):
        T = raster.shape[0]
        cum = np.vstack([np.zeros((1, raster.shape[1])), np.cumsum(raster, axis=0)])
        t = np.arange(skip, T - skip)
        before = cum[t] - cum[np.maximum(t - window, 0)]  # spikes in [t-4, t)
        after = cum[np.minimum(t + window + 1, T)] - cum[np.minimum(t + 1, T)]  # spikes in [t+1, t+5)
        pre = before @ adj
        post = after @ adj.T
        spikes = raster[t] > 0
        ratio = np.where(spikes, post / np.maximum(pre, 1.0), 0.0)
        n_spikes = spikes.sum(axis=0)
        active = n_spikes > 0
        if active.any():
            per_sample.append(np.mean(ratio.sum(axis=0)[active] / n_spikes[active]))
    return float(np.mean(per_sample)) if per_sample else float("nan")
