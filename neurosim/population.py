"""Populations: groups of neurons sharing one neuron model, and spike sources."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neurosim.connectivity.initializers import Initializer
from neurosim.neurons.base import NeuronModel
from neurosim.subgroup import Subgroup
from neurosim.units import parse_array, parse_quantity, show, steps_array


def _check_name(name: str, field_name: str) -> str:
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"{field_name}: must be an identifier-like string, got {show(name)}")
    return name


def _check_size(size: int, field_name: str) -> int:
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size <= 0:
        raise ValueError(f"{field_name}: must be a positive integer, got {show(size)}")
    return int(size)


@dataclass(eq=False)
class Group:
    """Anything that emits spikes: a neuron population or a spike source."""

    network: Any  # the owning Network
    name: str
    size: int
    #: offset of neuron 0 in the network's global spiking index (set at build)
    offset: int = field(default=-1, init=False)

    def __post_init__(self):
        _check_name(self.name, "population.name")
        self.size = _check_size(self.size, f"population.{self.name}.size")

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, key: slice) -> Subgroup:
        """The subgroup of neurons ``key.start .. key.stop-1`` (see :mod:`neurosim.subgroup`)."""
        return Subgroup.of(self, key)

    __iter__ = None  # slicing does not make a group a sequence of neurons

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, size={self.size})"


@dataclass(eq=False, repr=False)
class Population(Group):
    """``size`` neurons of one ``model`` with initial membrane potential ``v_init``.

    ``v_init`` is a value, a per-neuron array or an initialiser such as
    ``Uniform("-60 mV", "-50 mV")`` (default: the model's ``v_rest``). ``initial`` gives other
    state variables their initial values the same way, by name (``{"g_exc": Normal("40 nS",
    "15 nS")}``; default: the model's ``initial`` statements, else 0). ``positions`` gives
    3-D coordinates (for distance-dependent connectors); ``grid=(nx, ny, nz)`` sets them to a
    grid.
    """

    model: NeuronModel | None = None
    v_init: Any = None
    positions: np.ndarray | None = None
    initial: Any = None

    def __post_init__(self):
        super().__post_init__()
        if not isinstance(self.model, NeuronModel):
            raise ValueError(f"population.{self.name}.model: expected a neuron model, got {self.model!r}")
        self.model.check_size(self.size, self.name)
        if self.v_init is not None:
            self.initial_v(np.random.default_rng(0), 0)  # checks units and bounds, draws nothing
        self.initial = dict(self.initial or {})
        for var in self.initial:
            if var == "v" or var not in self.model.state_variables:
                raise ValueError(f"population.{self.name}.initial.{var}: not a state variable of the model other than "
                                 f"v (give v_init for v); state variables: {', '.join(self.model.state_variables)}")
            self.initial_values(var, np.random.default_rng(0), 0)
        if self.positions is not None:
            pos = np.asarray(self.positions, dtype=np.float64)
            if pos.shape != (self.size, 3):
                raise ValueError(
                    f"population.{self.name}.positions: expected shape ({self.size}, 3), got {pos.shape}"
                )
            self.positions = pos

    def state(self, var: str) -> np.ndarray:
        """State variable ``var`` of every neuron now (SI, a copy; builds the layout if needed)."""
        return self.network.layout.state.vars[self._row(var), self.offset:self.offset + self.size].copy()

    def set_state(self, var: str, values: Any) -> None:
        """Set state variable ``var`` (SI: a number or one per neuron, finite) between runs, as
        Brian2's ``group.v = ...``."""
        field_name = f"population.{self.name}.{var}"
        row = self._row(var)
        values = parse_array(values, self.model.state_dimension(var), field_name)
        if np.ndim(values) and np.shape(values) != (self.size,):
            raise ValueError(f"{field_name}: has {np.size(values)} values but the population has {self.size}")
        self.network.layout.state.vars[row, self.offset:self.offset + self.size] = values

    def _row(self, var: str) -> int:
        names = self.model.compiled.state
        if var not in names:
            raise ValueError(f"population.{self.name}.{var}: not a state variable of the model; "
                             f"state variables: {', '.join(names)}")
        return names.index(var)

    def initial_values(self, var: str, rng: np.random.Generator, n: int | None = None) -> np.ndarray:
        """Initial values of state variable ``var`` (SI) from ``initial``; ``n = 0`` only checks."""
        field_name = f"population.{self.name}.initial.{var}"
        n = self.size if n is None else n
        dim = self.model.state_dimension(var)
        value = self.initial[var]
        if isinstance(value, Initializer):
            return value.sample(n, rng, dim, field_name)
        value = parse_array(value, dim, field_name)
        if np.ndim(value) == 0:
            return np.full(n, float(value))
        if np.shape(value) != (self.size,):
            raise ValueError(f"{field_name}: has {np.size(value)} values but the population has {self.size}")
        return np.asarray(value)[:n]

    def initial_v(self, rng: np.random.Generator, n: int | None = None) -> np.ndarray:
        """Initial membrane potentials (V); ``n = 0`` only checks ``v_init`` and draws nothing."""
        field_name = f"population.{self.name}.v_init"
        n = self.size if n is None else n
        if self.v_init is None:
            values = self.model.per_neuron(self.size, self.name)
            if "v_rest" not in values:
                raise ValueError(f"{field_name}: the neuron model has no v_rest to start from; give v_init")
            return values["v_rest"][:n]
        if isinstance(self.v_init, Initializer):
            return self.v_init.sample(n, rng, "voltage", field_name)
        value = parse_array(self.v_init, "voltage", field_name)
        if np.ndim(value) == 0:
            return np.full(n, float(value))
        if np.shape(value) != (self.size,):
            raise ValueError(f"{field_name}: has {np.size(value)} values but the population has {self.size}")
        return np.asarray(value)


@dataclass(eq=False, repr=False)
class PoissonSource(Group):
    """Independent Poisson spike trains of ``rate`` (Hz, scalar or per source) in [start, stop).

    A source spikes at most once per step: in each step of length dt it spikes with
    probability ``rate·dt`` (Brian2's ``PoissonGroup``), so the mean rate is exactly ``rate``.
    ``rate·dt`` must therefore be at most 1; for a stronger drive use more sources.
    """

    rate: Any = 0.0
    start: Any = 0.0
    stop: Any = None

    def __post_init__(self):
        super().__post_init__()
        self.rate = self._checked_rate(self.rate)
        self.start = parse_quantity(self.start, "time", f"population.{self.name}.start")
        self.stop = np.inf if self.stop is None else parse_quantity(self.stop, "time", f"population.{self.name}.stop", allow_inf=True)

    def set_rate(self, rate: Any) -> None:
        """Change the rates (Hz, scalar or one per source) from the next step on, as Brian2's
        ``PoissonGroup.rates = ...`` between runs (e.g. one image after another)."""
        self.rate = self._checked_rate(rate)
        net = self.network
        if net._layout is not None:
            drive = net.layout.drive
            first = int(np.searchsorted(drive.poisson_id, self.offset))
            drive.poisson_p[first:first + self.size] = np.broadcast_to(np.asarray(self.rate) * net.dt, (self.size,))

    def _checked_rate(self, rate: Any) -> Any:
        where = f"population.{self.name}.rate"
        rate = parse_array(rate, "frequency", where)
        if np.any(np.asarray(rate) < 0):
            raise ValueError(f"{where}: must be >= 0")
        top, dt = float(np.max(rate)), self.network.dt
        if top * dt > 1.0:
            raise ValueError(f"{where}: {show(top)} Hz asks for {show(top * dt)} spikes per step "
                             f"of dt = {show(dt)} s, but a source spikes at most once per step (rate·dt <= 1, "
                             f"here rate <= {show(1 / dt)} Hz); use {math.ceil(top * dt)} or more sources of a "
                             "lower rate, or a smaller dt")
        if np.ndim(rate) and np.shape(rate) != (self.size,):
            raise ValueError(f"{where}: has {np.size(rate)} values but size is {self.size}")
        return rate


@dataclass(eq=False, repr=False)
class SpikeSource(Group):
    """Spikes at given ``times`` (s) from sources ``indices`` (Brian's SpikeGeneratorGroup)."""

    times: Any = ()
    indices: Any = ()
    #: the step of every spike time (set on construction)
    steps: np.ndarray = field(init=False, repr=False)

    def __post_init__(self):
        super().__post_init__()
        self.times = np.atleast_1d(parse_array(self.times, "time", f"population.{self.name}.times"))
        self.indices = np.asarray(self.indices, dtype=np.int64).ravel()
        if self.times.shape != self.indices.shape:
            raise ValueError(
                f"population.{self.name}.indices: has {self.indices.size} entries but times has {self.times.size}"
            )
        if self.indices.size and (self.indices.min() < 0 or self.indices.max() >= self.size):
            raise ValueError(f"population.{self.name}.indices: must lie in [0, {self.size})")
        if np.any(self.times < 0):
            raise ValueError(f"population.{self.name}.times: must be >= 0")
        self.steps = steps_array(self.times, self.network.dt, f"population.{self.name}.times")
