"""Write one run's results to one HDF5 file, streamed block by block and renamed atomically.

    with ResultsWriter("out/run.h5", config_toml=toml, root_seed=seed) as w:
        net.spike_monitor(exc, sink=w.sink())
        net.state_monitor(exc, ("v", "i_exc"), indices=range(10), sink=w.sink())
        net.run("1 s")
        w.write_metric("rate_hz", 4.2, units="Hz")
        w.write_weights(net.projections[0])

Layout (a superset of SONATA, see :mod:`neurosim.io.sonata`)::

    /                      magic, version, provenance attributes, complete, dt_ms, t_start_ms, t_stop_ms
    /spikes/<pop>          timestamps (float64, ms), node_ids (uint64); sorting = by_time
                           (a monitor of a subgroup or a merged monitor writes under each parent
                           population, with the parent's node ids)
    /report/<pop>[.<var>]  data (float32, mV or nA) and mapping/{node_ids, index_pointers, element_ids, time}
    /rates/<pop>           t (ms), rate (Hz); <pop> may be a subgroup such as P[0:100]
    /metrics/<name>        scalar or array; optional attrs x (metric used as x-axis), units
    /weights/<name>        pre, post (uint64), weight (A or V), delay (ms)
    /populations           attrs: population name -> size
    /config                attrs toml, sha256

The file is written as ``.<name>.partial-<pid>`` next to the final path, holding the output's
lock (:mod:`neurosim.io.lock`); :meth:`ResultsWriter.close` marks it complete, flushes and fsyncs
it and moves it to the final path (a hard link that fails if the path exists, or
:func:`os.replace` with ``overwrite``), so a killed run never leaves a file at the final path.
A failed run's partial file is closed without writing more (a full disk must not crash h5py)
and deleted; partial files of runs that were killed are deleted by the next writer of the path.
"""

from __future__ import annotations

import errno
import glob
import hashlib
import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Sequence

import h5py
import numpy as np

from neurosim.io import provenance
from neurosim.io.lock import OutputLock
from neurosim.io.sonata import (
    BY_TIME,
    MS_PER_S,
    SORTING,
    append,
    create_stream,
    report_name,
    report_units,
    result_groups,
    write_root_attrs,
)
from neurosim.monitors import MergedSpikeMonitor, Monitor, RateMonitor, SpikeMonitor, StateMonitor
from neurosim.neurons.dimensions import named
from neurosim.subgroup import first_of, parent_of

if TYPE_CHECKING:
    from neurosim.network import Network
    from neurosim.projection import Projection

OVERWRITE = ("error", "overwrite")
#: HDF5 chunk cache per open dataset: holds a few partly written chunks
CHUNK_CACHE_BYTES = 4 << 20


def _check_name(name: str, what: str) -> str:
    if not isinstance(name, str) or not name or "/" in name or name in (".", ".."):
        raise ValueError(f"{what}: must be a non-empty name without '/', got {name!r}")
    return name


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


#: errors a full disk (or quota) gives, as errno values and in HDF5's messages
_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
_DISK_FULL_TEXT = ("No space left on device", "Disk quota exceeded", f"errno = {errno.ENOSPC},")
#: os.link errors of file systems without hard links (then the final move checks, then replaces)
_NO_LINKS = (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS, errno.EMLINK)


def disk_full(exc: BaseException | None) -> bool:
    """True if ``exc``, or an exception it was raised from, says the disk (or quota) is full."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if (isinstance(exc, OSError) and exc.errno in _DISK_FULL) or any(t in str(exc) for t in _DISK_FULL_TEXT):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def raise_if_disk_full(exc: BaseException, path: Path) -> None:
    """Raise ``OSError(ENOSPC, ..., path)`` from ``exc`` if ``exc`` is a full disk: the one error a run
    that filled the disk ends with (the CLI says "no space left on device: PATH")."""
    if disk_full(exc):
        raise OSError(errno.ENOSPC, "no space left on device", str(path)) from exc


def partial_path(path: Path, pid: int | None = None) -> Path:
    """``.<name>.partial-<pid>`` beside ``path``: where a run writes before the file is complete."""
    return path.with_name(f".{path.name}.partial-{os.getpid() if pid is None else pid}")


def _alive(pid: int) -> bool:
    if os.name != "posix":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process
        return True
    return True


def remove_stale_partials(path: Path) -> list[Path]:
    """Delete the partial files of ``path`` whose process is gone (runs that were killed);
    return them. Call it holding the output's lock."""
    prefix = f".{path.name}.partial-"
    stale = []
    for partial in path.parent.glob(glob.escape(prefix) + "*"):
        pid = partial.name[len(prefix):]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)) and partial.is_file():
            partial.unlink(missing_ok=True)
            stale.append(partial)
    return stale


