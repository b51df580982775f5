"""Read a results file back in SI units (seconds, volts, amperes, hertz).

    res = load("out/run.h5")
    t, ids = res.spikes["exc"]                 # s, local node ids
    v = res.reports["exc"]                     # Report: t (s), data (V), node_ids
    res.metrics["test_accuracy"], res.provenance["git_commit"]

Small things (attributes, metrics, config) are read by :func:`load`; spikes, reports, rates
and weights are read from the file on each access, so only what is asked for is in memory.
Files of other SONATA writers load too (their spikes and reports).
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Generic, Iterator, Mapping, NamedTuple, TypeVar

import h5py
import numpy as np

from neurosim.io.sonata import MS_PER_S, to_si

T = TypeVar("T")


class Spikes(NamedTuple):
    """Spikes of one population: times ``t`` (s) and local ``node_ids``."""

    t: np.ndarray
    node_ids: np.ndarray


class Rate(NamedTuple):
    """Population rate ``rate`` (Hz) at times ``t`` (s)."""

    t: np.ndarray
    rate: np.ndarray


@dataclass(frozen=True)
class Report:
    """A state report: ``data[k, j]`` (SI ``units``) at ``t[k]`` (s) of node ``node_ids[j]``."""

    population: str
    variable: str | None
    t: np.ndarray
    data: np.ndarray
    node_ids: np.ndarray
    units: str


@dataclass(frozen=True)
class Weights:
    """Synapses of a projection: ``pre[k] -> post[k]`` (local ids), ``weight`` (SI ``units``),
    ``delay`` (s)."""

    pre_population: str
    post_population: str
    pre: np.ndarray
    post: np.ndarray
    weight: np.ndarray
    delay: np.ndarray
    units: str


class LazyGroup(Mapping[str, T], Generic[T]):
    """Read-on-access mapping over the members of one HDF5 group (nothing is cached)."""

    def __init__(self, path: Path, group: str, names: list[str], read: Callable[[h5py.Group], T]):
        self._path, self._group, self._names, self._read = path, group, names, read

    def __getitem__(self, name: str) -> T:
        if name not in self._names:
            raise KeyError(f"{self._group}/{name} is not in {self._path}")
        with h5py.File(self._path, "r") as f:
            return self._read(f[self._group][name])

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __repr__(self) -> str:
        return f"LazyGroup({self._group!r}, {self._names!r})"


@dataclass(frozen=True)
class Results:
    """The contents of a results file (see :mod:`neurosim.io.writer` for the layout).

    ``provenance`` holds every root attribute; ``complete`` is False for a file that was not
    finalised; ``duration`` and ``dt`` (s) are None when no network was recorded;
    ``metric_attrs[name]`` holds a metric's ``x`` and ``units``.
    """

    path: Path
    provenance: dict[str, Any]
    complete: bool
    populations: dict[str, int]
    dt: float | None
    duration: float | None
    config_toml: str | None
    config_sha256: str | None
    metrics: dict[str, Any]
    metric_attrs: dict[str, dict[str, Any]]
    spikes: LazyGroup[Spikes]
    reports: LazyGroup[Report]
    rates: LazyGroup[Rate]
    weights: LazyGroup[Weights]


def _plain(value: Any) -> Any:
    """HDF5 attribute value as a plain Python value."""
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _units(ds: h5py.Dataset) -> tuple[float, str]:
    return to_si(_plain(ds.attrs.get("units", "")), ds.name)


def _read_spikes(group: h5py.Group) -> Spikes:
    factor, _ = _units(group["timestamps"])
    return Spikes(group["timestamps"][()].astype(np.float64) * factor, group["node_ids"][()].astype(np.int64))


def _read_rate(group: h5py.Group) -> Rate:
    factor, _ = _units(group["t"])
    return Rate(group["t"][()] * factor, group["rate"][()].astype(np.float64))


def _read_report(group: h5py.Group) -> Report:
    mapping = group["mapping"]
    factor, units = _units(group["data"])
    t_factor, _ = _units(mapping["time"])
    start, _, step = mapping["time"][()]
    data = group["data"][()].astype(np.float64) * factor
    pointers = mapping["index_pointers"][()].astype(np.int64)
    node_ids = np.repeat(mapping["node_ids"][()].astype(np.int64), np.diff(pointers))
    return Report(
        population=_plain(group.attrs.get("population", group.name.rsplit("/", 1)[-1])),
        variable=_plain(group.attrs.get("variable")),
        t=(start + np.arange(data.shape[0]) * step) * t_factor,
        data=data,
        node_ids=node_ids,
        units=units,
    )


def _read_weights(group: h5py.Group) -> Weights:
    factor, units = _units(group["weight"])
    delay_factor, _ = _units(group["delay"])
    return Weights(
        pre_population=_plain(group.attrs["pre"]),
        post_population=_plain(group.attrs["post"]),
        pre=group["pre"][()].astype(np.int64),
        post=group["post"][()].astype(np.int64),
        weight=group["weight"][()].astype(np.float64) * factor,
        delay=group["delay"][()] * delay_factor,
        units=units,
    )


def _open_failure(exc: OSError) -> str:
    """Why HDF5 could not open a file, in a few words."""
    text = str(exc)
    if "unable to lock file" in text:
        return "locked by another process (a run still writing it?); try again when it has finished"
    if "truncated file" in text:
        return "truncated (an incomplete copy or download?)"
    if "signature not found" in text:
        return "not an HDF5 file"
    return f"cannot be opened as HDF5 ({text.split('(')[-1].rstrip(')') or type(exc).__name__})"


def open_h5(path: str | Path) -> h5py.File:
    """``h5py.File(path, "r")``, raising :class:`FileNotFoundError` for a missing file and
    :class:`ValueError` ("PATH: reason") for one HDF5 cannot open: not HDF5, truncated, or locked
    by a process writing it."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(errno.ENOENT, "no such file", str(path))
    if not path.is_file():
        raise ValueError(f"{path}: not a file")
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise ValueError(f"{path}: {_open_failure(exc)}") from None


