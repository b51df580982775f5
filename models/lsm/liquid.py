"""The liquid: neurons on a 3-D grid, distance-dependent recurrent synapses, random ± input.

Global indices: inputs ``0 .. n_in-1``, then liquid neurons ``n_in .. n_in+n_liq-1``. The
synapses are stored as CSR by presynaptic neuron (posts as liquid-local indices) with a CSC
index (for each liquid neuron, the CSR positions of its incoming synapses), so a spike of
either side updates exactly its own synapses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurosim.connectivity.connectors import ConnectContext, DistanceDependent, grid_positions
from neurosim.models.lsm.params import LiquidParams

from neurosim.models.lsm.kernel import EXCITATORY, INHIBITORY, INPUT


@dataclass(frozen=True)
class Liquid:
    n_in: int
    n_liq: int
    positions: np.ndarray  # (n_liq, 3)
    excitatory: np.ndarray  # bool (n_liq,)
    indptr: np.ndarray  # int64 (n_in + n_liq + 1,)
    post: np.ndarray  # int32 liquid-local post of every synapse
    kind: np.ndarray  # int8 per neuron (global index): INPUT / EXCITATORY / INHIBITORY
    w_init: np.ndarray  # float64 initial weights (bounds: [0, w_max] excitatory pre,
    #                     [-w_max, 0] inhibitory, [-w_max, w_max] input)
    w_max: float
    csc_ptr: np.ndarray  # int64 (n_liq + 1,)
    csc_syn: np.ndarray  # int64 CSR positions of the incoming synapses
    csc_pre: np.ndarray  # int64 global presynaptic index of those synapses

    @property
    def n_total(self) -> int:
        return self.n_in + self.n_liq

    @property
    def n_synapses(self) -> int:
        return int(self.post.size)

    def pre(self) -> np.ndarray:
        """Global presynaptic index of every synapse."""
        return np.repeat(np.arange(self.n_total), np.diff(self.indptr))

    def dense(self, weights: np.ndarray | None = None) -> np.ndarray:
        """``W[post (liquid), pre (global)]`` (the authors' convention), for tests and analysis."""
        w = np.zeros((self.n_liq, self.n_total))
        w[self.post, self.pre()] = self.w_init if weights is None else weights
        return w

    def adjacency(self) -> np.ndarray:
        """``A[pre, post]`` of the liquid→liquid synapses (inputs left out): bool (n_liq, n_liq),
        what the branching factor follows."""
        pre = self.pre()
        liquid = pre >= self.n_in
        a = np.zeros((self.n_liq, self.n_liq), bool)
        a[pre[liquid] - self.n_in, self.post[liquid]] = True
        return a

    def with_weight_magnitude(self, w: float) -> "Liquid":
        """The same liquid with every initial weight set to ``±w`` (static LSM weight scans)."""
        return Liquid(**{**self.__dict__, "w_init": np.sign(self.w_init) * w})


def build_liquid(p: LiquidParams, rng: np.random.Generator) -> Liquid:
    n_in, n_liq = p.n_inputs, p.n_liquid
    positions = grid_positions(tuple(int(s) for s in p.shape))
    excitatory = np.zeros(n_liq, dtype=bool)
    excitatory[rng.permutation(n_liq)[: int(round(p.exc_fraction * n_liq))]] = True
    pre_parts, post_parts, type_parts = [], [], []
    for k, (pre_exc, post_exc) in enumerate([(True, True), (True, False), (False, True), (False, False)]):
        pre_idx, post_idx = np.flatnonzero(excitatory == pre_exc), np.flatnonzero(excitatory == post_exc)
        ctx = ConnectContext(pre_idx.size, post_idx.size, pre_exc == post_exc, rng,
                             positions[pre_idx], positions[post_idx])
        pairs = DistanceDependent(p.c[k], p.lam).pairs(ctx)
        rows = np.repeat(np.arange(pre_idx.size), np.diff(pairs.indptr))
        pre_parts.append(pre_idx[rows] + n_in)
        post_parts.append(post_idx[pairs.post])
        type_parts.append(np.full(rows.size, EXCITATORY if pre_exc else INHIBITORY, np.int8))
    n_input_syn = int(n_liq * n_in * p.input_density)
    flat = rng.choice(n_in * n_liq, size=n_input_syn, replace=False)
    pre_parts.append(flat // n_liq)
    post_parts.append(flat % n_liq)
    type_parts.append(np.full(n_input_syn, INPUT, np.int8))
    pre, post, ptype = np.concatenate(pre_parts), np.concatenate(post_parts), np.concatenate(type_parts)
    order = np.lexsort((post, pre))
    pre, post, ptype = pre[order], post[order], ptype[order]
    sign = np.where(ptype == INHIBITORY, -1.0, 1.0)
    is_input = ptype == INPUT
    sign[is_input] = rng.choice([-1.0, 1.0], size=int(is_input.sum()))
    kind = np.concatenate([np.full(n_in, INPUT), np.where(excitatory, EXCITATORY, INHIBITORY)]).astype(np.int8)
    indptr = np.zeros(n_in + n_liq + 1, dtype=np.int64)
    np.cumsum(np.bincount(pre, minlength=n_in + n_liq), out=indptr[1:])
    csc_syn = np.argsort(post, kind="stable").astype(np.int64)
    csc_ptr = np.zeros(n_liq + 1, dtype=np.int64)
    np.cumsum(np.bincount(post, minlength=n_liq), out=csc_ptr[1:])
    return Liquid(n_in, n_liq, positions, excitatory, indptr, post.astype(np.int32), kind,
                  sign * p.w_init, p.w_max, csc_ptr, csc_syn, pre[csc_syn].astype(np.int64))
