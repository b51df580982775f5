"""Plasticity on the device for the ``cuda`` backend: trace-based STDP and modulators.

The plasticity phase of step ``m`` (:class:`neurosim.engine.layout.Plasticity`, reference
``numba_backend._plasticity``) is three kernels, launched after the sources' delivery and
before the ring buffer is taken into the state:

1. :func:`plastic_pre` (phase a): the delay groups arriving at ``m`` (``pend[m mod L]``) add
   their live weights into ``buf[m mod L]`` and are depressed; the delay-0 groups of the
   elements in ``fired`` are depressed and their delayed groups are queued in
   ``pend[(m + d) mod L]``;
2. :func:`plastic_post` (phase b): the incoming plastic synapses of the elements in ``fired``
   (the CSC index ``csc_*``) are potentiated with the presynaptic trace ``trace[(m - D) mod L]``
   (same-step pairing: plus the arrival at ``t_m``, flagged in ``hit``);
3. :func:`plastic_traces` (phases c, d): one thread per trace column writes the traces at
   ``t_{m+1}``; thread 0 then integrates the modulators in index order, sets ``lr``, and
   empties ``gcount``, ``fired`` (``ctr[FIRED]``) and the arrival list of this step
   (``pend_n[m mod L] = 0``).

The spikes are noted for the phase where they are delivered
(:func:`neurosim.engine.cuda_kernels.deliver_plastic`).

Why no weight is written by two threads at once (a real GPU): within one phase every plastic
synapse is updated at most once. In (a) a synapse belongs to exactly one delay group; a group
arrives at most once per step (its row spikes at most once per step: a neuron once, and a
spike source that drives plastic synapses is checked to spike at most once per step, and the
ring holds more than ``max delay + 1`` slots), and the arriving groups have delays > 0 while the
groups depressed for the spikes now have delay 0, so no group is handled twice. In (b) a
synapse has one postsynaptic neuron, listed once in ``fired``. Depression and potentiation of
one synapse in the same step are ordered by the kernel boundary between (a) and (b). Reads of
the traces (slots ``m`` and ``m - D``) never alias the slot (c) writes (``m + 1``, as ``D + 1 <
L``). ``lr`` is written in (d) only, after (a) and (b) have read it; a (projection, factor) is
the target of at most one modulator. The additions into ``buf`` in (a) and the queue counters
``pend_n`` use atomics; so does the noting of spikes (``gcount``, ``ctr[FIRED]``).

Under the CUDA simulator (one thread) every loop runs in index order, as in the numba
backend, so the weights, traces and modulators equal its values bit for bit; on a GPU the
order of the float additions into ``buf`` (and of ``fired``, hence of ``pend``) varies, and
NVVM contracts multiply-adds into FMAs, so results agree with the numba backend statistically.
"""

from __future__ import annotations

import numpy as np
from numba import cuda

from neurosim.engine.cuda_kernels import FIRED
from neurosim.engine.device_sync import SyncedCopies
from neurosim.engine.layout import Plasticity, column_sets
from neurosim.plasticity import rules

#: per-run constants of the layout's Plasticity, uploaded once
STATIC = ("a_plus", "a_minus", "a3_plus", "a3_minus", "w_min", "w_max", "soft", "hard", "alpha", "same", "x_inc",
          "x_near", "skip", "row_grp", "grp_ptr", "grp_pos", "grp_col", "grp_ycol", "grp_proj", "grp_delay",
          "csc_ptr", "csc_pos", "csc_col", "csc_ycol", "csc_pre", "csc_proj", "csc_delay", "watch", "tset", "t_inc",
          "t_decay", "t_nearest", "mod_tau", "mod_weight", "mod_bias", "mod_drive_ptr", "mod_group", "mod_coef",
          "mod_target_ptr", "mod_proj", "mod_kind")
#: the state that a block changes (``counters[0]`` travels in the backend's counter array)
DYNAMIC = ("lr", "fired", "last", "hit", "gcount", "pend", "pend_n", "trace", "mod_state")


_potentiate = cuda.jit(device=True)(rules.potentiate)
_depress = cuda.jit(device=True)(rules.depress)
_next_trace = cuda.jit(device=True)(rules.next_trace)
_same_step_trace = cuda.jit(device=True)(rules.same_step_trace)
_modulator_step = cuda.jit(device=True)(rules.modulator_step)