def is_results_file(path: str | Path) -> bool:
    """True if ``path`` is a file neurosim wrote: a run's results (provenance attributes) or a
    sweep's index; False for anything else (other HDF5 files, text, unreadable files)."""
    try:
        with open_h5(path) as f:
            return "neurosim_version" in f.attrs or "n_points" in f.attrs
    except (OSError, ValueError):
        return False


def _names(f: h5py.File, group: str) -> list[str]:
    return list(f[group].keys()) if group in f else []


def load(path: str | Path) -> Results:
    """Open the results file at ``path``."""
    path = Path(path)
    with h5py.File(path, "r") as f:
        attrs = {key: _plain(value) for key, value in f.attrs.items()}
        config = f["config"].attrs if "config" in f else {}
        metrics, metric_attrs = {}, {}
        for name, ds in (f["metrics"].items() if "metrics" in f else []):
            metrics[name] = ds[()].item() if ds.ndim == 0 else ds[()]
            metric_attrs[name] = {key: _plain(value) for key, value in ds.attrs.items()}
        populations = {k: int(v) for k, v in f["populations"].attrs.items()} if "populations" in f else {}
        span = attrs.get("t_start_ms"), attrs.get("t_stop_ms")
        return Results(
            path=path,
            provenance=attrs,
            complete=bool(attrs.get("complete", False)),
            populations=populations,
            dt=attrs["dt_ms"] / MS_PER_S if "dt_ms" in attrs else None,
            duration=(span[1] - span[0]) / MS_PER_S if None not in span else None,
            config_toml=_plain(config["toml"]) if "toml" in config else None,
            config_sha256=_plain(config["sha256"]) if "sha256" in config else None,
            metrics=metrics,
            metric_attrs=metric_attrs,
            spikes=LazyGroup(path, "spikes", _names(f, "spikes"), _read_spikes),
            reports=LazyGroup(path, "report", _names(f, "report"), _read_report),
            rates=LazyGroup(path, "rates", _names(f, "rates"), _read_rate),
            weights=LazyGroup(path, "weights", _names(f, "weights"), _read_weights),
        )
