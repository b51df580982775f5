"""Running one scenario point: prepare, write results under a temporary name, log, progress.

``run_point`` is a plain top-level function of picklable arguments so that sweeps can
send it to Dask workers; it returns the point's metrics.
"""

from __future__ import annotations

import logging
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from tqdm import tqdm

from neurosim.io import ResultsWriter, load
from neurosim.scenario.spec import config_hash, config_toml
from neurosim.scenario.tasks import tasks


@dataclass
class RunOptions:
    resume: bool = False
    quiet: bool = False
    argv: tuple[str, ...] = ()


@dataclass
class RunContext:
    """What a task's ``run`` receives besides its config."""

    writer: ResultsWriter
    log: logging.Logger
    progress: Callable[[int, str], Any]
    #: ``--resume``: a task may continue from its own checkpoint (e.g. ``train``)
    resume: bool = False


def progress_bar(quiet: bool) -> Callable[[int, str], Any]:
    """Factory of progress bars: steps/s and ETA on a terminal, silent otherwise or if quiet."""

    @contextmanager
    def bar(total: int, desc: str) -> Iterator[Callable[[int, int], None]]:
        with tqdm(total=total, desc=desc, unit="step", unit_scale=True, dynamic_ncols=True,
                  disable=True if quiet else None, file=sys.stderr) as t:
            def update(done: int, _total: int) -> None:
                t.update(done - t.n)
            yield update
    return bar


@contextmanager
def run_log(path: Path) -> Iterator[logging.Logger]:
    """A logger writing to ``path`` (the log file beside the results) for one run."""
    path.parent.mkdir(parents=True, exist_ok=True)
    logger = logging.getLogger(f"neurosim.run.{path}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    handler = logging.FileHandler(path, mode="a", encoding="utf-8")
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


def run_point(config: dict, out_path: str, overwrite: str, options: RunOptions,
              attrs: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run one resolved scenario into ``out_path``; return its metrics (skipped if resumable)."""
    path = Path(out_path)
    kind = tasks()[config["task"]]
    digest = config_hash(config)
    if options.resume and completed_with_hash(path, digest):
        return {**load(path).metrics, "_skipped": True}
    prepared = kind.prepare(config)
    with run_log(path.with_suffix(".log")) as log:
        log.info("scenario %s (task %s, sha256 %s) -> %s", config.get("name"), kind.name, digest, path)
        try:
            overwrite_now = "overwrite" if options.resume else overwrite
            with ResultsWriter(path, overwrite=overwrite_now, config_toml=config_toml(config),
                               root_seed=kind.root_seed(config), argv=list(options.argv),
                               attrs={"task": kind.name, **(attrs or {})}) as writer:
                kind.run(config, prepared, RunContext(writer, log, progress_bar(options.quiet), options.resume))
        except Exception:
            log.exception("run failed")
            raise
        log.info("done")
    return dict(load(path).metrics)
