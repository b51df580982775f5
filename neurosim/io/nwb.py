"""Export a results file to NWB (Neurodata Without Borders, https://nwb.org) with pynwb.

    export_nwb("results/run.h5", "results/run.nwb")      # neurosim export nwb run.h5 --out run.nwb

The NWB file holds, all times in seconds from the start of the simulation:

- ``units``: one row per neuron of every population with a spike recording (all its neurons,
  silent ones included): ``spike_times`` (s, ascending), ``population`` and ``node_id`` (the
  neuron's index in its population); ``resolution`` is the time step;
- ``acquisition/<population>.<variable>``: one ``TimeSeries`` per state report, shape
  (samples, recorded neurons), in SI ``unit`` (V, A, S, ...) with ``starting_time`` and ``rate``;
  ``comments`` holds JSON with the population, variable and the columns' node ids;
- ``processing/misc/rate.<population>``: population rates (Hz), when recorded;
- ``scratch/metric_<name>``: every metric (its units and axes in the description), and
  ``scratch/config_toml``: the run's scenario (TOML; its sha256 in the description);
- ``notes``: the run's provenance as JSON (seed, versions of neurosim and its packages, git
  commit, command line, host, start and end times).

Spikes are regrouped by neuron through a temporary memory-mapped file beside the output and
every large array reaches pynwb chunk by chunk, so memory stays small whatever the file's
size. The NWB file is written under a partial name and renamed into place when complete.
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import h5py
import numpy as np

from neurosim.io.neo_block import population_sizes, text
from neurosim.io.sonata import to_si
from neurosim.io.summary import RESULTS, identify, iter_chunks, readable

#: spikes sorted per neuron at a time when the regrouped spike times are put in order
SORT_ELEMENTS = 1 << 20
#: memory (GB) pynwb reads at a time from a large array, and the size (MB) of an HDF5 chunk
BUFFER_GB, CHUNK_MB = 0.0625, 1.0
#: keywords of every exported file
KEYWORDS = ["simulation", "spiking neural network", "neurosim"]


def _nwb_name(name: str) -> str:
    """``name`` as an NWB object name: no '/' (a path separator) and no ':' (discouraged)."""
    return name.replace("/", "_").replace(":", "-")


def _json_value(value: Any) -> Any:
    """An HDF5 attribute as a JSON value (arrays as lists, JSON strings parsed)."""
    value = text(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _chunks(array: Any, scale: float | None = None) -> Any:
    """A ``GenericDataChunkIterator`` over ``array`` (h5py dataset, memmap) that pynwb reads one
    buffer at a time; with ``scale``, the values times ``scale`` as float64 (to SI)."""
    from hdmf.data_utils import GenericDataChunkIterator

    class ArrayChunks(GenericDataChunkIterator):
        def _get_data(self, selection: tuple[slice, ...]) -> np.ndarray:
            data = array[selection]
            return data if scale is None else data.astype(np.float64) * scale

        def _get_maxshape(self) -> tuple[int, ...]:
            return tuple(array.shape)

        def _get_dtype(self) -> np.dtype:
            return np.dtype(array.dtype if scale is None else np.float64)

    return ArrayChunks(buffer_gb=BUFFER_GB, chunk_mb=CHUNK_MB)


def _compressed(array: Any, scale: float | None = None) -> Any:
    """``array`` for pynwb: in chunks and gzip-compressed when not empty."""
    from hdmf.backends.hdf5.h5_utils import H5DataIO

    if array.shape[0] == 0:
        return np.empty(array.shape, np.float64 if scale is not None else array.dtype)
    return H5DataIO(_chunks(array, scale), compression="gzip")


# ----------------------------------------------------------------------------- spikes
def _counts(ids: h5py.Dataset, size: int) -> np.ndarray:
    """Spikes per node id, checking every id lies in ``[0, size)``."""
    counts = np.zeros(size, np.int64)
    for chunk in iter_chunks(ids):
        chunk = chunk.astype(np.int64)
        if chunk.size and (chunk.min() < 0 or chunk.max() >= size):
            bad = chunk[(chunk < 0) | (chunk >= size)][0]
            raise ValueError(f"{ids.name}: node id {bad} is outside the population of {size} neurons")
        counts += np.bincount(chunk, minlength=size)
    return counts


def _scatter(group: h5py.Group, starts: np.ndarray, out: np.ndarray) -> None:
    """Write the spike times (s) of ``group`` into ``out``, neuron ``k``'s from ``starts[k]`` on,
    in file order (a stable scatter, chunk by chunk)."""
    factor, _ = to_si(text(group["timestamps"].attrs.get("units", "ms")), group["timestamps"].name)
    cursor = starts.copy()
    for t, ids in zip(iter_chunks(group["timestamps"]), iter_chunks(group["node_ids"])):
        ids = ids.astype(np.int64)
        order = np.argsort(ids, kind="stable")
        ids = ids[order]
        first = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
        runs = np.diff(np.r_[first, ids.size])
        rank = np.arange(ids.size) - np.repeat(first, runs)
        out[cursor[ids] + rank] = t[order].astype(np.float64) * factor
        cursor[ids[first]] += runs


def _sort_per_unit(out: np.ndarray, counts: np.ndarray) -> None:
    """Put each unit's spike times in ``out`` in ascending order, a few million spikes at a time."""
    ends = np.cumsum(counts)
    starts = ends - counts
    u = 0
    while u < counts.size:
        v = max(u + 1, int(np.searchsorted(ends, starts[u] + SORT_ELEMENTS, side="right")))
        a, b = starts[u], ends[v - 1]
        seg = np.asarray(out[a:b])
        out[a:b] = seg[np.lexsort((seg, np.repeat(np.arange(v - u), counts[u:v])))]
        u = v


