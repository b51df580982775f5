"""Flatten a :class:`~neurosim.network.Network` into the arrays of :mod:`neurosim.engine.layout`.

The network asks this compiler for its layout; the engine below never sees a network object.
``net`` is the calling network (this module cannot import :mod:`neurosim.network`, which imports it).
Subgroups (:mod:`neurosim.subgroup`) need nothing of their own: their ``offset`` is the parent's
plus their start, so their projections, currents and monitors land on the parent's neurons.
"""

from __future__ import annotations

import functools
import math
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from neurosim.engine.layout import (
    Drive,
    Layout,
    NeuronState,
    NeuronTable,
    Parts,
    SPIKE_SLACK,
    Recording,
    Synapses,
    ring_length,
    spike_slack,
)
from neurosim.engine.placement import construction_threads, delay_dtype, place_block
from neurosim.engine.rng import binomial_alias
from neurosim.flatten_plasticity import build_plasticity
from neurosim.monitors import MergedSpikeMonitor, RateMonitor, SpikeMonitor, StateMonitor
from neurosim.population import PoissonSource, Population, SpikeSource
from neurosim.projection import Placed
from neurosim.subgroup import Subgroup, first_of, parent_of

#: the network being flattened (a :class:`~neurosim.network.Network`)
Net = Any

#: upper bound on the memory of the state-recording buffer of one block (bytes)
STATE_BUFFER_BYTES = 64 << 20


def _models(net: Net) -> tuple[tuple, list[int]]:
    """The distinct compiled models of the populations, and each population's model index."""
    models, index = [], []
    for p in net.populations:
        compiled = p.model.compiled
        if compiled not in models:
            models.append(compiled)
        index.append(models.index(compiled))
    return tuple(models), index


def _neurons(net: Net, models: tuple, dtype: np.dtype) -> tuple[NeuronTable, NeuronState]:
    """Per-neuron constants and the initial state of all populations (there is at least one)."""
    pops = net.populations
    n = sum(p.size for p in pops)
    params = np.zeros((max(len(m.rows) for m in models), n), dtype)
    variables = np.zeros((max(len(m.state) for m in models), n), dtype)
    ref_steps = np.zeros(n, np.int32)
    a = 0
    for i, p in enumerate(pops):
        b = a + p.size
        rows, ref_steps[a:b] = p.model.kernel_rows(p.size, net.dt, p.name)
        compiled = p.model.compiled
        for k, name in enumerate(compiled.rows):
            params[k, a:b] = rows[name]
        initial = p.model.initial_state(p.initial_v(net.rng("v_init", i)), p.name)
        rng = net.rng("initial", i)
        initial.update({var: p.initial_values(var, rng) for var in sorted(p.initial)})
        for k, name in enumerate(compiled.state):
            variables[k, a:b] = initial[name]
        a = b
    return NeuronTable(params=params, ref_steps=ref_steps), \
        NeuronState(vars=variables, ref=np.zeros(n, np.int32), i_ext=np.zeros(n, dtype))


def _segments(net: Net, table: NeuronTable, model_index: list[int]) -> np.ndarray:
    """One segment per population: ``(start, stop, shared parameters, constant external current, model)``.

    The external current is constant when no current input targets the population.
    """
    driven = {parent_of(c.target).name for c in net.currents}
    rows = []
    for p, kind in zip(net.populations, model_index):
        a, b = p.offset, p.offset + p.size
        shared = np.all(table.params[:, a:b] == table.params[:, a:a + 1]) and np.all(table.ref_steps[a:b] == table.ref_steps[a])
        rows.append((a, b, int(shared), int(p.name not in driven), kind))
    return np.array(rows, dtype=np.int64).reshape(-1, 5)


def _row_counts(proj, part_of: np.ndarray, n_parts: int) -> np.ndarray:
    """Synapses of every source of ``proj`` onto every part, ``(T, n_pre)``, over all its blocks:
    a first pass that keeps no synapse. Targets of part -1 (another rank's) are not counted, and
    blocks of such targets only are not generated."""
    counts = np.zeros((n_parts, proj.pre.size), np.int64)
    for b, (start, stop, _) in enumerate(proj.blocks):
        parts = part_of[proj.post.offset + start:proj.post.offset + stop]
        if parts.size == 0 or parts.max() < 0:
            continue
        if parts.min() == parts.max():
            counts[parts[0]] += proj.block_row_counts(b)
        else:  # a block cut by a part boundary, or partly another rank's
            csr = proj.block_targets(b)
            t = part_of[proj.post.offset + csr.post]
            np.add.at(counts, (t[t >= 0], csr.pre[t >= 0]), 1)
    return counts


