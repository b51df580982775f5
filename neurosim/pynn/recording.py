"""PyNN's Recorder on neurosim's monitors: ``get_data()`` returns Neo blocks.

At build, each recorded variable of a population becomes one native monitor: a spike
monitor, or a state monitor of the native variable (every ``sampling_interval``). neurosim
samples the state at the start of each step (after the input due then), so a run of n steps
holds the samples at 0, Δ, ..., and the state at the current time is appended to give PyNN's
n·dt/Δ + 1 samples. Values are returned in PyNN's units (mV, nA, µS).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pyNN import recording

from neurosim.pynn import simulator


class Recorder(recording.Recorder):
    """Records spikes and state variables of one population through native monitors."""

    _simulator = simulator

    def __init__(self, population, file=None):
        recording.Recorder.__init__(self, population, file)
        self._monitors: dict[str, Any] = {}
        #: entries of each monitor already cleared away by get_data(clear=True)
        self._skip: dict[str, int] = {}

    def _record(self, variable, new_ids, sampling_interval=None):
        if new_ids:
            simulator.state.structure_changed(f"a recording of {variable.name!r}")
        self.sampling_interval = sampling_interval or self._simulator.state.dt

    def _build(self, net) -> None:
        """One native monitor per recorded variable."""
        self._monitors, self._skip = {}, {}
        pop = self.population
        for variable, ids in self.recorded.items():
            if not ids:
                continue
            indices = np.sort(pop.id_to_index(np.fromiter(ids, dtype=int)))
            name = f"{pop.native_name}_{variable.name}"
            if variable.name == "spikes":
                monitor = net.spike_monitor(pop.native, indices=indices, name=name)
            else:
                native, _ = pop.celltype.state_variables[variable.name]
                monitor = net.state_monitor(pop.native, variables=(native,), indices=indices,
                                            interval=self.sampling_interval * 1e-3, name=name)
            self._monitors[variable.name] = monitor
            self._skip[variable.name] = 0

    def _spikes(self) -> tuple[np.ndarray, np.ndarray]:
        """(local indices, times in ms) of the recorded spikes not cleared."""
        monitor = self._monitors.get("spikes")
        if monitor is None:
            return np.zeros(0, np.int64), np.zeros(0)
        skip = self._skip["spikes"]
        state = simulator.state
        return monitor.i[skip:], np.rint(monitor.t[skip:] / state.dt_s) * state.dt  # whole steps, in ms

    def _get_spiketimes(self, ids, clear=False):
        index, times = self._spikes()
        id_array = index + int(self.population.first_id)
        keep = np.isin(id_array, np.asarray(ids, dtype=int))
        return id_array[keep], times[keep]

    def _get_all_signals(self, variable, ids, clear=False):
        monitor = self._monitors.get(variable.name)
        if monitor is None or len(ids) == 0:
            return np.zeros((0, len(ids))), None
        pop = self.population
        native, scale = pop.celltype.state_variables[variable.name]
        values = monitor[native][self._skip[variable.name]:]
        net = simulator.state.net
        interval = monitor.interval_steps(net.dt)
        if net._step % interval == 0 and (monitor.t.size == 0 or monitor.t[-1] < net.t - net.dt / 2):
            now = pop.native.state(native)[monitor.indices]  # the sample at the current time
            values = np.vstack([values, now[None, :]])
        columns = np.searchsorted(monitor.indices, pop.id_to_index(np.asarray(ids, dtype=int)))
        return values[:, columns] / scale, None

    def _local_count(self, variable, filter_ids=None):
        index, _ = self._spikes()
        counts = np.bincount(index, minlength=self.population.size)
        return {int(i): int(counts[self.population.id_to_index(i)]) for i in self.filter_recorded(variable, filter_ids)}

    def _clear_simulator(self):
        """Data so far is dropped: later reads start after it."""
        for name, monitor in self._monitors.items():
            self._skip[name] = monitor.t.size

    def _reset(self):
        self._monitors, self._skip = {}, {}
