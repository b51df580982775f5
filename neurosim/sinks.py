"""Sinks receive monitor data block by block while a simulation runs.

A sink implements ``append(monitor, block)`` (``block`` maps names to NumPy arrays, see
each monitor's docstring) and ``close()``. :class:`MemorySink` keeps blocks in memory; the
HDF5 writer of :mod:`neurosim.io` streams them to disk so that memory stays bounded.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


class Sink(Protocol):
    def append(self, monitor: object, block: dict[str, np.ndarray]) -> None: ...

    def close(self) -> None: ...


class MemorySink:
    """Keeps every block; ``get(name)`` concatenates them along the first axis."""

    def __init__(self) -> None:
        self._blocks: list[dict[str, np.ndarray]] = []

    def append(self, monitor: object, block: dict[str, np.ndarray]) -> None:
        self._blocks.append(block)

    def close(self) -> None:
        pass

    def get(self, name: str, empty: np.ndarray) -> np.ndarray:
        parts = [b[name] for b in self._blocks]
        return np.concatenate(parts) if parts else empty


class CountSink:
    """Counts a spike monitor's spikes per neuron: :meth:`take` returns the counts since the last
    take and starts again (e.g. one response vector per presented image)."""

    def __init__(self, size: int) -> None:
        self.counts = np.zeros(size, np.int64)

    def append(self, monitor: object, block: dict[str, np.ndarray]) -> None:
        self.counts += np.bincount(block["i"], minlength=self.counts.size)

    def take(self) -> np.ndarray:
        counts, self.counts = self.counts, np.zeros_like(self.counts)
        return counts

    def close(self) -> None:
        pass