def _scratch_array(path: Path, n: int) -> np.ndarray:
    """``n`` float64 in a memory-mapped file at ``path``, its blocks reserved up front so that a
    full disk is an ``OSError`` here rather than a crash when a page is written."""
    if n == 0:
        return np.empty(0)
    with open(path, "wb") as fh:
        if hasattr(os, "posix_fallocate"):
            os.posix_fallocate(fh.fileno(), 0, n * 8)
        else:
            fh.truncate(n * 8)
    return np.memmap(path, np.float64, "r+", shape=(n,))


def _units(f: h5py.File, scratch: Path, dt: float | None) -> tuple[Any, dict[str, np.ndarray]]:
    """The NWB units table of every spike population of ``f`` (spike times regrouped by neuron
    in the scratch file ``scratch``; None without spike recordings) and each population's spike
    counts per neuron."""
    from hdmf.common import ElementIdentifiers, VectorData, VectorIndex
    from pynwb.misc import Units

    counts = {pop: _counts(f["spikes"][pop]["node_ids"], size) for pop, size in population_sizes(f).items()}
    pops = list(counts)
    if not pops:
        return None, counts
    per_unit = np.concatenate([counts[p] for p in pops])
    times = _scratch_array(scratch, int(per_unit.sum()))
    starts = np.cumsum(per_unit) - per_unit
    first = 0
    for pop in pops:
        _scatter(f["spikes"][pop], starts[first:first + counts[pop].size], times)
        first += counts[pop].size
    _sort_per_unit(times, per_unit)
    spike_times = VectorData(name="spike_times", description="spike times (s) of each neuron",
                             data=_compressed(times))
    index = VectorIndex(name="spike_times_index", target=spike_times, data=np.cumsum(per_unit).astype(np.uint64))
    population = VectorData(name="population", description="the neuron's population",
                            data=[pop for pop in pops for _ in range(counts[pop].size)])
    node_id = VectorData(name="node_id", description="the neuron's index in its population (SONATA node id)",
                         data=np.concatenate([np.arange(counts[p].size) for p in pops]))
    units = Units(name="units", id=ElementIdentifiers(name="id", data=np.arange(per_unit.size)),
                  columns=[index, spike_times, population, node_id], resolution=dt,
                  description="simulated neurons: one unit per neuron of each population whose spikes were recorded")
    return units, counts


# ----------------------------------------------------------------------------- time series
def _time_axis(t: np.ndarray) -> dict[str, Any]:
    """``starting_time`` and ``rate`` of regularly spaced sample times ``t`` (s), else ``timestamps``."""
    step = np.diff(t)
    if step.size and step[0] > 0 and np.allclose(step, step[0], rtol=1e-9, atol=0):
        return {"starting_time": float(t[0]), "rate": 1.0 / float(step[0])}
    return {"timestamps": t}


