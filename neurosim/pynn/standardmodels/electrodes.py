"""PyNN's current sources as neurosim's piecewise-constant currents (``Network.current``).

Every source is a schedule of (step, amplitude) changes, 0 before the first: ``DCSource`` on
at ``start`` and off at ``stop``; ``StepCurrentSource`` its steps (times non-negative and
increasing, rounded to the nearest step, the last amplitude given for a step winning, as PyNN's
Brian2 backend); ``ACSource`` (``offset + amplitude sin(2π f (t - start) + phase)``) and
``NoisyCurrentSource`` (``mean + stdev z``, z ~ N(0, 1) from ``numpy.random.default_rng`` of the
network's seed, redrawn every ``dt``) sampled into steps between ``start`` and a finite ``stop``.
Amplitudes are nA (x 1e-9 A). A change due at step m acts from t_m on (neurosim's step order).
Changing a source's parameters between runs rewrites the network's current table from the
current step on. ``record()`` / ``get_data()`` give the injected current, sampled every step.
"""

from __future__ import annotations

import neo
import numpy as np
import quantities as pq
from pyNN.parameters import ParameterSpace, Sequence
from pyNN.standardmodels import build_translations, electrodes

from neurosim.engine.layout import CUR_CURSOR
from neurosim.pynn.simulator import state


class NativeCurrentSource:
    """Keeps its parameters (PyNN names and units) and its targets; the schedule is made from them."""

    def __init__(self, **parameters):
        object.__setattr__(self, "_values", {})
        object.__setattr__(self, "_recording", False)
        super().__init__(**parameters)
        space = ParameterSpace(self.default_parameters, self.get_schema(), shape=(1,))
        space.update(**parameters)
        self.set_native_parameters(self.translate(space))

    def get_native_parameters(self):
        return ParameterSpace(dict(self._values))

    def set_native_parameters(self, parameters):
        parameters.evaluate(simplify=True)
        values = dict(self._values)
        for name, value in parameters.items():
            values[name] = np.asarray(value.value if isinstance(value, Sequence) else value, np.float64)
        object.__setattr__(self, "_values", self._checked(values))
        if state.net is not None and any(s is self for s, _ in state.current_sources):
            push_currents()

    def _checked(self, values: dict) -> dict:
        return values

    def inject_into(self, cells):
        state.structure_changed("a current source")
        cells = list(cells)
        for cell in cells:
            if not cell.celltype.injectable:
                raise TypeError("Can't inject current into a spike source.")
        state.current_sources.append((self, cells))

    def record(self):
        object.__setattr__(self, "_recording", True)

    def _get_data(self) -> tuple[np.ndarray, np.ndarray]:
        """The injected current (nA) at every step from 0 to now (ms)."""
        n = int(round(state.t / state.dt)) + 1
        steps, amplitudes = self.schedule()
        return np.arange(n) * state.dt, amplitude_at(steps, amplitudes, np.arange(n))

    def get_data(self):
        times, current = self._get_data()
        return neo.AnalogSignal(current, units="nA", t_start=0.0 * pq.ms, sampling_period=state.dt * pq.ms)

    def _changes(self) -> tuple[np.ndarray, np.ndarray]:
        """Times (ms) and amplitudes (nA) of the changes."""
        raise NotImplementedError

    def schedule(self) -> tuple[np.ndarray, np.ndarray]:
        """Steps (sorted, distinct, >= 0) and amplitudes (nA) from then on; the last given for a step wins."""
        times, amplitudes = self._changes()
        steps = np.rint(np.atleast_1d(np.asarray(times, np.float64)) / state.dt).astype(np.int64)
        amplitudes = np.atleast_1d(np.asarray(amplitudes, np.float64))
        steps, last = np.unique(steps[::-1], return_index=True)
        return steps, amplitudes[::-1][last]

    def _build(self, net, cells) -> None:
        steps, amplitudes = self.schedule()
        for parent, indices in _targets(cells):
            net.current(parent.native, amplitudes * 1e-9, steps * state.dt_s, indices=indices)


