"""Filling the merged CSR in place, one generated block of synapses at a time.

A projection's synapses are generated block by block of targets (each block a CSR over all
its sources); the merged CSR of the layout holds, in every row, the projections one after the
other and each projection's blocks in order. Knowing every row's counts beforehand, each
block is copied straight to its final positions: the merged arrays are the only full-size
arrays that ever exist. The kernel releases the GIL, so projections fill in parallel.
"""

from __future__ import annotations

import os

import numpy as np

from neurosim.engine.jit_cache import njit


@njit(cache=True, nogil=True)
def place_block(indptr, part, code, weight, delay, cursor, target_out, weight_out, delay_out):
    """Copy the block's synapses (CSR rows ``j``: ``indptr[j]:indptr[j+1]``) to ``cursor[t, j]`` and
    on, ``t`` the part of each synapse's target (``part``; -1: another rank's, skipped), advancing
    ``cursor``. ``code`` is each synapse's state code."""
    for j in range(indptr.shape[0] - 1):
        for s in range(indptr[j], indptr[j + 1]):
            t = part[s]
            if t < 0:
                continue
            c = cursor[t, j]
            target_out[c] = code[s]
            weight_out[c] = weight[s]
            delay_out[c] = delay[s]
            cursor[t, j] = c + 1


def delay_dtype(max_steps: int) -> np.dtype:
    """The smallest unsigned integer type that holds delays of up to ``max_steps`` steps."""
    for dtype in (np.uint8, np.uint16, np.uint32):
        if max_steps <= np.iinfo(dtype).max:
            return np.dtype(dtype)
    raise ValueError(f"connection delays: {max_steps} steps exceed the largest supported delay")


def construction_threads() -> int:
    """Threads that build the synapses: the cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
