"""One rank's share of a network spread over MPI ranks: its neurons, the synapses onto them.

Every rank holds the layout of one part (:class:`neurosim.engine.layout.Parts`: its range of
neurons; the state arrays keep every neuron, those of other ranks unused) and runs a whole
block in one compiled call (:func:`neurosim.engine.numba_parallel.rank_kernel`). Every
:func:`exchange_interval` steps (one more than the smallest delay of a synapse from a neuron:
each step for networks with zero delays or delayed synapses from spike sources, two for PD14,
whose delays are at least one step) the
kernel leaves compiled code (``numba.objmode``) for :func:`neurosim.engine.exchange.exchange`:
the ranks gather the indices of their neurons that spiked in those steps (``Allgather`` of the
counts, ``Allgatherv`` of the indices; ascending ranges, so each step's joined list is
ascending) and every rank delivers all of them to its own targets, step by step with their
stamps, in the order one thread does. The exchange is blocking, not overlapped with the next
steps' computation. Sources spike on every rank alike (counter-based draws);
rank 0 alone records them. The communicator is mpi4py's, used duck-typed: the engine imports
no MPI module.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from neurosim.engine.exchange import COMM
from neurosim.engine.layout import Layout
from neurosim.engine.numba_parallel import rank_kernel

#: the most steps whose spikes one exchange carries
MAX_EVERY = 16


def exchange_interval(layout: Layout, comm: Any) -> int:
    """Steps between two spike exchanges, agreed over all ranks: one more than the smallest delay
    (steps) of a synapse from a neuron (the spikes of a step must reach the ring buffer before
    their arrival), at most :data:`MAX_EVERY`; 1 when a spike source has a delayed synapse (its
    spikes enter the ring buffer at their step, and a later delivery of the neurons' spikes would
    change the order of the additions into a slot)."""
    n = layout.state.vars.shape[1]
    syn = layout.syn
    from_neurons = syn.delay[syn.indptr[0]:syn.indptr[n]]
    from_sources = syn.delay[syn.indptr[n]:syn.indptr[-1]]
    local = int(from_neurons.min()) if from_neurons.size else MAX_EVERY
    if from_sources.size and from_sources.max() > 0:
        local = 0
    return max(1, min(MAX_EVERY, 1 + min(comm.allgather(local))))


class RankBackend:
    """Runs blocks of a rank's layout, exchanging spikes with the other ranks every
    :func:`exchange_interval` steps."""

    name = "numba"

    def __init__(self, comm: Any):
        self.comm = comm

    def run_block(self, layout: Layout, step0: int, n_steps: int) -> int:
        kernel = rank_kernel(layout.models)
        every = exchange_interval(layout, self.comm)
        n = layout.state.vars.shape[1]
        spiked = np.zeros(-(-n // 8) * 8, dtype=np.uint8)
        fired, out = np.zeros(every * n, np.int32), np.zeros(every * n, np.int32)
        per_step = np.zeros(every, np.int64)
        sources = np.zeros(max(1, layout.rec.spike_mask.size - n), np.int32)
        COMM.append(self.comm)
        try:
            return int(kernel(np.int64(step0), np.int64(n_steps), layout.table, layout.parts, layout.state,
                              layout.syn, layout.drive, layout.rec, spiked, fired, sources, out, per_step,
                              np.int64(every)))
        finally:
            COMM.pop()