def amplitude_at(steps: np.ndarray, amplitudes: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The amplitude in force at each step of ``at`` (0 before the first change)."""
    k = np.searchsorted(steps, at, side="right") - 1
    return np.where(k >= 0, np.append(amplitudes, 0.0)[k], 0.0)


def _targets(cells) -> list[tuple[object, list[int]]]:
    """(parent population, indices in it) of the cells a source is injected into."""
    by_parent: dict[int, tuple[object, list[int]]] = {}
    for cell in cells:
        by_parent.setdefault(id(cell.parent), (cell.parent, []))[1].append(int(cell.parent.id_to_index(cell)))
    return list(by_parent.values())


def push_currents() -> None:
    """Rewrite the running network's current table from the current step on, from every source's
    schedule: at the current step each targeted neuron jumps from its present external current
    to the sum of the sources' amplitudes then; the later changes follow."""
    net = state.net
    layout = net.layout
    now = net._step
    total: dict[int, float] = {}
    events: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for source, cells in state.current_sources:
        steps, amplitudes = source.schedule()
        deltas = np.diff(np.concatenate([[0.0], amplitudes])) * 1e-9
        later = steps > now
        in_force = float(amplitude_at(steps, amplitudes, np.array([now]))[0]) * 1e-9
        for parent, indices in _targets(cells):
            ids = parent.native.offset + np.asarray(indices, np.int64)
            for i in ids.tolist():
                total[i] = total.get(i, 0.0) + in_force
            events.append((np.repeat(steps[later], ids.size), np.tile(ids, int(later.sum())),
                           np.repeat(deltas[later], ids.size)))
    ids = np.array(sorted(total), np.int64)
    jump = np.array([total[i] for i in ids]) - layout.state.i_ext[ids]
    step = np.concatenate([np.full(ids.size, now, np.int64)] + [e[0] for e in events])
    who = np.concatenate([ids] + [e[1] for e in events])
    delta = np.concatenate([jump] + [e[2] for e in events])
    order = np.argsort(step, kind="stable")
    drive = layout.drive
    net._layout = layout._replace(drive=drive._replace(
        cur_step=step[order].astype(drive.cur_step.dtype), cur_id=who[order].astype(drive.cur_id.dtype),
        cur_delta=delta[order].astype(drive.cur_delta.dtype)))
    net._layout.rec.counters[CUR_CURSOR] = 0


def _finite_stop(source, name: str) -> float:
    stop = float(source._values["stop"])
    if stop > 1e6:
        raise NotImplementedError(f"neurosim.pynn: {name} is sampled into steps and needs a finite stop (ms)")
    return stop


class DCSource(NativeCurrentSource, electrodes.DCSource):
    __doc__ = electrodes.DCSource.__doc__
    translations = build_translations(("amplitude", "amplitude"), ("start", "start"), ("stop", "stop"))

    def _changes(self):
        v = self._values
        return np.array([v["start"], v["stop"]]), np.array([float(v["amplitude"]), 0.0])


class StepCurrentSource(NativeCurrentSource, electrodes.StepCurrentSource):
    __doc__ = electrodes.StepCurrentSource.__doc__
    translations = build_translations(("amplitudes", "amplitudes"), ("times", "times"))

    def _checked(self, values):
        """Times non-negative and increasing; mapped to the grid, the last amplitude of a step kept."""
        times = np.atleast_1d(values.get("times", np.zeros(0)))
        amplitudes = np.atleast_1d(values.get("amplitudes", np.zeros(0)))
        if np.any(times < 0):
            raise ValueError("StepCurrentSource.times: step current cannot accept negative timestamps")
        if np.any(np.diff(times) <= 0):
            raise ValueError("StepCurrentSource.times: timestamps must be strictly increasing")
        if times.size != amplitudes.size:
            return values  # times and amplitudes are being set one after the other
        steps, last = np.unique(np.rint(times / state.dt).astype(np.int64)[::-1], return_index=True)
        return {**values, "times": steps * state.dt, "amplitudes": amplitudes[::-1][last]}

    def _changes(self):
        return np.atleast_1d(self._values["times"]), np.atleast_1d(self._values["amplitudes"])


class ACSource(NativeCurrentSource, electrodes.ACSource):
    __doc__ = electrodes.ACSource.__doc__
    translations = build_translations(("amplitude", "amplitude"), ("start", "start"), ("stop", "stop"),
                                      ("frequency", "frequency"), ("offset", "offset"), ("phase", "phase"))

    def _changes(self):
        v = self._values
        stop = _finite_stop(self, "ACSource")
        t = np.arange(round(float(v["start"]) / state.dt), round(stop / state.dt)) * state.dt
        phase = 2 * np.pi * v["frequency"] * (t - t[0] if t.size else t) * 1e-3 + np.deg2rad(v["phase"])
        i = v["offset"] + v["amplitude"] * np.sin(phase)
        return np.append(t, stop), np.append(i, 0.0)


class NoisyCurrentSource(NativeCurrentSource, electrodes.NoisyCurrentSource):
    __doc__ = electrodes.NoisyCurrentSource.__doc__
    translations = build_translations(("mean", "mean"), ("start", "start"), ("stop", "stop"), ("stdev", "stdev"),
                                      ("dt", "dt"))

    def _changes(self):
        v = self._values
        stop = _finite_stop(self, "NoisyCurrentSource")
        t = np.arange(float(v["start"]), stop, max(float(v["dt"]), state.dt))
        z = np.random.default_rng(state.seed).standard_normal(t.size)
        return np.append(t, stop), np.append(v["mean"] + v["stdev"] * z, 0.0)
