"""The ``simulate`` task: build the network of ``[model]``, record what ``[[record]]`` asks,
run ``simulation.duration`` and write spikes, traces, rates, weights and metrics.

A record's ``populations`` may name slices (``"exc[0:100]"``); ``merge = true`` makes a spikes
record one merged monitor of all its populations (see :mod:`neurosim.scenario.network_spec`)."""

from __future__ import annotations

import math
import shutil
import time
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numba

from neurosim import checkpoint
from neurosim.distributed import mpi_comm, over_ranks
from neurosim.engine.footprint import GIB, build_peak_bytes, check_fits, recorded_bytes, resident_synapse_bytes
from neurosim.engine.registry import resolve_backend_name
from neurosim.io.writer import monitor_groups
from neurosim.network import Network
from neurosim.population import Population
from neurosim.projection import Projection
from neurosim.scenario.named_models import build_named
from neurosim.scenario.network_spec import build_explicit, resolve_group
from neurosim.scenario.schema import Problem, ScenarioError, suggest
from neurosim.scenario.spec import config_hash, output_path
from neurosim.monitors import SpikeMonitor
from neurosim.scenario.tasks import TaskKind, register_task
from neurosim.spike_stats import StreamingSpikeStats, TeeSink
from neurosim.subgroup import parent_of
from neurosim.units import steps

#: recordings larger than this (bytes) are announced with a warning before the run
LARGE_OUTPUT_BYTES = 1 << 30
#: aim for about this many blocks per run (progress updates), within these bounds (steps)
BLOCKS_PER_RUN, MIN_BLOCK, MAX_BLOCK = 100, 100, 10_000


@dataclass
class Prepared:
    net: Network
    n_steps: int
    backend: str
    weights: list[Projection] = field(default_factory=list)


def build_network(cfg: dict) -> Network:
    """The network of the ``[model]`` table (named or explicit), connectivity not yet generated."""
    sim, model = cfg["simulation"], cfg["model"]
    if "name" in model:
        return build_named(model["name"], model.get("params", {}), sim["dt"], sim["seed"], sim["precision"])
    return build_explicit(model, sim["dt"], sim["seed"], sim["precision"])


def _groups(net: Network, names: list[str] | None, path: str, neurons_only: bool):
    if names is None:
        return [g for g in net.groups if isinstance(g, Population) or not neurons_only]
    groups = [resolve_group({g.name: g for g in net.groups}, name, path) for name in names]
    for g in groups:
        if neurons_only and not isinstance(parent_of(g), Population):
            raise ScenarioError([Problem(path, f"{g.name!r} is a spike source: only neuron populations have a state")])
    return groups


def _claim(claimed: dict[str, str], groups: list[str], path: str) -> None:
    """Refuse a record that writes a results group another record writes already."""
    for group in groups:
        if group in claimed:
            raise ScenarioError([Problem(path, f"{claimed[group]} already writes {group}; "
                                               "use one record per type and population")])
        claimed[group] = path


def _attach_records(net: Network, records: list[dict]) -> list[Projection]:
    weights: list[Projection] = []
    claimed: dict[str, str] = {}
    for k, rec in enumerate(records):
        path = f"record.{k}"
        kind = rec["type"]
        try:
            if kind == "weights":
                known = {p.name: p for p in net.projections}
                for name in rec.get("connections", list(known)):
                    if name not in known:
                        raise ScenarioError([Problem(f"{path}.connections", f"unknown connection {name!r}"
                                                                            f"{suggest(name, list(known))}")])
                    _claim(claimed, [f"/weights/{name}"], f"{path}.connections")
                    weights.append(known[name])
                continue
            groups = _groups(net, rec.get("populations"), f"{path}.populations", neurons_only=kind == "state")
            if rec.get("merge", False):
                if kind != "spikes":
                    raise ScenarioError([Problem(f"{path}.merge", "only a spikes record can be merged")])
                groups = [groups]
            for g in groups:
                name = f"{kind}_{k}" if rec.get("merge", False) else f"{kind}_{g.name}_{k}"
                if kind == "spikes":
                    monitor = net.spike_monitor(g, indices=rec.get("indices"), name=name)
                elif kind == "state":
                    monitor = net.state_monitor(g, tuple(rec.get("variables", ["v"])), rec.get("indices"),
                                                rec.get("interval"), name=name)
                else:
                    monitor = net.rate_monitor(g, name=name)
                _claim(claimed, monitor_groups(monitor), path)
        except ScenarioError:
            raise
        except ValueError as exc:
            raise ScenarioError([Problem(path, str(exc))]) from None
    return weights