@cuda.jit(device=True)
def _depress_at(s, p, x, y, weight, a_minus, a3_minus, w_min, w_max, soft, hard, alpha, lr):
    """``numba_backend._depress_at`` on the device arrays."""
    weight[s] = _depress(weight[s], x, y, a_minus[p], a3_minus[p], lr[p, 1], w_min[p], w_max[p], soft[p], hard[p],
                         alpha[p])


@cuda.jit
def plastic_pre(k, step, halt, ctr, lanes, target, weight, buf, pend, pend_n, fired, row_grp, grp_ptr, grp_pos,
                grp_col, grp_ycol, grp_proj, grp_delay, trace, a_minus, a3_minus, w_min, w_max, soft, hard, alpha, lr):
    """Phase a: arrivals (deliver with the current weight, then depress), then the spikes now
    (depress their delay-0 groups, queue the delayed ones); ``lanes`` threads per item."""
    if halt[0] <= k:
        return
    mask = buf.shape[0] - 1
    slot = step & mask
    n_arrivals = pend_n[slot]
    total = n_arrivals + ctr[FIRED]
    gid = cuda.grid(1)
    group, lane, n_groups = gid // lanes, gid % lanes, cuda.gridsize(1) // lanes
    for e in range(group, total, n_groups):
        if e < n_arrivals:
            g = pend[slot, e]
            sent = (step - np.int64(grp_delay[g])) & mask
            for q in range(grp_ptr[g] + lane, grp_ptr[g + 1], lanes):
                s = grp_pos[q]
                cuda.atomic.add(buf, (slot, target[s]), weight[s])
                _depress_at(s, grp_proj[q], trace[slot, grp_col[q]], trace[sent, grp_ycol[q]], weight, a_minus,
                            a3_minus, w_min, w_max, soft, hard, alpha, lr)
        else:
            j = fired[e - n_arrivals]
            for g in range(row_grp[j], row_grp[j + 1]):
                d = grp_delay[g]
                if d == 0:
                    for q in range(grp_ptr[g] + lane, grp_ptr[g + 1], lanes):
                        _depress_at(grp_pos[q], grp_proj[q], trace[slot, grp_col[q]], trace[slot, grp_ycol[q]],
                                    weight, a_minus, a3_minus, w_min, w_max, soft, hard, alpha, lr)
                elif lane == 0:
                    t = (step + np.int64(d)) & mask
                    pend[t, cuda.atomic.add(pend_n, t, 1)] = g


@cuda.jit
def plastic_post(k, step, halt, ctr, lanes, weight, fired, csc_ptr, csc_pos, csc_col, csc_ycol, csc_pre, csc_proj,
                 csc_delay, trace, n_hit, hit, same, x_inc, x_near, a_plus, a3_plus, w_min, w_max, soft, hard, lr):
    """Phase b: potentiate the incoming plastic synapses of the elements in ``fired`` with the
    presynaptic traces of the arrivals before ``t_step`` (same-step pairing: and at ``t_step``);
    ``lanes`` threads per element."""
    if halt[0] <= k:
        return
    mask = trace.shape[0] - 1
    now = step & mask
    gid = cuda.grid(1)
    group, lane, n_groups = gid // lanes, gid % lanes, cuda.gridsize(1) // lanes
    for f in range(group, ctr[FIRED], n_groups):
        i = fired[f]
        for q in range(csc_ptr[i] + lane, csc_ptr[i + 1], lanes):
            p, sent = csc_proj[q], (step - np.int64(csc_delay[q])) & mask
            x = trace[sent, csc_col[q]]
            if n_hit > 0 and same[p] and hit[sent, csc_pre[q]]:
                x = _same_step_trace(x, x_inc[p], x_near[p])
            s = csc_pos[q]
            weight[s] = _potentiate(weight[s], x, trace[now, csc_ycol[q]], a_plus[p], a3_plus[p], lr[p, 0], w_min[p],
                                    w_max[p], soft[p], hard[p])


