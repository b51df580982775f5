"""The persistent kernel of the ``cuda`` backend: a whole block of steps in one launch.

Every layout runs a block as one launch of ``run_steps``. Its threads loop over the steps
together, separated by barriers: ``cuda.syncthreads()`` in the kernel for a launch of one
block (small networks), a grid-wide ``this_grid().sync()`` in the kernel launched
cooperatively over several blocks. Step ``m`` (``k``-th of the block; semantics of
:mod:`neurosim.engine.layout`):

1. with spike generators or Poisson sources: ``_sources`` appends the sources spiking at ``m``
   to the source list | barrier | ``_deliver`` delivers them, due ``m + delay`` | barrier;
2. with plastic projections, the plasticity phase for the spikes at ``t_m``
   (:mod:`neurosim.engine.cuda_plasticity`): depression and arrivals | barrier | potentiation
   | barrier | the traces at ``t_{m+1}`` and (thread 0) the modulators, no barrier;
3. on sampled steps: each neuron's Poisson inputs and ring-buffer slot | barrier | the state
   sample | barrier;
4. per neuron (one thread each, grid-stride): its Poisson inputs and ring-buffer slot (when not
   sampled), its noise inputs, its model's step (:func:`neurosim.engine.cuda_neurons.neuron_step`),
   and its spike, stamped ``m + 1``, appended to the neuron list of parity ``k`` | barrier;
5. the delivery of those spikes, due ``m + 1 + delay``, while thread 0 prepares step ``m + 1``
   (``_begin``: stop when the spike buffer could overflow, apply the current changes due,
   find the generators due, empty the source list and the other neuron list) | barrier.

Spikes are delivered presynaptically (``_deliver``: each spike's row, atomics) or, in kernels
compiled with incoming indices (static layouts; ``cuda_backend.delivery``), postsynaptically in
the steps with at least ``Sizes.pull_min`` neuron spikes (``Sizes.pull_min_src`` source spikes)
(``_pull``: a thread per target, no atomics; :mod:`neurosim.engine.incoming`).

With plasticity every spike delivered in (1) and (5) is also noted for the next plasticity
phase (:func:`neurosim.engine.cuda_plasticity.note`), and rows with plastic synapses are walked
with the live weights, their delayed plastic synapses left to their arrival.

A static network without sources thus pays two barriers per step, a plastic one four. Each
neuron's additions come in the order of the numba backend's step (inputs by index, ring
buffer, noise), and under the CUDA simulator the launch is one thread, so the results equal
the numba backend's bit for bit, weights, traces and modulators included (the test suite
checks it). The plastic and the static kernels are compiled separately, so a static network
carries no plasticity code.

Spike delivery gives each spike a group of ``lanes`` threads that walk its row (CSR, so the
group reads consecutive synapses): 32 when spikes are many, more when few, up to 1024, so
that the spikes of a step spread over the whole grid whatever their number; the plasticity
phases group their threads the same way.

Every counter lives on the device (array ``ctr``, slots below); the host reads it, the stop
step ``halt`` and the recordings once, after the launch. Thread 0 keeps the cursors in
registers and reads the spike count only when the stop could be due.

Measured on an H200 (``bash benchmarks/gpu_checks.sh``, numba-cuda 0.30): a grid barrier costs
1.4 us with 132 blocks of 256 threads (``benchmarks/grid_sync.py``); CUBA with 4,000 neurons runs
at a real-time factor of 0.108 (numba on one core: 0.061), with 400,000 at 1.6, with 10^6 at
4.5; full-scale PD14 (77,169 neurons, 2.99e8 synapses, float32) at 0.75 with rates within 3 %
of the published ones. A step thus costs some 10 us at small sizes, far above the barriers:
the dependent global-memory reads of each phase dominate. Plastic networks ran a launch
sequence per step then (0.5 ms a step whatever the size); their one-launch kernel has not yet
run on a GPU.
"""

from __future__ import annotations

import functools
import types
from typing import NamedTuple

import numpy as np
from numba import cuda

from neurosim.engine.cuda_kernels import _alias_draw, _binomial, _deliver_spike, _emit, _normal, _take_one, uniform
from neurosim.engine.cuda_neurons import neuron_step
from neurosim.engine.cuda_plasticity import depress, modulate, next_traces, note, potentiate

