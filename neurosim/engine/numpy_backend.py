"""NumPy reference backend: short and readable, one Python iteration per step.

It follows the step semantics of :mod:`neurosim.engine.layout` operation for operation
(same arithmetic order, same delivery order), so the fast backends must reproduce its
spikes exactly. Use it for tests, not for production runs.
"""

from __future__ import annotations

import numpy as np

from neurosim.engine.layout import CUR_CURSOR, GEN_CURSOR, N_ROWS, N_SPIKES, Layout
from neurosim.engine.rng import uniform
from neurosim.neurons.step import lif_step


def _emit(layout: Layout, ids: np.ndarray, stamp: int, base: int, k: int) -> None:
    """Record the spikes of elements ``ids`` at step ``stamp`` and deliver their synapses due
    at ``base + delay``: delay 0 straight into the state, later ones into the ring buffer."""
    syn, rec = layout.syn, layout.rec
    if ids.size == 0:
        return
    keep = ids[rec.spike_mask[ids] != 0]
    n = rec.counters[N_SPIKES]
    rec.spk_step[n:n + keep.size] = stamp
    rec.spk_id[n:n + keep.size] = keep
    rec.counters[N_SPIKES] = n + keep.size
    np.add.at(rec.counts[k], rec.group_of[ids], 1)
    rows = np.concatenate([np.arange(syn.indptr[j], syn.indptr[j + 1]) for j in ids])
    now = syn.delay[rows] == 0
    np.add.at(layout.state.vars.reshape(-1), syn.target[rows[now]], syn.weight[rows[now]])
    later = rows[~now]
    slots = (base + syn.delay[later]) & (syn.buf.shape[0] - 1)
    np.add.at(syn.buf, (slots, syn.target[later]), syn.weight[later])


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
            if rec.counters[N_SPIKES] + syn.indptr.size - 1 > rec.spk_step.size:
                return k
            c0 = rec.counters[CUR_CURSOR]
            c1 = rec.counters[CUR_CURSOR] = _due(drv.cur_step, c0, step)
            np.add.at(st.i_ext, drv.cur_id[c0:c1], drv.cur_delta[c0:c1])
            g0 = rec.counters[GEN_CURSOR]
            g1 = rec.counters[GEN_CURSOR] = _due(drv.gen_step, g0, step)
            active = (drv.poisson_start <= step) & (step < drv.poisson_stop)
            poisson = drv.poisson_id[active & (uniform(drv.seed[0], step, drv.poisson_id) < drv.poisson_p)]
            _emit(layout, np.concatenate([drv.gen_id[g0:g1], poisson]).astype(np.int64), step, step, k)
            waiting = syn.buf[step & (syn.buf.shape[0] - 1)].reshape(3, n)
            rows = np.flatnonzero(syn.buffered)
            st.vars[rows] += waiting[rows]
            waiting[rows] = 0
            if rec.rec_id.size and step % rec.rec_interval[0] == 0:
                row = rec.counters[N_ROWS]
                rec.rec_out[row] = st.vars[rec.rec_var, rec.rec_id]
                rec.rec_step[row] = step
                rec.counters[N_ROWS] = row + 1
            spike, new = lif_step(st, layout.table)
            st.vars[...] = new.vars
            st.ref[...] = new.ref
            _emit(layout, np.flatnonzero(spike), step + 1, step + 1, k)
        return n_steps
