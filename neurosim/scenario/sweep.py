"""Parameter sweeps: expand ``[sweep]`` into run points, run them, write an index file.

    [sweep]
    mode = "grid"                      # grid: all combinations; zip: lists in lockstep;
    repeats = 2                        # random: `samples` draws ({low, high[, log]} or a list)
    [sweep.params]
    "model.params.weight_scale" = [0.5, 1.0, 1.5]

Point ``i`` gets the seed ``SeedSequence(root).spawn(n)[i]`` at its task's seed path (unless
the sweep sets the seed itself), so results depend on the run index only, never on the worker that ran it. Points
run in order by default, on a local Dask cluster with ``workers``, or on an existing Dask
cluster at ``scheduler``. Each point writes its own file; the index file links them and
tabulates parameters against metrics.
"""

from __future__ import annotations

import copy
import itertools
import logging
import os
import signal
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import h5py
import numpy as np

from neurosim.io.lock import OutputBusy, OutputLock
from neurosim.io.writer import atomic_h5, remove_stale_partials
from neurosim.scenario.runner import RunOptions, completed_with_hash, run_point, signal_name
from neurosim.scenario.schema import Problem, ScenarioError
from neurosim.scenario.spec import config_hash, config_toml, resolve, set_path
from neurosim.scenario.tasks import tasks


#: seconds between looks at the points running on Dask
POLL_S = 0.2


