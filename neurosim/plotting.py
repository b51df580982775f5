"""PNG figures of a results file or a sweep index file, for ``neurosim plot``.

    paths = plot_results("results/run.h5")     # PNGs in results/run_plots/

A results file gives ``raster.png`` (spike raster of every recorded population above the
population rates), ``traces.png`` (the first few nodes of every state report),
``weights.png`` (a weight histogram per projection) and ``metrics.png`` (every 1-D metric
against its ``x`` metric, theory curves on the same axes, and every 2-D metric as a phase
map with its boundaries); a sweep index gives ``sweep.png`` (every scalar metric against
every numeric parameter, one marker per point). A figure without data is not written.

Big files are drawn from strided samples (at most :data:`MAX_RASTER_SPIKES` spikes,
:data:`MAX_HISTOGRAM_VALUES` weights, :data:`MAX_TRACE_SAMPLES` samples per trace), read
straight from the file; the rate histogram reads every spike time, in chunks. Figures are
drawn on matplotlib's Agg canvas through :class:`matplotlib.figure.Figure`, without pyplot:
no window ever opens and the caller's pyplot backend is left alone.
"""

from __future__ import annotations

import errno
import math
from pathlib import Path

import h5py
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from neurosim.io.reader import Results, load
from neurosim.io.sonata import MS_PER_S
from neurosim.io.summary import SWEEP, identify, iter_chunks, readable, si_units

MAX_RASTER_SPIKES = 200_000
MAX_HISTOGRAM_VALUES = 1_000_000
MAX_TRACE_SAMPLES = 20_000
#: nodes drawn per state report
TRACE_NODES = 5
#: width of the rate histogram's bins: 5 ms, or 1/1000 of a long run
RATE_BIN_S = 5e-3
RATE_BINS_MAX = 1000
DPI = 120

#: SI units -> (units shown, factor) for state traces and for weights
TRACE_UNITS = {"V": ("mV", 1e3), "A": ("nA", 1e9)}
WEIGHT_UNITS = {"V": ("mV", 1e3), "A": ("pA", 1e12), "S": ("nS", 1e9)}
VARIABLES = {"v": "membrane potential", "i_exc": "excitatory synaptic current",
             "i_inh": "inhibitory synaptic current"}


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _stride(n: int, limit: int) -> int:
    """Step that leaves at most ``limit`` of ``n`` elements."""
    return max(1, math.ceil(n / limit))


def _grid(n: int, width: float, height: float, ncols: int = 3) -> tuple[Figure, list[Axes]]:
    """A figure with ``n`` panels of ``width`` x ``height`` inches, ``ncols`` to a row."""
    ncols = min(ncols, n)
    nrows = math.ceil(n / ncols)
    fig = Figure(figsize=(width * ncols, height * nrows + 0.4), layout="constrained")
    axes = list(fig.subplots(nrows, ncols, squeeze=False).ravel())
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes[:n]


def _span(f: h5py.File, groups: list[h5py.Group]) -> tuple[float, float]:
    """Time span (s) of the run, or of the spikes when the file does not say."""
    if "t_start_ms" in f.attrs and "t_stop_ms" in f.attrs:
        return float(f.attrs["t_start_ms"]) / MS_PER_S, float(f.attrs["t_stop_ms"]) / MS_PER_S
    lo, hi = math.inf, -math.inf
    for g in groups:
        factor, _ = si_units(g["timestamps"])
        for chunk in iter_chunks(g["timestamps"]):
            if chunk.size:
                lo, hi = min(lo, chunk.min() * factor), max(hi, chunk.max() * factor)
    return (lo, hi) if lo < hi else (0.0, 1.0)


def _rate(ds: h5py.Dataset, edges: np.ndarray, size: int) -> np.ndarray:
    """Rate (Hz per neuron) of the spike times ``ds`` in the bins ``edges`` (s)."""
    factor, _ = si_units(ds)
    counts = sum(np.histogram(chunk * factor, edges)[0] for chunk in iter_chunks(ds))
    return counts / (size * np.diff(edges))


