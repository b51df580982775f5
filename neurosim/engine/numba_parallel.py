"""The numba block kernel on several threads: one thread per part of the neurons.

A layout split into parts (:class:`neurosim.engine.layout.Parts`) holds, for every part, the
synapses onto its neurons. Step ``m`` then runs, for all parts at once (``prange``), what the
one-thread kernel (:mod:`neurosim.engine.numba_backend`) runs for all neurons: deliver the
spikes at ``t_m`` (the neurons' of step ``m-1``, then the sources') to the part's targets,
add its Poisson inputs and its buffered input, sample its recorded neurons, add its noise and
update its neurons. Between parts, on one thread: current changes, which sources spike, the
spike records, and the scan of the neurons that spiked. A target receives its input in the
order of the one-thread kernel (spikes by time and index, synapses in CSR order), so the
spikes and states are the same bit for bit, for any number of parts; the threads exchange
spikes every step, which every delay (zero included) allows.

Plastic networks run in one part (their plasticity phase is not split).
"""

from __future__ import annotations

import functools
from typing import Callable

import numba
import numpy as np
from numba import objmode, prange

from neurosim.engine.exchange import exchange
from neurosim.engine.jit_cache import njit
from neurosim.engine.layout import CUR_CURSOR, GEN_CURSOR, N_ROWS, N_SPIKES, SPIKE_SLACK, Layout
from neurosim.engine.numba_backend import (
    _deliver,
    _noise_inputs,
    _poisson_inputs,
    _record_spike,
    _take_buffered,
    run_serial_block,
)
from neurosim.engine.numba_neurons import tag, update_function
from neurosim.engine.rng import uniform_jit


@njit(cache=True, inline="always")
def _sources(step, k, st, drv, rec, out):
    """Current changes due at ``step``; the sources that spike at ``step`` (generators, then Poisson
    sources in index order) are recorded and listed in ``out``; returns how many."""
    c = rec.counters[CUR_CURSOR]
    while c < drv.cur_step.shape[0] and drv.cur_step[c] == step:
        st.i_ext[drv.cur_id[c]] += drv.cur_delta[c]
        c += 1
    rec.counters[CUR_CURSOR] = c
    n = 0
    g = rec.counters[GEN_CURSOR]
    while g < drv.gen_step.shape[0] and drv.gen_step[g] == step:
        _record_spike(drv.gen_id[g], step, rec, k)
        out[n] = drv.gen_id[g]
        n += 1
        g += 1
    rec.counters[GEN_CURSOR] = g
    ustep, seed = np.uint64(step), drv.seed[0]
    for q in range(drv.poisson_id.shape[0]):
        if drv.poisson_start[q] <= step < drv.poisson_stop[q]:
            j = drv.poisson_id[q]
            if uniform_jit(seed, ustep, np.uint64(j)) < drv.poisson_p[q]:
                _record_spike(j, step, rec, k)
                out[n] = j
                n += 1
    return n


@njit(cache=True, inline="always")
def _fired(spiked, stamp, rec, k, out):
    """List (in ``out``) and record the neurons that spiked; returns how many."""
    n = 0
    words = spiked.view(np.uint64)
    for w in range(words.shape[0]):
        if words[w] != 0:
            for i in range(8 * w, 8 * w + 8):
                if spiked[i]:
                    _record_spike(i, stamp, rec, k)
                    out[n] = i
                    n += 1
    return n


@njit(cache=True, inline="always")
def _sample(row, lo, hi, st, rec):
    """Write the recorded state of the neurons ``lo .. hi-1`` into sample row ``row``."""
    for c in range(rec.rec_id.shape[0]):
        i = rec.rec_id[c]
        if lo <= i < hi:
            rec.rec_out[row, c] = st.vars[rec.rec_var[c], i]


@njit(cache=True, nogil=True)
def _deliver_part(t, step, syn, flat, fired, n_fired, n_elements):
    """Deliver the spikes ``fired[:n_fired]`` at ``t_step`` to part ``t``."""
    for f in range(n_fired):
        _deliver(t * n_elements + fired[f], step, syn, flat)


