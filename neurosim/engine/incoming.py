"""Incoming-synapse indices of a layout's rows: postsynaptic ("pull") delivery.

Presynaptic delivery walks the row of every spike and adds each weight into its target with
an atomic (the order of those float additions varies between runs on a GPU). Postsynaptic
delivery gives each target (a state code, :class:`neurosim.engine.layout.Synapses`) to one
thread, which walks the synapses onto it and adds those whose presynaptic element spiked, as
often as it spiked in the step: no atomics, and every target receives its additions in a
fixed order. An index lists the synapses of a range of rows by target, then by the rank of the
presynaptic element in the numba backend's spike list (neurons: by index; sources: spike
generators, then Poisson sources, each by index), then by CSR position, which is the order in
which the numba backend adds them, so both deliveries give the same sums bit for bit. It
costs one pass over the indexed synapses per step, whatever the number of spikes, and 8 bytes
per synapse (4 + 4; 12 beyond 2^31 synapses).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Incoming(NamedTuple):
    """The synapses of rows ``first .. stop-1`` grouped by target; within a target the synapses
    of one element are consecutive (a run), in CSR order."""

    ptr: np.ndarray  # int64 (T+1,): the synapses onto target t are entries ptr[t] .. ptr[t+1]
    target: np.ndarray  # int32 (T,): state code of target t (only codes the rows reach)
    src: np.ndarray  # int32: presynaptic element of each entry
    syn: np.ndarray  # int32 (int64 beyond 2^31 synapses): CSR position of each entry


def incoming(indptr: np.ndarray, target: np.ndarray, first: int, stop: int,
             rank: np.ndarray | None = None) -> Incoming:
    """The index of rows ``first .. stop-1`` of the CSR ``indptr``/``target``; ``rank[r]``: the
    place of row ``first + r`` in the order of delivery (default: by row)."""
    lo, hi = int(indptr[first]), int(indptr[stop])
    codes = target[lo:hi]
    rows = np.repeat(np.arange(first, stop, dtype=np.int32), np.diff(indptr[first:stop + 1]))
    by = rows if rank is None else np.asarray(rank)[rows - first]
    order = np.lexsort((np.arange(hi - lo), by, codes))  # by target, rank, position
    syn = (order + lo).astype(np.int32 if hi < 2**31 else np.int64)
    targets, starts = np.unique(codes[order], return_index=True)
    ptr = np.append(starts, hi - lo).astype(np.int64)
    return Incoming(ptr, targets.astype(np.int32), rows[order], syn)


def source_rank(n: int, n_elements: int, poisson_id: np.ndarray) -> np.ndarray:
    """The rank of each source row ``n .. n_elements-1`` in a step's source list: spike
    generators (the sources that are not Poisson) by index, then Poisson sources in the order
    of ``poisson_id`` (:class:`neurosim.engine.layout.Drive`)."""
    poisson = np.asarray(poisson_id, np.int64) - n
    is_poisson = np.zeros(n_elements - n, bool)
    is_poisson[poisson] = True
    order = np.concatenate([np.flatnonzero(~is_poisson), poisson])
    rank = np.empty(n_elements - n, np.int64)
    rank[order] = np.arange(order.size)
    return rank