def _reports(f: h5py.File) -> list[Any]:
    """A ``TimeSeries`` per ``/report/<name>``: data in SI read chunk by chunk, regular sampling."""
    from pynwb import TimeSeries

    series = []
    for name, group in (f["report"].items() if "report" in f else []):
        data, mapping = group["data"], group["mapping"]
        factor, units = to_si(text(data.attrs.get("units", "")), data.name)
        t_factor, _ = to_si(text(mapping["time"].attrs.get("units", "ms")), mapping["time"].name)
        start, _, step = mapping["time"][()]
        pointers = mapping["index_pointers"][()].astype(np.int64)
        node_ids = np.repeat(mapping["node_ids"][()].astype(np.int64), np.diff(pointers))
        population = text(group.attrs.get("population", name))
        variable = text(group.attrs.get("variable", ""))
        label = f"{population}.{variable}" if variable else name
        series.append(TimeSeries(
            name=_nwb_name(label), data=_compressed(data, factor), unit=units, starting_time=float(start) * t_factor,
            rate=1.0 / (float(step) * t_factor),
            description=f"state variable {variable or name} of population {population}: one column per "
                        f"recorded neuron (node ids in comments)",
            comments=json.dumps({"population": population, "variable": variable or None,
                                 "node_ids": node_ids.tolist()})))
    return series


def _rates(f: h5py.File) -> list[Any]:
    """A ``TimeSeries`` (Hz) per ``/rates/<group>``."""
    from pynwb import TimeSeries

    series = []
    for name, group in (f["rates"].items() if "rates" in f else []):
        t_factor, _ = to_si(text(group["t"].attrs.get("units", "ms")), group["t"].name)
        t = group["t"][()] * t_factor
        series.append(TimeSeries(name=_nwb_name(f"rate.{name}"), data=_compressed(group["rate"]), unit="Hz",
                                 description=f"population rate of {name}: spikes per neuron and second in each "
                                             "time step", **_time_axis(t)))
    return series


# ----------------------------------------------------------------------------- metadata
def _metrics(f: h5py.File) -> list[Any]:
    """A ``ScratchData`` per ``/metrics/<name>``, its units and axes in the description."""
    from pynwb.core import ScratchData

    out = []
    for name, ds in (f["metrics"].items() if "metrics" in f else []):
        attrs = {key: _json_value(value) for key, value in ds.attrs.items()}
        about = ", ".join(f"{key} {value}" for key, value in attrs.items())
        out.append(ScratchData(name=_nwb_name(f"metric_{name}"), data=ds[()],
                               description=f"neurosim metric {name}" + (f" ({about})" if about else "")))
    return out


def _start_time(attrs: dict[str, Any], path: Path) -> datetime:
    """When the run started (UTC), else when the results file was last written."""
    try:
        return datetime.fromisoformat(attrs["start_time_utc"]).astimezone(timezone.utc)
    except (KeyError, TypeError, ValueError):
        return datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)


def _nwbfile(f: h5py.File, path: Path, species: str | None) -> Any:
    from pynwb import NWBFile
    from pynwb.core import ScratchData
    from pynwb.file import Subject

    attrs = {key: _json_value(value) for key, value in f.attrs.items()}
    config = f["config"].attrs if "config" in f else {}
    toml = text(config.get("toml")) if "toml" in config else None
    name = _name(toml) or path.stem
    start = _start_time(attrs, path)
    version = attrs.get("neurosim_version")
    nwb = NWBFile(
        session_description=f"neurosim simulation {name!r} (task {attrs.get('task', 'unknown')})",
        identifier=str(uuid.uuid4()),
        session_start_time=start,
        experiment_description=f"Spiking network simulated with neurosim{f' {version}' if version else ''}; "
                               f"exported from {path.name}",
        keywords=KEYWORDS,
        notes=json.dumps({"neurosim_provenance": attrs, "config_sha256": text(config.get("sha256"))}, sort_keys=True),
        subject=Subject(subject_id=_nwb_name(name), sex="U", date_of_birth=start, species=species,
                        description="not an animal: a spiking network simulated in silico, built when the run "
                                    "started (date of birth)" + (f"; a model of {species}" if species else "")),
    )
    if toml is not None:
        nwb.add_scratch(ScratchData(name="config_toml", data=toml,
                                    description=f"scenario configuration (TOML) of the run, sha256 "
                                                f"{text(config.get('sha256', ''))}"))
    return nwb


def _name(toml: str | None) -> str | None:
    """The scenario's ``name`` from its TOML, if it has one."""
    import tomllib

    try:
        name = tomllib.loads(toml or "").get("name")
    except tomllib.TOMLDecodeError:
        return None
    return name if isinstance(name, str) else None


