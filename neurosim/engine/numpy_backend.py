"""NumPy reference backend: short and readable, one Python iteration per step.

It follows the step semantics of :mod:`neurosim.engine.layout` operation for operation
(same arithmetic order, same delivery order), so the fast backends must reproduce its
spikes exactly. Use it for tests, not for production runs.
"""

from __future__ import annotations

import numpy as np

from neurosim.engine.layout import CUR_CURSOR, GEN_CURSOR, N_ROWS, N_SPIKES, SPIKE_SLACK, Layout
from neurosim.engine.rng import binomial_counts, normal_draws, uniform
from neurosim.plasticity import rules


def _emit(layout: Layout, ids: np.ndarray, stamp: int, base: int, k: int) -> None:
    """Record the spikes of elements ``ids`` at step ``stamp`` and deliver their synapses due
    at ``base + delay``: delay 0 straight into the state, later ones into the ring buffer."""
    syn, rec, pl = layout.syn, layout.rec, layout.plastic
    if ids.size == 0:
        return
    keep = ids[rec.spike_mask[ids] != 0]
    n = rec.counters[N_SPIKES]
    rec.spk_step[n:n + keep.size] = stamp
    rec.spk_id[n:n + keep.size] = keep
    rec.counters[N_SPIKES] = n + keep.size
    np.add.at(rec.counts[k], rec.group_of[ids], 1)
    rows = np.concatenate([np.arange(syn.indptr[j], syn.indptr[j + 1]) for j in ids])
    if pl.flags[0]:
        pl.last[ids] = stamp
        np.add.at(pl.gcount, rec.group_of[ids], 1)
        watched = ids[pl.watch[ids] != 0]
        f = pl.counters[0]
        pl.fired[f:f + watched.size] = watched
        pl.counters[0] = f + watched.size
        if pl.hit.shape[1]:
            pl.hit[stamp & (pl.hit.shape[0] - 1), watched] = 1
        rows = rows[pl.skip[rows] == 0]  # delayed plastic synapses are delivered on arrival
    now = syn.delay[rows] == 0
    np.add.at(layout.state.vars.reshape(-1), syn.target[rows[now]], syn.weight[rows[now]])
    later = rows[~now]
    slots = (base + syn.delay[later].astype(np.int64)) & (syn.buf.shape[0] - 1)
    np.add.at(syn.buf, (slots, syn.target[later]), syn.weight[later])


def _depress(layout: Layout, s: np.ndarray, p: np.ndarray, x: np.ndarray, y: np.ndarray) -> None:
    """:func:`neurosim.plasticity.rules.depress` of the distinct plastic synapses at merged
    positions ``s`` (projections ``p``): ``x`` postsynaptic traces, ``y`` presynaptic slow traces."""
    syn, pl = layout.syn, layout.plastic
    syn.weight[s] = rules.NUMPY_DEPRESS(syn.weight[s], x, y, pl.a_minus[p], pl.a3_minus[p], pl.lr[p, 1], pl.w_min[p],
                                        pl.w_max[p], pl.soft[p], pl.hard[p], pl.alpha[p])


def _potentiate(layout: Layout, s: np.ndarray, p: np.ndarray, x: np.ndarray, y: np.ndarray) -> None:
    """:func:`neurosim.plasticity.rules.potentiate` of the distinct plastic synapses at ``s``:
    ``x`` presynaptic traces, ``y`` postsynaptic slow traces."""
    syn, pl = layout.syn, layout.plastic
    syn.weight[s] = rules.NUMPY_POTENTIATE(syn.weight[s], x, y, pl.a_plus[p], pl.a3_plus[p], pl.lr[p, 0],
                                           pl.w_min[p], pl.w_max[p], pl.soft[p], pl.hard[p])


def _entries(ptr: np.ndarray, items) -> np.ndarray:
    """Concatenated entry ranges ``ptr[i] .. ptr[i+1]`` of ``items``, in order."""
    return np.concatenate([np.zeros(0, np.int64)] + [np.arange(ptr[i], ptr[i + 1]) for i in items])


