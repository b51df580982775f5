"""One rank's share of a network spread over MPI ranks: its neurons, the synapses onto them.

Every rank holds the layout of one part (:class:`neurosim.engine.layout.Parts`: its range of
neurons; the state arrays keep every neuron, those of other ranks unused) and runs a whole
block in one compiled call (:func:`neurosim.engine.numba_parallel.rank_kernel`). After each
step the kernel leaves compiled code (``numba.objmode``) for
:func:`neurosim.engine.exchange.exchange`: the ranks
gather the indices of their neurons that spiked (``Allgatherv``; ascending ranges, so the
joined list is ascending) and every rank delivers all of them to its own targets at the start
of the next step, as one thread does. Sources spike on every rank alike (counter-based draws);
rank 0 alone records them. The communicator is mpi4py's, used duck-typed: the engine imports
no MPI module.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from neurosim.engine.exchange import COMM
from neurosim.engine.layout import Layout
from neurosim.engine.numba_parallel import rank_kernel

class RankBackend:
    """Runs blocks of a rank's layout, exchanging spikes with the other ranks every step."""

    name = "numba"

    def __init__(self, comm: Any):
        self.comm = comm

    def run_block(self, layout: Layout, step0: int, n_steps: int) -> int:
        kernel = rank_kernel(layout.models)
        n = layout.state.vars.shape[1]
        spiked = np.zeros(-(-n // 8) * 8, dtype=np.uint8)
        fired, out = np.zeros(n, np.int32), np.zeros(n, np.int32)
        sources = np.zeros(max(1, layout.rec.spike_mask.size - n), np.int32)
        COMM.append(self.comm)
        try:
            return int(kernel(np.int64(step0), np.int64(n_steps), layout.table, layout.parts, layout.state,
                              layout.syn, layout.drive, layout.rec, spiked, fired, sources, out))
        finally:
            COMM.pop()
