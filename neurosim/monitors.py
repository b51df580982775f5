"""Monitors: what to record (spikes, state variables, population rate) and where it goes.

Each monitor hands its data out in blocks to a sink (default :class:`MemorySink`).
Times are in seconds; indices are local to the recorded population.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neurosim.population import Group, Population
from neurosim.sinks import MemorySink, Sink
from neurosim.units import parse_quantity, steps


def _local_indices(group: Group, indices: Any, field_name: str) -> np.ndarray:
    if indices is None:
        return np.arange(group.size, dtype=np.int64)
    idx = np.unique(np.asarray(indices, dtype=np.int64).ravel())
    if idx.size and (idx[0] < 0 or idx[-1] >= group.size):
        raise ValueError(f"{field_name}: indices must lie in [0, {group.size}) for {group.name!r}")
    return idx


@dataclass(eq=False)
class Monitor:
    name: str
    target: Group
    sink: Sink = field(default_factory=MemorySink)

    def recorded_bytes(self, n_steps: int, dt: float) -> float:
        """Bytes ``n_steps`` steps of this monitor write (spikes are not counted)."""
        return 0.0

    def _memory(self) -> MemorySink:
        if not isinstance(self.sink, MemorySink):
            raise RuntimeError(f"monitor {self.name!r} streams to {type(self.sink).__name__}; read the data from there")
        return self.sink


@dataclass(eq=False)
class SpikeMonitor(Monitor):
    """Spikes of ``target`` (all neurons or ``indices``). Blocks: ``t`` (s), ``i`` (local index)."""

    indices: Any = None

    def __post_init__(self):
        self.indices = _local_indices(self.target, self.indices, f"record.{self.name}.indices")

    @property
    def t(self) -> np.ndarray:
        return self._memory().get("t", np.zeros(0))

    @property
    def i(self) -> np.ndarray:
        return self._memory().get("i", np.zeros(0, np.int64))

    def spike_trains(self) -> dict[int, np.ndarray]:
        t, i = self.t, self.i
        return {int(k): t[i == k] for k in self.indices}


@dataclass(eq=False)
class StateMonitor(Monitor):
    """State ``variables`` of neurons ``indices`` every ``interval`` (s), sampled at the start
    of a step (so the first sample is the initial state). Blocks: ``t`` and one
    ``(n_samples, n_indices)`` array per variable."""

    variables: tuple[str, ...] = ("v",)
    indices: Any = None
    interval: Any = None

    def __post_init__(self):
        if not isinstance(self.target, Population):
            raise ValueError(f"record.{self.name}.population: {self.target.name!r} has no state variables")
        if isinstance(self.variables, str):
            self.variables = (self.variables,)
        self.variables = tuple(self.variables)
        known = self.target.model.state_variables
        for v in self.variables:
            if v not in known:
                raise ValueError(
                    f"record.{self.name}.variables: {v!r} is not a state variable of "
                    f"{type(self.target.model).__name__} (has {', '.join(known)})"
                )
        self.indices = _local_indices(self.target, self.indices, f"record.{self.name}.indices")
        self.interval_steps(self.target.network.dt)  # must be a whole number of steps

    def interval_steps(self, dt: float) -> int:
        if self.interval is None:
            return 1
        interval = parse_quantity(self.interval, "time", f"record.{self.name}.interval")
        return steps(interval, dt, f"record.{self.name}.interval", allow_zero=False)

    def recorded_bytes(self, n_steps: int, dt: float) -> float:
        """float32 samples: one row per interval, plus the initial state."""
        return float((n_steps // self.interval_steps(dt) + 1) * self.indices.size * len(self.variables) * 4)

    @property
    def t(self) -> np.ndarray:
        return self._memory().get("t", np.zeros(0))

    def __getitem__(self, variable: str) -> np.ndarray:
        return self._memory().get(variable, np.zeros((0, self.indices.size)))


@dataclass(eq=False)
class RateMonitor(Monitor):
    """Population rate (Hz) in every step: spikes emitted during the step / (size · dt).
    Blocks: ``t`` (start of the step, s) and ``rate`` (Hz)."""

    def recorded_bytes(self, n_steps: int, dt: float) -> float:
        """One ``(t, rate)`` pair of float64 per step."""
        return float(n_steps * 16)

    @property
    def t(self) -> np.ndarray:
        return self._memory().get("t", np.zeros(0))

    @property
    def rate(self) -> np.ndarray:
        return self._memory().get("rate", np.zeros(0))
