"""A results file as a Neo ``Block`` (https://neo.readthedocs.io), for Elephant and other Neo tools.

    block = to_neo("results/run.h5")
    seg = block.segments[0]
    seg.spiketrains          # one per neuron of each population with recorded spikes (s)
    seg.analogsignals        # one per state report, one channel per recorded neuron (SI units)

Spike times are those :func:`neurosim.io.load` gives, to the last bit: the file's milliseconds
times the same factor.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import h5py
import numpy as np

from neurosim.io.reader import load
from neurosim.io.sonata import to_si
from neurosim.io.summary import RESULTS, identify, iter_chunks

#: SI symbols of report units as the ``quantities`` package spells them
QUANTITIES = {"1": "dimensionless"}


def spike_trains(group: h5py.Group, size: int, neurons: np.ndarray | None = None) -> list[np.ndarray]:
    """Spike times (s, ascending) of each neuron of the ``/spikes/<pop>`` group ``group``: of all
    ``size`` neurons, or of the node ids ``neurons`` (in that order). The file is read chunk by
    chunk and only the requested neurons' spikes are kept."""
    ds_t, ds_i = group["timestamps"], group["node_ids"]
    factor, _ = to_si(text(ds_t.attrs.get("units", "ms")), ds_t.name)
    wanted = np.arange(size) if neurons is None else np.asarray(neurons, np.int64)
    slot = np.full(size, -1, np.int64)
    slot[wanted] = np.arange(wanted.size)
    times, owners = [], []
    for t, ids in zip(iter_chunks(ds_t), iter_chunks(ds_i)):
        ids = ids.astype(np.int64)
        if ids.size and (ids.min() < 0 or ids.max() >= size):
            raise ValueError(f"{ds_i.name}: a node id is outside the population of {size} neurons")
        keep = slot[ids] >= 0
        times.append(t[keep].astype(np.float64) * factor)
        owners.append(slot[ids[keep]])
    t = np.concatenate(times) if times else np.zeros(0)
    owner = np.concatenate(owners) if owners else np.zeros(0, np.int64)
    order = np.lexsort((t, owner))
    return np.split(t[order], np.cumsum(np.bincount(owner, minlength=wanted.size))[:-1])


def text(value: Any) -> Any:
    """An HDF5 attribute's bytes as str; other values unchanged."""
    return value.decode("utf-8") if isinstance(value, bytes) else value


def population_sizes(f: h5py.File) -> dict[str, int]:
    """Neurons of each population with recorded spikes: ``/populations``, else (files of other
    SONATA writers) the largest node id + 1."""
    sizes = {}
    for pop in (f["spikes"] if "spikes" in f else []):
        if "populations" in f and pop in f["populations"].attrs:
            sizes[pop] = int(f["populations"].attrs[pop])
        else:
            tops = [int(c.max()) for c in iter_chunks(f["spikes"][pop]["node_ids"]) if c.size]
            sizes[pop] = max(tops, default=-1) + 1
    return sizes


def run_span(f: h5py.File, trains: list[np.ndarray]) -> tuple[float, float]:
    """``(t_start, t_stop)`` (s) of the run; for files that do not record it, from 0 (or the
    first spike, if earlier) to the last spike."""
    if "t_start_ms" in f.attrs and "t_stop_ms" in f.attrs:
        return float(f.attrs["t_start_ms"]) * 1e-3, float(f.attrs["t_stop_ms"]) * 1e-3
    spikes = [t for t in trains if t.size]
    first = min((float(t[0]) for t in spikes), default=0.0)
    return min(0.0, first), max((float(t[-1]) for t in spikes), default=0.0)


def to_neo(path: str | Path) -> Any:
    """The results file at ``path`` as a ``neo.Block`` with one ``Segment``:

    - ``spiketrains``: one ``SpikeTrain`` per neuron of every population whose spikes were
      recorded, times in s, ``t_start``/``t_stop`` the run's span, annotations ``population``
      and ``node_id`` (its index in the population), name ``"<population>[<node_id>]"``;
    - ``analogsignals``: one ``AnalogSignal`` per state report, shape (samples, recorded
      neurons), in the report's SI units with its sampling period, annotations ``population``
      and ``variable`` and the array annotation ``node_id`` per channel.

    The block's annotations hold the run's ``neurosim_version``, ``root_seed``, ``task`` and
    ``config_sha256`` where the file has them. Errors as :func:`neurosim.io.summary.identify`;
    a sweep index is a ``ValueError``.
    """
    import neo
    import quantities as pq

    path, kind = identify(path)
    if kind != RESULTS:
        raise ValueError(f"{path}: a sweep index, not a run's results; read each point's results file")
    res = load(path)
    with h5py.File(path, "r") as f:
        trains = {pop: spike_trains(f["spikes"][pop], size) for pop, size in population_sizes(f).items()}
        t_start, t_stop = run_span(f, [t for per_pop in trains.values() for t in per_pop])
        steps = {name: float(g["mapping"]["time"][2]) * to_si(text(g["mapping"]["time"].attrs.get("units", "ms")),
                                                             g.name)[0]
                 for name, g in (f["report"].items() if "report" in f else [])}
    about = {key: res.provenance[key] for key in ("neurosim_version", "root_seed", "task") if key in res.provenance}
    if res.config_sha256:
        about["config_sha256"] = res.config_sha256
    block = neo.Block(name=path.stem, file_origin=str(path), description="neurosim results", **about)
    seg = neo.Segment(name="run", file_origin=str(path))
    for pop, per_neuron in trains.items():
        for node_id, t in enumerate(per_neuron):
            seg.spiketrains.append(neo.SpikeTrain(t, units="s", t_start=t_start, t_stop=t_stop,
                                                  name=f"{pop}[{node_id}]", population=pop, node_id=node_id))
    for name, report in res.reports.items():
        seg.analogsignals.append(neo.AnalogSignal(
            report.data, units=QUANTITIES.get(report.units, report.units), sampling_period=steps[name] * pq.s,
            t_start=(report.t[0] if report.t.size else t_start) * pq.s, name=name,
            array_annotations={"node_id": report.node_ids}, population=report.population,
            variable=report.variable or name))
    block.segments.append(seg)
    return block
