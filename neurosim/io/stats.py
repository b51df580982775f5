"""Spike-train statistics of a results file, computed with Elephant, for ``neurosim inspect --stats``.

    stats = spike_statistics("results/run.h5", bin_s=0.1, max_neurons=200)
    print(format_statistics(stats))

Per population, on a random sample of at most ``max_neurons`` of its neurons (seeded, so the
same file gives the same numbers), over the run's span [t0, t1):

- ``cv``: mean over neurons with at least 3 spikes of the ISI coefficient of variation
  CV = std(ISI) / mean(ISI) (``elephant.statistics.cv`` of ``isi``; population std, ddof 0).
  A regular train has CV 0, a Poisson train CV 1.
- ``fano``: mean over neurons with spikes of the Fano factor F = Var(N) / E[N] of the counts
  N in the floor((t1 - t0) / bin) right-open bins of width ``bin_s`` from t0
  (``elephant.statistics.fanofactor`` of the bins' spike trains; ddof 0). Poisson: F = 1.
- ``correlation``: mean over pairs of spiking neurons of Pearson's correlation coefficient of
  their binned counts (``elephant.spike_train_correlation.correlation_coefficient`` of an
  ``elephant.conversion.BinnedSpikeTrain``); pairs where a neuron's counts are constant
  (undefined coefficient) are left out. Independent trains: 0.

Each comes with how many neurons (pairs) it averages; ``None`` where there are none.
"""

from __future__ import annotations

import logging
import math
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import h5py
import numpy as np

from neurosim.io.neo_block import population_sizes, run_span, spike_trains
from neurosim.io.summary import RESULTS, identify, readable

#: default bin width (s) of the Fano factor and the correlations
BIN_S = 0.1
#: default cap on the neurons sampled per population
MAX_NEURONS = 200
#: spikes a neuron needs for its ISI CV (two intervals)
MIN_SPIKES_CV = 3


