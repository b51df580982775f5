"""PyNN's Projection on neurosim: PyNN's connectors choose the synapses, neurosim runs them.

PyNN's connector calls :meth:`Projection._convergent_connect` once per target with the
sources and their weights and delays (PyNN units); the projection keeps them as arrays, in
PyNN's order. At build, the synapses between each pair of native populations (a projection
between assemblies or views may span several) become one native connection of explicit
pairs (:class:`~neurosim.connectivity.connectors.FromArrays`) in SI: weights times the target
cell type's ``weight_scale``, delays rounded to whole steps. ``receptor_type`` 'excitatory'
and 'inhibitory' are the native receptors ``exc`` and ``inh``. Weights read after a run are
the native ones (learned, for STDP).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pyNN import common
from pyNN.connectors import MapConnector
from pyNN.space import Space

from neurosim.connectivity.connectors import FromArrays
from neurosim.pynn import simulator
from neurosim.pynn.standardmodels.synapses import StaticSynapse

state = simulator.state
RECEPTORS = {"excitatory": "exc", "inhibitory": "inh"}


def _connect(connector, projection) -> None:
    """``connector.connect(projection)``, with the columns of a one-source map made 1-D: PyNN 0.13's
    ``MapConnector`` calls ``nonzero()`` on them, which NumPy 2 refuses for 0-d arrays."""
    if not isinstance(connector, MapConnector):
        connector.connect(projection)
        return
    standard = connector._standard_connect

    def one_dimensional(proj, columns, distance_map=None):
        def wrapped(*args, **kwargs):
            for column in columns(*args, **kwargs):
                yield np.atleast_1d(column) if isinstance(column, (np.generic, np.ndarray)) else column
        return standard(proj, wrapped, distance_map)

    connector._standard_connect = one_dimensional
    try:
        connector.connect(projection)
    finally:
        del connector._standard_connect


class Connection(common.Connection):
    """Connection ``k`` of a projection: indices in its pre and post, weight (nA / µS / mV) and
    delay (ms), read and written through the projection."""

    def __init__(self, projection: "Projection", k: int):
        self.projection, self.k = projection, k
        self.presynaptic_index = int(projection._pre[k])
        self.postsynaptic_index = int(projection._post[k])

    @property
    def weight(self) -> float:
        return float(self.projection._current_weights()[self.k])

    @weight.setter
    def weight(self, value: float) -> None:
        weights = self.projection._current_weights().copy()
        weights[self.k] = value
        self.projection._store("weight", weights)

    @property
    def delay(self) -> float:
        return float(self.projection._delay[self.k])

    @delay.setter
    def delay(self, value: float) -> None:
        delays = self.projection._delay.copy()
        delays[self.k] = value
        self.projection._store("delay", delays)

    def as_tuple(self, *names):
        return tuple(getattr(self, name) for name in names)


class Projection(common.Projection):
    __doc__ = common.Projection.__doc__
    _simulator = simulator
    _static_synapse_class = StaticSynapse

    def __init__(self, presynaptic_population, postsynaptic_population, connector, synapse_type=None,
                 source=None, receptor_type=None, space=Space(), label=None):
        state.structure_changed("a projection")
        common.Projection.__init__(self, presynaptic_population, postsynaptic_population, connector, synapse_type,
                                   source, receptor_type, space, label)
        if self.receptor_type not in RECEPTORS:
            raise NotImplementedError(f"neurosim.pynn: receptor_type {self.receptor_type!r}: neurosim has the "
                                      "receptors 'excitatory' and 'inhibitory'")
        self._parts: dict[str, list[np.ndarray]] = {"pre": [], "post": [], "weight": [], "delay": []}
        _connect(connector, self)
        parts = {name: np.concatenate(arrays) if arrays else np.zeros(0) for name, arrays in self._parts.items()}
        del self._parts
        #: the connections, in PyNN's order: indices in pre and post, weights and delays (PyNN units)
        self._pre, self._post = parts["pre"].astype(np.int64), parts["post"].astype(np.int64)
        self._weight, self._delay = parts["weight"], parts["delay"]
        #: (native projection, positions of its synapses in this projection's arrays in CSR order, weight scale)
        self._native: list[tuple[Any, np.ndarray, float]] = []
        state.projections.append(self)

    def __len__(self) -> int:
        return int(self._pre.size)

    def __getitem__(self, i: int) -> Connection:
        return Connection(self, i)

    @property
    def connections(self):
        return (Connection(self, k) for k in range(len(self)))

    def _convergent_connect(self, presynaptic_indices, postsynaptic_index, location_selector=None,
                            **connection_parameters):
        if location_selector is not None:
            raise NotImplementedError("neurosim.pynn: neurosim has point neurons only (no location_selector)")
        pre = np.atleast_1d(np.asarray(presynaptic_indices, dtype=np.int64))
        self._parts["pre"].append(pre)
        self._parts["post"].append(np.full(pre.size, int(postsynaptic_index), np.int64))
        for name in ("weight", "delay"):
            value = np.asarray(connection_parameters[name], dtype=np.float64)
            self._parts[name].append(np.broadcast_to(value, pre.shape).copy())

    # ------------------------------------------------------------------ native side
    def _build(self, net) -> None:
        """One native connection per (pre population, post population) pair the synapses join."""
        self._native = []
        post_cells = self.post.all_cells.astype(np.int64)
        pre_ids, post_ids = self.pre.all_cells.astype(np.int64)[self._pre], post_cells[self._post]
        firsts = np.array([int(p.first_id) for p in state.populations])
        pre_pop = np.searchsorted(firsts, pre_ids, "right") - 1
        post_pop = np.searchsorted(firsts, post_ids, "right") - 1
        scale = self.post.celltype.weight_scale if not isinstance(self.post, common.Assembly) \
            else self.post.populations[0].celltype.weight_scale
        plasticity = self.synapse_type.native_plasticity(scale)
        dt = state.dt
        delay_steps = np.rint(self._delay / dt)
        if np.any(delay_steps < 0):
            raise ValueError(f"projection {self.label}: delays must be >= 0 ms")
        for a, b in sorted(set(zip(pre_pop.tolist(), post_pop.tolist()))):
            where = np.flatnonzero((pre_pop == a) & (post_pop == b))
            src, tgt = state.populations[a], state.populations[b]
            i = pre_ids[where] - int(src.first_id)
            j = post_ids[where] - int(tgt.first_id)
            connector = FromArrays(i, j, self._weight[where] * scale, delay_steps[where] * state.dt_s)
            name = f"c{state.projections.index(self)}_{a}_{b}"
            native = net.connect(src.native, tgt.native, connector, receptor=RECEPTORS[self.receptor_type],
                                 name=name, plasticity=plasticity)
            self._native.append((native, where[np.lexsort((j, i))], scale))

    def _current_weights(self) -> np.ndarray:
        """Weights in PyNN units: the native ones (learned) once the network runs, else as set."""
        if state.net is None or not self._native:
            return self._weight
        weights = self._weight.copy()
        for native, positions, scale in self._native:
            weights[positions] = native.weights / scale
        return weights

    def _set_attributes(self, parameter_space):
        parameter_space.evaluate()
        for name, value in parameter_space.items():
            if name not in ("weight", "delay"):
                raise NotImplementedError(f"neurosim.pynn: setting {name!r} of a projection is not supported")
            self._store(name, np.asarray(value, np.float64)[self._pre, self._post])

    def _store(self, name: str, values: np.ndarray) -> None:
        """New weights or delays (PyNN units, one per connection), into the native network if it runs."""
        if name == "delay":
            if state.net is not None:
                raise NotImplementedError("neurosim.pynn: delays cannot change after run(); call reset() first")
            self._delay = values
            return
        self._weight = values
        if state.net is not None:
            for native, positions, scale in self._native:
                native.set_weights(values[positions] * scale)

    def _columns(self) -> dict[str, np.ndarray]:
        """Every readable attribute, one value per connection: indices, weight, delay, and the
        synapse type's other (homogeneous) parameters such as STDP's A_plus."""
        n = len(self)
        columns = {"presynaptic_index": self._pre, "postsynaptic_index": self._post,
                   "weight": self._current_weights(), "delay": self._delay}
        for name, value in self.synapse_type.native_parameters.items():
            if name not in columns and value.is_homogeneous:
                value.shape = (1,)
                columns[name] = np.full(n, float(np.atleast_1d(value.evaluate(simplify=True))[0]))
        return columns

    def _get_attributes_as_list(self, names):
        columns = self._columns()
        for name in names:
            if name not in columns:
                raise NotImplementedError(f"neurosim.pynn: reading {name!r} of a projection is not supported")
        return list(zip(*(columns[name].tolist() for name in names)))

    def _get_attributes_as_arrays(self, names, multiple_synapses="sum"):
        operation = {"sum": np.add.at, "min": np.minimum.at, "max": np.maximum.at}
        columns = self._columns()
        out = []
        for name in names:
            if name not in columns:
                raise NotImplementedError(f"neurosim.pynn: reading {name!r} of a projection is not supported")
            if multiple_synapses in operation:
                fill = {"sum": 0.0, "min": np.inf, "max": -np.inf}[multiple_synapses]
                array = np.full((self.pre.size, self.post.size), fill)
                operation[multiple_synapses](array, (self._pre, self._post), columns[name])
            else:  # first / last
                order = slice(None, None, -1) if multiple_synapses == "first" else slice(None)
                array = np.full((self.pre.size, self.post.size), np.nan)
                array[self._pre[order], self._post[order]] = columns[name][order]
            missing = np.ones((self.pre.size, self.post.size), bool)
            missing[self._pre, self._post] = False
            array[missing] = np.nan
            out.append(array)
        return out
