"""Flatten the plastic projections and modulators of a network into :class:`~neurosim.engine.layout.Plasticity`."""

from __future__ import annotations

from typing import Any

import numpy as np

from neurosim.engine.layout import Plasticity, Synapses, empty_plasticity

#: column of ``Plasticity.lr`` a modulator sets, by what it acts on
ACTS_ON_INDEX = {"potentiation": 0, "depression": 1}


def _ptr(keys: np.ndarray, n: int) -> np.ndarray:
    """CSR pointer (n+1) of sorted ``keys`` in ``[0, n)``."""
    ptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(keys, minlength=n), out=ptr[1:])
    return ptr


def build_plasticity(net: Any, syn: Synapses, n_neurons: int, n_elements: int, dtype: np.dtype) -> Plasticity:
    """Plasticity arrays for ``net``; marks the rows with plastic synapses in ``syn.row_delay``:
    -3 if all their synapses are plastic and delayed (nothing to deliver when the spike is
    emitted), -2 otherwise."""
    ring = syn.buf.shape[0]
    plastic = [proj for proj in net.projections if proj.plasticity is not None]
    if not plastic:
        return empty_plasticity(len(net.groups), ring, dtype)
    n_plastic = len(plastic)

    # per projection: rule constants and trace columns (one trace set per group, tau, mode and increment)
    a_plus, a_minus = np.zeros(n_plastic, dtype), np.zeros(n_plastic, dtype)
    a3_plus, a3_minus = np.zeros(n_plastic, dtype), np.zeros(n_plastic, dtype)
    w_min, w_max = np.zeros(n_plastic, dtype), np.zeros(n_plastic, dtype)
    soft, alpha, x_inc = np.zeros(n_plastic, dtype), np.zeros(n_plastic, dtype), np.zeros(n_plastic, dtype)
    same, x_near = np.zeros(n_plastic, np.uint8), np.zeros(n_plastic, np.uint8)
    pre_tr, post_tr = np.zeros(n_plastic, np.int64), np.zeros(n_plastic, np.int64)
    pre_slow, post_slow = np.zeros(n_plastic, np.int64), np.zeros(n_plastic, np.int64)
    sets: dict[tuple, int] = {}
    tset, t_inc, t_decay, t_nearest = [], [], [], []
    columns = 0

    def trace_column(group, decay: float, nearest: bool, inc: float) -> int:
        nonlocal columns
        key = (group, decay, nearest, inc)  # a group by identity, a subgroup by its range
        if key not in sets:
            sets[key] = columns
            tset.append((group.offset, group.size, columns))
            t_inc.append(inc)
            t_decay.append(decay)
            t_nearest.append(nearest)
            columns += group.size
        return sets[key] - group.offset

    for q, proj in enumerate(plastic):
        rule = proj.plasticity
        a_plus[q], a_minus[q], w_min[q], w_max[q] = rule.a_plus, rule.a_minus, rule.w_min, rule.w_max
        a3_plus[q], a3_minus[q] = rule.a3_plus, rule.a3_minus
        soft[q] = rule.dependence == "multiplicative"
        alpha[q] = rule.alpha
        nearest = rule.traces == "nearest"
        same[q], x_inc[q], x_near[q] = rule.same_step, rule.trace_increment, nearest

        def column(group, which: str) -> int:
            return trace_column(group, rule.decay(net.dt, which), nearest, rule.trace_increment)

        pre_tr[q], post_tr[q] = column(proj.pre, "pre"), column(proj.post, "post")
        # the slow traces of triplet STDP; a pair rule multiplies its fast trace by a3 = 0
        pre_slow[q] = column(proj.pre, "x") if rule.a3_minus else pre_tr[q]
        post_slow[q] = column(proj.post, "y") if rule.a3_plus else post_tr[q]
        proj.check_weight_bounds(proj.synapses.weight)

    # plastic synapses, in merged-CSR order
    positions = [p.placed.positions() for p in plastic]
    pos_all = np.concatenate(positions)
    proj_all = np.concatenate([np.full(pos.size, q, np.int32) for q, pos in enumerate(positions)])
    order = np.argsort(pos_all, kind="stable")
    pos, proj_k = pos_all[order].astype(np.int64), proj_all[order]
    n_syn = pos.size
    pre = (np.searchsorted(syn.indptr, pos, side="right") - 1).astype(np.int32)
    post = (syn.target[pos] % max(n_neurons, 1)).astype(np.int32)
    delay = syn.delay[pos].astype(np.int32)
    pre_col, post_col = pre_tr[proj_k] + pre, post_tr[proj_k] + post
    pre_ycol, post_ycol = pre_slow[proj_k] + pre, post_slow[proj_k] + post
    skip = np.zeros(syn.target.size, np.uint8)
    skip[pos[delay > 0]] = 1
    rows = np.unique(pre)
    on_arrival = np.bincount(pre[delay > 0], minlength=n_elements)  # delayed plastic synapses per row
    syn.row_delay[rows] = np.where(on_arrival[rows] == np.diff(syn.indptr)[rows], -3, -2)

    # presynaptic side: delay groups of each row
    ids = np.arange(n_syn)
    by_row = np.lexsort((ids, delay, pre))
    new_group = np.ones(n_syn, bool)
    new_group[1:] = (pre[by_row][1:] != pre[by_row][:-1]) | (delay[by_row][1:] != delay[by_row][:-1])
    starts = np.flatnonzero(new_group)
    grp_ptr = np.append(starts, n_syn).astype(np.int64)
    grp_delay = delay[by_row][starts].astype(np.int32)
    row_grp = _ptr(pre[by_row][starts], n_elements)
    n_delayed = int(np.count_nonzero(grp_delay > 0))

    # postsynaptic side: the CSC index
    by_post = np.lexsort((ids, post))
    csc_ptr = _ptr(post[by_post], n_elements)

    watch = np.zeros(n_elements, np.uint8)
    watch[pre] = 1
    watch[post] = 1

    # modulators
    lr = np.ones((n_plastic, 2), dtype)
    mods = net.modulators
    mod_group, mod_coef, mod_proj, mod_kind = [], [], [], []
    drive_ptr, target_ptr = [0], [0]
    for m, mod in enumerate(mods):
        mod.index = m
        for group, coef in mod.drive:
            mod_group.append(next(i for i, g in enumerate(net.groups) if g is group))
            mod_coef.append(coef)
        for proj, kind in mod.targets:
            q = next(i for i, p in enumerate(plastic) if p is proj)
            mod_proj.append(q)
            mod_kind.append(ACTS_ON_INDEX[kind])
            lr[q, ACTS_ON_INDEX[kind]] = mod.initial
        drive_ptr.append(len(mod_group))
        target_ptr.append(len(mod_proj))

    return Plasticity(
        flags=np.ones(1, np.uint8), counters=np.zeros(1, np.int64),
        a_plus=a_plus, a_minus=a_minus, a3_plus=a3_plus, a3_minus=a3_minus, w_min=w_min, w_max=w_max,
        soft=soft, hard=(1 - soft).astype(dtype), alpha=alpha, same=same, x_inc=x_inc, x_near=x_near, lr=lr,
        skip=skip, row_grp=row_grp, grp_ptr=grp_ptr, grp_pos=pos[by_row], grp_col=post_col[by_row],
        grp_ycol=pre_ycol[by_row], grp_proj=proj_k[by_row], grp_delay=grp_delay,
        pend=np.zeros((ring, n_delayed), np.int32), pend_n=np.zeros(ring, np.int64),
        csc_ptr=csc_ptr, csc_pos=pos[by_post], csc_col=pre_col[by_post], csc_ycol=post_ycol[by_post],
        csc_pre=pre[by_post], csc_proj=proj_k[by_post], csc_delay=delay[by_post].astype(np.int32), watch=watch,
        fired=np.zeros(n_elements, np.int32), last=np.full(n_elements, -1, np.int64),
        hit=np.zeros((ring, n_elements if same.any() else 0), np.uint8),
        gcount=np.zeros(len(net.groups), np.int64),
        trace=np.zeros((ring, columns), dtype), tset=np.array(tset, np.int64).reshape(-1, 3),
        t_inc=np.array(t_inc, dtype), t_decay=np.array(t_decay, dtype), t_nearest=np.array(t_nearest, np.uint8),
        mod_state=np.array([m.initial for m in mods], np.float64),
        mod_tau=np.array([m.tau / net.dt for m in mods], np.float64),
        mod_weight=np.array([m.weight for m in mods], np.float64),
        mod_bias=np.array([m.bias for m in mods], np.float64),
        mod_drive_ptr=np.array(drive_ptr, np.int64), mod_group=np.array(mod_group, np.int32),
        mod_coef=np.array(mod_coef, np.float64),
        mod_target_ptr=np.array(target_ptr, np.int64), mod_proj=np.array(mod_proj, np.int32),
        mod_kind=np.array(mod_kind, np.int32),
    )
