"""Summaries of results files and sweep index files, for ``neurosim inspect``.

    summary = summarize("results/run.h5")      # one JSON-serialisable dict
    print(format_summary(summary))

Spike counts come from dataset shapes and weight means are summed in chunks, so a file of
any size is summarised in little memory. Values are SI (seconds, volts, amperes, hertz);
NaN and infinities become ``None`` so that the summary is strict JSON.
"""

from __future__ import annotations

import errno
import json
import math
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import h5py
import numpy as np

from neurosim.io.reader import load, open_h5
from neurosim.io.sonata import BY_TIME, MS_PER_S, to_si

#: the two kinds of file :func:`identify` accepts
RESULTS, SWEEP = "results", "sweep"

#: elements read at a time when a dataset is reduced chunk by chunk
CHUNK_ELEMENTS = 1 << 20

#: spike times may lie this far (ms) outside the run's span (rounding)
SLACK_MS = 1e-6

#: engineering prefixes used by :func:`format_summary`
PREFIXES = ((1e-12, "p"), (1e-9, "n"), (1e-6, "u"), (1e-3, "m"), (1.0, ""), (1e3, "k"), (1e6, "M"))


def identify(path: str | Path) -> tuple[Path, str]:
    """``(path, kind)``: ``kind`` is :data:`RESULTS` for a results file (neurosim's or another
    SONATA writer's) and :data:`SWEEP` for a sweep index file.

    Raises :class:`FileNotFoundError` if ``path`` does not exist and :class:`ValueError`
    (message starting with the path) if it is neither kind of file or cannot be opened
    (truncated, locked by a writer).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(errno.ENOENT, "no such file", str(path))
    if not path.is_file() or not h5py.is_hdf5(path):
        raise ValueError(f"{path}: not a neurosim results file (not an HDF5 file)")
    with open_h5(path) as f, readable(path):
        if "n_points" in f.attrs and "table" in f:
            return path, SWEEP
        if {"magic", "complete"} & set(f.attrs) or {"spikes", "report"} & set(f):
            return path, RESULTS
    raise ValueError(f"{path}: not a neurosim results file (an HDF5 file without results or a sweep table)")


@contextmanager
def readable(path: Path) -> Iterator[None]:
    """Turn the errors of reading a damaged or foreign file (a member missing, a dataset that
    cannot be read) into ``ValueError("PATH: ...")``."""
    try:
        yield
    except (KeyError, OSError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        reason = str(exc).strip("'\"").splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(f"{path}: damaged, or not laid out as a neurosim results file ({reason})") from None


def iter_chunks(ds: h5py.Dataset) -> Iterator[np.ndarray]:
    """The dataset ``ds`` read along its first axis, :data:`CHUNK_ELEMENTS` rows at a time."""
    for start in range(0, ds.shape[0], CHUNK_ELEMENTS):
        yield ds[start:start + CHUNK_ELEMENTS]


def _jsonable(value: Any) -> Any:
    """``value`` (numpy or HDF5) as plain JSON values; non-finite floats become ``None``."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    elif isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def _parse_json(text: Any) -> Any:
    """``text`` parsed as JSON, or unchanged when it is not a JSON string."""
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text


def si_units(ds: h5py.Dataset) -> tuple[float, str]:
    """``(factor to SI, SI symbol)`` of the ``units`` attribute of ``ds``."""
    return to_si(_jsonable(ds.attrs.get("units", "")), ds.name)


def _provenance(attrs: h5py.AttributeManager) -> dict[str, Any]:
    """Root attributes; ``packages_json`` is parsed into ``packages`` and ``argv`` into a list."""
    out = {key: _jsonable(value) for key, value in attrs.items()}
    if "packages_json" in out:
        out["packages"] = _parse_json(out.pop("packages_json"))
    if "argv" in out:
        out["argv"] = _parse_json(out["argv"])
    return out