class _DelaysTooLong(Exception):
    """A block's delays do not fit the delay array's type: refill with a wider one."""

    def __init__(self, steps: int):
        self.steps = steps


def _fill(proj, cursor: np.ndarray, part_of: np.ndarray, n_neurons: int, target: np.ndarray, weight: np.ndarray,
          delay: np.ndarray) -> set[int]:
    """Generate ``proj``'s blocks one by one and copy each to its merged positions (``cursor[t, j]``:
    the next position of source ``j``'s row in part ``t``, advanced here); returns the state rows
    its delayed synapses reach."""
    receptor_rows = np.array(proj.post.model.compiled.receptor_rows, np.int64)
    limit, reached = np.iinfo(delay.dtype).max, set()
    for b, (start, stop, _) in enumerate(proj.blocks):
        if stop == start or part_of[proj.post.offset + start:proj.post.offset + stop].max() < 0:
            continue  # no target of this process
        csr, channels = proj.block_synapses(b)
        if csr.n_synapses == 0:
            continue
        longest = int(csr.delay.max())
        if longest > limit:
            raise _DelaysTooLong(longest)
        rows = receptor_rows[channels]
        code = (rows * n_neurons + (proj.post.offset + csr.post)).astype(np.int32)
        parts = part_of[proj.post.offset + csr.post]
        place_block(csr.indptr, parts, code, csr.weight, csr.delay, cursor, target, weight, delay)
        reached.update(np.unique(rows[(csr.delay > 0) & (parts >= 0)]).tolist())
    return reached


def _in_parallel(work: list, threads: int) -> list:
    """Run the calls ``work`` (functions of no argument) on ``threads`` threads; their results in order."""
    if threads <= 1 or len(work) <= 1:
        return [w() for w in work]
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return [f.result() for f in [pool.submit(w) for w in work]]


def _synapses(net: Net, parts: Parts, n_neurons: int, n_elements: int, n_rows: int,
              dtype: np.dtype) -> tuple[Synapses, list]:
    """The merged CSR (rows: part by part, elements; in a row, projection by projection, each in
    its own CSR order), and where each projection's synapses lie in it
    (:class:`~neurosim.projection.Placed`).

    Two passes over the projections' blocks, on all cores: the first counts every row's synapses,
    the second generates the blocks again (from the same streams) and copies each straight to its
    final positions. Held: int32 targets, weights, the smallest integer type that holds the delays."""
    threads = construction_threads()
    projections = net.projections
    n_parts = parts.bounds.size - 1
    part_of = np.full(n_neurons, -1, np.int32)  # -1: another rank's neuron
    for t in range(n_parts):
        part_of[parts.bounds[t]:parts.bounds[t + 1]] = t
    counts = _in_parallel([functools.partial(_row_counts, p, part_of, n_parts) for p in projections], threads)
    per_row = np.zeros((n_parts, n_elements), np.int64)
    row_start = []
    indptr = np.zeros(n_parts * n_elements + 1, np.int64)
    for proj, c in zip(projections, counts):
        per_row[:, proj.pre.offset:proj.pre.offset + proj.pre.size] += c
    np.cumsum(per_row.ravel(), out=indptr[1:])
    cursor = indptr[:-1].reshape(n_parts, n_elements).copy()
    for proj, c in zip(projections, counts):
        rows = slice(proj.pre.offset, proj.pre.offset + proj.pre.size)
        row_start.append(cursor[:, rows].copy())
        cursor[:, rows] += c
    n_syn = int(indptr[-1])
    target_all, weight_all = np.empty(n_syn, np.int32), np.empty(n_syn, dtype)
    delay_all = np.empty(n_syn, np.uint8)
    while True:
        work = [functools.partial(_fill, p, s.copy(), part_of, n_neurons, target_all, weight_all, delay_all)
                for p, s in zip(projections, row_start)]
        try:
            reached = _in_parallel(work, threads)
            break
        except _DelaysTooLong as e:
            delay_all = np.empty(n_syn, delay_dtype(e.steps))
    max_delay = int(delay_all.max()) if delay_all.size else 0
    buffered = np.zeros(n_rows, np.uint8)
    buffered[sorted(set().union(*reached))] = 1
    syn = Synapses(
        indptr=indptr,
        target=target_all,
        weight=weight_all,
        delay=delay_all,
        row_delay=np.where(_row_uniform(delay_all, indptr), _row_first(delay_all, indptr).astype(np.int32), -1),
        row_weight=_row_first(weight_all, indptr).astype(dtype),
        row_uniform=_row_uniform(weight_all, indptr).astype(np.uint8),
        buf=np.zeros((ring_length(max_delay), n_rows * n_neurons), dtype=dtype),
        buffered=buffered,
    )
    placed = [Placed(syn, s, c, p.post.size, n_neurons, p.post.offset) for p, s, c in zip(projections, row_start, counts)]
    return syn, placed