#: slots of ``ctr``: recorded spikes (``cuda_kernels.SPK``), the source list, the two neuron lists,
#: the generator cursor, the first generator of the step, the current-change cursor, samples
#: taken, the elements in ``fired`` (plasticity), the steps whose neuron (source) spikes were pulled
SPK, SRC, NEU0, NEU1, GEN, GEN0, CUR, ROWS, FIRED, PULLED, PULLED_SRC = range(11)
N_COUNTERS = 11

#: the neuron step of a layout's models (``cuda_neurons.neuron_step``), bound per tuple of models
step_neuron = None
#: whether the layout has plastic projections, bound per kernel
PLASTIC = False
#: whether the kernel can deliver spikes postsynaptically (:mod:`neurosim.engine.incoming`)
PULL = False


class Sizes(NamedTuple):
    """The integer sizes and flags of a layout the kernel needs."""

    n: int  # neurons
    n_el: int  # elements (neurons and sources)
    step_max: int  # the most spikes one step can record (a generator may repeat an element in a step)
    slack: int  # ``Recording.counters[SPIKE_SLACK]``: a step can record n_el + slack spikes
    cap: int  # spike buffer capacity
    mask: int  # ring-buffer slots - 1
    interval: int  # sampling interval (steps)
    n_cols: int  # sampled state columns
    any_buffered: bool  # whether delayed synapses exist
    n_gen: int  # generator spikes
    n_cur: int  # current changes
    n_poisson: int  # Poisson sources
    n_in: int  # Poisson inputs
    n_noise: int  # noise inputs
    has_sources: bool  # generators or Poisson sources
    n_trace: int  # plasticity: trace columns
    n_hit: int  # plasticity: elements flagged for same-step pairing (0: none)
    n_mod: int  # plasticity: modulators
    pull_min: int  # pull the neuron spikes of a step when at least this many (kernels that can pull)
    pull_min_src: int  # pull the source spikes of a step when at least this many


class Csr(NamedTuple):
    indptr: np.ndarray
    target: np.ndarray
    weight: np.ndarray
    delay: np.ndarray
    row_delay: np.ndarray
    row_uniform: np.ndarray
    row_weight: np.ndarray


class Cells(NamedTuple):
    """Neuron state and parameters; ``buf`` the ring buffer, ``buffered`` its target rows."""

    flat: np.ndarray
    ref: np.ndarray
    i_ext: np.ndarray
    params: np.ndarray
    ref_steps: np.ndarray
    model_of: np.ndarray
    buf: np.ndarray
    buffered: np.ndarray


class Drive(NamedTuple):
    """:class:`neurosim.engine.layout.Drive`'s arrays (empty ones padded to one element; the
    counts are in :class:`Sizes`)."""

    gen_step: np.ndarray
    gen_id: np.ndarray
    cur_step: np.ndarray
    cur_id: np.ndarray
    cur_delta: np.ndarray
    poisson_id: np.ndarray
    poisson_p: np.ndarray
    poisson_start: np.ndarray
    poisson_stop: np.ndarray
    inputs: np.ndarray
    input_real: np.ndarray
    input_w: np.ndarray
    input_seed: np.ndarray
    input_prob: np.ndarray
    input_alias: np.ndarray
    noises: np.ndarray
    noise_seed: np.ndarray
    noise_a: np.ndarray
    noise_b: np.ndarray


class Record(NamedTuple):
    spike_mask: np.ndarray
    group_of: np.ndarray
    spk_step: np.ndarray
    spk_id: np.ndarray
    counts: np.ndarray
    rec_id: np.ndarray
    rec_var: np.ndarray
    rec_out: np.ndarray


class Lists(NamedTuple):
    """Counters (slots above), the stop step, the source list and the two neuron lists ``(2, N)``."""

    ctr: np.ndarray
    halt: np.ndarray
    src: np.ndarray
    neu: np.ndarray


class Pull(NamedTuple):
    """:class:`neurosim.engine.incoming.Incoming` of a range of rows on the device, and
    ``count[j - first]``: the spikes of element ``j`` in the step being delivered (stand-ins
    when the kernel cannot pull)."""

    ptr: np.ndarray
    target: np.ndarray
    src: np.ndarray
    syn: np.ndarray
    count: np.ndarray


