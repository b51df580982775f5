"""Numba CPU backend: the whole block of time steps runs in one compiled call.

Step semantics are those of :mod:`neurosim.engine.layout`, reproduced bit for bit. The
neuron update is generated from the layout's compiled models
(:mod:`neurosim.engine.numba_neurons`): a branch-free loop per segment over
structure-of-arrays state, with scalar parameters where a population shares them. Spikes
are collected eight neurons at a time and delivered through the merged CSR: synapses due at
once go straight into the state, delayed ones into the ring buffer, which is read back only
for the state rows that delayed synapses target. Rows with one delay or one
weight skip those per-synapse loads. Helpers are inlined: numba passes tuples of arrays by
value, so a call per spike would copy every array descriptor.

Plasticity (trace-based STDP, modulators; see :class:`neurosim.engine.layout.Plasticity`)
runs in a phase of its own after the sources of each step; rows with plastic synapses take
a per-synapse path. A network without plastic projections passes a ``NoPlasticity``, a type
of its own: numba compiles a specialisation of the kernel in which ``plastic`` is a
compile-time constant False, so the plasticity code is folded away and such networks run
the plain kernel.

The step loop calls the phases before and after the neuron update as kernels of their own
(compiled once for every model), with borrowed views of the layout's arrays
(:mod:`neurosim.engine.borrowed`: no reference counting per call), and skips the phase before
the update in steps that have nothing for it (:func:`_anything_before`). The per-step cost
outside the update and delivery is about 0.3 µs.
"""

from __future__ import annotations

import functools
from typing import Callable

import numpy as np
from numba.extending import overload

from neurosim.engine.borrowed import borrowed
from neurosim.engine.jit_cache import njit
from neurosim.engine.layout import CUR_CURSOR, GEN_CURSOR, N_ROWS, N_SPIKES, SPIKE_SLACK, Layout, NoPlasticity
from neurosim.engine.numba_neurons import tag, update_function
from neurosim.engine.rng import alias_draw, binomial_jit, normal_jit, uniform_jit
from neurosim.engine.wide_vectors import prefer_wide_vectors
from neurosim.plasticity import rules


def _is_plastic(pl):
    """Whether the network has plastic projections: a compile-time constant (see below)."""
    return not isinstance(pl, NoPlasticity)


@overload(_is_plastic, inline="always")
def _is_plastic_typed(pl):
    constant = getattr(pl, "instance_class", None) is not NoPlasticity

    def impl(pl):
        return constant
    return impl


@njit(cache=True, inline="always")
def _deliver(j, base, syn, flat):
    """Deliver the synapses of element ``j`` whose spike is due ``base + delay``: delay 0 into
    the state (``flat`` is ``vars`` raveled), later ones into the ring buffer."""
    mask = syn.buf.shape[0] - 1
    start, stop = syn.indptr[j], syn.indptr[j + 1]
    d = syn.row_delay[j]
    if d < 0:
        for s in range(start, stop):
            if syn.delay[s] == 0:
                flat[syn.target[s]] += syn.weight[s]
            else:
                syn.buf[(base + syn.delay[s]) & mask, syn.target[s]] += syn.weight[s]
        return
    row = flat if d == 0 else syn.buf[(base + d) & mask]
    if syn.row_uniform[j]:
        w = syn.row_weight[j]
        for s in range(start, stop):
            row[syn.target[s]] += w
    else:
        for s in range(start, stop):
            row[syn.target[s]] += syn.weight[s]


@njit(cache=True, inline="always")
def _deliver_plastic_row(j, base, syn, flat, pl):
    """:func:`_deliver` for a row with plastic synapses (``row_delay`` -2): the delayed plastic
    ones are left to :func:`_plasticity`, which delivers them on arrival. A row of delayed
    plastic synapses only (-3) has nothing to deliver now."""
    if syn.row_delay[j] == -2:
        mask = syn.buf.shape[0] - 1
        for s in range(syn.indptr[j], syn.indptr[j + 1]):
            if syn.delay[s] == 0:
                flat[syn.target[s]] += syn.weight[s]
            elif pl.skip[s] == 0:
                syn.buf[(base + syn.delay[s]) & mask, syn.target[s]] += syn.weight[s]