def _report(name: str, group: h5py.Group) -> dict[str, Any]:
    data, mapping = group["data"], group["mapping"]
    t_factor, _ = si_units(mapping["time"])
    return {
        "population": _jsonable(group.attrs.get("population", name)),
        "variable": _jsonable(group.attrs.get("variable")),
        "units": si_units(data)[1],
        "n_nodes": int(mapping["node_ids"].shape[0]),
        "n_samples": int(data.shape[0]),
        "dt_s": float(mapping["time"][2]) * t_factor,
    }


def _weights(group: h5py.Group) -> dict[str, Any]:
    ds = group["weight"]
    factor, units = si_units(ds)
    n = int(ds.shape[0])
    total = sum(float(chunk.sum(dtype=np.float64)) for chunk in iter_chunks(ds))
    return {
        "pre": _jsonable(group.attrs.get("pre")),
        "post": _jsonable(group.attrs.get("post")),
        "n_synapses": n,
        "mean": _jsonable(total * factor / n) if n else None,
        "units": units,
    }


def _first(mask: np.ndarray) -> int | None:
    hits = np.flatnonzero(mask)
    return int(hits[0]) if hits.size else None


def _check_times(ds: h5py.Dataset, span_ms: tuple[float, float] | None, sorted_by_time: bool) -> list[str]:
    """Problems of spike times: not sorted (when the file says they are), NaN, outside the run."""
    factor_ms = si_units(ds)[0] * MS_PER_S
    unsorted = outside = None
    last, start = -math.inf, 0
    for chunk in iter_chunks(ds):
        t = chunk.astype(np.float64) * factor_ms
        if unsorted is None and sorted_by_time:
            k = _first(~(np.diff(t, prepend=last) >= 0))  # NaN counts as unsorted
            unsorted = None if k is None else start + k
        if outside is None and span_ms:
            k = _first(~((t >= span_ms[0] - SLACK_MS) & (t <= span_ms[1] + SLACK_MS)))
            outside = None if k is None else start + k
        last = t[-1] if t.size else last
        start += t.size
    problems = []
    if unsorted is not None:
        problems.append(f"{ds.name}: not sorted by time (from index {unsorted})")
    if outside is not None:
        problems.append(f"{ds.name}: a spike time outside the run's [{span_ms[0]:g}, {span_ms[1]:g}] ms "
                        f"(index {outside})")
    return problems


def _check_ids(ds: h5py.Dataset, size: int | None) -> list[str]:
    """Problems of spike node ids: beyond the population's size."""
    if not size:
        return []
    start = 0
    for chunk in iter_chunks(ds):
        k = _first((chunk < 0) | (chunk >= size))
        if k is not None:
            return [f"{ds.name}: node id {chunk[k]} at index {start + k} is outside the population "
                    f"of {size} neurons"]
        start += chunk.size
    return []


def _check_spikes(group: h5py.Group, size: int | None, span_ms: tuple[float, float] | None) -> list[str]:
    """Cheap integrity checks of one ``/spikes/<pop>`` group (read in chunks)."""
    t, ids = group["timestamps"], group["node_ids"]
    if t.shape != ids.shape:
        return [f"{group.name}: {t.shape[0]} timestamps but {ids.shape[0]} node_ids"]
    sorted_by_time = int(group.attrs.get("sorting", BY_TIME)) == BY_TIME
    return _check_times(t, span_ms, sorted_by_time) + _check_ids(ids, size)


def _span_ms(attrs: h5py.AttributeManager) -> tuple[float, float] | None:
    """The run's time span (ms), when the file records it."""
    if "t_start_ms" not in attrs or "t_stop_ms" not in attrs:
        return None
    return float(attrs["t_start_ms"]), float(attrs["t_stop_ms"])