@cuda.jit(device=True)
def _grid_barrier():
    """Every thread of the (cooperative) launch waits for all others; memory is then consistent."""
    cuda.cg.this_grid().sync()


@cuda.jit(device=True)
def _block_barrier():
    """The same for a launch of one block."""
    cuda.syncthreads()


#: the barrier ``_run_steps`` calls: ``persistent_kernel`` binds one of the two above
_barrier = None


@cuda.jit(device=True)
def _begin(k, step, n_steps, s, drv, cells, lists, c, g, check):
    """Prepare step ``step`` (``k``-th of the block; thread 0, which keeps the cursors ``c``
    (current changes) and ``g`` (generators) in registers): stop when the spike buffer could
    overflow (as the numba backend: fewer than ``n_el + slack`` places left), apply the current changes
    due, find the generators due, empty the source list. The spike count is read only at step
    ``check``: until then the stop cannot be due, as each step adds at most ``step_max`` spikes.
    Returns the new ``(c, g, check)``."""
    ctr = lists.ctr
    if k >= n_steps:
        return c, g, check
    if k >= check:
        free = s.cap - ctr[SPK]
        if free < s.n_el + s.slack:
            lists.halt[0] = k
            return c, g, check
        check = k + 1 + (free - s.n_el - s.slack) // s.step_max
    while c < s.n_cur and drv.cur_step[c] == step:
        cells.i_ext[drv.cur_id[c]] += drv.cur_delta[c]
        c += 1
    if s.n_gen > 0:
        ctr[GEN0] = g
        while g < s.n_gen and drv.gen_step[g] == step:
            g += 1
        ctr[GEN] = g
    if s.has_sources:
        ctr[SRC] = 0
    return c, g, check


@cuda.jit(device=True)
def _sources(k, step, tid, nth, seed, s, drv, rec, lists, counted, count):
    """The generators due and the Poisson sources spiking at ``step`` join the source list (and
    if ``counted``, are counted in ``count[j - n]``)."""
    ctr = lists.ctr
    g0 = ctr[GEN0]
    due = ctr[GEN] - g0
    for t in range(tid, due + s.n_poisson, nth):
        if t < due:
            j = drv.gen_id[g0 + t]
            _emit(j, step, k, ctr, SRC, lists.src, rec.spike_mask, rec.spk_step, rec.spk_id, rec.counts, rec.group_of)
            if counted:
                cuda.atomic.add(count, j - s.n, 1)
        else:
            q = t - due
            if drv.poisson_start[q] <= step and step < drv.poisson_stop[q]:
                j = drv.poisson_id[q]
                if uniform(seed, step, j) < drv.poisson_p[q]:
                    _emit(j, step, k, ctr, SRC, lists.src, rec.spike_mask, rec.spk_step, rec.spk_id, rec.counts,
                          rec.group_of)
                    if counted:
                        count[j - s.n] = 1


@cuda.jit(device=True)
def _lanes(count, nth):
    """Threads per item for ``count`` items over ``nth`` threads: 32 when items are many, more
    when few (up to 1024), at most ``nth``; a power of two. Threads ``lanes * (nth // lanes)``
    and above have no group: callers leave them idle."""
    lanes = 1
    while lanes < 32 and 2 * lanes <= nth:
        lanes *= 2
    while lanes < 1024 and 2 * lanes * max(count, 1) <= nth:
        lanes *= 2
    return lanes


@cuda.jit(device=True)
def _deliver(count, spikes, base, tid, nth, csr, cells, skip):
    """Deliver ``spikes[:count]``, due ``base + delay``: a group of ``lanes`` threads per spike
    (``skip``: the delayed plastic synapses, left to their arrival)."""
    lanes = _lanes(count, nth)
    group, lane, n_groups = tid // lanes, tid % lanes, nth // lanes
    if group >= n_groups:
        return
    for e in range(group, count, n_groups):
        _deliver_spike(spikes[e], base, lane, lanes, csr.indptr, csr.target, csr.weight, csr.delay, csr.row_delay,
                       csr.row_uniform, csr.row_weight, skip, cells.flat, cells.buf)