@cuda.jit
def plastic_traces(k, step, halt, ctr, n_cols, col_set, tset, t_inc, t_decay, t_nearest, last, trace, n_hit, hit,
                   n_mod, mod_state, mod_tau, mod_weight, mod_bias, mod_drive_ptr, mod_group, mod_coef, mod_target_ptr,
                   mod_proj, mod_kind, lr, gcount, pend_n):
    """Phases c and d: the traces at ``t_{step+1}`` (one thread per column) and an empty
    ``hit`` slot for them; thread 0 then integrates the modulators (``A <- A + (w n + b - A) /
    tau``, in index order), sets ``lr`` and empties ``gcount``, ``fired`` and the pending slot
    of ``step``."""
    if halt[0] <= k:
        return
    mask = trace.shape[0] - 1
    now, nxt = step & mask, (step + 1) & mask
    gid = cuda.grid(1)
    for c in range(gid, n_cols, cuda.gridsize(1)):
        t = col_set[c]
        e = tset[t, 0] + (c - tset[t, 2])
        inc, decay = t_inc[t], t_decay[t]
        trace[nxt, c] = _next_trace(trace[now, c], last[e] == step, inc, decay, t_nearest[t])
    for e in range(gid, n_hit, cuda.gridsize(1)):
        hit[nxt, e] = 0
    if gid != 0:
        return
    for m in range(n_mod):
        drive = 0.0
        for q in range(mod_drive_ptr[m], mod_drive_ptr[m + 1]):
            drive += mod_coef[q] * gcount[mod_group[q]]
        a_m = _modulator_step(mod_state[m], drive, mod_weight[m], mod_bias[m], mod_tau[m])
        mod_state[m] = a_m
        for q in range(mod_target_ptr[m], mod_target_ptr[m + 1]):
            lr[mod_proj[q], mod_kind[q]] = a_m
    for g in range(gcount.shape[0]):
        gcount[g] = 0
    ctr[FIRED] = 0
    pend_n[now] = 0


def _stand_in(a: np.ndarray) -> np.ndarray:
    """``a``, or a zero array of its dtype with every empty dimension made 1 (never read: the
    kernels take their loop bounds from pointers and counts)."""
    return a if a.size else np.zeros(tuple(max(1, d) for d in a.shape), a.dtype)


class DevicePlasticity:
    """Device copies of a layout's :class:`Plasticity` arrays (attributes named like its
    fields), and the host-side bookkeeping to keep the dynamic ones in sync."""

    def __init__(self, pl: Plasticity):
        up = cuda.to_device
        for name in STATIC + DYNAMIC:
            setattr(self, name, up(np.ascontiguousarray(_stand_in(getattr(pl, name)))))
        self.n_cols = pl.trace.shape[1]
        self.n_hit = pl.hit.shape[1]  # 0: no same-step pairing (``hit`` is a stand-in)
        self.col_set = up(_stand_in(column_sets(pl).astype(np.int32)))
        self.n_mod = pl.mod_state.shape[0]
        self.synced = SyncedCopies()
        for name in DYNAMIC:
            self.synced.remember(name, getattr(pl, name))

    def upload(self, pl: Plasticity) -> None:
        """Copy to the device the dynamic arrays that changed on the host since the last sync."""
        for name in DYNAMIC:
            host = getattr(pl, name)
            if host.size and self.synced.changed(name, host):
                getattr(self, name).copy_to_device(np.ascontiguousarray(host))
                self.synced.remember(name, host)

    def download(self, pl: Plasticity) -> None:
        """Copy the dynamic arrays back into the host layout (in place)."""
        for name in DYNAMIC:
            host = getattr(pl, name)
            if host.size:
                host[...] = getattr(self, name).copy_to_host()
                self.synced.remember(name, host)

    def phase_args(self, dev) -> tuple[tuple, tuple, tuple]:
        """The array arguments of :func:`plastic_pre`, :func:`plastic_post` and :func:`plastic_traces`
        after their leading scalars (``dev``: the backend's device layout)."""
        bounds = (self.w_min, self.w_max, self.soft, self.hard)
        pre = (dev.target, dev.weight, dev.buf, self.pend, self.pend_n, self.fired, self.row_grp, self.grp_ptr,
               self.grp_pos, self.grp_col, self.grp_ycol, self.grp_proj, self.grp_delay, self.trace, self.a_minus,
               self.a3_minus, *bounds, self.alpha, self.lr)
        post = (dev.weight, self.fired, self.csc_ptr, self.csc_pos, self.csc_col, self.csc_ycol, self.csc_pre,
                self.csc_proj, self.csc_delay, self.trace, self.n_hit, self.hit, self.same, self.x_inc, self.x_near,
                self.a_plus, self.a3_plus, *bounds, self.lr)
        traces = (self.n_cols, self.col_set, self.tset, self.t_inc, self.t_decay, self.t_nearest, self.last,
                  self.trace, self.n_hit, self.hit, self.n_mod, self.mod_state, self.mod_tau, self.mod_weight, self.mod_bias,
                  self.mod_drive_ptr, self.mod_group, self.mod_coef, self.mod_target_ptr, self.mod_proj,
                  self.mod_kind, self.lr, self.gcount, self.pend_n)
        return pre, post, traces