def _raster(f: h5py.File, res: Results, title: str) -> Figure | None:
    """Spikes of every population stacked (one colour each) above the population rates."""
    pops = list(res.spikes)
    if not pops:
        return None
    groups = [f["spikes"][p] for p in pops]
    step = _stride(sum(g["timestamps"].shape[0] for g in groups), MAX_RASTER_SPIKES)
    t0, t1 = _span(f, groups)
    edges = np.linspace(t0, t1, min(RATE_BINS_MAX, max(1, round((t1 - t0) / RATE_BIN_S))) + 1)
    fig = Figure(figsize=(11, 7.5), layout="constrained")
    ax, ax_rate = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    offset, ticks = 0, []
    for k, (pop, g) in enumerate(zip(pops, groups)):
        factor, _ = si_units(g["timestamps"])
        t = g["timestamps"][::step] * factor
        ids = g["node_ids"][::step].astype(np.int64)
        size = res.populations.get(pop) or int(ids.max(initial=0)) + 1
        colour = f"C{k % 10}"
        ax.plot(t, ids + offset, ls="none", marker=".", ms=2 if t.size < 20_000 else 1, mew=0, color=colour)
        ticks.append(offset + size / 2)
        rate = _rate(g["timestamps"], edges, size)
        ax_rate.stairs(rate, edges, color=colour, label=f"{pop} ({rate.mean():.3g} Hz mean)")
        offset += size
        if k < len(pops) - 1:
            ax.axhline(offset, color="0.6", lw=0.6)
    ax.set(ylim=(0, offset), xlim=(t0, t1), ylabel="neuron",
           title=title + (f" (1 in {step} spikes shown)" if step > 1 else ""))
    ax.set_yticks(ticks, pops)
    ax_rate.set(xlabel="time (s)", ylabel="rate (Hz)",
                title=f"population rate ({(edges[1] - edges[0]) * MS_PER_S:.3g} ms bins)")
    ax_rate.legend(loc="upper right", fontsize="small", ncols=min(4, len(pops)))
    return fig


def _traces(f: h5py.File, res: Results, title: str) -> Figure | None:
    """One panel per state report: the first :data:`TRACE_NODES` nodes against time."""
    names = list(res.reports)
    if not names:
        return None
    fig = Figure(figsize=(11, 2.4 * len(names) + 0.6), layout="constrained")
    axes = fig.subplots(len(names), 1, sharex=True, squeeze=False)[:, 0]
    for ax, name in zip(axes, names):
        g = f["report"][name]
        data, mapping = g["data"], g["mapping"]
        factor, si = si_units(data)
        shown, scale = TRACE_UNITS.get(si, (si, 1.0))
        step = _stride(data.shape[0], MAX_TRACE_SAMPLES)
        values = data[::step, :TRACE_NODES] * (factor * scale)
        start, _, dt = mapping["time"][()] * si_units(mapping["time"])[0]
        t = start + np.arange(0, data.shape[0], step) * dt
        nodes = np.repeat(mapping["node_ids"][()], np.diff(mapping["index_pointers"][()].astype(np.int64)))
        for j in range(values.shape[1]):
            ax.plot(t, values[:, j], lw=0.8, label=f"node {nodes[j]}")
        variable = _text(g.attrs.get("variable", name))
        population = _text(g.attrs.get("population", name))
        ax.set(ylabel=f"{variable} ({shown})",
               title=f"{name}: {VARIABLES.get(variable, variable)} of {population} "
                     f"({values.shape[1]} of {data.shape[1]} recorded nodes)")
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small")
    axes[-1].set_xlabel("time (s)")
    fig.suptitle(title)
    return fig


def _weights(f: h5py.File, res: Results, title: str) -> Figure | None:
    """A histogram of the weights of every projection."""
    names = list(res.weights)
    if not names:
        return None
    fig, axes = _grid(len(names), 4.2, 3.2)
    for ax, name in zip(axes, names):
        g = f["weights"][name]
        ds = g["weight"]
        factor, si = si_units(ds)
        shown, scale = WEIGHT_UNITS.get(si, (si, 1.0))
        step = _stride(ds.shape[0], MAX_HISTOGRAM_VALUES)
        ax.hist(ds[::step] * (factor * scale), bins=50, color="C0")
        sample = f", 1 in {step}" if step > 1 else ""
        ax.set(xlabel=f"weight ({shown})", ylabel="synapses",
               title=f"{name}: {_text(g.attrs.get('pre', '?'))} → {_text(g.attrs.get('post', '?'))}\n"
                     f"{ds.shape[0]} synapses{sample}")
    fig.suptitle(title)
    return fig


def _label(name: str, res: Results) -> str:
    units = res.metric_attrs.get(name, {}).get("units")
    return f"{name} ({units})" if units else name


def _theories(name: str, res: Results) -> list[str]:
    """Names of the theory curves drawn on ``name``'s axes (those present in the file)."""
    listed = res.metric_attrs.get(name, {}).get("theory", "")
    return [t for t in str(listed).split(",") if t in res.metrics and np.ndim(res.metrics[t]) == 1]


def _axis(name: str, axis: str, size: int, res: Results) -> tuple[np.ndarray, str]:
    """Values and label of a metric's ``x`` or ``y`` axis (its index when it names none)."""
    axis_name = res.metric_attrs.get(name, {}).get(axis)
    if axis_name in res.metrics and np.shape(res.metrics[axis_name]) == (size,):
        return np.asarray(res.metrics[axis_name], dtype=np.float64), _label(axis_name, res)
    return np.arange(size, dtype=np.float64), "index"


def _draw_theories(ax: Axes, name: str, res: Results) -> None:
    for theory in _theories(name, res):
        y = np.asarray(res.metrics[theory], dtype=np.float64)
        x, _ = _axis(theory, "x", y.size, res)
        ax.plot(x, y, lw=1.5, label=res.metric_attrs[theory].get("label", theory))