def _discard_and_close(f: h5py.File) -> None:
    """Close ``f``, whose file is about to be deleted, without writing to that file again.

    HDF5 writes its caches out on close; where that fails (a full disk) h5py's objects are left
    half closed and the interpreter crashes later. So the file's descriptor is first pointed at
    a scratch file in memory (``/dev/null`` where there is no ``memfd``), then closed once."""
    try:
        fd = f.id.get_vfd_handle()
        scratch = os.memfd_create("neurosim-discard") if hasattr(os, "memfd_create") else \
            os.open(os.devnull, os.O_RDWR)
        try:
            os.dup2(scratch, fd)
        finally:
            os.close(scratch)
    except Exception:  # noqa: BLE001 - best effort: close it as it is
        pass
    try:
        f.close()
    except Exception:  # noqa: BLE001 - the file is deleted next; the caller reports the first error
        pass


def _move_into_place(temp: Path, path: Path, overwrite: str) -> None:
    """Move the complete ``temp`` to ``path``. Without ``overwrite`` a hard link puts it there
    only if ``path`` does not exist, atomically; a file that appeared meanwhile is kept and
    these results are moved to a visible name that the error gives."""
    if overwrite == "overwrite":
        os.replace(temp, path)
        return
    try:
        os.link(temp, path)
    except FileExistsError:
        pass
    except OSError as exc:
        if exc.errno not in _NO_LINKS:
            raise
        if not path.exists():
            os.replace(temp, path)
            return
    else:
        temp.unlink()
        return
    kept = path.with_name(f"{path.stem}.{os.getpid()}{path.suffix}")
    os.replace(temp, kept)
    raise FileExistsError(errno.EEXIST, f"appeared during the run; its results were kept as {kept}", str(path))


@contextmanager
def atomic_h5(path: str | os.PathLike) -> Iterator[h5py.File]:
    """A new HDF5 file for ``path`` (replaced if it exists), written as its partial file and moved
    into place when the block succeeds; deleted, without writing more, when it fails."""
    path = Path(path)
    temp = partial_path(path)
    f = None
    try:
        f = h5py.File(temp, "w")
        yield f
        f.flush()  # every write happens here, where a failure can still be discarded cleanly
    except BaseException as exc:
        if f is not None:
            _discard_and_close(f)
        temp.unlink(missing_ok=True)
        raise_if_disk_full(exc, path)
        raise
    try:
        f.close()
        os.replace(temp, path)
    except BaseException as exc:
        temp.unlink(missing_ok=True)
        raise_if_disk_full(exc, path)
        raise


class _SpikeStream:
    """``/spikes/<pop>``: SONATA spike population, sorted by time as blocks arrive in time order;
    node ids are the monitor's indices plus ``first`` (a subgroup's start in its population)."""

    def __init__(self, root: h5py.Group, population: str, first: int = 0):
        group = root.require_group("spikes").create_group(population)
        group.attrs.create("sorting", BY_TIME, dtype=SORTING)
        self.first = first
        self.t = create_stream(group, "timestamps", np.float64)
        self.t.attrs["units"] = "ms"
        self.i = create_stream(group, "node_ids", np.uint64)

    def append(self, block: dict[str, np.ndarray]) -> None:
        append(self.t, np.asarray(block["t"], np.float64) * MS_PER_S)
        append(self.i, (np.asarray(block["i"]) + self.first).astype(np.uint64))


