"""Flatten a :class:`~neurosim.network.Network` into the arrays of :mod:`neurosim.engine.layout`.

The network asks this compiler for its layout; the engine below never sees a network object.
``net`` is the calling network (this module cannot import :mod:`neurosim.network`, which imports it).
Subgroups (:mod:`neurosim.subgroup`) need nothing of their own: their ``offset`` is the parent's
plus their start, so their projections, currents and monitors land on the parent's neurons.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from neurosim.engine.layout import (
    Drive,
    Layout,
    NeuronState,
    NeuronTable,
    Recording,
    Synapses,
    ring_length,
)
from neurosim.engine.rng import binomial_alias
from neurosim.flatten_plasticity import build_plasticity
from neurosim.monitors import MergedSpikeMonitor, RateMonitor, SpikeMonitor, StateMonitor
from neurosim.population import PoissonSource, Population, SpikeSource
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


#: synapses placed per chunk while the merged CSR is filled (bounds the int64 temporaries)
MERGE_CHUNK = 1 << 20


def _merged_indptr(net: Net, n_elements: int) -> np.ndarray:
    """Row pointers of the merged CSR: every element's synapses over all projections."""
    counts = np.zeros(n_elements, np.int64)
    for proj in net.projections:
        csr = proj.synapses
        counts[proj.pre.offset:proj.pre.offset + csr.n_pre] += np.diff(csr.indptr)
    indptr = np.zeros(n_elements + 1, np.int64)
    np.cumsum(counts, out=indptr[1:])
    return indptr


def _place(proj, cursor: np.ndarray, n_neurons: int, target: np.ndarray, weight: np.ndarray,
           delay: np.ndarray) -> np.ndarray:
    """Write ``proj``'s synapses into the merged arrays after those of earlier projections in each
    row (``cursor``: the next free position of every row, advanced here), a chunk of rows at a
    time; returns their merged positions in the projection's CSR order."""
    csr, off = proj.synapses, proj.pre.offset
    rows = np.array(proj.post.model.compiled.receptor_rows, dtype=np.int64)[proj.channels()]
    code_base = rows * n_neurons + proj.post.offset  # state code of the receptor row, before ``post``
    positions = np.empty(csr.n_synapses, np.int64)
    a = 0
    while a < csr.n_pre:  # rows a..b hold at most MERGE_CHUNK synapses (or one row)
        b = max(a + 1, int(np.searchsorted(csr.indptr, csr.indptr[a] + MERGE_CHUNK, side="right")) - 1)
        b = min(b, csr.n_pre)
        s0, s1 = csr.indptr[a], csr.indptr[b]
        counts = np.diff(csr.indptr[a:b + 1])
        dest = np.repeat(cursor[off + a:off + b] - csr.indptr[a:b], counts) + np.arange(s0, s1)
        target[dest] = code_base[s0:s1] + csr.post[s0:s1]
        weight[dest] = csr.weight[s0:s1]
        delay[dest] = csr.delay[s0:s1]
        positions[s0:s1] = dest
        cursor[off + a:off + b] += counts
        a = b
    return positions


def _synapses(net: Net, n_neurons: int, n_elements: int, n_rows: int, dtype: np.dtype) -> tuple[Synapses, list[np.ndarray]]:
    """The merged CSR (rows: elements; in a row, projection by projection, each in its own CSR
    order), and for every projection the merged positions of its synapses (in its CSR order).
    Filled in place from the projections' CSRs, without sorting: a few bytes per synapse beyond
    the result."""
    indptr = _merged_indptr(net, n_elements)
    n_syn = int(indptr[-1])
    target_all, weight_all, delay_all = np.empty(n_syn, np.int32), np.empty(n_syn, dtype), np.empty(n_syn, np.int32)
    cursor = indptr[:-1].copy()
    positions = [_place(proj, cursor, n_neurons, target_all, weight_all, delay_all) for proj in net.projections]
    max_delay = int(delay_all.max()) if delay_all.size else 0
    buffered = np.zeros(n_rows, np.uint8)
    buffered[np.unique(target_all[delay_all > 0] // max(n_neurons, 1))] = 1
    syn = Synapses(
        indptr=indptr,
        target=target_all,
        weight=weight_all,
        delay=delay_all,
        row_delay=np.where(_row_uniform(delay_all, indptr), _row_first(delay_all, indptr), -1).astype(np.int32),
        row_weight=_row_first(weight_all, indptr).astype(dtype),
        row_uniform=_row_uniform(weight_all, indptr).astype(np.uint8),
        buf=np.zeros((ring_length(max_delay), n_rows * n_neurons), dtype=dtype),
        buffered=buffered,
    )
    return syn, positions


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


def _drive(net: Net) -> Drive:
    dt = net.dt
    poisson = [g for g in net.groups if isinstance(g, PoissonSource)]
    ids, prob, start, stop = [], [], [], []
    for g in poisson:
        ids.append(np.arange(g.size) + g.offset)
        prob.append(np.broadcast_to(np.asarray(g.rate) * dt, (g.size,)))  # exact mean; rate·dt <= 1
        start.append(np.full(g.size, math.ceil(g.start / dt - 1e-9)))
        stop.append(np.full(g.size, np.iinfo(np.int64).max if math.isinf(g.stop) else math.ceil(g.stop / dt - 1e-9)))
    gen_step, gen_id = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for g in net.groups:
        if isinstance(g, SpikeSource):
            gen_step.append(g.steps)
            gen_id.append(g.indices + g.offset)
    gs, gi = np.concatenate(gen_step), np.concatenate(gen_id)
    gorder = np.lexsort((gi, gs))
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
        gen_step=gs[gorder],
        gen_id=gi[gorder].astype(np.int32),
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


def _recording(net: Net, n_neurons: int, n_elements: int, dtype: np.dtype) -> Recording:
    mask = np.zeros(n_elements, np.uint8)
    for m in net.monitors:
        if isinstance(m, SpikeMonitor):
            mask[m.target.offset + m.indices] = 1
        elif isinstance(m, MergedSpikeMonitor) or (isinstance(m, RateMonitor) and isinstance(m.target, Subgroup)):
            for g in getattr(m, "targets", (m.target,)):  # a subgroup's rate is counted from its spikes
                mask[g.offset:g.offset + g.size] = 1
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
        counters=np.zeros(4, np.int64),
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
    syn, positions = _synapses(net, n_neurons, offset, state.vars.shape[0], dtype)
    for proj, pos in zip(net.projections, positions):
        proj._layout_positions = pos
    return Layout(
        table=table,
        segments=_segments(net, table, model_index),
        state=state,
        syn=syn,
        drive=_drive(net),
        rec=_recording(net, n_neurons, offset, dtype),
        plastic=build_plasticity(net, syn, positions, n_neurons, offset, dtype),  # marks plastic rows in syn
        models=models,
        parameters=tuple(p.model.parameter_values(p.size, p.name) for p in net.populations),
        dt=float(net.dt),
    )