def _summarize_results(path: Path) -> dict[str, Any]:
    res = load(path)
    with h5py.File(path, "r") as f:
        provenance = _provenance(f.attrs)
        spikes = {pop: int(f["spikes"][pop]["timestamps"].shape[0]) for pop in res.spikes}
        reports = {name: _report(name, f["report"][name]) for name in res.reports}
        weights = {name: _weights(f["weights"][name]) for name in res.weights}
        problems = [problem for pop in res.spikes
                    for problem in _check_spikes(f["spikes"][pop], res.populations.get(pop), _span_ms(f.attrs))]
    populations = {}
    for pop in [*res.populations, *(p for p in spikes if p not in res.populations)]:
        size, count = res.populations.get(pop), spikes.get(pop)
        rate = count / (size * res.duration) if count is not None and size and res.duration else None
        populations[pop] = {"size": size, "spikes": count, "rate_hz": rate}
    return {
        "path": str(path),
        "kind": RESULTS,
        "complete": res.complete,
        "duration_s": res.duration,
        "dt_s": res.dt,
        "config_sha256": res.config_sha256,
        "populations": populations,
        "reports": reports,
        "weights": weights,
        "metrics": {name: _jsonable(value) for name, value in res.metrics.items()},
        "metric_attrs": {name: attrs for name, attrs in res.metric_attrs.items() if attrs},
        "provenance": provenance,
        "problems": problems,
    }


def _point_complete(path: Path) -> bool:
    try:
        with h5py.File(path, "r") as f:
            return bool(f.attrs.get("complete", False))
    except OSError:
        return False


def _summarize_sweep(path: Path) -> dict[str, Any]:
    with h5py.File(path, "r") as f:
        table = f["table"]
        paths = [str(path.parent / p) for p in _jsonable(table["path"][()])]
        sweep = {
            "n_points": int(f.attrs["n_points"]),
            "params": {name: _jsonable(ds[()]) for name, ds in table["params"].items()},
            "seeds": _jsonable(table["seed"][()]),
            "metrics": {name: _jsonable(ds[()]) for name, ds in table["metrics"].items()},
            "paths": paths,
            "complete": [_point_complete(Path(p)) for p in paths],
        }
        sha = _jsonable(f.attrs.get("config_sha256"))
    return {"path": str(path), "kind": SWEEP, "complete": all(sweep["complete"]), "config_sha256": sha,
            "sweep": sweep}


def summarize(path: str | Path) -> dict[str, Any]:
    """A JSON-serialisable summary of the results file or sweep index file at ``path``.

    A results file gives ``path``, ``kind`` ("results"), ``complete``, ``duration_s``, ``dt_s``,
    ``config_sha256``, ``populations`` (name -> ``size``, ``spikes`` (None if not recorded),
    ``rate_hz``: recorded spikes per neuron of the population and second), ``reports`` (name ->
    ``population``, ``variable``, SI ``units``, ``n_nodes``, ``n_samples``, ``dt_s``),
    ``weights`` (name -> ``pre``, ``post``, ``n_synapses``, ``mean`` (SI), ``units``),
    ``metrics`` (name -> number or list), ``metric_attrs`` (name -> ``x``, ``units``),
    ``provenance`` (root attributes) and ``problems`` (what the cheap integrity checks found:
    spike times unsorted or outside the run, node ids outside the population; one line each,
    naming the dataset). A sweep index gives ``path``, ``kind`` ("sweep"),
    ``complete`` (every point file complete), ``config_sha256`` and ``sweep``: ``n_points``
    and per point (lists in point order) ``params``, ``seeds``, ``metrics``, ``paths``,
    ``complete``. Errors: see :func:`identify`.
    """
    path, kind = identify(path)
    with readable(path):
        return _summarize_sweep(path) if kind == SWEEP else _summarize_results(path)


