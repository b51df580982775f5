"""The spike exchange between MPI ranks, called from compiled code (``numba.objmode``) every step."""

from __future__ import annotations

from typing import Any

import numpy as np

#: the communicator of the block being run (read by :func:`exchange`, which compiled code calls)
COMM: list[Any] = []


def exchange(out: np.ndarray, recorded: int, fired: np.ndarray) -> tuple[int, int]:
    """Gather every rank's spikes ``out`` into ``fired`` (in rank order); returns their number and
    the largest number of spikes any rank has recorded in this block."""
    comm = COMM[-1]
    counts = np.zeros(2 * comm.size, np.int64)
    comm.Allgather(np.array([out.size, recorded], np.int64), counts)
    sizes = counts[0::2]
    n = int(sizes.sum())
    comm.Allgatherv(out, (fired[:n], sizes))
    return n, int(counts[1::2].max())