@cuda.jit(device=True)
def _pull(base, first, tid, nth, csr, cells, inc):
    """Deliver the spikes counted in ``inc.count``, due ``base + delay``, postsynaptically: a
    thread per target walks the synapses onto it (runs of one element each, in the numba
    backend's order) and adds, without atomics, each run as often as its element spiked."""
    mask = cells.buf.shape[0] - 1
    for t in range(tid, inc.ptr.shape[0] - 1, nth):
        code, end = inc.target[t], inc.ptr[t + 1]
        q = inc.ptr[t]
        while q < end:
            j = inc.src[q]
            run = q + 1
            while run < end and inc.src[run] == j:
                run += 1
            for _ in range(inc.count[j - first]):
                for e in range(q, run):
                    _add(j, inc.syn[e], base, mask, code, csr, cells)
            q = run


@cuda.jit(device=True)
def _add(j, syn, base, mask, code, csr, cells):
    """Add synapse ``syn`` of row ``j`` to state code ``code`` (delay 0) or to its ring-buffer slot."""
    d = csr.row_delay[j]
    if d < 0:
        d = np.int32(csr.delay[syn])
    w = csr.row_weight[j] if csr.row_uniform[j] != 0 else csr.weight[syn]
    if d == 0:
        cells.flat[code] += w
    else:
        cells.buf[(base + d) & mask, code] += w


@cuda.jit(device=True)
def _note(count, spikes, base, tid, nth, s, ctr, group_of, pl):
    """Note ``spikes[:count]``, delivered at ``base``, for the next plasticity phase."""
    for e in range(tid, count, nth):
        note(spikes[e], base, s.n_hit, ctr, FIRED, group_of, pl)


def _plasticity(step, tid, nth, s, csr, cells, lists, pl):
    """The plasticity phase of ``step`` (:mod:`neurosim.engine.cuda_plasticity`), up to the
    traces and modulators, which need no barrier before the neuron update (a device function
    bound per barrier by :func:`persistent_kernel`)."""
    ctr = lists.ctr
    n_fired = ctr[FIRED]
    arrivals = pl.pend_n[step & s.mask]
    depress(step, n_fired, tid, nth, _lanes(arrivals + n_fired, nth), csr.target, csr.weight, cells.buf, pl)
    _barrier()
    potentiate(step, n_fired, tid, nth, _lanes(n_fired, nth), s.n_hit, csr.weight, pl)
    _barrier()
    next_traces(step, tid, nth, s.n_trace, s.n_hit, pl)
    if tid == 0:
        modulate(step, s.n_mod, pl)
        ctr[FIRED] = 0


@cuda.jit(device=True)
def _inputs(i, step, s, drv, flat):
    """Neuron ``i``'s Poisson inputs active at ``step``, by input index (:class:`neurosim.engine.layout.Drive`)."""
    for q in range(s.n_in):
        if drv.inputs[q, 0] <= i and i < drv.inputs[q, 1] and drv.inputs[q, 4] <= step and step < drv.inputs[q, 5]:
            t0, t1 = drv.inputs[q, 6], drv.inputs[q, 7]
            if t1 > t0:
                c = drv.input_real[q, 0] + _alias_draw(uniform(drv.input_seed[q], step, i), drv.input_prob[t0:t1],
                                                       drv.input_alias[t0:t1])
            else:
                c = _binomial(drv.input_seed[q], np.uint64(step), np.uint64(i), drv.inputs[q, 3],
                              drv.input_real[q, 1], drv.inputs[q, 8] != 0)
            flat[drv.inputs[q, 2] * s.n + i] += c * drv.input_w[q]


@cuda.jit(device=True)
def _noises(i, step, s, drv, flat):
    """Neuron ``i``'s noise inputs active at ``step``, by input index."""
    for q in range(s.n_noise):
        first = drv.noises[q, 0]
        if first <= i and i < drv.noises[q, 1] and drv.noises[q, 3] <= step and step < drv.noises[q, 4]:
            o = drv.noises[q, 5] + i - first
            flat[drv.noises[q, 2] * s.n + i] += drv.noise_a[o] + drv.noise_b[o] * _normal(
                drv.noise_seed[q], np.uint64(step), np.uint64(i))