# ----------------------------------------------------------------------------- export
def _check_layout(f: h5py.File) -> None:
    """Touch every member the export reads, so that a damaged or foreign file fails (KeyError)
    before anything is written."""
    for group in (f["spikes"].values() if "spikes" in f else []):
        if group["timestamps"].shape != group["node_ids"].shape:
            raise ValueError(f"{group.name}: {group['timestamps'].shape[0]} timestamps but "
                             f"{group['node_ids'].shape[0]} node_ids")
    for group in (f["report"].values() if "report" in f else []):
        mapping = group["mapping"]
        pointers = mapping["index_pointers"]
        if pointers.shape != (mapping["node_ids"].shape[0] + 1,) or mapping["time"].shape != (3,) \
                or group["data"].shape[1:] != (int(pointers[-1]),):
            raise ValueError(f"{group.name}: data, mapping/node_ids, index_pointers and time do not match")
    for group in (f["rates"].values() if "rates" in f else []):
        if group["t"].shape != group["rate"].shape:
            raise ValueError(f"{group.name}: {group['t'].shape[0]} times but {group['rate'].shape[0]} rates")


def _check_paths(results: Path, out: Path, overwrite: bool) -> None:
    """Bad input as the error that names the path: the output must be a new (or, with
    ``overwrite``, an existing) ``.nwb`` file in a folder this process can write, not the
    results file. Missing folders are made."""
    if out.suffix != ".nwb":
        raise ValueError(f"--out: an NWB file's name ends in .nwb, got {out}")
    if out.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a directory", str(out))
    if out.exists() and out.resolve() == results.resolve():
        raise ValueError(f"--out: {out} is the results file itself")
    if out.exists() and not overwrite:
        raise FileExistsError(errno.EEXIST, "exists", str(out))
    above = next(p for p in out.parents if p.exists())
    if not above.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "is a file, not a folder", str(above))
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryFile(dir=out.parent):
            pass
    except OSError as exc:
        raise PermissionError(exc.errno, f"cannot write in this folder ({exc.strerror})", str(out.parent)) from None


@contextmanager
def _atomic(out: Path) -> Iterator[tuple[Path, Path]]:
    """``(partial, scratch)``: the partial file beside ``out`` to write, renamed to ``out`` if the
    block succeeds and deleted otherwise, and a scratch file deleted either way."""
    temp = out.with_name(f".{out.name}.partial-{os.getpid()}.nwb")
    scratch = out.with_name(f".{out.name}.spikes-{os.getpid()}")
    try:
        yield temp, scratch
        os.replace(temp, out)
    finally:
        temp.unlink(missing_ok=True)
        scratch.unlink(missing_ok=True)


def export_nwb(results: str | os.PathLike, out: str | os.PathLike, overwrite: bool = False,
               species: str | None = None) -> dict[str, Any]:
    """Write the results file ``results`` as the NWB file ``out``; return a short report
    (``target``, ``out``, ``units``, ``spikes``, ``populations``, ``time_series``, ``metrics``).
    ``species`` is the subject's species (the species the model is of, Latin binomial such as
    "Mus musculus" or an NCBI taxonomy link); DANDI requires one, but a simulation has none
    unless you say so.

    Raises, before anything is written, :class:`FileNotFoundError` (no ``results``),
    :class:`FileExistsError` (``out`` exists and not ``overwrite``), :class:`IsADirectoryError`,
    :class:`PermissionError` (an unwritable folder) and :class:`ValueError` (``results`` is not a
    run's results file or is damaged, ``out`` does not end in ``.nwb`` or is ``results``).
    """
    from pynwb import NWBHDF5IO

    path, kind = identify(results)
    if kind != RESULTS:
        raise ValueError(f"{path}: a sweep index, not a run's results; export each point's results file")
    out = Path(out)
    _check_paths(path, out, overwrite)
    with h5py.File(path, "r") as f, _atomic(out) as (temp, scratch):
        with readable(path):
            _check_layout(f)
        nwb = _nwbfile(f, path, species)
        units, counts = _units(f, scratch, float(f.attrs["dt_ms"]) * 1e-3 if "dt_ms" in f.attrs else None)
        if units is not None:
            nwb.units = units
        reports = _reports(f)
        for series in reports:
            nwb.add_acquisition(series)
        rates = _rates(f)
        if rates:
            nwb.create_processing_module("misc", "population rates recorded by neurosim").add(rates)
        metrics = _metrics(f)
        for metric in metrics:
            nwb.add_scratch(metric)
        with NWBHDF5IO(temp, "w") as io:
            io.write(nwb)
    return {"target": "nwb", "out": str(out), "units": int(sum(c.size for c in counts.values())),
            "spikes": int(sum(c.sum() for c in counts.values())), "populations": list(counts),
            "time_series": len(reports) + len(rates), "metrics": len(metrics)}