@njit(cache=True, inline="always")
def _record_spike(j, stamp, rec, k):
    """Note one spike of element ``j`` at step ``stamp``: spike buffer (if monitored), group count."""
    if rec.spike_mask[j]:
        n = rec.counters[N_SPIKES]
        rec.spk_step[n] = stamp
        rec.spk_id[n] = j
        rec.counters[N_SPIKES] = n + 1
    rec.counts[k, rec.group_of[j]] += 1


@njit(cache=True, inline="always")
def _emit(j, stamp, base, syn, flat, rec, k):
    """Record one spike of element ``j`` at step ``stamp`` and deliver it (see :func:`_deliver`)."""
    _record_spike(j, stamp, rec, k)
    _deliver(j, base, syn, flat)


@njit(cache=True, inline="always")
def _emit_plastic(j, stamp, base, syn, flat, rec, k, pl):
    """:func:`_emit` in a network with plasticity: also note the spike for the next plasticity
    phase, and leave delayed plastic synapses to it."""
    _record_spike(j, stamp, rec, k)
    pl.last[j] = stamp
    pl.gcount[rec.group_of[j]] += 1
    if pl.watch[j]:
        f = pl.counters[0]
        pl.fired[f] = j
        pl.counters[0] = f + 1
        if pl.hit.shape[1] > 0:
            pl.hit[stamp & (pl.hit.shape[0] - 1), j] = 1
    if syn.row_delay[j] < -1:
        _deliver_plastic_row(j, base, syn, flat, pl)
    else:
        _deliver(j, base, syn, flat)


_alias_draw = njit(cache=True, inline="always")(alias_draw)
_potentiate = njit(inline="always")(rules.potentiate)
_depress = njit(inline="always")(rules.depress)
_next_trace = njit(cache=True, inline="always")(rules.next_trace)
_same_step_trace = njit(cache=True, inline="always")(rules.same_step_trace)
_modulator_step = njit(cache=True, inline="always")(rules.modulator_step)
_integrate_modulators = njit(cache=True)(rules.bound(rules.integrate_modulators, modulator_step=_modulator_step))


@njit(cache=True, inline="always")
def _depress_at(s, p, x, y, syn, pl):
    """Depress the plastic synapse at merged position ``s`` (projection ``p``) for a presynaptic
    arrival: ``x`` the postsynaptic trace, ``y`` the presynaptic slow trace (:func:`rules.depress`)."""
    syn.weight[s] = _depress(syn.weight[s], x, y, pl.a_minus[p], pl.a3_minus[p], pl.lr[p, 1], pl.w_min[p],
                             pl.w_max[p], pl.soft[p], pl.hard[p], pl.alpha[p])


@njit(cache=True, inline="always")
def _potentiate_at(s, p, x, y, syn, pl):
    """Potentiate the plastic synapse at ``s`` (projection ``p``) for a postsynaptic spike: ``x``
    the presynaptic trace, ``y`` the postsynaptic slow trace (:func:`rules.potentiate`)."""
    syn.weight[s] = _potentiate(syn.weight[s], x, y, pl.a_plus[p], pl.a3_plus[p], pl.lr[p, 0], pl.w_min[p],
                                pl.w_max[p], pl.soft[p], pl.hard[p])


