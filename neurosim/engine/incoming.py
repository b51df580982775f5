"""The incoming-synapse index of a layout's neuron rows: postsynaptic ("pull") delivery.

Presynaptic delivery walks the row of every spike and adds each weight into its target with
an atomic (the order of those float additions varies between runs on a GPU). Postsynaptic
delivery gives each target (a state code, :class:`neurosim.engine.layout.Synapses`) to one
thread, which walks the synapses onto it and adds those whose presynaptic neuron spiked: no
atomics, and every target receives its additions in a fixed order. The index lists them by
presynaptic neuron and then CSR position, which is the order in which the numba backend adds
them (spikes in ascending neuron order, each row in CSR order), so both deliveries give the
same sums bit for bit. It costs one pass over all the neurons' synapses per step, whatever
the number of spikes, and 8 bytes per synapse (4 + 4; 12 beyond 2^31 synapses).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Incoming(NamedTuple):
    """The synapses of neuron rows ``0 .. n-1`` grouped by target, each group in CSR order."""

    ptr: np.ndarray  # int64 (T+1,): the synapses onto target t are entries ptr[t] .. ptr[t+1]
    target: np.ndarray  # int32 (T,): state code of target t (only codes some neuron reaches)
    src: np.ndarray  # int32: presynaptic neuron of each entry
    syn: np.ndarray  # int32 (int64 beyond 2^31 synapses): CSR position of each entry


def incoming(indptr: np.ndarray, target: np.ndarray, n: int) -> Incoming:
    """The index of rows ``0 .. n-1`` (the neurons) of the CSR ``indptr``/``target``."""
    stop = int(indptr[n])
    codes = target[:stop]
    syn = np.argsort(codes, kind="stable")  # stable: by row, then position, per target
    syn = syn.astype(np.int32 if stop < 2**31 else np.int64)
    src = np.repeat(np.arange(n, dtype=np.int32), np.diff(indptr[:n + 1]))[syn]
    targets, starts = np.unique(codes[syn], return_index=True)
    ptr = np.append(starts, stop).astype(np.int64)
    return Incoming(ptr, targets.astype(np.int32), src, syn)
