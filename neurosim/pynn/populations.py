"""PyNN's Population, PopulationView and Assembly on neurosim.

A population keeps its native parameters (neurosim's names, SI) in ``_parameters`` and its
initial values in PyNN's ``initial_values``; :meth:`Population._build` turns them into one
native population (neuron model with per-neuron parameters, Poisson source or spike
generator) when the network is built. A view is PyNN's index mask on its parent: connections
and recordings through it are resolved to the parent's neurons.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pyNN import common, errors
from pyNN.parameters import LazyArray, ParameterSpace, Sequence, simplify
from pyNN.standardmodels import StandardCellType

from neurosim.engine.layout import GEN_CURSOR, SPIKE_SLACK, spike_slack
from neurosim.network import Network
from neurosim.pynn import simulator
from neurosim.pynn.recording import Recorder
from neurosim.pynn.standardmodels.cells import MS, SpikeSourceArray, SpikeSourcePoisson

state = simulator.state


class Assembly(common.Assembly):
    _simulator = simulator

    @property
    def local_size(self) -> int:
        """All cells are local (one process); PyNN's connectors' progress callback asks for it."""
        return self.size


def _scalar_or_array(values: np.ndarray) -> Any:
    """One value when all neurons share it (the native segment then runs with scalar parameters)."""
    values = np.asarray(values, dtype=np.float64)
    return float(values[0]) if np.all(values == values[0]) else values


def _check_spike_times(trains: Any) -> None:
    """Each source's spike times must be non-negative and in increasing order (PyNN's rule)."""
    for k, train in enumerate(np.atleast_1d(trains)):
        times = np.asarray(train.value if isinstance(train, Sequence) else train, np.float64)
        if times.size and (times.min() < 0 or np.any(np.diff(times) < 0)):
            raise errors.InvalidParameterValueError(f"spike_times of source {k} must be non-negative and in "
                                                    f"increasing order, got {times.tolist()}")


class _Parameters:
    """``get`` / ``set`` of native parameters, shared by populations and views."""

    def _get_parameters(self, *names):
        if any(name in self.celltype.computed_parameters() for name in names):
            native_names = self.celltype.get_native_names()
        else:
            native_names = self.celltype.get_native_names(*names)
        return self.celltype.reverse_translate(self._get_native_parameters(*native_names))


class PopulationView(_Parameters, common.PopulationView):
    _assembly_class = Assembly
    _simulator = simulator

    def _get_native_parameters(self, *names):
        where = self.index_in_grandparent(np.arange(self.size))
        values = {}
        for name in names:
            value = self.grandparent._parameters[name]
            values[name] = simplify(value[where] if isinstance(value, np.ndarray) else value)
        return ParameterSpace(values, shape=(self.size,))

    def _set_parameters(self, parameter_space):
        parameter_space.evaluate(simplify=False)
        if "spike_times" in parameter_space.keys():
            _check_spike_times(parameter_space["spike_times"])
        for name, value in parameter_space.items():
            try:
                self.grandparent._parameters[name][self.index_in_grandparent(np.arange(self.size))] = value
            except ValueError:
                raise errors.InvalidParameterValueError(f"{name} should not be of type {type(value)}")
        self.grandparent._push_parameters()

    def _set_initial_value_array(self, variable, initial_values):
        """The view's neurons' initial values, kept in the top population (and set now if running)."""
        top = self.grandparent
        where = self.index_in_grandparent(np.arange(self.size))
        values = np.broadcast_to(initial_values.evaluate(simplify=False), (self.size,))
        full = top._initial_array(variable).copy()
        full[where] = values
        top._initial_arrays[variable] = full
        top.initial_values[variable] = LazyArray(full, shape=(top.size,), dtype=float)
        top._set_state_now(variable, values, where)

    @property
    def initial_values(self):
        """The view's neurons' initial values (a copy: set them with ``initialize``)."""
        top = self.grandparent
        where = self.index_in_grandparent(np.arange(self.size))
        return {name: LazyArray(top._initial_array(name)[where], shape=(self.size,), dtype=float)
                for name in top.initial_values}

    def _get_view(self, selector, label=None):
        return PopulationView(self, selector, label)


class Population(_Parameters, common.Population):
    __doc__ = common.Population.__doc__
    _simulator = simulator
    _recorder_class = Recorder
    _assembly_class = Assembly

    def _create_cells(self):
        state.structure_changed(f"population {self.label!r}")
        if not isinstance(self.celltype, StandardCellType) or not hasattr(self.celltype, "state_variables"):
            raise NotImplementedError(f"neurosim.pynn: cell type {type(self.celltype).__name__} is not one of "
                                      "neurosim.pynn's standard cell types")
        ids = np.arange(state.id_counter, state.id_counter + self.size)
        self.all_cells = np.array([simulator.ID(i) for i in ids], dtype=simulator.ID)
        self._mask_local = np.ones(self.size, bool)
        parameters = self.celltype.native_parameters
        parameters.shape = (self.size,)
        parameters.evaluate(simplify=False)
        self._parameters = parameters.as_dict()
        if isinstance(self.celltype, SpikeSourceArray):
            _check_spike_times(self._parameters["spike_times"])
        for cell in self.all_cells:
            cell.parent = self
        state.id_counter += self.size
        #: the native group, once the network is built
        self.native: Any = None
        #: initial values (PyNN units), drawn once when initialize() is called
        self._initial_arrays: dict[str, np.ndarray] = {}
        self.index = len(state.populations)
        state.populations.append(self)

    def _get_view(self, selector, label=None):
        return PopulationView(self, selector, label)

    def _get_native_parameters(self, *names):
        return ParameterSpace({name: simplify(self._parameters[name]) for name in names}, shape=(self.size,))

    def _set_parameters(self, parameter_space):
        parameter_space.evaluate(simplify=False)
        if "spike_times" in parameter_space.keys():
            _check_spike_times(parameter_space["spike_times"])
        for name, value in parameter_space.items():
            self._parameters[name] = value
        self._push_parameters()

    def _set_initial_value_array(self, variable, value):
        """Initial values are drawn now, once (random ones as NEST draws them), and apply at the next
        build; once running, they also set the state now (NEST's semantics)."""
        values = np.array(np.broadcast_to(value.evaluate(simplify=False), (self.size,)), dtype=np.float64)
        self._initial_arrays[variable] = values
        self._set_state_now(variable, values, np.arange(self.size))

    def _initial_array(self, variable: str) -> np.ndarray:
        """The initial values of ``variable`` (PyNN units), one per neuron."""
        if variable not in self._initial_arrays:
            value = self.initial_values[variable].evaluate(simplify=False)
            self._initial_arrays[variable] = np.array(np.broadcast_to(value, (self.size,)), dtype=np.float64)
        return self._initial_arrays[variable]

    def _set_state_now(self, variable: str, values: np.ndarray, where: np.ndarray) -> None:
        """Set ``variable`` (PyNN units) of neurons ``where`` in the running network, if there is one."""
        if self.native is None or state.net is None or variable not in self.celltype.state_variables:
            return
        native, scale = self.celltype.state_variables[variable]
        now = self.native.state(native)
        now[where] = np.asarray(values, np.float64) * scale
        self.native.set_state(native, now)

    # ------------------------------------------------------------------ native side
    @property
    def native_name(self) -> str:
        return f"p{self.index}"

    def _native_model(self):
        values = {name: _scalar_or_array(v) for name, v in self._parameters.items()}
        return self.celltype.native_model(**values, **self.celltype.fixed)

    def _initial(self, variable: str) -> np.ndarray:
        """Initial values of ``variable`` in SI."""
        native, scale = self.celltype.state_variables[variable]
        return self._initial_array(variable) * scale

    def _build(self, net: Network) -> None:
        """Add the native group to ``net``."""
        if isinstance(self.celltype, SpikeSourcePoisson):
            self.native = net.poisson_source(self.native_name, self.size, **self._poisson())
        elif isinstance(self.celltype, SpikeSourceArray):
            times, indices = self._spike_times()
            self.native = net.spike_source(self.native_name, self.size, times, indices)
        else:
            names = [v for v in self.initial_values if v in self.celltype.state_variables and v != "v"]
            initial = {self.celltype.state_variables[v][0]: self._initial(v) for v in names}
            self.native = net.population(self.native_name, self.size, self._native_model(),
                                         v_init=self._initial("v"), initial=initial)

    def _poisson(self) -> dict[str, Any]:
        p = self._parameters
        start, duration = (_scalar_or_array(p[k]) for k in ("start", "duration"))
        if isinstance(start, np.ndarray) or isinstance(duration, np.ndarray):
            raise NotImplementedError("neurosim.pynn: SpikeSourcePoisson start and duration must be the same for "
                                      f"every source of {self.label!r}")
        stop = start + duration
        return {"rate": _scalar_or_array(p["rate"]), "start": start, "stop": None if stop > 1e6 else stop}

    def _spike_times(self) -> tuple[np.ndarray, np.ndarray]:
        """All spikes (s, on the time grid: each time rounded to the nearest step) and their sources."""
        trains = [np.asarray(s.value if isinstance(s, Sequence) else s, np.float64) * MS
                  for s in self._parameters["spike_times"]]
        times = np.concatenate(trains) if trains else np.zeros(0)
        indices = np.repeat(np.arange(self.size), [t.size for t in trains])
        steps = np.rint(times / state.dt_s)
        # one spike per source and step (rounding can merge spikes closer than dt)
        key = np.unique(steps.astype(np.int64) * self.size + indices)
        return (key // self.size) * state.dt_s, key % self.size

    def _push_parameters(self) -> None:
        """Write changed parameters into the running network (nothing to do before it is built)."""
        if self.native is None or state.net is None:
            return
        if isinstance(self.celltype, SpikeSourcePoisson):
            self._push_poisson()
        elif isinstance(self.celltype, SpikeSourceArray):
            self._push_spike_times()
        else:
            self._push_model()

    def _push_poisson(self) -> None:
        values = self._poisson()
        if values["start"] != self.native.start or (values["stop"] or np.inf) != self.native.stop:
            raise NotImplementedError("neurosim.pynn: SpikeSourcePoisson start and duration cannot change after "
                                      "run(); call reset() first")
        self.native.set_rate(values["rate"])

    def _push_spike_times(self) -> None:
        """New spike times from now on: the generator's table is replaced, its cursor put at the current step."""
        net = state.net
        times, indices = self._spike_times()
        layout = net.layout
        drive = layout.drive
        mine = (drive.gen_id >= self.native.offset) & (drive.gen_id < self.native.offset + self.size)
        steps = np.rint(times / net.dt).astype(np.int64)
        gen_step = np.concatenate([drive.gen_step[~mine], steps])
        gen_id = np.concatenate([drive.gen_id[~mine], (indices + self.native.offset).astype(drive.gen_id.dtype)])
        order = np.lexsort((gen_id, gen_step))
        net._layout = layout._replace(drive=drive._replace(gen_step=gen_step[order].astype(drive.gen_step.dtype),
                                                           gen_id=gen_id[order]))
        net._layout.rec.counters[GEN_CURSOR] = np.searchsorted(net._layout.drive.gen_step, net._step)
        net._layout.rec.counters[SPIKE_SLACK] = spike_slack(net._layout.drive.gen_step, net._layout.drive.gen_id)

    def _push_model(self) -> None:
        """Recompute the population's runtime rows (parameters, propagators, refractory steps) in the layout."""
        net, group = state.net, self.native
        model = self._native_model()
        layout = net.layout
        rows, ref = model.kernel_rows(self.size, net.dt, group.name)
        a, b = group.offset, group.offset + self.size
        for k, row in enumerate(model.compiled.rows):
            layout.table.params[k, a:b] = rows[row]
        layout.table.ref_steps[a:b] = ref
        shared = int(np.all(layout.table.params[:, a:b] == layout.table.params[:, a:a + 1]) and np.all(ref == ref[0]))
        for segments in (layout.segments, None if layout.parts is None else layout.parts.segments):
            if segments is not None:
                segments[(segments[:, 0] >= a) & (segments[:, 1] <= b), 2] = shared
        group.model = model