@dataclass
class Point:
    index: int
    values: dict[str, Any]
    config: dict
    path: Path


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM during a sweep: ``finished`` of ``total`` points are complete and kept."""

    def __init__(self, finished: int, total: int, by: str = "SIGINT"):
        super().__init__(finished, total, by)
        self.finished, self.total, self.signal_name = finished, total, by


def _value(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _random_values(spec: Any, n: int, rng: np.random.Generator, path: str) -> list:
    if isinstance(spec, list):
        return [spec[k] for k in rng.integers(0, len(spec), size=n)]
    if isinstance(spec, dict) and {"low", "high"} <= set(spec):
        low, high = float(spec["low"]), float(spec["high"])
        if spec.get("log", False):
            return np.exp(rng.uniform(np.log(low), np.log(high), size=n)).tolist()
        return rng.uniform(low, high, size=n).tolist()
    raise ScenarioError([Problem(path, "a random sweep needs a list of choices or a table {low, high[, log]}")])


def assignments(sweep: dict, root_seed: int) -> list[dict[str, Any]]:
    """The parameter values of every point (before repeats)."""
    params = sweep["params"]
    names = list(params)
    if sweep["mode"] == "random":
        if "samples" not in sweep:
            raise ScenarioError([Problem("sweep.samples", "required for mode = 'random'")])
        rng = np.random.default_rng(np.random.SeedSequence(root_seed, spawn_key=(2**31,)))
        columns = [_random_values(params[k], sweep["samples"], rng, f"sweep.params.{k}") for k in names]
        return [dict(zip(names, row)) for row in zip(*columns)]
    for k in names:
        if not isinstance(params[k], list) or not params[k]:
            raise ScenarioError([Problem(f"sweep.params.{k}", "needs a non-empty list of values")])
    if sweep["mode"] == "zip":
        lengths = {k: len(params[k]) for k in names}
        if len(set(lengths.values())) > 1:
            raise ScenarioError([Problem("sweep.params", f"zip needs lists of equal length, got {lengths}")])
        return [dict(zip(names, row)) for row in zip(*(params[k] for k in names))]
    return [dict(zip(names, row)) for row in itertools.product(*(params[k] for k in names))]


def expand(raw: dict, out_path: Path) -> list[Point]:
    """Resolve every point of the sweep in ``raw`` (validating each one completely)."""
    base = {k: v for k, v in raw.items() if k != "sweep"}
    resolved = resolve(raw)
    sweep = resolved["sweep"]
    seed_path = tasks()[resolved["task"]].seed_path
    root_seed = int(tasks()[resolved["task"]].root_seed(resolved) or 0)
    combos = [c for c in assignments(sweep, root_seed) for _ in range(sweep["repeats"])]
    children = np.random.SeedSequence(root_seed).spawn(len(combos))
    folder = out_path.with_suffix("")
    points = []
    for i, (values, child) in enumerate(zip(combos, children)):
        cfg = copy.deepcopy(base)
        set_path(cfg, list(seed_path), int(child.generate_state(1, np.uint64)[0] >> np.uint64(1)), "sweep seed")
        for dotted, value in values.items():
            set_path(cfg, dotted.split("."), copy.deepcopy(value), f"sweep.params.{dotted}")
        try:
            resolved = resolve(cfg)
        except ScenarioError as exc:
            where = ", ".join(f"{k} = {_value(v)}" for k, v in values.items())
            raise ScenarioError([Problem(f"sweep point {i} ({where})", str(p)) for p in exc.problems]) from None
        points.append(Point(i, values, resolved, folder / f"point_{i:04d}.h5"))
    return points


def warm_numba_cache(precision: str) -> None:
    """Compile (or load) the numba kernel once before workers start, so they only read the cache."""
    from neurosim import LIF, Network

    net = Network(precision=precision)
    net.population("warm", 1, LIF())
    net.run(net.dt, backend="numba")


def run_sweep(points: list[Point], overwrite: str, options: RunOptions, workers: int | None = None,
              scheduler: str | None = None) -> list[dict[str, Any]]:
    """Run the points in order, or on Dask; return their metrics in point order. Ctrl-C or
    SIGTERM raise :class:`SweepInterrupted`; the points finished by then are kept."""
    args = [(p.config, str(p.path), overwrite, options, {"sweep_index": p.index}) for p in points]
    try:
        if not workers and not scheduler:
            return [run_point(*a) for a in args]
        return _run_on_dask(points, args, workers, scheduler)
    except KeyboardInterrupt as exc:  # the workers have stopped: the files are what is kept
        finished = sum(completed_with_hash(p.path, config_hash(p.config)) for p in points)
        raise SweepInterrupted(finished, len(points), signal_name(exc)) from None


def _run_on_dask(points: list[Point], args: list[tuple], workers: int | None,
                 scheduler: str | None) -> list[dict[str, Any]]:
    if "simulation" in points[0].config:
        warm_numba_cache(points[0].config["simulation"]["precision"])
    try:
        with dask_client(workers, scheduler) as client:  # failed points raise in gather, their logs have the details
            futures = [client.submit(run_point, *a, pure=False) for a in args]
            _wait(futures)
            return client.gather(futures)
    finally:
        if not scheduler:
            clear_leftovers(points)


@contextmanager
def dask_client(workers: int | None, scheduler: str | None = None) -> Iterator[Any]:
    """A Dask client: of the cluster at ``scheduler``, or of ``workers`` local worker processes
    (one thread each) that ignore Ctrl-C (this process handles it) and stop with the client."""
    from dask.distributed import Client, LocalCluster

    with _quiet("distributed"):
        _quiet_resource_tracker()
        if scheduler:
            client, cluster = Client(scheduler), None
        else:
            with _sigint_ignored():  # inherited by the workers: Ctrl-C is for this process to handle
                cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=logging.CRITICAL)
            client = Client(cluster)
        try:
            yield client
        finally:
            client.close()
            if cluster is not None:
                cluster.close()


@contextmanager
def _quiet(name: str) -> Iterator[None]:
    """Only errors from the logger ``name`` (Dask's warnings while it stops workers are noise here)."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


@contextmanager
def _sigint_ignored() -> Iterator[None]:
    """SIGINT ignored while worker processes start, so that they keep ignoring it."""
    try:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _quiet_resource_tracker() -> None:
    """Workers stopped half way (Ctrl-C) leave semaphores that multiprocessing's resource
    tracker frees with a warning; it is a process started with our warning options."""
    option = "ignore::UserWarning:multiprocessing.resource_tracker"
    if option not in sys.warnoptions:
        sys.warnoptions.append(option)


def _wait(futures: list) -> None:
    """Wait in this thread, so that Ctrl-C interrupts a sleep rather than Dask's event loop; stop
    at the first failed point."""
    while not all(f.done() for f in futures):
        if any(f.status == "error" for f in futures):
            return
        time.sleep(POLL_S)


def clear_leftovers(points: list[Point]) -> None:
    """Remove the partial and lock files that killed local workers left beside the points."""
    for p in points:
        if not p.path.parent.is_dir():
            continue
        try:
            with OutputLock(p.path):
                remove_stale_partials(p.path)
        except (OutputBusy, OSError):
            pass


def index_hash(path: Path) -> str | None:
    """The config sha256 stored in the sweep index at ``path`` (None if it is not one)."""
    from neurosim.io.reader import open_h5

    try:
        with open_h5(path) as f:
            value = f.attrs.get("config_sha256")
    except (OSError, ValueError):
        return None
    return value.decode() if isinstance(value, bytes) else (None if value is None else str(value))


def write_index(path: Path, raw: dict, points: list[Point], metrics: list[dict[str, Any]]) -> None:
    """Index file: external links to every point and a table of parameters -> metrics."""
    with atomic_h5(path) as f:
        f.attrs["config_toml"] = config_toml(raw)
        f.attrs["config_sha256"] = config_hash(raw)
        f.attrs["n_points"] = len(points)
        group = f.create_group("points")
        for p in points:
            group[f"{p.index:04d}"] = h5py.ExternalLink(os.path.relpath(p.path, path.parent), "/")
        table = f.create_group("table")
        table["path"] = np.array([os.path.relpath(p.path, path.parent) for p in points], dtype=h5py.string_dtype())
        table["seed"] = np.array([tasks()[p.config["task"]].root_seed(p.config) for p in points], dtype=np.uint64)
        params = table.create_group("params")
        for name in points[0].values:
            column = [p.values[name] for p in points]
            kind = h5py.string_dtype() if any(isinstance(v, (str, list, dict)) for v in column) else np.float64
            params[name] = np.array([str(v) if kind is not np.float64 else v for v in column], dtype=kind)
        out = table.create_group("metrics")
        names = sorted({k for m in metrics for k, v in m.items() if not k.startswith("_") and np.ndim(v) == 0})
        for name in names:
            out[name] = np.array([float(m.get(name, np.nan)) for m in metrics])