def _check_size(net: Network, sim: dict, n_steps: int, out: Path) -> None:
    """Refuse a network that cannot fit in memory or recordings that cannot fit on disk; warn
    when the recordings will be large."""
    limit = sim.get("max_memory_gib")
    try:
        check_fits(net, None if limit is None else limit * GIB, "simulation.max_memory_gib")
    except ValueError as exc:
        raise ScenarioError([Problem("model", str(exc).removeprefix("model: "))]) from None
    size = recorded_bytes(net, n_steps)
    folder = next((p for p in (out.parent, *out.parent.parents) if p.is_dir()), Path("."))
    free = shutil.disk_usage(folder).free
    if size > free:
        raise ScenarioError([Problem("record", f"the state and rate recordings need {size / GIB:.3g} GiB but "
                                               f"{free / GIB:.3g} GiB are free beside {out}; record fewer "
                                               "neurons, at a longer interval, or for a shorter duration")])
    if size > LARGE_OUTPUT_BYTES:
        warnings.warn(f"the state and rate recordings will take {size / GIB:.3g} GiB in {out} (spikes not counted)",
                      stacklevel=2)


def _distribute(net, cfg: dict, backend: str) -> None:
    """Under mpirun, make ``net`` this rank's share (:mod:`neurosim.distributed`), refusing what ranks
    cannot run: another backend, threads, plasticity, weight records."""
    comm = mpi_comm()
    if comm is None:
        return
    if backend != "numba":
        raise ScenarioError(f"simulation.backend: under mpirun the numba backend runs each rank's share, not {backend!r}")
    if net.threads > 1:
        raise ScenarioError("simulation.threads: under mpirun each rank runs on one thread; start more ranks instead")
    if any(p.plasticity is not None for p in net.projections):
        raise ScenarioError("model.connections: plastic networks run in one process; run this one without mpirun")
    if any(r.get("type") == "weights" for r in cfg.get("record", [])):
        raise ScenarioError("record: weights are not recorded under mpirun (each rank holds a share)")
    net.distribute(comm)