def _parts(net: Net, segments: np.ndarray, n_neurons: int, threads: int, keep_empty: bool = False) -> Parts:
    """``threads`` parts of consecutive neurons with about equal work (a neuron counts 1, plus one
    per thousand expected incoming synapses; empty parts dropped unless ``keep_empty``); plastic
    networks run in one part."""
    if threads > 1 and any(p.plasticity is not None for p in net.projections):
        threads = 1
    work = np.ones(n_neurons)
    for p in net.projections:
        expected = p.connector.expected_synapses(p.pre.size, p.post.size, p.pre is p.post,
                                                 getattr(p.pre, "positions", None), p.post.positions)
        work[p.post.offset:p.post.offset + p.post.size] += 1e-3 * expected / max(p.post.size, 1)
    total = np.cumsum(work)
    inner = np.searchsorted(total, total[-1] * np.arange(1, threads) / threads)
    bounds = np.concatenate([[0], inner, [n_neurons]]).astype(np.int64)
    if not keep_empty:
        bounds = np.unique(bounds)
    rows, seg_ptr = [], [0]
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        for a, b, shared, constant, model in segments:
            if max(a, lo) < min(b, hi):
                rows.append((max(a, lo), min(b, hi), shared, constant, model))
        seg_ptr.append(len(rows))
    return Parts(bounds=bounds, segments=np.array(rows, np.int64).reshape(-1, 5), seg_ptr=np.array(seg_ptr, np.int64))


def _own_part(parts: Parts, t: int) -> Parts:
    """Part ``t`` of ``parts`` alone (a rank's share)."""
    a, b = parts.seg_ptr[t], parts.seg_ptr[t + 1]
    return Parts(bounds=parts.bounds[t:t + 2].copy(), segments=parts.segments[a:b].copy(),
                 seg_ptr=np.array([0, b - a], np.int64))


def _row_first(values: np.ndarray, indptr: np.ndarray) -> np.ndarray:
    """First value of every CSR row (0 for empty rows)."""
    first = np.zeros(indptr.size - 1, dtype=values.dtype)
    nonempty = np.diff(indptr) > 0
    first[nonempty] = values[indptr[:-1][nonempty]]
    return first


def _row_uniform(values: np.ndarray, indptr: np.ndarray) -> np.ndarray:
    """True for rows whose values are all equal (and for empty rows)."""
    uniform = np.ones(indptr.size - 1, dtype=bool)
    nonempty = np.flatnonzero(np.diff(indptr) > 0)
    if nonempty.size:
        starts = indptr[:-1][nonempty]
        uniform[nonempty] = np.maximum.reduceat(values, starts) == np.minimum.reduceat(values, starts)
    return uniform


def _cat(parts: list[np.ndarray], dtype) -> np.ndarray:
    return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)


def generator_spikes(net: Net) -> tuple[np.ndarray, np.ndarray]:
    """The steps and global ids of every spike generator spike, sorted by step, then id."""
    steps = [np.zeros(0, np.int64)] + [g.steps for g in net.groups if isinstance(g, SpikeSource)]
    ids = [np.zeros(0, np.int64)] + [g.indices + g.offset for g in net.groups if isinstance(g, SpikeSource)]
    gs, gi = np.concatenate(steps), np.concatenate(ids)
    order = np.lexsort((gi, gs))
    return gs[order], gi[order]