class _MergedSpikeStream:
    """A merged spike monitor: its global ids split into one ``/spikes/<pop>`` per parent population."""

    def __init__(self, root: h5py.Group, monitor: MergedSpikeMonitor):
        parents = dict.fromkeys(parent_of(g) for g in monitor.targets)
        self.parts = [(p, _SpikeStream(root, p.name)) for p in parents]

    def append(self, block: dict[str, np.ndarray]) -> None:
        t, i = np.asarray(block["t"]), np.asarray(block["i"])
        for p, stream in self.parts:
            sel = (i >= p.offset) & (i < p.offset + p.size)
            stream.append({"t": t[sel], "i": i[sel] - p.offset})


class _RateStream:
    """``/rates/<pop>``: population rate (Hz) at times ``t`` (ms); compressed."""

    def __init__(self, root: h5py.Group, monitor: RateMonitor):
        group = root.require_group("rates").create_group(monitor.target.name)
        group.attrs["population"] = monitor.target.name
        self.t = create_stream(group, "t", np.float64, compress=True)
        self.t.attrs["units"] = "ms"
        self.rate = create_stream(group, "rate", np.float64, compress=True)
        self.rate.attrs["units"] = "Hz"

    def append(self, block: dict[str, np.ndarray]) -> None:
        append(self.t, np.asarray(block["t"], np.float64) * MS_PER_S)
        append(self.rate, np.asarray(block["rate"], np.float64))


class _Report:
    """``/report/<name>``: one state variable of a state monitor as a SONATA report population.

    ``mapping/time`` is ``[start, stop, dt]`` (ms, right-open); ``start`` is the first sample
    and ``stop`` grows with every appended sample.
    """

    def __init__(self, root: h5py.Group, name: str, monitor: StateMonitor, variable: str, dt_ms: float,
                 t0_ms: float):
        self.name, self.variable, self.dt_ms = name, variable, dt_ms
        units, self.factor = report_units(variable, monitor.target.model.state_dimension(variable))
        group = root.require_group("report").create_group(name)
        group.attrs["population"] = parent_of(monitor.target).name
        group.attrs["variable"] = variable
        n = monitor.indices.size
        self.data = create_stream(group, "data", np.float32, width=n)
        self.data.attrs["units"] = units
        mapping = group.create_group("mapping")
        node_ids = monitor.indices + first_of(monitor.target)
        ids = mapping.create_dataset("node_ids", data=node_ids.astype(np.uint64))
        ids.attrs["sorted"] = np.int8(1)
        mapping.create_dataset("index_pointers", data=np.arange(n + 1, dtype=np.uint64))
        mapping.create_dataset("element_ids", data=np.zeros(n, np.uint32))
        self.time = mapping.create_dataset("time", data=np.array([t0_ms, t0_ms, dt_ms], np.float64))
        self.time.attrs["units"] = "ms"
        self.start_ms = t0_ms
        self.n = 0

    def append(self, t_ms: np.ndarray, values: np.ndarray) -> None:
        if t_ms.size == 0:
            return
        if self.n == 0:
            self.start_ms = float(t_ms[0])
            self.time[0] = self.start_ms
        expected = self.start_ms + self.n * self.dt_ms
        if abs(t_ms[0] - expected) > 1e-6 * self.dt_ms:
            raise ValueError(f"report {self.name}: a sample at {t_ms[0]:g} ms breaks the grid "
                             f"(expected {expected:g} ms)")
        append(self.data, (np.asarray(values, np.float64) * self.factor).astype(np.float32))
        self.n += t_ms.size
        self.time[1] = self.start_ms + self.n * self.dt_ms


class _StateStream:
    """All variables of one state monitor, each a report population of its own."""

    def __init__(self, root: h5py.Group, monitor: StateMonitor, dt: float, t0: float):
        dt_ms = monitor.interval_steps(dt) * dt * MS_PER_S
        self.reports = {
            var: _Report(root, report_name(parent_of(monitor.target).name, var, monitor.variables), monitor, var, dt_ms,
                         t0 * MS_PER_S)
            for var in monitor.variables
        }

    def append(self, block: dict[str, np.ndarray]) -> None:
        t_ms = np.asarray(block["t"], np.float64) * MS_PER_S
        for var, report in self.reports.items():
            report.append(t_ms, block[var])