# ------------------------------------------------------------------------------- text
def _number(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def _quantity(value: float | None, units: str | None) -> str:
    """``value`` with an engineering prefix for SI ``units`` (``3e-11, "A"`` -> ``"30 pA"``)."""
    if value is None or not units:
        return _number(value)
    if units not in ("s", "V", "A", "Hz") or value == 0:
        return f"{value:.4g} {units}"
    scale, prefix = next(((s, p) for s, p in reversed(PREFIXES) if abs(value) >= s), PREFIXES[0])
    return f"{value / scale:.4g} {prefix}{units}"


def _metric(value: Any, attrs: dict[str, Any]) -> str:
    units = attrs.get("units")
    if not isinstance(value, list):
        return _quantity(value, units) if isinstance(value, float) else f"{_number(value)} {units or ''}".rstrip()
    finite = [v for v in np.ravel(np.asarray(value, dtype=object)) if isinstance(v, (int, float))]
    text = f"{len(value)} values"
    if finite:
        text += f" in [{_number(min(finite))}, {_number(max(finite))}]" + (f" {units}" if units else "")
    return text + (f" against {attrs['x']}" if attrs.get("x") else "")


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    """Left-aligned first column, right-aligned others, two spaces apart."""
    widths = [max(len(r[k]) for r in [header, *rows]) for k in range(len(header))]
    return ["  " + "  ".join(c.ljust(w) if k == 0 else c.rjust(w) for k, (c, w) in enumerate(zip(r, widths)))
            for r in [header, *rows]]


def _format_results(s: dict[str, Any]) -> str:
    prov = s["provenance"]
    lines = [f"{s['path']}: {'complete' if s['complete'] else 'INCOMPLETE'} results, "
             f"{_quantity(s['duration_s'], 's')} simulated, dt = {_quantity(s['dt_s'], 's')}"]
    lines += [f"CORRUPT: {problem}" for problem in s.get("problems", [])]
    if "neurosim_version" in prov:
        git = f"git {prov.get('git_commit', '')[:12] or '-'}{' (dirty)' if prov.get('git_dirty') else ''}"
        lines.append(f"  neurosim {prov['neurosim_version']}, {git}, task {prov.get('task', '-')}, "
                     f"seed {prov.get('root_seed', '-')}, on {prov.get('hostname', '-')} "
                     f"at {prov.get('start_time_utc', '-')}")
    if isinstance(prov.get("argv"), list):
        lines.append(f"  command: {' '.join(prov['argv'])}")
    if s["config_sha256"]:
        lines.append(f"  config sha256: {s['config_sha256']}")
    if s["populations"]:
        lines += ["", "populations"] + _table(
            ["name", "size", "spikes", "rate"],
            [[name, _number(p["size"]), "not recorded" if p["spikes"] is None else str(p["spikes"]),
              _quantity(p["rate_hz"], "Hz")] for name, p in s["populations"].items()])
    if s["reports"]:
        lines += ["", "reports"] + _table(
            ["name", "variable", "nodes", "samples", "every", "units"],
            [[name, f"{r['population']}.{r['variable']}", str(r["n_nodes"]), str(r["n_samples"]),
              _quantity(r["dt_s"], "s"), r["units"]] for name, r in s["reports"].items()])
    if s["weights"]:
        lines += ["", "weights"] + _table(
            ["name", "pre -> post", "synapses", "mean"],
            [[name, f"{w['pre']} -> {w['post']}", str(w["n_synapses"]), _quantity(w["mean"], w["units"])]
             for name, w in s["weights"].items()])
    if s["metrics"]:
        lines += ["", "metrics"] + _table(
            ["name", "value"],
            [[name, _metric(value, s["metric_attrs"].get(name, {}))] for name, value in s["metrics"].items()])
    return "\n".join(lines)


def _short_names(names: list[str]) -> list[str]:
    """Last dotted component of each name where that is unambiguous."""
    last = [n.rsplit(".", 1)[-1] for n in names]
    return last if len(set(last)) == len(last) else names


def _format_sweep(s: dict[str, Any]) -> str:
    sweep = s["sweep"]
    params, metrics = list(sweep["params"]), list(sweep["metrics"])
    done = sum(sweep["complete"])
    lines = [f"{s['path']}: sweep of {sweep['n_points']} points, {done} complete",
             f"  config sha256: {s['config_sha256']}", ""]
    rows = [[str(i), *(_number(sweep["params"][p][i]) for p in params), str(sweep["seeds"][i]),
             *(_number(sweep["metrics"][m][i]) for m in metrics),
             ("" if sweep["complete"][i] else "MISSING ") + sweep["paths"][i]]
            for i in range(sweep["n_points"])]
    lines += _table(["point", *_short_names(params), "seed", *metrics, "file"], rows)
    return "\n".join(lines)


def format_summary(summary: dict[str, Any]) -> str:
    """The summary from :func:`summarize` as readable multi-line text."""
    return _format_sweep(summary) if summary["kind"] == SWEEP else _format_results(summary)