def _drive(net: Net) -> Drive:
    dt = net.dt
    poisson = [g for g in net.groups if isinstance(g, PoissonSource)]
    ids, prob, start, stop = [], [], [], []
    for g in poisson:
        ids.append(np.arange(g.size) + g.offset)
        prob.append(np.broadcast_to(np.asarray(g.rate) * dt, (g.size,)))  # exact mean; rate·dt <= 1
        start.append(np.full(g.size, math.ceil(g.start / dt - 1e-9)))
        stop.append(np.full(g.size, np.iinfo(np.int64).max if math.isinf(g.stop) else math.ceil(g.stop / dt - 1e-9)))
    gs, gi = generator_spikes(net)
    cur = [c.events(dt) for c in net.currents]
    cur_step = np.concatenate([np.zeros(0, np.int64)] + [c[0] for c in cur])
    cur_id = np.concatenate([np.zeros(0, np.int64)] + [c[1] + inp.target.offset for c, inp in zip(cur, net.currents)])
    cur_delta = np.concatenate([np.zeros(0)] + [c[2] for c in cur])
    corder = np.argsort(cur_step, kind="stable")
    seed = np.random.SeedSequence(net.seed, spawn_key=(3,)).generate_state(1, np.uint64)
    return Drive(
        poisson_id=_cat(ids, np.int32),
        poisson_p=_cat(prob, np.float64),
        poisson_start=_cat(start, np.int64),
        poisson_stop=_cat(stop, np.int64),
        seed=seed,
        gen_step=gs,
        gen_id=gi.astype(np.int32),
        cur_step=cur_step[corder],
        cur_id=cur_id[corder].astype(np.int32),
        cur_delta=cur_delta[corder].astype(net.precision),
        **_poisson_inputs(net, int(seed[0])),
        **_noise_inputs(net, int(seed[0])),
    )


def _noise_inputs(net: Net, seed: int) -> dict[str, np.ndarray]:
    """The ``noises``/``noise_*`` arrays of :class:`Drive` for ``net.noise_inputs``; each input's
    increments use the decay factor of its variable (``_P_x_x`` or ``_E_x`` rows) where the model has one."""
    rows, keys, a_parts, b_parts, o = [], [], [np.zeros(0)], [np.zeros(0)], 0
    for q, noise in enumerate(net.noise_inputs):
        target, x = noise.target, noise.variable
        compiled = target.model.compiled
        values, _ = target.model.kernel_rows(parent_of(target).size, net.dt, parent_of(target).name)
        decay_row = next((r for r in (f"_P_{x}_{x}", f"_E_{x}") if r in compiled.rows), None)
        lo = first_of(target)
        decay = None if decay_row is None else np.broadcast_to(values[decay_row], (parent_of(target).size,))[lo:lo + target.size]
        a, b = noise.increments(decay)
        first, stop = noise.steps()
        rows.append((target.offset, target.offset + target.size, compiled.state.index(x), first, stop, o))
        keys.append(np.random.SeedSequence(seed, spawn_key=(1 << 20, q)).generate_state(1, np.uint64)[0])
        a_parts.append(a)
        b_parts.append(b)
        o += target.size
    return dict(noises=np.array(rows, np.int64).reshape(-1, 6), noise_seed=np.array(keys, np.uint64),
                noise_a=np.concatenate(a_parts), noise_b=np.concatenate(b_parts))


def _poisson_inputs(net: Net, seed: int) -> dict[str, np.ndarray]:
    """The ``inputs``/``input_*`` arrays of :class:`Drive` (see there) for ``net.poisson_inputs``."""
    rows, real, weights, keys, probs, aliases = [], [], [], [], [np.zeros(0)], [np.zeros(0)]
    t = 0
    for q, inp in enumerate(net.poisson_inputs):
        p = inp.rate * net.dt
        k0, prob, alias = binomial_alias(inp.n, p)
        first, stop = inp.steps()
        row = inp.target.model.compiled.receptor_rows[inp.channel]
        rows.append((inp.target.offset, inp.target.offset + inp.target.size, row, inp.n, first, stop, t, t + prob.size,
                     int(p > 0.5)))
        real.append((k0, min(p, 1.0 - p)))
        weights.append(inp.weight)
        keys.append(np.random.SeedSequence(seed, spawn_key=(q,)).generate_state(1, np.uint64)[0])
        probs.append(prob)
        aliases.append(alias)
        t += prob.size
    return dict(inputs=np.array(rows, np.int64).reshape(-1, 9), input_real=np.array(real, np.float64).reshape(-1, 2),
                input_w=np.array(weights, net.precision), input_seed=np.array(keys, np.uint64),
                input_prob=np.concatenate(probs), input_alias=np.concatenate(aliases))