_Stream = _SpikeStream | _MergedSpikeStream | _RateStream | _StateStream


def monitor_groups(monitor: Monitor) -> list[str]:
    """The HDF5 groups ``monitor`` writes: spikes and states under the parent population's name
    (with its node ids), rates under the recorded group's own name."""
    if isinstance(monitor, MergedSpikeMonitor):
        parents = dict.fromkeys(parent_of(g).name for g in monitor.targets)
        return [group for name in parents for group in result_groups("spikes", name)]
    if isinstance(monitor, SpikeMonitor):
        return result_groups("spikes", parent_of(monitor.target).name)
    if isinstance(monitor, RateMonitor):
        return result_groups("rate", monitor.target.name)
    return result_groups("state", parent_of(monitor.target).name, monitor.variables)


class ResultsSink:
    """A sink (see :mod:`neurosim.sinks`) that streams the blocks of any number of spike, state
    and rate monitors into a :class:`ResultsWriter`'s file. Get it from
    :meth:`ResultsWriter.sink`; ``close()`` only flushes, the writer finalises the file."""

    def __init__(self, writer: "ResultsWriter"):
        self._writer = writer

    def append(self, monitor: object, block: dict[str, np.ndarray]) -> None:
        self._writer._append(monitor, block)

    def close(self) -> None:
        if not self._writer.closed:
            self._writer.flush()


