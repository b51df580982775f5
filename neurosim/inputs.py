"""Injected currents: constant and piecewise-constant (step) currents into neurons."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from neurosim.population import Population
from neurosim.units import parse_array, steps_array


@dataclass(eq=False)
class CurrentInput:
    """Piecewise-constant current (A): ``amplitudes[k]`` from ``times[k]`` until the next time.

    A constant current is ``times=[0]``. The current is added to ``i_ext`` of the ``indices``
    (default: all) neurons of ``target``; times must be multiples of the network's dt.
    """

    target: Population
    times: Any
    amplitudes: Any
    indices: Any = None

    def __post_init__(self):
        field = f"current.{self.target.name}"
        self.times = np.atleast_1d(parse_array(self.times, "time", f"{field}.times"))
        self.amplitudes = np.atleast_1d(parse_array(self.amplitudes, "current", f"{field}.amplitudes"))
        if self.times.shape != self.amplitudes.shape:
            raise ValueError(f"{field}.amplitudes: has {self.amplitudes.size} values but times has {self.times.size}")
        if np.any(np.diff(self.times) <= 0) or np.any(self.times < 0):
            raise ValueError(f"{field}.times: must be >= 0 and strictly increasing")
        idx = np.arange(self.target.size) if self.indices is None else np.asarray(self.indices, dtype=np.int64).ravel()
        if idx.size and (idx.min() < 0 or idx.max() >= self.target.size):
            raise ValueError(f"{field}.indices: must lie in [0, {self.target.size})")
        self.indices = idx
        self.events(self.target.network.dt)  # times must be multiples of dt

    def events(self, dt: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(step, local neuron, change of current)`` for every change of amplitude."""
        at = steps_array(self.times, dt, f"current.{self.target.name}.times")
        delta = np.diff(self.amplitudes, prepend=0.0)
        n = self.indices.size
        return np.repeat(at, n), np.tile(self.indices, at.size), np.repeat(delta, n)
