"""One rank's share of a network spread over MPI ranks: its neurons, the synapses onto them.

Every rank holds the layout of one part (:class:`neurosim.engine.layout.Parts`: its range of
neurons; the state arrays keep every neuron, those of other ranks unused) and runs it one step
at a time with the kernel of :mod:`neurosim.engine.numba_parallel`; after each step the ranks
exchange the indices of their neurons that spiked (``allgather``; ascending ranges, so the
joined list is ascending) and every rank delivers all of them to its own targets at the start
of the next step, as one thread does. Sources spike on every rank alike (counter-based draws);
rank 0 alone records them. The communicator is mpi4py's, used duck-typed: the engine imports
no MPI module.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from neurosim.engine.layout import N_SPIKES, Layout
from neurosim.engine.numba_parallel import _deliver_all, rank_kernel


class Communicator(Protocol):
    rank: int
    size: int

    def allgather(self, value: object) -> list: ...


class RankBackend:
    """Runs blocks of a rank's layout, exchanging spikes with the other ranks every step."""

    name = "numba"

    def __init__(self, comm: Communicator):
        self.comm = comm

    def run_block(self, layout: Layout, step0: int, n_steps: int) -> int:
        kernel = rank_kernel(layout.models)
        n = layout.state.vars.shape[1]
        spiked = np.zeros(-(-n // 8) * 8, dtype=np.uint8)
        fired, out = np.zeros(n, np.int32), np.zeros(n, np.int32)
        sources = np.zeros(max(1, layout.rec.spike_mask.size - n), np.int32)
        rec, n_elements, cap = layout.rec, layout.syn.indptr.size - 1, layout.rec.spk_step.shape[0]
        n_fired, done, counts = 0, n_steps, [int(rec.counters[N_SPIKES])]
        for k in range(n_steps):
            step = step0 + k
            if max(counts) + n_elements > cap:  # any rank's spike buffer could overflow: end the block
                done = k
                break
            m = kernel(np.int64(step), np.int64(k), layout.table, layout.parts, layout.state, layout.syn,
                       layout.drive, rec, spiked, fired, np.int64(n_fired), sources, out)
            shared = self.comm.allgather((out[:m].copy(), int(rec.counters[N_SPIKES])))
            joined = np.concatenate([ids for ids, _ in shared])
            counts = [c for _, c in shared]
            n_fired = joined.size
            fired[:n_fired] = joined
        _deliver_all(np.int64(step0 + done), layout.parts, layout.syn, layout.state.vars.ravel(), fired,
                     np.int64(n_fired))
        return done