@njit(cache=True, nogil=True, parallel=True)
def _deliver_all(step, parts, syn, flat, fired, n_fired):
    """Deliver the spikes ``fired[:n_fired]`` at ``t_step`` to every part (a call per part: numba's
    parallel transformations would rewrite the loops of an inlined body)."""
    n_elements = (syn.indptr.shape[0] - 1) // (parts.bounds.shape[0] - 1)
    for t in prange(parts.bounds.shape[0] - 1):
        _deliver_part(t, step, syn, flat, fired, n_fired, n_elements)


def _make_part_step(update_neurons, suffix: str):
    """``part_step(t, ...)``: step ``step`` of part ``t`` up to and including its neuron update,
    with the spikes at ``t_step`` (``fired``, then ``sources``) delivered first. A function of its
    own, called from ``prange``: numba's parallel transformations then leave its loops as written."""

    def part_step(t, step, row, sample, tab, parts, st, syn, drv, rec, spiked, fired, n_fired, sources, n_src):
        flat = st.vars.ravel()
        n = st.vars.shape[1]
        n_elements = (syn.indptr.shape[0] - 1) // (parts.bounds.shape[0] - 1)
        lo, hi = parts.bounds[t], parts.bounds[t + 1]
        _deliver_part(t, step, syn, flat, fired, n_fired, n_elements)  # the neurons' spikes at t_step
        _deliver_part(t, step, syn, flat, sources, n_src, n_elements)  # then the sources'
        if drv.inputs.shape[0] > 0:
            _poisson_inputs(step, drv, flat, n, lo, hi)
        _take_buffered(step & (syn.buf.shape[0] - 1), syn, st, lo, hi)
        if sample:
            _sample(row, lo, hi, st, rec)
        if drv.noises.shape[0] > 0:
            _noise_inputs(step, drv, flat, n, lo, hi)
        update_neurons(parts.segments[parts.seg_ptr[t]:parts.seg_ptr[t + 1]], tab.params, tab.ref_steps,
                       st.vars, st.ref, st.i_ext, spiked)

    part_step.__qualname__ = f"{part_step.__qualname__}_{suffix}"
    return njit(cache=True, nogil=True)(part_step)


def _make_parallel_block(part_step, suffix: str):
    """The block kernel of a layout in parts: each step one ``prange`` over the parts."""

    def run_block(step0, n_steps, tab, parts, st, syn, drv, rec, spiked, fired, sources):
        """Advance ``n_steps`` steps from ``step0``; return the number done (fewer when the spike
        buffer could overflow). ``spiked``, ``fired``, ``sources``: scratch of N (a multiple of 8), N, S."""
        flat = st.vars.ravel()
        n_parts = parts.bounds.shape[0] - 1
        n_elements = (syn.indptr.shape[0] - 1) // n_parts
        step_max = n_elements + rec.counters[SPIKE_SLACK]  # the most spikes a step can record
        sampling = rec.rec_id.shape[0] > 0
        n_fired = 0
        for k in range(n_steps):
            step = step0 + k
            if rec.counters[N_SPIKES] + step_max > rec.spk_step.shape[0]:
                _deliver_all(step, parts, syn, flat, fired, n_fired)
                return k
            n_src = _sources(step, k, st, drv, rec, sources)
            sample = sampling and step % rec.rec_interval[0] == 0
            row = rec.counters[N_ROWS]
            for t in prange(n_parts):
                part_step(t, step, row, sample, tab, parts, st, syn, drv, rec, spiked, fired, n_fired, sources, n_src)
            if sample:
                rec.rec_step[row] = step
                rec.counters[N_ROWS] = row + 1
            n_fired = _fired(spiked, step + 1, rec, k, fired)
        _deliver_all(step0 + n_steps, parts, syn, flat, fired, n_fired)
        return n_steps

    run_block.__qualname__ = f"{run_block.__qualname__}_{suffix}"
    return njit(cache=True, nogil=True, parallel=True)(run_block)