def _curve(ax: Axes, name: str, res: Results) -> None:
    y = np.asarray(res.metrics[name], dtype=np.float64)
    x, x_label = _axis(name, "x", y.size, res)
    ax.plot(x, y, marker="o" if y.size <= 50 else None, ms=3, ls="-" if y.size > 50 else ":",
            label=res.metric_attrs.get(name, {}).get("label", name))
    _draw_theories(ax, name, res)
    ax.set(xlabel=x_label, ylabel=_label(name, res), title=name)


def _map(fig: Figure, ax: Axes, name: str, res: Results) -> None:
    """A 2-D metric (a phase diagram) as a colour map, its theory curves (boundaries) on top."""
    z = np.asarray(res.metrics[name], dtype=np.float64)
    x, x_label = _axis(name, "x", z.shape[1], res)
    y, y_label = _axis(name, "y", z.shape[0], res)
    mesh = ax.pcolormesh(x, y, z, shading="nearest", cmap="viridis")
    fig.colorbar(mesh, ax=ax, label=_label(name, res))
    lims = ax.get_xlim(), ax.get_ylim()
    _draw_theories(ax, name, res)
    ax.set(xlim=lims[0], ylim=lims[1], xlabel=x_label, ylabel=y_label, title=name)


def _metrics(res: Results, title: str) -> Figure | None:
    """Every 1-D metric that is neither another metric's axis nor its theory, against its ``x``
    metric (else its index), with its theory curves on the same axes; every 2-D metric with
    both axes as a map with its theory curves (phase boundaries) over it."""
    attrs = res.metric_attrs.values()
    hidden = {a.get(k) for a in attrs for k in ("x", "y")} | {t for n in res.metrics for t in _theories(n, res)}
    panels = [n for n, v in res.metrics.items() if n not in hidden and (np.ndim(v) == 1 or (
        np.ndim(v) == 2 and {"x", "y"} <= set(res.metric_attrs.get(n, {}))))]
    if not panels:
        return None
    fig, axes = _grid(len(panels), 4.5, 3.4)
    for ax, name in zip(axes, panels):
        if np.ndim(res.metrics[name]) == 2:
            _map(fig, ax, name, res)
        else:
            _curve(ax, name, res)
        if _theories(name, res):
            ax.legend(fontsize="x-small")
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    return fig


def _sweep(path: Path) -> Figure | None:
    """Every scalar metric of a sweep against every numeric parameter: one marker per point
    (seeds and repeats included) and the mean at each parameter value."""
    with h5py.File(path, "r") as f:
        table = f["table"]
        params = {n: ds[()] for n, ds in table["params"].items() if ds.dtype.kind in "iuf"}
        metrics = {n: ds[()] for n, ds in table["metrics"].items() if np.isfinite(ds[()]).any()}
        n_points = int(f.attrs["n_points"])
    if not params or not metrics:
        return None
    pairs = [(m, p) for m in metrics for p in params]
    fig, axes = _grid(len(pairs), 4.0, 3.0)
    for ax, (m, p) in zip(axes, pairs):
        x, y = params[p], metrics[m]
        ax.plot(x, y, ls="none", marker="o", alpha=0.6, label="points")
        values = np.unique(x[np.isfinite(x) & np.isfinite(y)])
        ax.plot(values, [y[(x == v) & np.isfinite(y)].mean() for v in values], color="k", lw=1, label="mean")
        ax.set(xlabel=p, ylabel=m)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize="small")
    fig.suptitle(f"{path.name}: sweep of {n_points} points")
    return fig


def _figures(path: Path, kind: str) -> dict[str, Figure | None]:
    """File name -> figure (None: no data for it) of a results file or a sweep index."""
    if kind == SWEEP:
        return {"sweep.png": _sweep(path)}
    res = load(path)
    with h5py.File(path, "r") as f:
        return {
            "raster.png": _raster(f, res, f"{path.name}: spikes"),
            "traces.png": _traces(f, res, f"{path.name}: state reports"),
            "weights.png": _weights(f, res, f"{path.name}: synaptic weights"),
            "metrics.png": _metrics(res, f"{path.name}: metric curves"),
        }


def plot_results(path: str | Path, out_dir: str | Path | None = None) -> list[Path]:
    """Draw the results file or sweep index at ``path`` as PNGs in ``out_dir`` (default: the
    folder ``<stem>_plots`` beside the file); return the paths written. Errors: see
    :func:`neurosim.io.summary.identify` (FileNotFoundError, ValueError); a folder ``out_dir``
    that is a file is a NotADirectoryError."""
    path, kind = identify(path)
    out = Path(out_dir) if out_dir else path.with_name(f"{path.stem}_plots")
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "is a file, not a folder", str(out))
    with readable(path):
        figures = _figures(path, kind)
    written = []
    for name, fig in figures.items():
        if fig is not None:
            out.mkdir(parents=True, exist_ok=True)
            fig.savefig(out / name, dpi=DPI)
            written.append(out / name)
    return written