def _run_steps(step0, n_steps, seed, s, csr, cells, drv, rec, lists, pl, pull_neu, pull_src):
    """Steps ``step0 .. step0 + n_steps - 1`` (or until ``halt``); see the module docstring."""
    tid, nth = cuda.grid(1), cuda.gridsize(1)
    ctr, n = lists.ctr, s.n
    c, g, check = 0, 0, 0
    if tid == 0:  # thread 0 keeps the cursors
        c, g, check = _begin(0, step0, n_steps, s, drv, cells, lists, ctr[CUR], ctr[GEN], check)
    _barrier()
    for k in range(n_steps):
        if lists.halt[0] <= k:
            break
        step = step0 + k
        if s.has_sources:
            _sources(k, step, tid, nth, seed, s, drv, rec, lists, PULL, pull_src.count)
            _barrier()
            if PLASTIC:
                _note(ctr[SRC], lists.src, step, tid, nth, s, ctr, rec.group_of, pl)
            if PULL and ctr[SRC] >= s.pull_min_src:
                _pull(step, s.n, tid, nth, csr, cells, pull_src)
                if tid == 0:
                    ctr[PULLED_SRC] += 1
            else:
                _deliver(ctr[SRC], lists.src, step, tid, nth, csr, cells, pl.skip)
            _barrier()
            if PULL:  # the counts are read: empty them for the next step
                for e in range(tid, ctr[SRC], nth):
                    pull_src.count[lists.src[e] - s.n] = 0
        if PLASTIC:
            _plasticity(step, tid, nth, s, csr, cells, lists, pl)
        slot = step & s.mask
        sample = s.n_cols > 0 and step % s.interval == 0
        if sample:
            for i in range(tid, n, nth):
                _inputs(i, step, s, drv, cells.flat)
                if s.any_buffered:
                    _take_one(i, n, cells.flat, cells.buf, slot, cells.buffered)
            _barrier()
            row = ctr[ROWS]
            for col in range(tid, s.n_cols, nth):
                rec.rec_out[row, col] = cells.flat[rec.rec_var[col] * n + rec.rec_id[col]]
            _barrier()
        parity = k & 1
        spikes = lists.neu[parity]
        for i in range(tid, n, nth):
            if not sample:
                _inputs(i, step, s, drv, cells.flat)
                if s.any_buffered:
                    _take_one(i, n, cells.flat, cells.buf, slot, cells.buffered)
            _noises(i, step, s, drv, cells.flat)
            fired = step_neuron(i, n, cells.flat, cells.ref, cells.i_ext, cells.params, cells.ref_steps, cells.model_of)
            if fired:
                _emit(i, step + 1, k, ctr, NEU0 + parity, spikes, rec.spike_mask, rec.spk_step, rec.spk_id,
                      rec.counts, rec.group_of)
            if PULL:
                pull_neu.count[i] = fired
        _barrier()
        if tid == 0:
            if sample:
                ctr[ROWS] += 1
            ctr[NEU1 - parity] = 0
            c, g, check = _begin(k + 1, step + 1, n_steps, s, drv, cells, lists, c, g, check)
        count = ctr[NEU0 + parity]
        if PLASTIC:
            _note(count, spikes, step + 1, tid, nth, s, ctr, rec.group_of, pl)
        if PULL and count >= s.pull_min:
            _pull(step + 1, 0, tid, nth, csr, cells, pull_neu)
            if tid == 0:
                ctr[PULLED] += 1
        else:
            _deliver(count, spikes, step + 1, tid, nth, csr, cells, pl.skip)
        _barrier()
    if tid == 0:
        ctr[CUR], ctr[GEN] = c, g


@functools.lru_cache(maxsize=64)
def persistent_kernel(models: tuple, one_block: bool, plastic: bool, pull: bool):
    """The kernel ``run_steps(step0, n_steps, seed, sizes, csr, cells, drive, record, lists,
    plastic, pull_neurons, pull_sources)`` of a layout whose neurons take ``models`` (its compiled models), for a
    launch of one block (block barriers) or of several (grid barriers, launched cooperatively),
    with or without the plasticity phase, able to pull spikes or not."""
    barrier = _block_barrier if one_block else _grid_barrier
    plasticity = types.FunctionType(_plasticity.__code__, {**globals(), "_barrier": barrier}, "_plasticity")
    scope = {**globals(), "step_neuron": neuron_step(models), "_barrier": barrier, "PLASTIC": plastic, "PULL": pull,
             "_plasticity": cuda.jit(device=True)(plasticity)}
    return cuda.jit(types.FunctionType(_run_steps.__code__, scope, "run_steps"))
