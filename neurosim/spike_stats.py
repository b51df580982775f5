"""Spike-train statistics of recorded spikes: irregularity (ISI CV) and synchrony (Fano factor)."""

from __future__ import annotations

import numpy as np


def mean_isi_cv(i: np.ndarray, t: np.ndarray, min_spikes: int = 3) -> float | None:
    """Mean coefficient of variation (sample std / mean) of the inter-spike intervals, over the
    neurons with at least ``min_spikes`` spikes; None if there are none. ``i``: neuron ids,
    ``t``: spike times (s). A Poisson train has CV 1, a regular one 0."""
    i, t = np.asarray(i, np.int64), np.asarray(t, np.float64)
    if i.size < min_spikes:
        return None
    order = np.lexsort((t, i))
    i, t = i[order], t[order]
    same = i[1:] == i[:-1]
    isi, owner = np.diff(t)[same], i[1:][same]
    neurons, counts = np.unique(owner, return_counts=True)
    keep = counts >= min_spikes - 1
    if not keep.any():
        return None
    idx = np.searchsorted(neurons, owner)
    s1 = np.bincount(idx, isi, neurons.size)
    s2 = np.bincount(idx, isi * isi, neurons.size)
    mean = s1 / counts
    var = np.maximum(s2 / counts - mean * mean, 0.0) * counts / np.maximum(counts - 1, 1)
    return float(np.mean(np.sqrt(var[keep]) / mean[keep]))


def population_fano(t: np.ndarray, start: float, stop: float, bin_s: float = 1e-3) -> float | None:
    """Fano factor (variance / mean) of the population's spike count in bins of ``bin_s`` over
    [start, stop): about 1 for asynchronous (independent Poisson) activity, far above 1 when the
    population fires in synchronous volleys; None without spikes."""
    n_bins = int(round((stop - start) / bin_s))
    t = np.asarray(t, np.float64)
    t = t[(t >= start) & (t < start + n_bins * bin_s)]
    if n_bins < 2 or t.size == 0:
        return None
    counts = np.bincount(((t - start) / bin_s).astype(np.int64), minlength=n_bins)[:n_bins]
    return float(counts.var() / counts.mean())


class StreamingSpikeStats:
    """:func:`mean_isi_cv` and :func:`population_fano` of spikes that arrive block by block in time
    order (a sink, see :mod:`neurosim.sinks`), in O(neurons) memory: per-neuron interval sums,
    and a running mean and variance of the completed bins' population counts (bins from
    ``start_s``)."""

    def __init__(self, size: int, bin_s: float = 1e-3, start_s: float = 0.1, min_spikes: int = 3) -> None:
        self.bin_s, self.start_s, self.min_spikes = bin_s, start_s, min_spikes
        self.last = np.full(size, np.nan)
        self.n_isi = np.zeros(size, np.int64)
        self.s1, self.s2 = np.zeros(size), np.zeros(size)
        self.bin, self.count = 0, 0  # the open bin and its spikes so far
        self.n_bins, self.mean, self.m2 = 0, 0.0, 0.0  # Welford over completed bins

    def append(self, monitor: object, block: dict[str, np.ndarray]) -> None:
        t, i = np.asarray(block["t"], np.float64), np.asarray(block["i"], np.int64)
        order = np.lexsort((t, i))
        ts, ids = t[order], i[order]
        first = np.ones(ids.size, bool)
        first[1:] = ids[1:] != ids[:-1]
        prev = np.where(first, self.last[ids], np.concatenate([[np.nan], ts[:-1]]))
        isi = ts - prev
        ok = ~np.isnan(isi)
        np.add.at(self.n_isi, ids[ok], 1)
        np.add.at(self.s1, ids[ok], isi[ok])
        np.add.at(self.s2, ids[ok], isi[ok] ** 2)
        last = np.flatnonzero(np.append(ids[1:] != ids[:-1], True)) if ids.size else np.zeros(0, np.int64)
        self.last[ids[last]] = ts[last]
        bins = np.floor((t[t >= self.start_s] - self.start_s) / self.bin_s).astype(np.int64) - self.bin
        if bins.size:  # bins before the block's last one are complete; the last one stays open
            counts = np.bincount(bins)
            counts[0] += self.count
            self._merge(counts[:-1].astype(np.float64))
            self.bin, self.count = self.bin + counts.size - 1, int(counts[-1])

    def _merge(self, counts: np.ndarray) -> None:
        """Add completed bins' counts to the running mean and sum of squared deviations (Chan et al.)."""
        if counts.size == 0:
            return
        n = self.n_bins + counts.size
        mean_b = float(counts.mean())
        delta = mean_b - self.mean
        self.m2 += float(((counts - mean_b) ** 2).sum()) + delta * delta * self.n_bins * counts.size / n
        self.mean += delta * counts.size / n
        self.n_bins = n

    def close(self) -> None:
        pass

    def cv(self) -> float | None:
        """Mean ISI CV over neurons with at least ``min_spikes`` spikes (as :func:`mean_isi_cv`)."""
        keep = self.n_isi >= self.min_spikes - 1
        if not keep.any():
            return None
        n = self.n_isi[keep]
        mean = self.s1[keep] / n
        var = np.maximum(self.s2[keep] / n - mean * mean, 0.0) * n / np.maximum(n - 1, 1)
        return float(np.mean(np.sqrt(var) / mean))

    def fano(self, stop_s: float) -> float | None:
        """Fano factor of the population count in the bins of [start_s, stop_s) (as :func:`population_fano`)."""
        end = int(round((stop_s - self.start_s) / self.bin_s))
        if self.bin < end:  # close the open bin and the empty ones after it
            self._merge(np.concatenate([[float(self.count)], np.zeros(end - self.bin - 1)]))
            self.bin, self.count = end, 0
        if self.n_bins < 2 or self.mean == 0:
            return None
        return float(self.m2 / self.n_bins / self.mean)


class TeeSink:
    """A sink that hands every block to several sinks."""

    def __init__(self, *sinks) -> None:
        self.sinks = sinks

    def append(self, monitor: object, block: dict[str, np.ndarray]) -> None:
        for sink in self.sinks:
            sink.append(monitor, block)

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()
