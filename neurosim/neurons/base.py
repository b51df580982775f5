"""Shared machinery of neuron models: parameter dataclasses whose class carries the model's description.

A neuron model is a frozen dataclass whose fields are its parameters, each carrying its
physical dimension in ``metadata["dim"]``; its class attribute ``description`` (a
:class:`~neurosim.neurons.description.Description`) says what the model is. Values may be
numbers (SI), unit strings (``"20 ms"``) or per-neuron arrays; ``__post_init__`` converts every
field to SI floats/arrays, validates them and checks the description against the fields, so a
model that exists is a valid model. Every backend derives its code from :attr:`compiled`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy as np

from neurosim.neurons.description import CompiledModel, Description, compile_model
from neurosim.neurons.dimensions import Dim, name_of, named
from neurosim.units import parse_array, show


def quantity(default: Any, dim: str, doc: str = "") -> Any:
    """A dataclass field holding a physical quantity of dimension ``dim``."""
    return dataclasses.field(default=default, metadata={"dim": dim, "doc": doc})


def _values(x: float | np.ndarray) -> np.ndarray:
    return np.atleast_1d(np.asarray(x, dtype=np.float64))


class NeuronModel:
    """Base class of the neuron model dataclasses (``LIF``, ``CubaLIF``, ``AdEx``, ...)."""

    description: ClassVar[Description]

    def __post_init__(self) -> None:
        name = type(self).__name__
        for f in dataclasses.fields(self):
            dim = f.metadata.get("dim")
            if dim is not None:
                value = parse_array(getattr(self, f.name), dim, f"{name}.{f.name}")
                object.__setattr__(self, f.name, value)
        self.validate()
        self.compiled  # checks the description against the fields

    # --- the description and what derives from it -------------------------------------------

    def parameter_dims(self) -> dict[str, Dim]:
        """Dimension of every parameter the equations may read."""
        dims = {f.name: named(f.metadata["dim"]) for f in dataclasses.fields(self) if "dim" in f.metadata}
        dims.update({k: named("dimensionless") for k in self.extra_parameters()})
        return dims

    def model_description(self) -> Description:
        """The class's description, with the integration method and refractory timing the
        instance asks for (if any)."""
        changes = {k: getattr(self, k, "") for k in ("method", "timing")}
        changes = {k: v for k, v in changes.items() if v}
        return dataclasses.replace(type(self).description, **changes) if changes else type(self).description

    @property
    def compiled(self) -> CompiledModel:
        return compile_model(type(self).__name__, self.model_description(), self.parameter_dims())

    @property
    def state_variables(self) -> tuple[str, ...]:
        """Names of the state variables (a monitor may record them), in the engine's row order."""
        return self.compiled.state

    def state_dimension(self, variable: str) -> str | None:
        """The dimension name of a state variable (``"voltage"``, ``"conductance"``, ...; ``None``
        for a dimension without a name)."""
        c = self.compiled
        return name_of(c.state_dims[c.state.index(variable)])

    @property
    def weight_dimension(self) -> str:
        """Physical dimension of a synaptic weight onto this neuron (``"voltage"``, ``"current"``, ``"conductance"``)."""
        return self.compiled.weight_dimension

    @property
    def receptor_targets(self) -> tuple[str, str]:
        """State variable an excitatory / inhibitory synapse adds its weight to."""
        return self.model_description().receptors

    def extra_parameters(self) -> dict[str, float]:
        """Dimensionless parameters derived from non-quantity fields (e.g. ``soft`` from ``reset``)."""
        return {}

    def parameter_values(self, n: int, population: str) -> dict[str, np.ndarray]:
        """Every parameter the equations may read, broadcast to ``n`` neurons (SI, float64)."""
        values = self.per_neuron(n, population)
        values.update({k: np.full(n, float(v)) for k, v in self.extra_parameters().items()})
        return values

    def kernel_rows(self, n: int, dt: float, population: str) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """The runtime rows of :attr:`compiled` for ``n`` neurons and the refractory steps (int32)."""
        values = self.parameter_values(n, population)
        t_ref = values.get("t_ref", np.zeros(n))
        return self.compiled.row_values(values, dt), np.floor(t_ref / dt + 1e-9).astype(np.int32)

    def initial_state(self, v: np.ndarray, population: str) -> dict[str, np.ndarray]:
        """Initial value of every state variable given the membrane potentials ``v``."""
        return self.compiled.initial_state(self.parameter_values(v.shape[0], population), v)

    # --- validation ----------------------------------------------------------------------------

    def _require(self, ok: bool | np.ndarray, field: str, message: str) -> None:
        if not np.all(ok):
            raise ValueError(f"{type(self).__name__}.{field}: {message}")

    def _positive(self, *fields: str) -> None:
        for f in fields:
            v = getattr(self, f)
            self._require(_values(v) > 0, f, f"must be > 0, got {show(v)}")

    def validate(self) -> None:
        """Check the parameters; raise ``ValueError`` naming the bad field.

        Time constants (``tau*``) and capacitances must be positive, ``t_ref`` non-negative;
        models add their own conditions.
        """
        for f in dataclasses.fields(self):
            dim = f.metadata.get("dim")
            if (dim == "time" and f.name.startswith("tau")) or dim == "capacitance":
                self._positive(f.name)
        if hasattr(self, "t_ref"):
            self._require(_values(self.t_ref) >= 0, "t_ref", f"must be >= 0, got {show(self.t_ref)}")

    def _threshold_above_reset(self, v_th: str = "v_th", v_reset: str = "v_reset") -> None:
        th, re_ = getattr(self, v_th), getattr(self, v_reset)
        self._require(_values(th) > _values(re_), v_th,
                      f"threshold {show(th)} V must be above {v_reset} {show(re_)} V")

    def check_size(self, n: int, population: str) -> None:
        """Raise ``ValueError`` if a per-neuron parameter array does not have ``n`` values."""
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if "dim" in f.metadata and np.ndim(value) and np.shape(value) != (n,):
                raise ValueError(f"{type(self).__name__}.{f.name}: has {np.size(value)} values but population "
                                 f"{population!r} has {n} neurons")

    def per_neuron(self, n: int, population: str) -> dict[str, np.ndarray]:
        """Every quantity field broadcast to ``n`` neurons (float64 arrays)."""
        self.check_size(n, population)
        out = {}
        for f in dataclasses.fields(self):
            if "dim" not in f.metadata:
                continue
            value = np.asarray(getattr(self, f.name), dtype=np.float64)
            out[f.name] = np.full(n, float(value)) if value.ndim == 0 else value
        return out