def _recording(net: Net, n_neurons: int, n_elements: int, dtype: np.dtype, parts: Parts) -> Recording:
    mask = np.zeros(n_elements, np.uint8)
    for m in net.monitors:
        if isinstance(m, SpikeMonitor):
            mask[m.target.offset + m.indices] = 1
        elif isinstance(m, MergedSpikeMonitor) or (isinstance(m, RateMonitor) and isinstance(m.target, Subgroup)):
            for g in getattr(m, "targets", (m.target,)):  # a subgroup's rate is counted from its spikes
                mask[g.offset:g.offset + g.size] = 1
    if net.comm is not None:  # a rank records its own neurons' spikes; rank 0 the sources'
        mask[:parts.bounds[0]] = 0
        mask[parts.bounds[-1]:n_neurons] = 0
        if net.comm.rank != 0:
            mask[n_neurons:] = 0
    group_of = np.zeros(n_elements, np.int32)
    for k, g in enumerate(net.groups):
        group_of[g.offset:g.offset + g.size] = k
    state_monitors = [m for m in net.monitors if isinstance(m, StateMonitor)]
    rec_id, rec_var, intervals = [], [], []
    for m in state_monitors:
        for var in m.variables:
            rec_id.append(m.indices + m.target.offset)
            rec_var.append(np.full(m.indices.size, m.target.model.state_variables.index(var)))
        intervals.append(m.interval_steps(net.dt))
    interval = math.gcd(*intervals) if intervals else 1
    cols = int(sum(a.size for a in rec_id))
    rows = net.block_steps // interval + 1 if cols else 0
    return Recording(
        spike_mask=mask,
        spk_step=np.zeros(net.spike_capacity, np.int64),
        spk_id=np.zeros(net.spike_capacity, np.int32),
        rec_id=_cat(rec_id, np.int32),
        rec_var=_cat(rec_var, np.int32),
        rec_interval=np.array([interval], np.int64),
        rec_out=np.zeros((rows, cols), dtype),
        rec_step=np.zeros(rows, np.int64),
        group_of=group_of,
        counts=np.zeros((net.block_steps, len(net.groups)), np.int32),
        counters=np.zeros(5, np.int64),
    )


def block_steps_for(net: Net, requested: int) -> int:
    """Largest block (steps) whose state-recording buffer stays within :data:`STATE_BUFFER_BYTES`."""
    cols = sum(m.indices.size * len(m.variables) for m in net.monitors if isinstance(m, StateMonitor))
    if cols == 0:
        return requested
    row_bytes = cols * np.dtype(net.precision).itemsize
    return max(1, min(requested, STATE_BUFFER_BYTES // row_bytes))


def build_layout(net: Net) -> Layout:
    """Assign global offsets to every group and build all arrays."""
    offset = 0
    for g in net.populations:
        g.offset, offset = offset, offset + g.size
    n_neurons = offset
    for g in net.groups:
        if not isinstance(g, Population):
            g.offset, offset = offset, offset + g.size
    dtype = np.dtype(net.precision)
    models, model_index = _models(net)
    table, state = _neurons(net, models, dtype)
    segments = _segments(net, table, model_index)
    comm = net.comm
    if comm is None:
        parts = _parts(net, segments, n_neurons, net.threads)
    else:  # this rank's part of as many as there are ranks
        parts = _own_part(_parts(net, segments, n_neurons, comm.size, keep_empty=True), comm.rank)
    syn, placed = _synapses(net, parts, n_neurons, offset, state.vars.shape[0], dtype)
    for proj, where in zip(net.projections, placed):
        proj.placed = where
    drive, rec = _drive(net), _recording(net, n_neurons, offset, dtype, parts)
    rec.counters[SPIKE_SLACK] = spike_slack(drive.gen_step, drive.gen_id)  # Network sized the buffer for it
    return Layout(
        table=table,
        segments=segments,
        state=state,
        syn=syn,
        drive=drive,
        rec=rec,
        plastic=build_plasticity(net, syn, n_neurons, offset, dtype),  # marks plastic rows in syn
        models=models,
        parameters=tuple(p.model.parameter_values(p.size, p.name) for p in net.populations),
        dt=float(net.dt),
        parts=parts,
    )