def _make_rank_block(part_step, suffix: str):
    """The block kernel of a rank's layout (one part: the rank's neurons and the synapses onto
    them). The spikes of the rank's neurons (``out``) are exchanged for those of all ranks
    (``fired``) every ``every`` steps in Python (:func:`neurosim.engine.exchange.exchange`,
    through ``objmode``), which also tells the largest spike count of any rank, so that every
    rank ends the block at the same step. Each step's spikes are then delivered in step order,
    with their own stamps: a spike of step ``m`` reaches the ring buffer no later than step
    ``m + every``, before its arrival step ``m + 1 + delay`` when ``every <= 1 + the smallest
    delay``; every target receives its input in the one-thread order. Compiled in every process
    (the step it calls, ``part_step``, is cached)."""

    def flush(last, held, syn, flat, out, n_out, per_step, fired, rec):
        """Exchange the spikes of the ``held`` steps up to step ``last`` and deliver them (those of
        step ``m`` stamped ``m + 1``); returns the largest spike count of any rank."""
        mine, counts, recorded = out[:n_out], per_step[:held], rec.counters[N_SPIKES]
        with objmode(most="int64"):
            most = exchange(mine, counts, recorded, fired)
        pos, n_elements = 0, syn.indptr.shape[0] - 1  # one part
        for s in range(held):
            _deliver_part(0, last - held + s + 2, syn, flat, fired[pos:], per_step[s], n_elements)
            pos += per_step[s]
        return most

    flush = njit(flush)

    def run_block(step0, n_steps, tab, parts, st, syn, drv, rec, spiked, fired, sources, out, per_step, every):
        flat = st.vars.ravel()
        n_elements = syn.indptr.shape[0] - 1
        step_max = n_elements + rec.counters[SPIKE_SLACK]  # the most spikes a step can record
        sampling = rec.rec_id.shape[0] > 0
        most, n_out, held = rec.counters[N_SPIKES], 0, 0
        for k in range(n_steps):
            step = step0 + k
            if most + (held + 1) * step_max > rec.spk_step.shape[0]:  # another step could overflow a rank's buffer
                if held:
                    most = flush(step - 1, held, syn, flat, out, n_out, per_step, fired, rec)
                    n_out, held = 0, 0
                if most + step_max > rec.spk_step.shape[0]:
                    return k
            n_src = _sources(step, k, st, drv, rec, sources)
            sample = sampling and step % rec.rec_interval[0] == 0
            row = rec.counters[N_ROWS]
            part_step(0, step, row, sample, tab, parts, st, syn, drv, rec, spiked, fired, 0, sources, n_src)
            if sample:
                rec.rec_step[row] = step
                rec.counters[N_ROWS] = row + 1
            m = _fired(spiked, step + 1, rec, k, out[n_out:])
            per_step[held] = m
            n_out, held = n_out + m, held + 1
            if held == every or k == n_steps - 1:
                most = flush(step, held, syn, flat, out, n_out, per_step, fired, rec)
                n_out, held = 0, 0
        return n_steps

    run_block.__qualname__ = f"{run_block.__qualname__}_{suffix}"
    return njit(run_block)  # not cached: numba 0.63 segfaults running a function with objmode loaded from its cache


@functools.lru_cache(maxsize=64)
def _part_step(models: tuple) -> Callable:
    return _make_part_step(update_function(models), tag(models))


@functools.lru_cache(maxsize=64)
def parallel_kernel(models: tuple) -> Callable:
    """The parallel block kernel of a layout whose segments run ``models``."""
    return _make_parallel_block(_part_step(models), tag(models))


@functools.lru_cache(maxsize=64)
def rank_kernel(models: tuple) -> Callable:
    """The block kernel of a rank's layout whose segments run ``models``."""
    return _make_rank_block(_part_step(models), tag(models))


def run_parallel_block(layout: Layout, step0: int, n_steps: int) -> int:
    """Run a block of a layout in parts on up to one numba thread per part."""
    n_parts = layout.n_parts
    numba.set_num_threads(max(1, min(n_parts, numba.config.NUMBA_NUM_THREADS)))
    n = layout.state.vars.shape[1]
    spiked = np.zeros(-(-n // 8) * 8, dtype=np.uint8)
    fired = np.zeros(n, np.int32)
    sources = np.zeros(max(1, layout.rec.spike_mask.size - n), np.int32)
    kernel = parallel_kernel(layout.models)
    return int(kernel(np.int64(step0), np.int64(n_steps), layout.table, layout.parts, layout.state, layout.syn,
                      layout.drive, layout.rec, spiked, fired, sources))


class NumbaBackend:
    """Runs blocks with the JIT-compiled kernels (compiled once per set of models, cached on disk):
    one thread, or one per part of a layout split into parts."""

    name = "numba"

    def run_block(self, layout: Layout, step0: int, n_steps: int) -> int:
        if layout.n_parts > 1:
            return run_parallel_block(layout, step0, n_steps)
        return run_serial_block(layout, step0, n_steps)
