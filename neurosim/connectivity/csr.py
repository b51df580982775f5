"""Synapses of one projection stored as CSR by presynaptic neuron."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class CSR:
    """Connectivity of an ``n_pre x n_post`` projection, rows = presynaptic neurons.

    The targets of presynaptic neuron ``j`` are ``post[indptr[j]:indptr[j+1]]`` (int32,
    sorted), with weights ``weight`` (SI, float32 or float64) and delays ``delay`` (int32, in
    steps of the network's dt).
    """

    n_pre: int
    n_post: int
    indptr: np.ndarray
    post: np.ndarray
    weight: np.ndarray
    delay: np.ndarray

    @property
    def n_synapses(self) -> int:
        return int(self.post.size)

    @property
    def pre(self) -> np.ndarray:
        """Presynaptic index of every synapse (int32)."""
        return np.repeat(np.arange(self.n_pre, dtype=np.int32), np.diff(self.indptr))

    def in_degree(self) -> np.ndarray:
        return np.bincount(self.post, minlength=self.n_post)

    def out_degree(self) -> np.ndarray:
        return np.diff(self.indptr)

    def to_dense(self) -> np.ndarray:
        """Dense ``(n_pre, n_post)`` weight matrix (for small projections and tests)."""
        w = np.zeros((self.n_pre, self.n_post), dtype=self.weight.dtype)
        np.add.at(w, (self.pre, self.post), self.weight)
        return w


def csr_from_pairs(pre: np.ndarray, post: np.ndarray, n_pre: int, n_post: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sort (pre, post) pairs into CSR order; returns ``(indptr, post, order)``."""
    order = np.lexsort((post, pre))
    counts = np.bincount(pre, minlength=n_pre)
    indptr = np.zeros(n_pre + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    return indptr, np.asarray(post, dtype=np.int32)[order], order
