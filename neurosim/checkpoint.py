"""Full-state checkpoints of a network: :meth:`Network.save_state` and :meth:`Network.restore`.

A checkpoint is one ``.npz`` file (written as ``.<name>.tmp-<pid>``, fsynced, renamed) holding
everything a run changes, taken between two runs (at a block boundary):

- the neurons' state (``vars``, refractory countdown, external current) and the step;
- the ring buffer (spikes in flight, still to arrive) and the input cursors of spike
  generators and current steps;
- every synapse's weight (learned or set with ``set_weights``) and the rows' shared-weight
  flags; Poisson sources' rates (``set_rate``);
- the plasticity state: traces (their ring of past values), the queue of delayed plastic
  arrivals, the spikes awaiting the next plasticity phase, same-step marks, last spike steps,
  learning-rate factors and modulators (astrocytes);
- the spike counts per group and the data of every monitor recording to a
  :class:`~neurosim.sinks.MemorySink` (other sinks belong to their owner).

Random streams need no position: Poisson spikes, per-target Poisson inputs and noise are drawn
from a counter-based generator keyed by (seed, step, element) (:mod:`neurosim.engine.rng`),
so the step is their position. Connectivity is not stored: it is generated again from the seed
by the code that builds the network, and a digest of the targets and delays checks that it is
the same. Parameters of the neuron models are the restoring network's own.

:func:`structure` describes what must match (dt, precision, seed, parts, populations and their
models, connections and synapse counts, inputs, modulators, monitors, digests of the
connectivity and of the drive); :func:`restore` refuses a checkpoint of another structure with
a ValueError naming every difference. The layout is the same for the numpy and numba backends,
so a checkpoint of one restores into the other. The CUDA and Brian2 backends keep state of their
own on the device or in Brian, so saving after running on them or running them after a
restore raises NotImplementedError.

``neurosim run --checkpoint-every`` also keeps a :class:`Journal` of the blocks the monitors
handed to the results file, so that a resumed run can give the new file what the killed one
had written (``docs/checkpoints.md``).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from neurosim.engine.layout import Layout
from neurosim.population import Population, PoissonSource
from neurosim.sinks import MemorySink
from neurosim.subgroup import parent_of

FORMAT = 1
#: backends whose whole state is the layout's arrays
BACKENDS = ("numpy", "numba")
#: arrays of the layout that a run or the between-runs interface changes, by ``part.field``
LIVE = (("state", ("vars", "ref", "i_ext")),
        ("syn", ("weight", "row_weight", "row_uniform", "buf")),
        ("drive", ("poisson_p",)),
        ("rec", ("counters",)),
        ("plastic", ("counters", "lr", "pend", "pend_n", "fired", "last", "hit", "gcount", "trace", "mod_state")))


def _live(layout: Layout) -> dict[str, np.ndarray]:
    return {f"{part}.{name}": getattr(getattr(layout, part), name) for part, names in LIVE for name in names}


def _digest(*arrays: np.ndarray) -> str:
    """blake2b of the arrays' dtypes, shapes and bytes."""
    h = hashlib.blake2b(digest_size=16)
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.reshape(-1).view(np.uint8))
    return h.hexdigest()


def _group(g: Any) -> str:
    if isinstance(g, Population):
        model = g.model
        return f"{type(model).__name__}({', '.join(model.compiled.state)}) x {g.size} at {g.offset}"
    return f"{type(g).__name__} x {g.size} at {g.offset}"


def _target(g: Any) -> str:
    parent = parent_of(g)
    return parent.name if g is parent else f"{parent.name}[{g.start}:{g.stop}]"


def structure(net: Any) -> dict[str, str]:
    """What a checkpoint of ``net`` needs of the network it is restored into, as name -> text
    (builds the layout). Independent of the backend."""
    layout = net.layout
    syn, drv, pl = layout.syn, layout.drive, layout.plastic
    out = {"dt": repr(float(net.dt)), "precision": net.precision, "seed": str(net.seed),
           "threads (parts)": str(layout.n_parts)}
    for g in net.groups:
        out[f"population {g.name}"] = _group(g)
    for p in net.projections:
        rule = "static" if p.plasticity is None else type(p.plasticity).__name__
        out[f"connection {p.name}"] = (f"{_target(p.pre)} -> {_target(p.post)}, {int(p.placed.counts.sum())} "
                                       f"synapses, {rule}")
    for i in net.poisson_inputs:
        out[f"poisson input {i.name}"] = f"{i.n} onto {_target(i.target)}"
    for i in net.noise_inputs:
        out[f"noise input {i.name}"] = f"onto {_target(i.target)}"
    for m in net.modulators:
        out[f"modulator {m.name}"] = ", ".join(f"{p.name}.{kind}" for p, kind in m.targets)
    for m in net.monitors:
        out[f"monitor {m.name}"] = f"{type(m).__name__} of {_target(m.target)}"
    out["currents"] = str(len(net.currents))
    out["connectivity (targets, delays)"] = _digest(syn.indptr, syn.target, syn.delay)
    out["spike generators and current steps"] = _digest(drv.gen_step, drv.gen_id, drv.cur_step, drv.cur_id,
                                                        drv.cur_delta)
    out["random inputs (keys, windows, tables)"] = _digest(drv.seed, drv.poisson_id, drv.poisson_start,
                                                           drv.poisson_stop, drv.inputs, drv.input_seed,
                                                           drv.input_prob, drv.noises, drv.noise_seed)
    out["plastic synapses"] = _digest(pl.skip, pl.grp_ptr, pl.grp_pos, pl.csc_ptr, pl.csc_pos, pl.tset)
    return out


