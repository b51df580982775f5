"""Running one scenario point: prepare, write results under a temporary name, log, progress.

``run_point`` is a plain top-level function of picklable arguments so that sweeps can
send it to Dask workers; it returns the point's metrics. It holds the output's lock
(:mod:`neurosim.io.lock`) from its checks to the final rename, so two runs never write one
output or one log; a run refused by a check writes nothing, not even a log.
"""

from __future__ import annotations

import errno
import logging
import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from tqdm import tqdm

from neurosim import checkpoint, signals
from neurosim.distributed import mpi_comm
from neurosim.io import ResultsWriter, load
from neurosim.io.reader import is_results_file
from neurosim.io.lock import OutputLock
from neurosim.scenario.schema import Problem, ScenarioError
from neurosim.scenario.spec import config_hash, config_toml
from neurosim.scenario.tasks import tasks


def signal_name(exc: BaseException) -> str:
    """The signal behind a KeyboardInterrupt: SIGINT, or SIGTERM as the CLI raises it."""
    return getattr(exc, "signal_name", "SIGINT")


def check_output(path: Path, sweep: bool = False) -> None:
    """Refuse, before anything runs, an output path that cannot work (ScenarioError on output.path)."""
    problem = _output_problem(Path(path), sweep)
    if problem:
        raise ScenarioError([Problem("output.path", problem)])


def _output_problem(path: Path, sweep: bool) -> str | None:
    if path.is_dir():
        return f"{path} is a directory; give a file path such as {path / 'results.h5'}"
    if path.is_file() and not is_results_file(path):
        return f"{path} exists and is not a neurosim results file; neurosim replaces only its own results"
    if path.suffix == ".log":
        return f"{path} ends in .log, the suffix of the run's log file; use .h5"
    if sweep and not path.suffix:
        return f"{path}: a sweep's index file needs a suffix such as .h5 (its points go in the folder {path})"
    folder = path.with_suffix("")
    if sweep and folder.exists() and not folder.is_dir():
        return f"{folder} is a file, but the sweep's points go in a folder of that name"
    existing = next(p for p in (path.parent, *path.parent.parents) if p.exists() or p == p.parent)
    if not existing.is_dir():
        return f"{existing} is not a directory"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"cannot write in {existing} (permission denied)"
    return None


@dataclass
class RunOptions:
    resume: bool = False
    quiet: bool = False
    argv: tuple[str, ...] = ()
    #: ``--checkpoint-every`` (s of simulated time): checkpoint the ``simulate`` task, resume from it
    checkpoint_every: float | None = None


@dataclass
class RunContext:
    """What a task's ``run`` receives besides its config."""

    writer: ResultsWriter
    log: logging.Logger
    progress: Callable[[int, str], Any]
    #: ``--resume``: a task may continue from its own checkpoint (e.g. ``train``)
    resume: bool = False
    #: ``--checkpoint-every`` (s): the ``simulate`` task checkpoints and resumes (:mod:`neurosim.checkpoint`)
    checkpoint_every: float | None = None


def progress_bar(quiet: bool) -> Callable[[int, str], Any]:
    """Factory of progress bars: steps/s and ETA on a terminal, silent otherwise or if quiet."""

    @contextmanager
    def bar(total: int, desc: str) -> Iterator[Callable[[int, int], None]]:
        with tqdm(total=total, desc=desc, unit="step", unit_scale=True, dynamic_ncols=True,
                  disable=True if quiet else None, file=sys.stderr) as t:
            def update(done: int, _total: int) -> None:
                signals.check()  # a signal whose exception was swallowed stops the run here
                t.update(done - t.n)
            yield update
    return bar


class _LogFile(logging.FileHandler):
    """A log file that a full disk silences instead of printing tracebacks on stderr."""

    def handleError(self, record: logging.LogRecord) -> None:
        pass

    def close(self) -> None:
        try:
            super().close()
        except OSError:
            pass


