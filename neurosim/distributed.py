"""Networks spread over MPI ranks (mpi4py): each rank builds and runs its share of the neurons.

``net.distribute(comm)`` (or ``neurosim run`` started by ``mpirun``) makes a network one rank's
share: the neurons are cut into as many ranges of about equal work as there are ranks
(:func:`neurosim.flatten._parts`); rank ``r`` generates only the synapses onto its range, from
the projections' per-block streams (no communication: a block of other ranks' targets is not
generated at all), runs its neurons and exchanges spikes every step
(:mod:`neurosim.engine.ranks`). The spikes are those of one process, bit for bit, for any
number of ranks. After every block the recordings are gathered on rank 0, where the monitors'
sinks receive them (and ``neurosim run`` writes the one results file); the other ranks' sinks
receive nothing.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from neurosim.engine.layout import N_ROWS, N_SPIKES, Layout

def launched_by_mpirun() -> bool:
    """Whether this process is one of several started by an MPI launcher (MPICH's hydra and Slurm's
    PMI set ``PMI_SIZE``, Open MPI ``OMPI_COMM_WORLD_SIZE``)."""
    for name in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MPI_LOCALNRANKS"):
        if os.environ.get(name, "1") not in ("", "1"):
            return True
    return False


def world() -> Any:
    """mpi4py's ``COMM_WORLD`` (``pip install -e ".[mpi]"``)."""
    try:
        from mpi4py import MPI
    except ImportError:
        raise ValueError("simulation: started by mpirun, but mpi4py is not installed; "
                         "pip install -e \".[mpi]\" (mpi4py with the MPICH wheel)") from None
    return MPI.COMM_WORLD


def mpi_comm() -> Any:
    """``COMM_WORLD`` when this process is one of several ranks started by mpirun, else None."""
    if not launched_by_mpirun():
        return None
    comm = world()
    return comm if comm.size > 1 else None


def over_ranks(comm: Any, value: float) -> float:
    """``value`` summed over the ranks (itself without a communicator)."""
    return value if comm is None else comm.allreduce(value)


def merged_block(comm: Any, layout: Layout, sources: np.ndarray) -> tuple | None:
    """The block's recordings of all ranks, on rank 0 (None elsewhere): ``(spike steps, spike ids,
    state samples, group counts)``, spikes in the order one process records them (by step, then
    index), each state column from the rank that owns its neuron. ``sources``: which groups are
    sources (every rank counts their spikes; rank 0's counts are kept). Clears the buffers of
    every rank."""
    rec = layout.rec
    n_spk, n_rows = int(rec.counters[N_SPIKES]), int(rec.counters[N_ROWS])
    lo, hi = layout.parts.bounds[0], layout.parts.bounds[-1]
    samples = rec.rec_out[:n_rows].copy()
    samples[:, (rec.rec_id < lo) | (rec.rec_id >= hi)] = 0
    counts = rec.counts.copy()
    if comm.rank != 0:
        counts[:, sources] = 0
    mine = (rec.spk_step[:n_spk].copy(), rec.spk_id[:n_spk].copy(), samples, counts)
    rec.counters[N_SPIKES] = 0
    rec.counters[N_ROWS] = 0
    rec.counts[:] = 0
    everyone = comm.gather(mine, root=0)
    if comm.rank != 0:
        return None
    step = np.concatenate([e[0] for e in everyone])
    ids = np.concatenate([e[1] for e in everyone])
    order = np.lexsort((ids, step))
    return step[order], ids[order], sum(e[2] for e in everyone), sum(e[3] for e in everyone)