def _check_backend(net: Any, what: str) -> None:
    if net.comm is not None:
        raise NotImplementedError(f"{what}: a network spread over MPI ranks has no checkpoints")
    ran = getattr(net, "_ran_on", None)
    if ran is not None and ran not in BACKENDS:
        raise NotImplementedError(f"{what}: the {ran} backend keeps the state on its own side; checkpoints are "
                                  f"implemented for the {' and '.join(BACKENDS)} backends")


def _fsync_dir(folder: Path) -> None:
    if os.name == "posix":
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` to ``path`` atomically: a temporary name beside it, fsync, rename."""
    path = Path(path)
    temp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(temp, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent.resolve())


def save(net: Any, path: str | os.PathLike, extra: dict[str, Any] | None = None) -> None:
    """Write the full state of ``net`` to ``path`` (see the module docstring); ``extra``: JSON
    data of the caller's, returned by :func:`restore`."""
    _check_backend(net, "save_state")
    layout = net.layout
    arrays = {f"live.{k}": v for k, v in _live(layout).items()}
    sources = [g for g in net.groups if isinstance(g, PoissonSource)]
    for k, g in enumerate(sources):
        arrays[f"rate.{k}"] = np.asarray(g.rate, np.float64)
    recorded = {}
    for k, m in enumerate(net.monitors):
        if isinstance(m.sink, MemorySink) and m.sink._blocks:
            keys = list(m.sink._blocks[0])
            recorded[m.name] = keys
            for key in keys:
                arrays[f"monitor.{k}.{key}"] = m.sink.get(key, np.zeros(0))
    meta = {"format": FORMAT, "structure": structure(net), "step": int(net._step),
            "spike_counts": net.spike_counts, "recorded": recorded, "extra": extra or {}}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    write_npz(Path(path), arrays)


def _differences(saved: dict[str, str], here: dict[str, str]) -> list[str]:
    diffs = []
    for key in dict.fromkeys([*saved, *here]):
        a, b = saved.get(key, "absent"), here.get(key, "absent")
        if a != b:
            diffs.append(f"{key}: {a} in the checkpoint, {b} here")
    return diffs


def read_meta(path: str | os.PathLike) -> dict[str, Any]:
    """The JSON part of a checkpoint (format, structure, step, spike counts, extra)."""
    with np.load(path, allow_pickle=False) as data:
        return json.loads(data["meta"].tobytes())


def restore(net: Any, path: str | os.PathLike) -> dict[str, Any]:
    """Put the state saved in ``path`` into ``net`` (same structure: else ValueError naming
    what differs, and ``net`` is left as it was); return the ``extra`` data saved with it."""
    _check_backend(net, "restore")
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(data["meta"].tobytes())
        if meta.get("format") != FORMAT:
            raise ValueError(f"checkpoint {path}: format {meta.get('format')}, this neurosim reads {FORMAT}")
        diffs = _differences(meta["structure"], structure(net))
        if diffs:
            raise ValueError(f"checkpoint {path} does not fit this network: " + "; ".join(diffs))
        live = {name: (data[f"live.{name}"], target) for name, target in _live(net.layout).items()}
        for name, (saved, target) in live.items():  # all checked before anything changes
            if saved.shape != target.shape or saved.dtype != target.dtype:
                raise ValueError(f"checkpoint {path}: {name} is {saved.dtype}{saved.shape} there, "
                                 f"{target.dtype}{target.shape} here")
        for saved, target in live.values():
            target[...] = saved
        sources = [g for g in net.groups if isinstance(g, PoissonSource)]
        for k, g in enumerate(sources):
            rate = data[f"rate.{k}"]
            g.rate = float(rate) if rate.ndim == 0 else rate
        for k, m in enumerate(net.monitors):
            if isinstance(m.sink, MemorySink):
                keys = meta["recorded"].get(m.name, [])
                m.sink._blocks = [{key: data[f"monitor.{k}.{key}"] for key in keys}] if keys else []
    net._step = int(meta["step"])
    net.spike_counts = {k: int(v) for k, v in meta["spike_counts"].items()}
    net._restored = True
    return meta["extra"]


# ------------------------------------------------------------------ recordings of a checkpointed run
def files_for(results: str | os.PathLike) -> tuple[Path, Path]:
    """The checkpoint of a run writing ``results`` and the folder of its recording journal:
    ``<results>.ckpt`` and ``<results>.ckpt.d`` beside it."""
    results = Path(results)
    return results.with_name(results.name + ".ckpt"), results.with_name(results.name + ".ckpt.d")


def remove_files(results: str | os.PathLike) -> None:
    """Delete the checkpoint and journal of ``results`` (after the run finished)."""
    state, folder = files_for(results)
    state.unlink(missing_ok=True)
    if folder.is_dir():
        for f in folder.iterdir():
            f.unlink()
        folder.rmdir()


class Journal:
    """A copy of every block that monitors hand to their sinks, appended to raw files (one per
    monitor and field: ``<k>.<field>.bin`` in ``folder``), so that a run resumed from a checkpoint
    can give its sinks what they had received before: :meth:`sync` flushes and fsyncs the files
    and returns the rows written (kept in the checkpoint); :meth:`replay` cuts the files back to
    those rows (a killed run may have appended more) and hands their content to the sinks again.
    The total written is the recordings once, however many checkpoints."""

    #: rows handed to a sink per replayed block
    REPLAY_ROWS = 1 << 18

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        self.rows: dict[int, int] = {}
        self.kinds: dict[int, dict[str, tuple[str, list[int]]]] = {}
        self._files: dict[tuple[int, str], Any] = {}

    def start(self) -> None:
        """Begin empty (a run from step 0): clear what an earlier run left."""
        self.close()
        if self.folder.is_dir():
            for f in self.folder.iterdir():
                f.unlink()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.rows, self.kinds = {}, {}

    def wrap(self, k: int, sink: Any) -> "JournalSink":
        """The sink for monitor ``k``: journal each block, then hand it to ``sink``."""
        return JournalSink(self, k, sink)

    def append(self, k: int, block: dict[str, np.ndarray]) -> None:
        kinds = self.kinds.setdefault(k, {})
        rows = None
        for key, value in block.items():
            a = np.ascontiguousarray(value)
            kinds.setdefault(key, (a.dtype.str, list(a.shape[1:])))
            f = self._files.get((k, key))
            if f is None:
                f = self._files[(k, key)] = open(self.folder / f"{k}.{key}.bin", "ab")
            f.write(a.reshape(-1).view(np.uint8))
            rows = a.shape[0]
        self.rows[k] = self.rows.get(k, 0) + (rows or 0)

    def sync(self) -> dict[str, Any]:
        """Flush and fsync every file; the rows and kinds written so far (JSON)."""
        for f in self._files.values():
            f.flush()
            os.fsync(f.fileno())
        return {"rows": {str(k): n for k, n in self.rows.items()},
                "kinds": {str(k): v for k, v in self.kinds.items()}}

    def _row_bytes(self, kinds: dict[str, Any]) -> dict[str, int]:
        return {key: np.dtype(d).itemsize * int(np.prod(shape, dtype=np.int64)) for key, (d, shape) in kinds.items()}

    def check(self, saved: dict[str, Any]) -> None:
        """ValueError unless the files hold at least the rows of ``saved`` (from :meth:`sync`)."""
        for k, kinds in saved["kinds"].items():
            for key, size in self._row_bytes(kinds).items():
                path = self.folder / f"{k}.{key}.bin"
                need = int(saved["rows"].get(k, 0)) * size
                if (path.stat().st_size if path.is_file() else -1) < need:
                    raise ValueError(f"the journal {path} holds less than the checkpoint's {need} bytes")

    def replay(self, saved: dict[str, Any], monitors: list[Any], sinks: list[Any]) -> None:
        """Cut the files back to the rows of ``saved`` (from :meth:`sync`) and hand those rows of
        ``monitors[k]`` to ``sinks[k]`` (its own sink, not the journal), monitor after monitor, in
        blocks."""
        self.close()
        self.rows = {int(k): int(n) for k, n in saved["rows"].items()}
        self.kinds = {int(k): {key: (d, list(s)) for key, (d, s) in v.items()} for k, v in saved["kinds"].items()}
        for k, kinds in sorted(self.kinds.items()):
            n = self.rows.get(k, 0)
            sizes = self._row_bytes(kinds)
            for key, size in sizes.items():
                os.truncate(self.folder / f"{k}.{key}.bin", n * size)
            for first in range(0, max(n, 1), self.REPLAY_ROWS):
                count = min(self.REPLAY_ROWS, n - first)
                block = {key: np.fromfile(self.folder / f"{k}.{key}.bin", np.dtype(d), count * int(np.prod(shape)),
                                          offset=first * sizes[key]).reshape(count, *shape)
                         for key, (d, shape) in kinds.items()}
                sinks[k].append(monitors[k], block)

    def close(self) -> None:
        for f in self._files.values():
            f.close()
        self._files = {}


class JournalSink:
    """A monitor's sink in a checkpointed run: journals each block (:class:`Journal`), then hands
    it on."""

    def __init__(self, journal: Journal, k: int, sink: Any):
        self.journal, self.k, self.sink = journal, k, sink

    def append(self, monitor: object, block: dict[str, np.ndarray]) -> None:
        self.journal.append(self.k, block)
        self.sink.append(monitor, block)

    def close(self) -> None:
        self.sink.close()