@njit(cache=True, inline="always")
def _plasticity(step, syn, pl):
    """The plasticity phase of step ``step`` for the spikes at ``t_step`` (see
    :class:`neurosim.engine.layout.Plasticity`): arrivals and depression, potentiation,
    traces, modulators."""
    mask = syn.buf.shape[0] - 1
    slot = step & mask
    now = pl.trace[slot]
    for e in range(pl.pend_n[slot]):  # delayed arrivals: deliver with the current weight, then depress
        g = pl.pend[slot, e]
        sent = pl.trace[(step - pl.grp_delay[g]) & mask]
        for q in range(pl.grp_ptr[g], pl.grp_ptr[g + 1]):
            s = pl.grp_pos[q]
            syn.buf[slot, syn.target[s]] += syn.weight[s]
            _depress_at(s, pl.grp_proj[q], now[pl.grp_col[q]], sent[pl.grp_ycol[q]], syn, pl)
    pl.pend_n[slot] = 0
    n_fired = pl.counters[0]
    for f in range(n_fired):  # spikes now: depress the delay-0 groups, queue the others
        j = pl.fired[f]
        for g in range(pl.row_grp[j], pl.row_grp[j + 1]):
            d = pl.grp_delay[g]
            if d == 0:
                for q in range(pl.grp_ptr[g], pl.grp_ptr[g + 1]):
                    _depress_at(pl.grp_pos[q], pl.grp_proj[q], now[pl.grp_col[q]], now[pl.grp_ycol[q]], syn, pl)
            else:
                t = (step + d) & mask
                pl.pend[t, pl.pend_n[t]] = g
                pl.pend_n[t] += 1
    for f in range(n_fired):  # postsynaptic spikes now: potentiate the incoming plastic synapses
        i = pl.fired[f]
        for q in range(pl.csc_ptr[i], pl.csc_ptr[i + 1]):
            p, sent = pl.csc_proj[q], (step - pl.csc_delay[q]) & mask
            x = pl.trace[sent, pl.csc_col[q]]  # arrivals before t_step
            if pl.same[p] and pl.hit[sent, pl.csc_pre[q]]:  # and the arrival at t_step
                x = _same_step_trace(x, pl.x_inc[p], pl.x_near[p])
            _potentiate_at(pl.csc_pos[q], p, x, now[pl.csc_ycol[q]], syn, pl)
    pl.counters[0] = 0
    nxt = pl.trace[(step + 1) & mask]
    for t in range(pl.tset.shape[0]):  # traces at t_{step+1}
        a, size, col = pl.tset[t, 0], pl.tset[t, 1], pl.tset[t, 2]
        inc, decay = pl.t_inc[t], pl.t_decay[t]
        x_now, x_next, last = now[col:col + size], nxt[col:col + size], pl.last[a:a + size]
        nearest = pl.t_nearest[t]
        for i in range(size):
            x_next[i] = _next_trace(x_now[i], last[i] == step, inc, decay, nearest)
    if pl.hit.shape[1] > 0:  # the slot of t_{step+1} (emitted after this phase) starts empty
        pl.hit[(step + 1) & mask, :] = 0
    _integrate_modulators(pl.mod_state.shape[0], pl)  # A <- A + (w n + b - A) / tau
    pl.gcount[:] = 0


@njit(cache=True, inline="always")
def _poisson_inputs(step, drv, flat, n, lo, hi):
    """The per-target Poisson inputs active at ``step`` add their counts times their weights to
    their state rows, for the neurons ``lo .. hi-1`` (see :class:`neurosim.engine.layout.Drive`)."""
    prefer_wide_vectors()
    ustep = np.uint64(step)
    for q in range(drv.inputs.shape[0]):
        first, stop, row, t0, t1 = drv.inputs[q, 0], drv.inputs[q, 1], drv.inputs[q, 2], drv.inputs[q, 6], drv.inputs[q, 7]
        a, b = max(first, lo), min(stop, hi)
        if drv.inputs[q, 4] <= step < drv.inputs[q, 5] and a < b:
            seed, w, out = drv.input_seed[q], drv.input_w[q], flat[row * n + a:row * n + b]
            if t1 > t0:
                prob, alias, k0 = drv.input_prob[t0:t1], drv.input_alias[t0:t1], drv.input_real[q, 0]
                for i in range(b - a):
                    out[i] += (k0 + _alias_draw(uniform_jit(seed, ustep, np.uint64(a + i)), prob, alias)) * w
            else:
                count, p, flip = drv.inputs[q, 3], drv.input_real[q, 1], drv.inputs[q, 8] != 0
                for i in range(b - a):
                    out[i] += binomial_jit(seed, ustep, np.uint64(a + i), count, p, flip) * w


