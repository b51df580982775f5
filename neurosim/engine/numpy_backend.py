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
    """Record the spikes of elements ``ids`` and deliver them into slots ``base + delay``."""
    syn, rec = layout.syn, layout.rec
    if ids.size == 0:
        return
    keep = ids[rec.spike_mask[ids] != 0]
    n = rec.counters[N_SPIKES]
    rec.spk_step[n:n + keep.size] = stamp
    rec.spk_id[n:n + keep.size] = keep
    rec.counters[N_SPIKES] = n + keep.size
    np.add.at(rec.counts[k], rec.group_of[ids], 1)
    starts, stops = syn.indptr[ids], syn.indptr[ids + 1]
    rows = np.concatenate([np.arange(a, b) for a, b in zip(starts, stops)])
    if rows.size:
        slots = (base + syn.delay[rows]) & (syn.buf.shape[0] - 1)
        np.add.at(syn.buf, (slots, syn.target[rows]), syn.weight[rows])


def _record_state(layout: Layout, step: int) -> None:
    st, rec = layout.state, layout.rec
    row = rec.counters[N_ROWS]
    variables = np.stack([st.v, st.i_e, st.i_i])
    rec.rec_out[row] = variables[rec.rec_var, rec.rec_id]
    rec.rec_step[row] = step
    rec.counters[N_ROWS] = row + 1


def _due(steps: np.ndarray, cursor: int, step: int) -> int:
    """End of the run of events at ``step`` starting from ``cursor`` in a sorted array."""
    return int(np.searchsorted(steps, step, side="right")) if cursor < steps.size else cursor


class NumpyBackend:
    name = "numpy"

    def run_block(self, layout: Layout, step0: int, n_steps: int) -> int:
        tab, syn, drv, rec = layout.table, layout.syn, layout.drive, layout.rec
        n = layout.n_neurons
        cap = rec.spk_step.size
        for k in range(n_steps):
            step = step0 + k
            if rec.counters[N_SPIKES] + syn.indptr.size - 1 > cap:
                return k
            if rec.rec_id.size and step % rec.rec_interval[0] == 0:
                _record_state(layout, step)
            c0 = rec.counters[CUR_CURSOR]
            c1 = rec.counters[CUR_CURSOR] = _due(drv.cur_step, c0, step)
            np.add.at(layout.state.i_ext, drv.cur_id[c0:c1], drv.cur_delta[c0:c1])
            g0 = rec.counters[GEN_CURSOR]
            g1 = rec.counters[GEN_CURSOR] = _due(drv.gen_step, g0, step)
            active = (drv.poisson_start <= step) & (step < drv.poisson_stop)
            draws = uniform(drv.seed[0], step, drv.poisson_id)
            poisson = drv.poisson_id[active & (draws < drv.poisson_p)]
            _emit(layout, np.concatenate([drv.gen_id[g0:g1], poisson]).astype(np.int64), step, step, k)
            slot = step & (syn.buf.shape[0] - 1)
            a_e, a_i = syn.buf[slot, :n].copy(), syn.buf[slot, n:].copy()
            syn.buf[slot] = 0
            spike, new = lif_step(layout.state, a_e, a_i, tab)
            for old, value in zip(layout.state, new):
                old[...] = value
            _emit(layout, np.flatnonzero(spike), step + 1, step + 1, k)
        return n_steps
