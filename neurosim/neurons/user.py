"""A neuron model its user writes: equations, threshold, reset and parameters with units.

    model = EquationModel(
        name="adaptive",
        equations='''
            dv/dt = (v_rest - v)/tau + i_ext/c - w/c : volt
            dw/dt = -w/tau_w : amp
        ''',
        threshold="v >= v_th", reset="v = v_rest; w += b", refractory="v = v_rest",
        parameters={"v_rest": "-65 mV", "tau": "10 ms", "c": "100 pF", "tau_w": "100 ms",
                    "v_th": "-50 mV", "b": "20 pA", "t_ref": "2 ms"},
        method="exact",
    )

A parameter's dimension is the one of the unit it is given with (a bare number is
dimensionless; a per-neuron list takes the unit of its entries, which must agree). The model is
checked on construction like a built-in one: unknown symbols and inconsistent units raise a
``ValueError`` naming them. ``t_ref`` (if given) is the refractory period; ``v_rest`` (if
given) the default initial ``v``. It runs on every backend with the built-ins' guarantees.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from neurosim.neurons.base import NeuronModel, _values
from neurosim.neurons.description import Description
from neurosim.neurons.dimensions import Dim, named
from neurosim.units import dimension_of_quantity, parse_array, show


def _dimension(value: Any, where: str) -> str:
    """The dimension name of a parameter value (its unit's; ``dimensionless`` for bare numbers)."""
    items = list(value) if isinstance(value, (list, tuple, np.ndarray)) else [value]
    if not items:
        raise ValueError(f"{where}: needs at least one value")
    dims = {dimension_of_quantity(v, where) for v in items}
    if len(dims) > 1:
        raise ValueError(f"{where}: per-neuron values in different units ({', '.join(sorted(dims))})")
    return dims.pop()


@dataclass(frozen=True, eq=False)
class EquationModel(NeuronModel):
    """A neuron model given by its equations (see the module docstring)."""

    name: str
    equations: str
    threshold: str
    parameters: Mapping[str, Any] = field(default_factory=dict)
    reset: str = ""
    refractory: str = ""
    initial: str = ""
    method: str = "exact"
    receptors: tuple[str, str] = ("v", "v")
    timing: str = "grid"
    _dims: dict = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise ValueError(f"EquationModel.name: must be an identifier-like string, got {show(self.name)}")
        for key in ("equations", "threshold", "reset", "refractory", "initial", "method", "timing"):
            if not isinstance(getattr(self, key), str):
                raise ValueError(f"{self.name}.{key}: must be a string, got {show(getattr(self, key))}")
        receptors = tuple(self.receptors) if isinstance(self.receptors, (list, tuple)) else (self.receptors,) * 2
        if len(receptors) != 2 or not all(isinstance(r, str) for r in receptors):
            raise ValueError(f"{self.name}.receptors: expected two state variable names (excitatory, inhibitory), "
                             f"got {show(self.receptors)}")
        object.__setattr__(self, "receptors", receptors)
        if not isinstance(self.parameters, Mapping):
            raise ValueError(f"{self.name}.parameters: expected a table of name = value, got {show(self.parameters)}")
        values, dims = {}, {}
        for key, value in self.parameters.items():
            where = f"{self.name}.parameters.{key}"
            if not str(key).isidentifier():
                raise ValueError(f"{where}: not a valid name")
            dims[key] = _dimension(value, where)
            values[key] = parse_array(value, dims[key], where)
        object.__setattr__(self, "parameters", values)
        object.__setattr__(self, "_dims", dims)
        self.validate()
        self.compiled  # checks the description against the parameters

    def model_description(self) -> Description:
        return Description(equations=self.equations, threshold=self.threshold, reset=self.reset,
                           refractory=self.refractory, initial=self.initial, method=self.method,
                           receptors=self.receptors, timing=self.timing)

    @property
    def compiled(self):
        from neurosim.neurons.description import compile_model
        return compile_model(self.name, self.model_description(), self.parameter_dims())

    def parameter_dims(self) -> dict[str, Dim]:
        return {k: named(d) for k, d in self._dims.items()}

    def validate(self) -> None:
        if "t_ref" in self.parameters:
            if self._dims["t_ref"] != "time":
                raise ValueError(f"{self.name}.parameters.t_ref: the refractory period must be a time, "
                                 f"got a {self._dims['t_ref']}")
            self._require(_values(self.parameters["t_ref"]) >= 0, "parameters.t_ref", "must be >= 0")

    def _require(self, ok: bool | np.ndarray, field_name: str, message: str) -> None:
        if not np.all(ok):
            raise ValueError(f"{self.name}.{field_name}: {message}")

    def check_size(self, n: int, population: str) -> None:
        for key, value in self.parameters.items():
            if np.ndim(value) and np.shape(value) != (n,):
                raise ValueError(f"{self.name}.parameters.{key}: has {np.size(value)} values but population "
                                 f"{population!r} has {n} neurons")

    def per_neuron(self, n: int, population: str) -> dict[str, np.ndarray]:
        self.check_size(n, population)
        return {k: np.full(n, float(v)) if np.ndim(v) == 0 else np.asarray(v, np.float64)
                for k, v in self.parameters.items()}