class ResultsWriter:
    """Results of one run in one HDF5 file at ``path``, written under a temporary name.

    ``overwrite`` is ``"error"`` (raise :class:`FileExistsError` if ``path`` exists) or
    ``"overwrite"``. ``config_toml`` is the resolved scenario (stored with its sha256),
    ``root_seed`` the run's root seed, ``argv`` the command line (default ``sys.argv``) and
    ``attrs`` extra root attributes. Use it as a context manager: a normal exit calls
    :meth:`close` (finalise and rename), an exception :meth:`abort` (delete the partial file).
    The writer holds the output's lock (:class:`~neurosim.io.lock.OutputBusy` if another run
    writes ``path``) until then. A full disk ends in ``OSError(ENOSPC, ..., path)``.
    """

    def __init__(self, path: str | os.PathLike, *, overwrite: str = "error", config_toml: str | None = None,
                 root_seed: int | None = None, argv: Sequence[str] | None = None,
                 attrs: Mapping[str, Any] | None = None):
        if overwrite not in OVERWRITE:
            raise ValueError(f"output.overwrite: must be one of {', '.join(OVERWRITE)}, got {overwrite!r}")
        if root_seed is not None and (isinstance(root_seed, bool) or not isinstance(root_seed, (int, np.integer))
                                      or not 0 <= root_seed < 2**64):
            raise ValueError(f"root_seed: must be an integer in [0, 2**64), got {root_seed}")
        self.path = Path(path)
        self.overwrite = overwrite
        self.temp_path = partial_path(self.path)
        self._sink = ResultsSink(self)
        self._streams: dict[Monitor, _Stream] = {}
        self._claimed: dict[str, str] = {}
        self._network: Network | None = None
        self._file: h5py.File | None = None
        self._created = False
        self._lock = OutputLock(self.path)
        with self._aborting():
            self._lock.acquire()
            self._check_target()
            self.path.parent.mkdir(parents=True, exist_ok=True)
            remove_stale_partials(self.path)
            self._created = True
            self._file = h5py.File(self.temp_path, "w", rdcc_nbytes=CHUNK_CACHE_BYTES)
            self._write_header(config_toml, root_seed, argv, attrs)

    # ----------------------------------------------------------------- lifecycle
    def __enter__(self) -> "ResultsWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
            return
        self.abort()
        raise_if_disk_full(exc, self.path)

    @contextmanager
    def _aborting(self) -> Iterator[None]:
        """Abort (delete the partial file) if the block fails; a full disk becomes one clear OSError."""
        try:
            yield
        except BaseException as exc:
            self.abort()
            raise_if_disk_full(exc, self.path)
            raise

    @property
    def closed(self) -> bool:
        return self._file is None

    @property
    def h5(self) -> h5py.File:
        """The open (temporary) HDF5 file, for data this class has no method for."""
        if self._file is None:
            raise RuntimeError(f"results file {self.path} is closed")
        return self._file

    def _check_target(self) -> None:
        if self.path.is_dir():
            raise IsADirectoryError(errno.EISDIR, "is a directory", str(self.path))
        if self.overwrite == "error" and self.path.exists():
            raise FileExistsError(errno.EEXIST, "exists", str(self.path))

    def _write_header(self, config_toml: str | None, root_seed: int | None, argv: Sequence[str] | None,
                      attrs: Mapping[str, Any] | None) -> None:
        f = self.h5
        write_root_attrs(f)
        for key, value in provenance.collect(root_seed, argv).items():
            f.attrs[key] = value
        f.attrs["complete"] = False
        for key, value in (attrs or {}).items():
            f.attrs[key] = value
        if config_toml is not None:
            config = f.create_group("config")
            config.attrs["toml"] = config_toml
            config.attrs["sha256"] = hashlib.sha256(config_toml.encode("utf-8")).hexdigest()

    def flush(self) -> None:
        """Flush the HDF5 buffers to the temporary file."""
        self.h5.flush()

    def close(self) -> None:
        """Finalise: mark complete, flush, fsync and move to :attr:`path` (idempotent)."""
        if self._file is None:
            return
        f = self._file
        with self._aborting():
            if self._network is not None:
                f.attrs["t_stop_ms"] = self._network.t * MS_PER_S
            f.attrs["end_time_utc"] = provenance.utc_now()
            f.attrs["complete"] = True
            f.flush()  # every write happens here, where a failure can still be discarded cleanly
        self._file = None  # from here on never closed twice
        try:
            f.close()
            _fsync(self.temp_path)
            _move_into_place(self.temp_path, self.path, self.overwrite)
            if os.name == "posix":
                _fsync(self.path.parent)
        except BaseException as exc:
            self.temp_path.unlink(missing_ok=True)
            raise_if_disk_full(exc, self.path)
            raise
        finally:
            self._created = False
            self._streams.clear()
            self._lock.release()

    def abort(self) -> None:
        """Close and delete the partial file without touching :attr:`path` or writing more to
        the partial file (idempotent)."""
        f, self._file = self._file, None
        if f is not None:
            _discard_and_close(f)
        self._streams.clear()  # after the close: their datasets are closed already
        if self._created:
            self._created = False
            self.temp_path.unlink(missing_ok=True)
        self._lock.release()

    # ----------------------------------------------------------------- monitors
    def sink(self) -> ResultsSink:
        """The sink to give monitors (``net.spike_monitor(pop, sink=w.sink())``); one for all."""
        return self._sink

    def write_network(self, net: "Network") -> None:
        """Record the sizes of ``net``'s populations, its dt and the time span the file covers
        (from now to :meth:`close`). Done automatically when a monitor of ``net`` streams here."""
        if self._network is net:
            return
        if self._network is not None:
            raise ValueError("results: monitors of two different networks write to one file")
        f = self.h5
        self._network = net
        f.attrs["dt_ms"] = net.dt * MS_PER_S
        f.attrs["t_start_ms"] = net.t * MS_PER_S
        pops = f.require_group("populations")
        for g in net.groups:
            pops.attrs[g.name] = np.int64(g.size)

    def _claim(self, groups: list[str], monitor: Monitor) -> None:
        for group in groups:
            if group in self._claimed:
                raise ValueError(f"record.{monitor.name}: monitor {self._claimed[group]!r} already writes {group}")
        self._claimed.update(dict.fromkeys(groups, monitor.name))

    def _open_stream(self, monitor: object) -> _Stream:
        if not isinstance(monitor, (SpikeMonitor, MergedSpikeMonitor, RateMonitor, StateMonitor)):
            raise TypeError(f"results: cannot record {type(monitor).__name__}")
        net = monitor.target.network
        self.write_network(net)
        root = self.h5
        self._claim(monitor_groups(monitor), monitor)
        if isinstance(monitor, MergedSpikeMonitor):
            return _MergedSpikeStream(root, monitor)
        if isinstance(monitor, SpikeMonitor):
            return _SpikeStream(root, parent_of(monitor.target).name, first_of(monitor.target))
        if isinstance(monitor, RateMonitor):
            return _RateStream(root, monitor)
        return _StateStream(root, monitor, net.dt, net.t)

    def _append(self, monitor: object, block: dict[str, np.ndarray]) -> None:
        stream = self._streams.get(monitor)  # type: ignore[arg-type]
        if stream is None:
            stream = self._streams[monitor] = self._open_stream(monitor)  # type: ignore[index]
        stream.append(block)

    # ----------------------------------------------------------------- other results
    def write_metric(self, name: str, value: Any, *, x: str | None = None, y: str | None = None,
                     units: str | None = None, theory: Sequence[str] = (), label: str | None = None) -> None:
        """Store ``/metrics/<name>``: a number, an array (a curve) or a map. ``x`` names the metric
        that is a curve's x-axis; a 2-D map of shape (len(y), len(x)) names both axes. ``theory``
        names curves (1-D metrics with their own ``x``) that ``neurosim plot`` draws on the same
        axes as this one: the theory line over simulated points, or phase boundaries over a map.
        ``units`` and ``label`` (the legend's words for the curve, default its name) are free text."""
        _check_name(name, "metric")
        data = np.asarray(value)
        if data.dtype.kind not in "biuf":
            raise ValueError(f"metric {name}: must be numeric, got {type(value).__name__}")
        metrics = self.h5.require_group("metrics")
        if name in metrics:
            raise ValueError(f"metric {name}: written already")
        if y is not None and (x is None or data.ndim != 2):
            raise ValueError(f"metric {name}: y applies to 2-D maps with an x, not shape {data.shape}")
        if x is not None and y is None and data.ndim != 1:
            raise ValueError(f"metric {name}: x applies to 1-D curves, not shape {data.shape}")
        theory = [theory] if isinstance(theory, str) else list(theory)
        ds = metrics.create_dataset(name, data=data)
        for key, axis in (("x", x), ("y", y)):
            if axis is not None:
                ds.attrs[key] = _check_name(axis, f"metric {name}.{key}")
        if theory:
            if any("," in t for t in theory):
                raise ValueError(f"metric {name}: theory names must not contain ','")
            ds.attrs["theory"] = ",".join(_check_name(t, f"metric {name}.theory") for t in theory)
        for key, text in (("units", units), ("label", label)):
            if text is not None:
                ds.attrs[key] = text

    def write_weights(self, projection: "Projection", name: str | None = None) -> None:
        """Store the synapses of ``projection`` under ``/weights/<name>`` (default: its name), e.g.
        ``write_weights(p, "exc_to_exc.initial")`` before training and ``write_weights(p)`` after.
        The weights are the current ones: a plastic projection's learned weights after a run (its
        rule's parameters, SI, are in the ``plasticity`` attribute as JSON)."""
        name = _check_name(name or projection.name, "weights")
        weights = self.h5.require_group("weights")
        if name in weights:
            raise ValueError(f"weights {name}: written already")
        csr = projection.synapses
        group = weights.create_group(name)
        group.attrs.update({
            "projection": projection.name, "pre": projection.pre.name, "post": projection.post.name,
            "n_pre": np.int64(csr.n_pre), "n_post": np.int64(csr.n_post), "receptor": projection.receptor,
        })
        if getattr(projection, "plasticity", None) is not None:
            group.attrs["plasticity"] = json.dumps(projection.plasticity.as_dict())
        filters = {"compression": "gzip", "shuffle": True} if csr.n_synapses else {}
        group.create_dataset("pre", data=csr.pre.astype(np.uint64), **filters)
        group.create_dataset("post", data=csr.post.astype(np.uint64), **filters)
        w = group.create_dataset("weight", data=csr.weight, **filters)
        w.attrs["units"] = str(named(projection.post.model.weight_dimension))  # A, V, S or 1
        delay_ms = csr.delay.astype(np.float64) * projection.post.network.dt * MS_PER_S
        group.create_dataset("delay", data=delay_ms, **filters).attrs["units"] = "ms"
