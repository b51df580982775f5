"""Plasticity on the device for the ``cuda`` backend: trace-based STDP and modulators.

The persistent kernel (:mod:`neurosim.engine.cuda_persistent`) runs the plasticity phase of
step ``m`` (:class:`neurosim.engine.layout.Plasticity`, reference ``numba_backend._plasticity``)
after the sources' delivery, as three device functions separated by barriers:

1. :func:`depress` (phase a): the delay groups arriving at ``m`` (``pend[m mod L]``) add
   their live weights into ``buf[m mod L]`` and are depressed; the delay-0 groups of the
   elements in ``fired`` are depressed and their delayed groups are queued in
   ``pend[(m + d) mod L]``;
2. :func:`potentiate` (phase b): the incoming plastic synapses of the elements in ``fired``
   (the CSC index ``csc_*``) are potentiated with the presynaptic trace ``trace[(m - D) mod L]``
   (same-step pairing: plus the arrival at ``t_m``, flagged in ``hit``);
3. :func:`next_traces` (phase c, every thread) writes the traces at ``t_{m+1}``, then
   :func:`modulate` (phase d, thread 0) integrates the modulators in index order, sets ``lr``,
   and empties ``gcount`` and the arrival list of this step (``pend_n[m mod L] = 0``); the
   kernel empties ``fired``. No barrier separates (c) and (d) from the neuron update: neither
   touches what the other reads.

Every spike delivered is noted for the phase where it is delivered (:func:`note`).

Why no weight is written by two threads at once (a real GPU): within one phase every plastic
synapse is updated at most once. In (a) a synapse belongs to exactly one delay group; a group
arrives at most once per step (its row spikes at most once per step: a neuron once, and a
spike source that drives plastic synapses is checked to spike at most once per step, and the
ring holds more than ``max delay + 1`` slots), and the arriving groups have delays > 0 while the
groups depressed for the spikes now have delay 0, so no group is handled twice. In (b) a
synapse has one postsynaptic neuron, listed once in ``fired``. Depression and potentiation of
one synapse in the same step are ordered by the barrier between (a) and (b). Reads of the
traces (slots ``m`` and ``m - D``) never alias the slot (c) writes (``m + 1``, as ``D + 1 < L``).
``lr`` is written in (d) only, after (a) and (b) have read it; a (projection, factor) is the
target of at most one modulator. The additions into ``buf`` in (a) and the queue counters
``pend_n`` use atomics; so does the noting of spikes (``gcount``, the ``fired`` counter).

Under the CUDA simulator (one thread) every loop runs in index order, as in the numba
backend, so the weights, traces and modulators equal its values bit for bit; on a GPU the
order of the float additions into ``buf`` (and of ``fired``, hence of ``pend``) varies, and
NVVM contracts multiply-adds into FMAs, so results agree with the numba backend statistically.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np
from numba import cuda

from neurosim.engine.device_sync import SyncedCopies
from neurosim.engine.layout import Plasticity, column_sets
from neurosim.plasticity import rules

#: per-run constants of the layout's Plasticity, uploaded once
STATIC = ("a_plus", "a_minus", "a3_plus", "a3_minus", "w_min", "w_max", "soft", "hard", "alpha", "same", "x_inc",
          "x_near", "skip", "row_grp", "grp_ptr", "grp_pos", "grp_col", "grp_ycol", "grp_proj", "grp_delay",
          "csc_ptr", "csc_pos", "csc_col", "csc_ycol", "csc_pre", "csc_proj", "csc_delay", "watch", "tset", "t_inc",
          "t_decay", "t_nearest", "mod_tau", "mod_weight", "mod_bias", "mod_drive_ptr", "mod_group", "mod_coef",
          "mod_target_ptr", "mod_proj", "mod_kind")
#: the state that a block changes (``counters[0]`` travels in the kernel's counter array)
DYNAMIC = ("lr", "fired", "last", "hit", "gcount", "pend", "pend_n", "trace", "mod_state")

#: the device arrays the kernel reads, named like the fields of :class:`Plasticity`; ``col_set``:
#: the trace set of every trace column (:func:`neurosim.engine.layout.column_sets`)
Plastic = namedtuple("Plastic", STATIC + DYNAMIC + ("col_set",))


_potentiate = cuda.jit(device=True)(rules.potentiate)
_depress = cuda.jit(device=True)(rules.depress)
_next_trace = cuda.jit(device=True)(rules.next_trace)
_same_step_trace = cuda.jit(device=True)(rules.same_step_trace)
_integrate_modulators = cuda.jit(device=True)(
    rules.bound(rules.integrate_modulators, modulator_step=cuda.jit(device=True)(rules.modulator_step)))


@cuda.jit(device=True)
def note(j, base, n_hit, ctr, slot, group_of, pl):
    """Note the spike of element ``j`` delivered at ``base`` for the next plasticity phase
    (``numba_backend._emit_plastic``): latest spike step ``last``, group count ``gcount``, and
    for watched elements the list ``fired`` (counter ``ctr[slot]``); same-step pairing: the flag
    ``hit[base mod L, j]``."""
    pl.last[j] = base
    cuda.atomic.add(pl.gcount, group_of[j], 1)
    if pl.watch[j]:
        pl.fired[cuda.atomic.add(ctr, slot, 1)] = j
        if n_hit > 0:
            pl.hit[base & (pl.hit.shape[0] - 1), j] = 1


@cuda.jit(device=True)
def _depress_at(s, p, x, y, weight, pl):
    """``numba_backend._depress_at`` on the device arrays."""
    weight[s] = _depress(weight[s], x, y, pl.a_minus[p], pl.a3_minus[p], pl.lr[p, 1], pl.w_min[p], pl.w_max[p],
                         pl.soft[p], pl.hard[p], pl.alpha[p])


@cuda.jit(device=True)
def depress(step, n_fired, tid, nth, lanes, target, weight, buf, pl):
    """Phase a: arrivals (deliver with the current weight, then depress), then the spikes now
    (depress their delay-0 groups, queue the delayed ones); ``lanes`` threads per item (threads
    beyond the last whole group idle)."""
    mask = buf.shape[0] - 1
    slot = step & mask
    n_arrivals = pl.pend_n[slot]
    group, lane, n_groups = tid // lanes, tid % lanes, nth // lanes
    if group >= n_groups:
        return
    for e in range(group, n_arrivals + n_fired, n_groups):
        if e < n_arrivals:
            g = pl.pend[slot, e]
            sent = (step - np.int64(pl.grp_delay[g])) & mask
            for q in range(pl.grp_ptr[g] + lane, pl.grp_ptr[g + 1], lanes):
                s = pl.grp_pos[q]
                cuda.atomic.add(buf, (slot, target[s]), weight[s])
                _depress_at(s, pl.grp_proj[q], pl.trace[slot, pl.grp_col[q]], pl.trace[sent, pl.grp_ycol[q]], weight,
                            pl)
        else:
            j = pl.fired[e - n_arrivals]
            for g in range(pl.row_grp[j], pl.row_grp[j + 1]):
                d = pl.grp_delay[g]
                if d == 0:
                    for q in range(pl.grp_ptr[g] + lane, pl.grp_ptr[g + 1], lanes):
                        _depress_at(pl.grp_pos[q], pl.grp_proj[q], pl.trace[slot, pl.grp_col[q]],
                                    pl.trace[slot, pl.grp_ycol[q]], weight, pl)
                elif lane == 0:
                    t = (step + np.int64(d)) & mask
                    pl.pend[t, cuda.atomic.add(pl.pend_n, t, 1)] = g


@cuda.jit(device=True)
def potentiate(step, n_fired, tid, nth, lanes, n_hit, weight, pl):
    """Phase b: potentiate the incoming plastic synapses of the elements in ``fired`` with the
    presynaptic traces of the arrivals before ``t_step`` (same-step pairing: and at ``t_step``);
    ``lanes`` threads per element."""
    mask = pl.trace.shape[0] - 1
    now = step & mask
    group, lane, n_groups = tid // lanes, tid % lanes, nth // lanes
    if group >= n_groups:
        return
    for f in range(group, n_fired, n_groups):
        i = pl.fired[f]
        for q in range(pl.csc_ptr[i] + lane, pl.csc_ptr[i + 1], lanes):
            p, sent = pl.csc_proj[q], (step - np.int64(pl.csc_delay[q])) & mask
            x = pl.trace[sent, pl.csc_col[q]]
            if n_hit > 0 and pl.same[p] and pl.hit[sent, pl.csc_pre[q]]:
                x = _same_step_trace(x, pl.x_inc[p], pl.x_near[p])
            s = pl.csc_pos[q]
            weight[s] = _potentiate(weight[s], x, pl.trace[now, pl.csc_ycol[q]], pl.a_plus[p], pl.a3_plus[p],
                                    pl.lr[p, 0], pl.w_min[p], pl.w_max[p], pl.soft[p], pl.hard[p])


@cuda.jit(device=True)
def next_traces(step, tid, nth, n_cols, n_hit, pl):
    """Phase c: the traces at ``t_{step+1}`` (a thread per column) and an empty ``hit`` slot for them."""
    mask = pl.trace.shape[0] - 1
    now, nxt = step & mask, (step + 1) & mask
    for c in range(tid, n_cols, nth):
        t = pl.col_set[c]
        e = pl.tset[t, 0] + (c - pl.tset[t, 2])
        pl.trace[nxt, c] = _next_trace(pl.trace[now, c], pl.last[e] == step, pl.t_inc[t], pl.t_decay[t],
                                       pl.t_nearest[t])
    for e in range(tid, n_hit, nth):
        pl.hit[nxt, e] = 0


@cuda.jit(device=True)
def modulate(step, n_mod, pl):
    """Phase d (one thread): the modulators integrate the spike counts (``A <- A + (w n + b - A) /
    tau``, in index order) and set ``lr``; ``gcount`` and the pending slot of ``step`` are emptied."""
    _integrate_modulators(n_mod, pl)
    for g in range(pl.gcount.shape[0]):
        pl.gcount[g] = 0
    pl.pend_n[step & (pl.pend_n.shape[0] - 1)] = 0


def _stand_in(a: np.ndarray) -> np.ndarray:
    """``a``, or a zero array of its dtype with every empty dimension made 1 (never read: the
    kernel takes its loop bounds from pointers and counts)."""
    return a if a.size else np.zeros(tuple(max(1, d) for d in a.shape), a.dtype)


def host_arrays(pl: Plasticity) -> Plastic:
    """The arrays of :class:`Plastic` on the host (stand-ins for the empty ones)."""
    arrays = {name: np.ascontiguousarray(_stand_in(getattr(pl, name))) for name in STATIC + DYNAMIC}
    return Plastic(**arrays, col_set=_stand_in(column_sets(pl).astype(np.int32)))


class DevicePlasticity:
    """Device copies of a layout's :class:`Plasticity` arrays (:attr:`arrays`), the sizes the
    kernel needs, and the host-side bookkeeping to keep the dynamic ones in sync. A layout
    without plasticity gets stand-ins the kernel never reads."""

    def __init__(self, pl: Plasticity):
        self.arrays = Plastic(*(cuda.to_device(a) for a in host_arrays(pl)))
        self.learns = bool(pl.flags.size and pl.flags[0])
        self.n_cols = pl.trace.shape[1]
        self.n_hit = pl.hit.shape[1]  # 0: no same-step pairing (``hit`` is a stand-in)
        self.n_mod = pl.mod_state.shape[0]
        self.synced = SyncedCopies()
        for name in DYNAMIC:
            self.synced.remember(name, getattr(pl, name))

    def upload(self, pl: Plasticity) -> None:
        """Copy to the device the dynamic arrays that changed on the host since the last sync."""
        for name in DYNAMIC:
            host = getattr(pl, name)
            if host.size and self.synced.changed(name, host):
                getattr(self.arrays, name).copy_to_device(np.ascontiguousarray(host))
                self.synced.remember(name, host)

    def download(self, pl: Plasticity) -> None:
        """Copy the dynamic arrays back into the host layout (in place)."""
        for name in DYNAMIC:
            host = getattr(pl, name)
            if host.size:
                host[...] = getattr(self.arrays, name).copy_to_host()
                self.synced.remember(name, host)