@njit(cache=True, inline="always")
def _noise_inputs(step, drv, flat, n, lo, hi):
    """The noise inputs active at ``step`` add ``a + b z`` to their state rows, for the neurons
    ``lo .. hi-1`` (see :class:`neurosim.engine.layout.Drive`)."""
    ustep = np.uint64(step)
    for q in range(drv.noises.shape[0]):
        first, stop, row, o = drv.noises[q, 0], drv.noises[q, 1], drv.noises[q, 2], drv.noises[q, 5]
        a, b = max(first, lo), min(stop, hi)
        if drv.noises[q, 3] <= step < drv.noises[q, 4] and a < b:
            seed, out = drv.noise_seed[q], flat[row * n + a:row * n + b]
            na, nb = drv.noise_a[o + a - first:o + b - first], drv.noise_b[o + a - first:o + b - first]
            for i in range(b - a):
                out[i] += na[i] + nb[i] * normal_jit(seed, ustep, np.uint64(a + i))


@njit(cache=True, inline="always")
def _record_state(step, st, rec):
    row = rec.counters[N_ROWS]
    for c in range(rec.rec_id.shape[0]):
        rec.rec_out[row, c] = st.vars[rec.rec_var[c], rec.rec_id[c]]
    rec.rec_step[row] = step
    rec.counters[N_ROWS] = row + 1


@njit(cache=True, inline="always")
def _take_buffered(slot, syn, st, lo, hi):
    """Add the buffered input of ``slot`` to the state rows that delayed synapses target, for the
    neurons ``lo .. hi-1``."""
    n = st.vars.shape[1]
    for r in range(st.vars.shape[0]):
        if syn.buffered[r]:
            waiting, target = syn.buf[slot, r * n + lo:r * n + hi], st.vars[r, lo:hi]
            for i in range(hi - lo):
                target[i] += waiting[i]
                waiting[i] = 0


@njit(cache=True, inline="always")
def _anything_before(step, syn, drv, rec, plastic):
    """Whether step ``step`` has anything to do before the neuron update: a current change, a
    generator spike, Poisson sources or inputs, noise, plasticity, buffered input or a state sample."""
    c, g = rec.counters[CUR_CURSOR], rec.counters[GEN_CURSOR]
    return (plastic or drv.poisson_id.shape[0] > 0 or drv.inputs.shape[0] > 0 or drv.noises.shape[0] > 0
            or syn.buffered.any()
            or (c < drv.cur_step.shape[0] and drv.cur_step[c] == step)
            or (g < drv.gen_step.shape[0] and drv.gen_step[g] == step)
            or (rec.rec_id.shape[0] > 0 and step % rec.rec_interval[0] == 0))


@njit(cache=True, nogil=True)
def _before_neurons(step, k, st, syn, drv, rec, pl, flat):
    """Phases 1–3 of step ``step`` (``k``-th of the block): currents, source spikes, Poisson
    inputs, plasticity, buffered input, state sample, noise inputs. ``pl`` is None without plastic projections: numba prunes the
    plasticity branches then, and the call does not pass the (empty) plasticity tables."""
    c = rec.counters[CUR_CURSOR]
    while c < drv.cur_step.shape[0] and drv.cur_step[c] == step:
        st.i_ext[drv.cur_id[c]] += drv.cur_delta[c]
        c += 1
    rec.counters[CUR_CURSOR] = c
    g = rec.counters[GEN_CURSOR]
    while g < drv.gen_step.shape[0] and drv.gen_step[g] == step:
        if pl is not None:
            _emit_plastic(drv.gen_id[g], step, step, syn, flat, rec, k, pl)
        else:
            _emit(drv.gen_id[g], step, step, syn, flat, rec, k)
        g += 1
    rec.counters[GEN_CURSOR] = g
    ustep = np.uint64(step)
    seed = drv.seed[0]
    for q in range(drv.poisson_id.shape[0]):
        if drv.poisson_start[q] <= step < drv.poisson_stop[q]:
            j = drv.poisson_id[q]
            if uniform_jit(seed, ustep, np.uint64(j)) < drv.poisson_p[q]:
                if pl is not None:
                    _emit_plastic(j, step, step, syn, flat, rec, k, pl)
                else:
                    _emit(j, step, step, syn, flat, rec, k)
    n = st.vars.shape[1]
    if drv.inputs.shape[0] > 0:
        _poisson_inputs(step, drv, flat, n, 0, n)
    if pl is not None:
        _plasticity(step, syn, pl)
    _take_buffered(step & (syn.buf.shape[0] - 1), syn, st, 0, n)
    if rec.rec_id.shape[0] > 0 and step % rec.rec_interval[0] == 0:
        _record_state(step, st, rec)
    if drv.noises.shape[0] > 0:  # after the sample: it shows the state at t_step, the noise is of [t_step, t_step+1)
        _noise_inputs(step, drv, flat, n, 0, n)


