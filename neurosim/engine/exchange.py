"""The spike exchange between MPI ranks, called from compiled code (``numba.objmode``) once per
exchange interval (a step, or up to the smallest synaptic delay plus one)."""

from __future__ import annotations

from typing import Any

import numpy as np

#: the communicator of the block being run (read by :func:`exchange`, which compiled code calls)
COMM: list[Any] = []


def exchange(out: np.ndarray, per_step: np.ndarray, recorded: int, fired: np.ndarray) -> int:
    """Gather the spikes every rank emitted in the last ``h = per_step.size`` steps. On entry
    ``out`` holds this rank's, step after step, ``per_step`` their number per step; on return
    ``fired`` holds every rank's, step after step and within a step in rank order, and
    ``per_step`` their number per step. Returns the largest number of spikes any rank has recorded
    in this block."""
    comm = COMM[-1]
    held = per_step.size
    mine = np.empty(held + 1, np.int64)
    mine[:held], mine[held] = per_step, recorded
    table = np.empty((comm.size, held + 1), np.int64)
    comm.Allgather(mine, table)
    counts = table[:, :held]  # (ranks, steps)
    sizes = counts.sum(axis=1)
    n = int(sizes.sum())
    if held == 1:
        comm.Allgatherv(out, (fired[:n], sizes))
    else:  # gathered rank after rank; reordered step after step (stable: rank order kept within a step)
        gathered = np.empty(n, fired.dtype)
        comm.Allgatherv(out, (gathered, sizes))
        step_of = np.repeat(np.tile(np.arange(held), comm.size), counts.ravel())
        fired[:n] = gathered[np.argsort(step_of, kind="stable")]
    per_step[:] = counts.sum(axis=0)
    return int(table[:, held].max())
