"""Monitors: what to record (spikes, state variables, population rate) and where it goes.

Each monitor hands its data out in blocks to a sink (default :class:`MemorySink`).
Times are in seconds; indices are local to the recorded population or subgroup (a monitor on
``P[100:200]`` reports ``i`` in 0..99, as Brian2 does), except for :class:`MergedSpikeMonitor`,
whose ``i`` are the network's global neuron ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neurosim.population import Group, Population
from neurosim.sinks import MemorySink, Sink
from neurosim.subgroup import Subgroup, first_of, parent_of
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
    target: Group | Subgroup
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
        if not isinstance(parent_of(self.target), Population):
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


@dataclass(eq=False)
class MergedSpikeMonitor(Monitor):
    """Spikes of several populations or subgroups (``targets``) in one monitor, in time order.

    Blocks: ``t`` (s) and ``i``, the network's *global* neuron ids (``offset + local id``,
    offsets assigned when the network is built: populations in creation order, then sources).
    :meth:`locate` maps them back to ``(member, local id)``; :meth:`split` gives what one
    monitor per member would have recorded. ``target`` is the first member.
    """

    targets: tuple = ()

    def __post_init__(self):
        self.targets = tuple(self.targets)
        spans = sorted(((id(parent_of(g)), first_of(g), first_of(g) + g.size, g.name) for g in self.targets))
        for (pa, _, stop, a), (pb, start, _, b) in zip(spans, spans[1:]):
            if pa == pb and start < stop:
                raise ValueError(f"record.{self.name}.populations: {a} and {b} overlap")

    @property
    def t(self) -> np.ndarray:
        return self._memory().get("t", np.zeros(0))

    @property
    def i(self) -> np.ndarray:
        return self._memory().get("i", np.zeros(0, np.int64))

    def locate(self, ids: Any) -> tuple[np.ndarray, np.ndarray]:
        """``(member, local)`` of global neuron ids: ``self.targets[member[k]]``'s neuron
        ``local[k]`` (relative to the member, as its own monitor would report it)."""
        ids = np.asarray(ids, dtype=np.int64)
        member, local = np.full(ids.shape, -1, np.int64), np.zeros(ids.shape, np.int64)
        for k, g in enumerate(self.targets):
            inside = (ids >= g.offset) & (ids < g.offset + g.size)
            member[inside], local[inside] = k, ids[inside] - g.offset
        if np.any(member < 0):
            raise ValueError(f"monitor {self.name!r}: id {int(ids[member < 0][0])} is not a recorded neuron")
        return member, local

    def split(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Member name -> ``(t, local i)``: the spikes per member, as separate monitors record them."""
        t, (member, local) = self.t, self.locate(self.i)
        return {g.name: (t[member == k], local[member == k]) for k, g in enumerate(self.targets)}