@njit(cache=True, nogil=True)
def _after_neurons(step, k, syn, rec, pl, flat, spiked):
    """Phase 4's delivery: the neurons that spiked in step ``step`` emit at ``t_{step+1}``."""
    words = spiked.view(np.uint64)
    for w in range(words.shape[0]):
        if words[w] != 0:
            for i in range(8 * w, 8 * w + 8):
                if spiked[i]:
                    if pl is not None:
                        _emit_plastic(i, step + 1, step + 1, syn, flat, rec, k, pl)
                    else:
                        _emit(i, step + 1, step + 1, syn, flat, rec, k)


def _make_run_block(update_neurons, suffix: str):
    """The block kernel around the neuron update generated for a layout's models
    (:func:`neurosim.engine.numba_neurons.update_function`); cached on disk per set of models.

    The phases before and after the neuron update are kernels of their own, compiled and
    cached once for every model: a new model compiles only its update and this loop. They
    take borrowed views (:func:`neurosim.engine.borrowed.borrowed`), valid for the whole call
    because the caller holds the layout; ``spiked`` is the caller's scratch array for the same
    reason.
    """

    def run_block(step0, n_steps, tab, segments, st, syn, drv, rec, pl, spiked):
        """Advance ``n_steps`` steps from global step ``step0``; return the number done.

        Stops early (returning fewer steps) when the spike buffer could overflow, so the caller
        can hand the recorded block out and continue. ``spiked``: uint8 scratch of N rounded up
        to a multiple of 8.
        """
        tab, segments, st, syn, drv, rec, pl = (borrowed(tab), borrowed(segments), borrowed(st), borrowed(syn),
                                                borrowed(drv), borrowed(rec), borrowed(pl))
        flat, spiked = st.vars.ravel(), borrowed(spiked)
        n_elements = syn.indptr.shape[0] - 1
        cap = rec.spk_step.shape[0]
        plastic = _is_plastic(pl)
        for k in range(n_steps):
            step = step0 + k
            if rec.counters[N_SPIKES] + n_elements + rec.counters[SPIKE_SLACK] > cap:
                return k
            if plastic:
                _before_neurons(step, k, st, syn, drv, rec, pl, flat)
            elif _anything_before(step, syn, drv, rec, plastic):  # None: numba prunes the plasticity code
                _before_neurons(step, k, st, syn, drv, rec, None, flat)
            update_neurons(segments, tab.params, tab.ref_steps, st.vars, st.ref, st.i_ext, spiked)
            if plastic:
                _after_neurons(step, k, syn, rec, pl, flat, spiked)
            else:
                _after_neurons(step, k, syn, rec, None, flat, spiked)
        return n_steps

    run_block.__qualname__ = f"{run_block.__qualname__}_{suffix}"
    return njit(cache=True, nogil=True)(run_block)


@functools.lru_cache(maxsize=64)
def block_kernel(models: tuple) -> Callable:
    """The block kernel of a layout whose segments run ``models`` (compiled models), named after
    them (see :func:`neurosim.engine.numba_neurons.tag`)."""
    return _make_run_block(update_function(models), tag(models))


def run_serial_block(layout: Layout, step0: int, n_steps: int) -> int:
    """Run a block of a layout in one part with the kernel of its models."""
    kernel = block_kernel(layout.models)
    spiked = np.zeros(-(-layout.state.vars.shape[1] // 8) * 8, dtype=np.uint8)  # scanned 8 neurons at a time
    return int(kernel(np.int64(step0), np.int64(n_steps), layout.table, layout.segments, layout.state,
                      layout.syn, layout.drive, layout.rec, layout.plastic, spiked))