def _plasticity(layout: Layout, step: int) -> None:
    """The plasticity phase for the spikes at ``t_step``: see :class:`neurosim.engine.layout.Plasticity`."""
    syn, pl = layout.syn, layout.plastic
    mask = syn.buf.shape[0] - 1
    slot = step & mask
    arriving = _entries(pl.grp_ptr, pl.pend[slot, :pl.pend_n[slot]])
    np.add.at(syn.buf[slot], syn.target[pl.grp_pos[arriving]], syn.weight[pl.grp_pos[arriving]])
    pl.pend_n[slot] = 0
    fired = pl.fired[:pl.counters[0]].astype(np.int64)
    groups = _entries(pl.row_grp, fired)
    delays = pl.grp_delay[groups]
    for g, d in zip(groups[delays > 0], delays[delays > 0]):
        t = (step + int(d)) & mask
        pl.pend[t, pl.pend_n[t]] = g
        pl.pend_n[t] += 1
    q = np.concatenate([arriving, _entries(pl.grp_ptr, groups[delays == 0])])
    entry_group = np.searchsorted(pl.grp_ptr, q, side="right") - 1
    sent = (step - pl.grp_delay[entry_group].astype(np.int64)) & mask
    _depress(layout, pl.grp_pos[q], pl.grp_proj[q], pl.trace[slot, pl.grp_col[q]], pl.trace[sent, pl.grp_ycol[q]])
    q = _entries(pl.csc_ptr, fired)
    p = pl.csc_proj[q]
    sent = (step - pl.csc_delay[q].astype(np.int64)) & mask
    x = pl.trace[sent, pl.csc_col[q]]
    if pl.hit.shape[1]:  # same-step pairing: add the arrivals at t_step
        now = (pl.same[p] != 0) & (pl.hit[sent, pl.csc_pre[q]] != 0)
        x = np.where(now, np.where(pl.x_near[p] != 0, pl.x_inc[p], x + pl.x_inc[p]), x)
    _potentiate(layout, pl.csc_pos[q], p, x, pl.trace[slot, pl.csc_ycol[q]])
    pl.counters[0] = 0
    nxt = (step + 1) & mask
    for (a, size, col), inc, decay, nearest in zip(pl.tset, pl.t_inc, pl.t_decay, pl.t_nearest):
        now, spiked = pl.trace[slot, col:col + size], pl.last[a:a + size] == step
        pl.trace[nxt, col:col + size] = np.where(spiked, inc if nearest else now + inc, now) * decay
    if pl.hit.shape[1]:
        pl.hit[nxt] = 0
    for m in range(pl.mod_state.size):
        drive = 0.0
        for k in range(pl.mod_drive_ptr[m], pl.mod_drive_ptr[m + 1]):
            drive += float(pl.mod_coef[k]) * int(pl.gcount[pl.mod_group[k]])
        a_m = float(pl.mod_state[m])
        a_m = a_m + (float(pl.mod_weight[m]) * drive + float(pl.mod_bias[m]) - a_m) / float(pl.mod_tau[m])
        pl.mod_state[m] = a_m
        targets = slice(pl.mod_target_ptr[m], pl.mod_target_ptr[m + 1])
        pl.lr[pl.mod_proj[targets], pl.mod_kind[targets]] = a_m
    pl.gcount[:] = 0