def prepare(cfg: dict) -> Prepared:
    sim = cfg["simulation"]
    try:
        n_steps = steps(sim["duration"], sim["dt"], "simulation.duration", allow_zero=False)
        resolve_backend_name(sim["backend"])  # an unknown or unusable backend fails before the build
    except ValueError as exc:
        raise ScenarioError(str(exc)) from None
    net = build_network(cfg)
    backend = net.backend_name(sim["backend"])  # auto: decided by the network's size and plasticity
    net.threads = sim["threads"]
    if net.threads > 1 and backend != "numba":
        raise ScenarioError(f"simulation.threads: only the numba backend runs a network on several threads; "
                            f"the backend is {backend!r}")
    _distribute(net, cfg, backend)
    net.block_steps = min(MAX_BLOCK, max(MIN_BLOCK, n_steps // BLOCKS_PER_RUN))
    weights = _attach_records(net, cfg.get("record", []))
    _check_size(net, sim, n_steps, output_path(cfg))
    limit = sim.get("max_memory_gib")
    net.memory_limit = math.inf if limit is None else limit * GIB  # checked just now
    return Prepared(net, n_steps, backend, weights)


def _journal(net: Network, results: Path) -> checkpoint.Journal:
    """Route every monitor's blocks through the recording journal of a checkpointed run."""
    if net.comm is not None:
        raise ScenarioError("--checkpoint-every: a run spread over MPI ranks has no checkpoints; run without it")
    journal = checkpoint.Journal(checkpoint.files_for(results)[1])
    for k, monitor in enumerate(net.monitors):
        monitor.sink = journal.wrap(k, monitor.sink)
    return journal


def _resume(net: Network, state_path: Path, digest: str, journal: checkpoint.Journal, log) -> dict | None:
    """Restore ``net`` from the checkpoint at ``state_path`` if there is one of the config with
    sha256 ``digest`` that fits it and its journal is whole, and return what the run saved with
    it; else None, saying in the log why (``net`` is then untouched)."""
    if not state_path.is_file():
        return None
    try:
        meta = checkpoint.read_meta(state_path)
        if meta["extra"].get("config_sha256") != digest:
            log.warning("the checkpoint %s is of another config; starting from t = 0", state_path)
            return None
        journal.check(meta["extra"]["journal"])
        extra = checkpoint.restore(net, state_path)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        log.warning("cannot resume from the checkpoint %s (%s); starting from t = 0", state_path, exc)
        return None
    log.info("resumed from the checkpoint %s at t = %.6g s", state_path, net.t)
    return extra


def _run_checkpointed(cfg: dict, prepared: Prepared, ctx, journal: checkpoint.Journal, every: float, bar) -> None:
    """Run with a checkpoint (:mod:`neurosim.checkpoint`) every ``every`` s of simulated time
    (rounded up to whole steps), resuming from the checkpoint beside the results if one of this
    config is there: the network's state is restored and the journal's recordings up to it are
    handed to the sinks again, so the results equal those of an uninterrupted run."""
    net, n_steps = prepared.net, prepared.n_steps
    state_path = checkpoint.files_for(ctx.writer.path)[0]
    digest = config_hash(cfg)
    every_steps = max(1, math.ceil(every / net.dt - 1e-9))
    extra = _resume(net, state_path, digest, journal, ctx.log)
    if extra is not None:
        journal.replay(extra["journal"], net.monitors, [m.sink.sink for m in net.monitors])
    else:
        journal.start()
    bar(net._step, n_steps)
    while net._step < n_steps:
        chunk = min(every_steps - net._step % every_steps, n_steps - net._step)
        net.run(chunk * net.dt, backend=prepared.backend,
                progress=lambda done, _n, offset=net._step: bar(offset + done, n_steps))
        if net._step < n_steps:
            checkpoint.save(net, state_path, extra={"config_sha256": digest, "journal": journal.sync()})
    journal.close()


#: population spike counts in bins of 1 ms after the first 100 ms: the synchrony metric ``fano_<monitor>``
FANO_BIN_S, FANO_SKIP_S = 1e-3, 0.1


def run(cfg: dict, prepared: Prepared, ctx) -> None:
    net, writer = prepared.net, ctx.writer
    threads = min(net.threads, numba.config.NUMBA_NUM_THREADS)
    numba.set_num_threads(threads)  # results do not depend on it (the parts' order is one thread's)
    stats = {}  # spike monitors of neuron populations (or slices): ISI CV and Fano factor, streamed
    for monitor in net.monitors:
        monitor.sink = writer.sink()
        if isinstance(monitor, SpikeMonitor) and isinstance(parent_of(monitor.target), Population):
            stats[monitor.name] = StreamingSpikeStats(monitor.target.size, FANO_BIN_S, FANO_SKIP_S)
            monitor.sink = TeeSink(monitor.sink, stats[monitor.name])
    every = getattr(ctx, "checkpoint_every", None)
    journal = _journal(net, writer.path) if every else None
    writer.write_network(net)
    duration = prepared.n_steps * net.dt
    start = time.perf_counter()
    peak = build_peak_bytes(net)
    net.warm_up(prepared.backend)
    writer.write_metric("build_s", time.perf_counter() - start, units="s")
    ctx.log.info("backend %s, %d part(s) on %d numba thread(s)", prepared.backend, net.layout.n_parts, threads)
    n_syn, held = resident_synapse_bytes(net)
    n_syn, held, peak = int(over_ranks(net.comm, n_syn)), over_ranks(net.comm, held), over_ranks(net.comm, peak)
    writer.write_metric("synapses", n_syn)
    if n_syn:
        writer.write_metric("bytes_per_synapse", held / n_syn, units="B")
        writer.write_metric("bytes_per_synapse_peak", peak / n_syn, units="B")
        ctx.log.info("%d synapses, %.1f bytes per synapse held, %.1f at the peak of the build", n_syn, held / n_syn,
                     peak / n_syn)
    start = time.perf_counter()
    with ctx.progress(prepared.n_steps, "simulate") as bar:
        if journal is None:
            net.run(duration, backend=prepared.backend, progress=bar)
        else:
            _run_checkpointed(cfg, prepared, ctx, journal, every, bar)
    wall = time.perf_counter() - start
    total = 0
    for g in net.groups:
        count = net.spike_counts.get(g.name, 0)
        total += count if isinstance(g, Population) else 0
        writer.write_metric(f"spikes_{g.name}", count)
        writer.write_metric(f"rate_hz_{g.name}", count / (g.size * duration), units="Hz")
    n_neurons = sum(p.size for p in net.populations)
    writer.write_metric("mean_rate_hz", total / (n_neurons * duration), units="Hz")
    for name, st in stats.items():
        cv, fano = st.cv(), st.fano(duration) if duration > 2 * FANO_SKIP_S else None
        if cv is not None:
            writer.write_metric(f"isi_cv_{name}", cv)
        if fano is not None:
            writer.write_metric(f"fano_{name}", fano)
    writer.write_metric("sim_wall_s", wall, units="s")
    writer.write_metric("realtime_factor", wall / duration)
    for projection in prepared.weights:
        writer.write_weights(projection)
    ctx.log.info("simulated %.4g s in %.3g s wall (%d spikes)", duration, wall, total)


SIMULATE = register_task(TaskKind(
    name="simulate", required=("model", "simulation"), prepare=prepare, run=run,
    doc="simulate a spiking network and record spikes, traces, rates and weights",
))
