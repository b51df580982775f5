"""Numba CPU backend: the whole block of time steps runs in one compiled call.

Step semantics are those of :mod:`neurosim.engine.layout`. The neuron update is a
branch-free loop over structure-of-arrays state (vectorised by LLVM); spikes are then
collected and delivered through the merged CSR into the delay ring buffer.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from neurosim.engine.layout import CUR_CURSOR, GEN_CURSOR, N_ROWS, N_SPIKES, Layout
from neurosim.engine.rng import uniform_jit


@njit(cache=True, nogil=True)
def _emit(j, stamp, base, syn, rec, k):
    """Record and deliver one spike of element ``j`` stamped ``stamp`` into slots ``base + delay``."""
    if rec.spike_mask[j]:
        n = rec.counters[N_SPIKES]
        rec.spk_step[n] = stamp
        rec.spk_id[n] = j
        rec.counters[N_SPIKES] = n + 1
    rec.counts[k, rec.group_of[j]] += 1
    mask = syn.buf.shape[0] - 1
    for s in range(syn.indptr[j], syn.indptr[j + 1]):
        syn.buf[(base + syn.delay[s]) & mask, syn.target[s]] += syn.weight[s]


@njit(cache=True, nogil=True)
def _record_state(step, st, rec):
    row = rec.counters[N_ROWS]
    for c in range(rec.rec_id.shape[0]):
        j = rec.rec_id[c]
        var = rec.rec_var[c]
        if var == 0:
            rec.rec_out[row, c] = st.v[j]
        elif var == 1:
            rec.rec_out[row, c] = st.i_e[j]
        else:
            rec.rec_out[row, c] = st.i_i[j]
    rec.rec_step[row] = step
    rec.counters[N_ROWS] = row + 1


@njit(cache=True, inline="always")
def _neuron(v, i_e, i_i, ref, i_ext, a_e, a_i, v_rest, v_th, v_reset, reset_step, soft, ref_steps,
            p_vv, p_ve, p_vi, p_vI, d_e, d_i, jump, cur_gain):
    """One neuron, one step (equations in :mod:`neurosim.neurons.step`); branch-free."""
    v = v + jump * (a_e + a_i)
    i_e = i_e + cur_gain * a_e
    i_i = i_i + cur_gain * a_i
    v_new = v_rest + (v - v_rest) * p_vv + i_e * p_ve + i_i * p_vi + i_ext * p_vI
    refractory = ref > 0
    v_new = v_reset if refractory else v_new
    ref = ref - 1 if refractory else ref
    spike = (not refractory) and v_new >= v_th
    v_after = v_new - reset_step if soft != 0 else v_reset
    return (v_after if spike else v_new), i_e * d_e, i_i * d_i, (ref_steps if spike else ref), spike


@njit(cache=True, nogil=True)
def _update_neurons(slot, tab, segments, st, buf, spiked):
    """Integrate, threshold and reset all neurons over one step.

    A homogeneous segment (one population with shared parameters) runs with scalar
    parameters, which keeps the loop within cache bandwidth and lets LLVM vectorise it.
    Loops run over ``range(len)`` of per-segment views: a loop from a non-zero start
    carries numba's negative-index wraparound, which blocks vectorisation.
    """
    n = st.v.shape[0]
    for g in range(segments.shape[0]):
        a, b = segments[g, 0], segments[g, 1]
        v, i_e, i_i, ref, i_ext = st.v[a:b], st.i_e[a:b], st.i_i[a:b], st.ref[a:b], st.i_ext[a:b]
        b_e, b_i, out = buf[slot, a:b], buf[slot, n + a:n + b], spiked[a:b]
        if segments[g, 2]:
            v_rest, v_th, v_reset, reset_step = tab.v_rest[a], tab.v_th[a], tab.v_reset[a], tab.reset_step[a]
            soft, ref_steps, p_vv, p_ve = tab.soft[a], tab.ref_steps[a], tab.p_vv[a], tab.p_ve[a]
            p_vi, p_vI, d_e, d_i, jump, cur_gain = tab.p_vi[a], tab.p_vI[a], tab.d_e[a], tab.d_i[a], tab.jump[a], tab.cur_gain[a]
            for i in range(b - a):
                a_e, a_i = b_e[i], b_i[i]
                b_e[i] = 0
                b_i[i] = 0
                v[i], i_e[i], i_i[i], ref[i], out[i] = _neuron(
                    v[i], i_e[i], i_i[i], ref[i], i_ext[i], a_e, a_i, v_rest, v_th, v_reset, reset_step, soft,
                    ref_steps, p_vv, p_ve, p_vi, p_vI, d_e, d_i, jump, cur_gain)
        else:
            for i in range(b - a):
                a_e, a_i = b_e[i], b_i[i]
                b_e[i] = 0
                b_i[i] = 0
                j = a + i
                v[i], i_e[i], i_i[i], ref[i], out[i] = _neuron(
                    v[i], i_e[i], i_i[i], ref[i], i_ext[i], a_e, a_i, tab.v_rest[j], tab.v_th[j], tab.v_reset[j],
                    tab.reset_step[j], tab.soft[j], tab.ref_steps[j], tab.p_vv[j], tab.p_ve[j], tab.p_vi[j],
                    tab.p_vI[j], tab.d_e[j], tab.d_i[j], tab.jump[j], tab.cur_gain[j])


@njit(cache=True, nogil=True)
def run_block(step0, n_steps, tab, segments, st, syn, drv, rec):
    """Advance ``n_steps`` steps from global step ``step0``; return the number done.

    Stops early (returning fewer steps) when the spike buffer could overflow, so the caller
    can hand the recorded block out and continue.
    """
    n = st.v.shape[0]
    n_elements = syn.indptr.shape[0] - 1
    mask = syn.buf.shape[0] - 1
    cap = rec.spk_step.shape[0]
    interval = rec.rec_interval[0]
    spiked = np.zeros((n + 7) // 8 * 8, dtype=np.uint8)  # padded: scanned 8 neurons at a time
    words = spiked.view(np.uint64)
    seed = drv.seed[0]
    for k in range(n_steps):
        step = step0 + k
        if rec.counters[N_SPIKES] + n_elements > cap:
            return k
        if rec.rec_id.shape[0] > 0 and step % interval == 0:
            _record_state(step, st, rec)
        c = rec.counters[CUR_CURSOR]
        while c < drv.cur_step.shape[0] and drv.cur_step[c] == step:
            st.i_ext[drv.cur_id[c]] += drv.cur_delta[c]
            c += 1
        rec.counters[CUR_CURSOR] = c
        g = rec.counters[GEN_CURSOR]
        while g < drv.gen_step.shape[0] and drv.gen_step[g] == step:
            _emit(drv.gen_id[g], step, step, syn, rec, k)
            g += 1
        rec.counters[GEN_CURSOR] = g
        ustep = np.uint64(step)
        for q in range(drv.poisson_id.shape[0]):
            if drv.poisson_start[q] <= step < drv.poisson_stop[q]:
                j = drv.poisson_id[q]
                if uniform_jit(seed, ustep, np.uint64(j)) < drv.poisson_p[q]:
                    _emit(j, step, step, syn, rec, k)
        _update_neurons(step & mask, tab, segments, st, syn.buf, spiked)
        for w in range(words.shape[0]):
            if words[w] != 0:
                for i in range(8 * w, 8 * w + 8):
                    if spiked[i]:
                        _emit(i, step + 1, step + 1, syn, rec, k)
    return n_steps


class NumbaBackend:
    """Runs blocks with the JIT-compiled kernel (compiled once, cached on disk)."""

    name = "numba"

    def run_block(self, layout: Layout, step0: int, n_steps: int) -> int:
        return int(run_block(np.int64(step0), np.int64(n_steps), layout.table, layout.segments, layout.state,
                             layout.syn, layout.drive, layout.rec))