def _check(bin_s: float, max_neurons: int) -> None:
    if isinstance(bin_s, bool) or not isinstance(bin_s, (int, float)) or not math.isfinite(bin_s) or bin_s <= 0:
        raise ValueError(f"bin_s: must be a positive duration (s), got {bin_s!r}")
    if isinstance(max_neurons, bool) or not isinstance(max_neurons, (int, np.integer)) or max_neurons < 2:
        raise ValueError(f"max_neurons: must be a whole number of at least 2, got {max_neurons!r}")


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def isi_cv(trains: list[np.ndarray]) -> tuple[float | None, int]:
    """Mean ISI CV over the trains with at least :data:`MIN_SPIKES_CV` spikes, and their number."""
    from elephant.statistics import cv, isi

    values = [float(cv(isi(t))) for t in trains if t.size >= MIN_SPIKES_CV]
    return _mean(values), len(values)


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence what Elephant says about expected cases: spikes shifted into the next bin where
    rounding put them just below its edge, and the NaN coefficient of a constant train."""
    import elephant.utils

    log = logging.getLogger(elephant.utils.__file__)
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
            warnings.simplefilter("ignore")
            yield
    finally:
        log.setLevel(level)


def binned(trains: list[np.ndarray], t0: float, n_bins: int, bin_s: float) -> Any:
    """The trains (ascending spike times within ``[t0, t0 + n_bins * bin_s)``) as an Elephant
    ``BinnedSpikeTrain`` of ``n_bins`` bins; a spike that rounding put just below a bin's edge
    counts in that bin."""
    import neo
    import quantities as pq
    from elephant.conversion import BinnedSpikeTrain

    t1 = t0 + n_bins * bin_s
    with _quiet():
        return BinnedSpikeTrain([neo.SpikeTrain(t, t_start=t0, t_stop=t1, units="s") for t in trains],
                                n_bins=n_bins, t_start=t0 * pq.s, t_stop=t1 * pq.s)


def fano(trains: list[np.ndarray], bins: Any) -> tuple[float | None, int]:
    """Mean Fano factor of the spike counts in the bins of ``bins`` (:func:`binned` of
    ``trains``) over the trains with spikes, and their number: each train is cut at the bins'
    edges into one spike train per bin, and ``elephant.statistics.fanofactor`` takes those."""
    from elephant.statistics import fanofactor

    values = [float(fanofactor(np.split(t, np.searchsorted(where, np.arange(1, bins.n_bins)))))
              for t, where in zip(trains, bins.spike_indices) if t.size]
    return _mean(values), len(values)


def correlation(bins: Any) -> tuple[float | None, int]:
    """Mean pairwise correlation coefficient of the binned counts ``bins`` (from :func:`binned`)
    over the pairs whose coefficient is defined (neither train constant), and their number."""
    from elephant.spike_train_correlation import correlation_coefficient

    if bins.shape[0] < 2:
        return None, 0
    with _quiet():
        cc = correlation_coefficient(bins)
    pairs = cc[np.triu_indices(bins.shape[0], k=1)]
    pairs = pairs[np.isfinite(pairs)]
    return (float(pairs.mean()) if pairs.size else None), int(pairs.size)


def _population(trains: list[np.ndarray], t0: float, n_bins: int, bin_s: float) -> dict[str, Any]:
    cv, n_cv = isi_cv(trains)
    out: dict[str, Any] = {"cv": cv, "n_cv": n_cv, "fano": None, "n_fano": 0, "correlation": None, "n_pairs": 0}
    if n_bins >= 2 and trains:
        t1 = t0 + n_bins * bin_s
        cut = [t[(t >= t0) & (t < t1)] for t in trains]
        bins = binned(cut, t0, n_bins, bin_s)
        out["fano"], out["n_fano"] = fano(cut, bins)
        out["correlation"], out["n_pairs"] = correlation(bins)
    return out


def spike_statistics(path: str | Path, bin_s: float = BIN_S, max_neurons: int = MAX_NEURONS,
                     seed: int = 0) -> dict[str, Any]:
    """ISI CV, Fano factor and mean pairwise correlation of each population of the results file
    at ``path`` (see the module's docstring), as one JSON-serialisable dict: ``path``, ``bin_s``,
    ``max_neurons``, ``t_start_s``, ``t_stop_s``, ``n_bins`` and ``populations`` (name ->
    ``size``, ``sampled``, ``cv``, ``n_cv``, ``fano``, ``n_fano``, ``correlation``, ``n_pairs``).
    Fano factor and correlations need at least 2 bins in the run. The sample of neurons is drawn
    with ``numpy.random.default_rng(seed)``. Errors: see :func:`neurosim.io.summary.identify`;
    ValueError naming ``bin_s`` or ``max_neurons``.
    """
    _check(bin_s, max_neurons)
    path, kind = identify(path)
    if kind != RESULTS:
        raise ValueError(f"{path}: a sweep index, not a run's results; give one point's results file")
    rng = np.random.default_rng(seed)
    with h5py.File(path, "r") as f, readable(path):
        sizes = population_sizes(f)
        samples = {pop: np.sort(rng.choice(size, min(size, max_neurons), replace=False)) for pop, size in sizes.items()}
        trains = {pop: spike_trains(f["spikes"][pop], sizes[pop], samples[pop]) for pop in sizes}
        t0, t1 = run_span(f, [t for per_pop in trains.values() for t in per_pop])
    n_bins = int(math.floor((t1 - t0) / bin_s + 1e-9))
    return {
        "path": str(path), "bin_s": bin_s, "max_neurons": max_neurons, "t_start_s": t0, "t_stop_s": t1,
        "n_bins": n_bins,
        "populations": {pop: {"size": sizes[pop], "sampled": int(samples[pop].size), **_population(trains[pop], t0, n_bins, bin_s)}
                        for pop in sizes},
    }


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def format_statistics(stats: dict[str, Any]) -> str:
    """The statistics from :func:`spike_statistics` as a text table."""
    lines = [f"spike statistics (Elephant): bins of {stats['bin_s'] * 1e3:g} ms ({stats['n_bins']} in the run), "
             f"at most {stats['max_neurons']} neurons sampled per population"]
    rows = [["population", "sampled", "ISI CV", "(neurons)", "Fano", "(neurons)", "correlation", "(pairs)"]]
    for pop, p in stats["populations"].items():
        rows.append([pop, f"{p['sampled']}/{p['size']}", _number(p["cv"]), str(p["n_cv"]), _number(p["fano"]),
                     str(p["n_fano"]), _number(p["correlation"]), str(p["n_pairs"])])
    widths = [max(len(r[k]) for r in rows) for k in range(len(rows[0]))]
    lines += ["  " + "  ".join(c.ljust(w) if k == 0 else c.rjust(w) for k, (c, w) in enumerate(zip(r, widths)))
              for r in rows]
    if not stats["populations"]:
        lines.append("  (no spikes recorded)")
    return "\n".join(lines)