def poisson_increments(layout: Layout, step: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per-target Poisson inputs active at ``step``: for each, the state codes ``row N + j`` of
    its targets and the amounts ``k·w`` they receive, ``k`` from the alias table (drawn here with
    NumPy) or by rejection (:func:`neurosim.engine.rng.binomial`)."""
    drv, n, out = layout.drive, layout.n_neurons, []
    for q, (first, stop, row, count, s0, s1, t0, t1, flip) in enumerate(drv.inputs):
        if not s0 <= step < s1:
            continue
        ids = np.arange(first, stop)
        if t1 > t0:
            prob, alias = drv.input_prob[t0:t1], drv.input_alias[t0:t1]
            x = uniform(drv.input_seed[q], step, ids) * prob.size
            i = np.minimum(x.astype(np.int64), prob.size - 1)
            k = drv.input_real[q, 0] + np.where(x - i < prob[i], i.astype(np.float64), alias[i])
        else:
            k = binomial_counts(drv.input_seed[q], step, first, stop, count, drv.input_real[q, 1], flip != 0)
        out.append((row * n + ids, k * drv.input_w[q]))
    return out


def noise_increments(layout: Layout, step: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Noise inputs active at ``step``: for each, the state codes of its targets and the
    amounts ``a + b z`` they receive (``z``: :func:`neurosim.engine.rng.normal`)."""
    drv, n, out = layout.drive, layout.n_neurons, []
    for q, (first, stop, row, s0, s1, o) in enumerate(drv.noises):
        if s0 <= step < s1:
            z = normal_draws(drv.noise_seed[q], step, first, stop)
            out.append((row * n + np.arange(first, stop), drv.noise_a[o:o + stop - first] + drv.noise_b[o:o + stop - first] * z))
    return out


def _update_neurons(layout: Layout) -> np.ndarray:
    """Every segment takes its model's step (:attr:`CompiledModel.numpy_step`); the spike mask."""
    st, tab = layout.state, layout.table
    spiked = np.zeros(layout.n_neurons, dtype=bool)
    for a, b, _, _, kind in layout.segments:
        model = layout.models[kind]
        k, r = len(model.state), len(model.rows)
        *new, ref, spike = model.numpy_step(*st.vars[:k, a:b], st.ref[a:b], st.i_ext[a:b], *tab.params[:r, a:b],
                                            tab.ref_steps[a:b])
        st.vars[:k, a:b] = np.asarray(new)
        st.ref[a:b] = ref
        spiked[a:b] = spike
    return spiked


def _due(steps: np.ndarray, cursor: int, step: int) -> int:
    """End of the run of events at ``step`` starting from ``cursor`` in a sorted array."""
    return int(np.searchsorted(steps, step, side="right")) if cursor < steps.size else cursor


class NumpyBackend:
    name = "numpy"

    def run_block(self, layout: Layout, step0: int, n_steps: int) -> int:
        st, syn, drv, rec = layout.state, layout.syn, layout.drive, layout.rec
        n = layout.n_neurons
        for k in range(n_steps):
            step = step0 + k
            if rec.counters[N_SPIKES] + syn.indptr.size - 1 + rec.counters[SPIKE_SLACK] > rec.spk_step.size:
                return k
            c0 = rec.counters[CUR_CURSOR]
            c1 = rec.counters[CUR_CURSOR] = _due(drv.cur_step, c0, step)
            np.add.at(st.i_ext, drv.cur_id[c0:c1], drv.cur_delta[c0:c1])
            g0 = rec.counters[GEN_CURSOR]
            g1 = rec.counters[GEN_CURSOR] = _due(drv.gen_step, g0, step)
            active = (drv.poisson_start <= step) & (step < drv.poisson_stop)
            poisson = drv.poisson_id[active & (uniform(drv.seed[0], step, drv.poisson_id) < drv.poisson_p)]
            _emit(layout, np.concatenate([drv.gen_id[g0:g1], poisson]).astype(np.int64), step, step, k)
            flat = st.vars.reshape(-1)
            for codes, amounts in poisson_increments(layout, step):
                flat[codes] += amounts
            if layout.plastic.flags[0]:
                _plasticity(layout, step)
            waiting = syn.buf[step & (syn.buf.shape[0] - 1)].reshape(-1, n)
            rows = np.flatnonzero(syn.buffered)
            st.vars[rows] += waiting[rows]
            waiting[rows] = 0
            if rec.rec_id.size and step % rec.rec_interval[0] == 0:
                row = rec.counters[N_ROWS]
                rec.rec_out[row] = st.vars[rec.rec_var, rec.rec_id]
                rec.rec_step[row] = step
                rec.counters[N_ROWS] = row + 1
            for codes, amounts in noise_increments(layout, step):  # after the sample: noise of [t_m, t_m+1)
                flat[codes] += amounts
            _emit(layout, np.flatnonzero(_update_neurons(layout)), step + 1, step + 1, k)
        return n_steps