@contextmanager
def run_log(path: Path) -> Iterator[logging.Logger]:
    """A logger writing to ``path`` (the log file beside the results) for one run."""
    path.parent.mkdir(parents=True, exist_ok=True)
    logger = logging.getLogger(f"neurosim.run.{path}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    handler = _LogFile(path, mode="a", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.addHandler(handler)
    try:
        yield logger
    finally:
        logger.removeHandler(handler)
        handler.close()


def completed_with_hash(path: Path, digest: str) -> bool:
    """True if ``path`` holds a complete result of the config with sha256 ``digest``."""
    if not path.is_file():
        return False
    try:
        results = load(path)
    except (OSError, KeyError, ValueError):
        return False
    return bool(results.provenance.get("complete")) and results.config_sha256 == digest


def check_existing(path: Path, digest: str, overwrite: str, resume: bool) -> bool:
    """True if ``--resume`` may skip ``path`` (a complete result of the same config); else raise
    FileExistsError if ``path`` exists and ``overwrite`` is "error"."""
    if resume and completed_with_hash(path, digest):
        return True
    if overwrite == "error" and path.exists():
        reason = "exists with other results (another config, or incomplete)" if resume else "exists"
        raise FileExistsError(errno.EEXIST, reason, str(path))
    return False


class _Discard:
    """The writer of the ranks other than 0 under mpirun: rank 0 writes the results."""

    def sink(self) -> "_Discard":
        return self

    def append(self, monitor: object, block: dict) -> None:
        pass

    def close(self) -> None:
        pass

    def write_network(self, net: object) -> None:
        pass

    def write_metric(self, name: str, value: Any, **_: Any) -> None:
        pass

    def write_weights(self, projection: object, name: str | None = None) -> None:
        pass


def _follow(kind, config: dict, comm, options: RunOptions) -> dict[str, Any]:
    """A rank other than 0 under mpirun: prepare alike, wait for rank 0's checks, run its share."""
    prepared = kind.prepare(config)
    if comm.bcast(None, root=0):
        quiet = logging.getLogger("neurosim.run.rank")
        quiet.addHandler(logging.NullHandler())
        quiet.propagate = False
        try:
            kind.run(config, prepared, RunContext(_Discard(), quiet, progress_bar(True), options.resume))
        except BaseException:
            comm.Abort(1)  # the other ranks wait in the next exchange
    return {"_follower": True}


def run_point(config: dict, out_path: str, overwrite: str, options: RunOptions,
              attrs: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run one resolved scenario into ``out_path``; return its metrics (skipped if resumable).

    ``--resume`` skips a complete result of the same config and otherwise obeys ``overwrite``
    (a task may also continue from its own checkpoint, e.g. ``train``). Under mpirun, rank 0
    checks and writes; it tells the other ranks whether to run (:func:`_follow`)."""
    kind = tasks()[config["task"]]
    comm = mpi_comm()
    if comm is not None and comm.rank != 0:
        return _follow(kind, config, comm, options)
    told = False

    def tell(go: bool) -> None:
        nonlocal told
        if comm is not None and not told:
            comm.bcast(go, root=0)
            told = True
    try:
        return _lead(kind, config, Path(out_path), overwrite, options, attrs, tell)
    except BaseException:
        if told:
            comm.Abort(1)  # the other ranks wait in the next exchange
        raise
    finally:
        tell(False)


def _lead(kind, config: dict, path: Path, overwrite: str, options: RunOptions, attrs: dict[str, Any] | None,
          tell: Callable[[bool], None]) -> dict[str, Any]:
    digest = config_hash(config)
    if check_existing(path, digest, overwrite, options.resume):
        return {**load(path).metrics, "_skipped": True}
    prepared = kind.prepare(config)
    with OutputLock(path):
        if check_existing(path, digest, overwrite, options.resume):  # another run may have finished it meanwhile
            return {**load(path).metrics, "_skipped": True}
        with run_log(path.with_suffix(".log")) as log:
            log.info("scenario %s (task %s, sha256 %s) -> %s", config.get("name"), kind.name, digest, path)
            try:
                with ResultsWriter(path, overwrite=overwrite, config_toml=config_toml(config),
                                   root_seed=kind.root_seed(config), argv=list(options.argv),
                                   attrs={"task": kind.name, **(attrs or {})}) as writer:
                    tell(True)
                    kind.run(config, prepared, RunContext(writer, log, progress_bar(options.quiet), options.resume,
                                                          options.checkpoint_every))
            except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM as the CLI raises it
                log.warning("interrupted (%s); the partial results were discarded", signal_name(exc))
                raise
            except Exception:
                log.exception("run failed")
                raise
            if options.checkpoint_every:
                checkpoint.remove_files(path)  # the results are in place
            log.info("done")
        return dict(load(path).metrics)
