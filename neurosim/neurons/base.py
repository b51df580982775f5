"""Shared machinery of neuron parameter dataclasses: unit conversion and validation.

A neuron model is a frozen dataclass whose fields carry their physical dimension in
``metadata["dim"]``. Values may be numbers (SI), unit strings (``"20 ms"``) or per-neuron
arrays. ``__post_init__`` converts every field to SI floats/arrays and validates them, so a
model that exists is a valid model.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy as np

from neurosim.units import parse_array, show


def quantity(default: Any, dim: str, doc: str = "") -> Any:
    """A dataclass field holding a physical quantity of dimension ``dim``."""
    return dataclasses.field(default=default, metadata={"dim": dim, "doc": doc})


def _values(x: float | np.ndarray) -> np.ndarray:
    return np.atleast_1d(np.asarray(x, dtype=np.float64))


class NeuronModel:
    """Base class of the neuron parameter dataclasses (``LIF``, ``CubaLIF``)."""

    #: names of the state variables a monitor may record
    state_variables: ClassVar[tuple[str, ...]] = ("v",)
    #: physical dimension of a synaptic weight onto this neuron ("voltage" or "current")
    weight_dimension: ClassVar[str] = "voltage"
    #: state variable an excitatory / inhibitory synapse adds its weight to
    receptor_targets: ClassVar[tuple[str, str]] = ("v", "v")

    def __post_init__(self) -> None:
        name = type(self).__name__
        for f in dataclasses.fields(self):
            dim = f.metadata.get("dim")
            if dim is not None:
                value = parse_array(getattr(self, f.name), dim, f"{name}.{f.name}")
                object.__setattr__(self, f.name, value)
        self.validate()

    def _require(self, ok: bool | np.ndarray, field: str, message: str) -> None:
        if not np.all(ok):
            raise ValueError(f"{type(self).__name__}.{field}: {message}")

    def _positive(self, *fields: str) -> None:
        for f in fields:
            v = getattr(self, f)
            self._require(_values(v) > 0, f, f"must be > 0, got {show(v)}")

    def validate(self) -> None:
        """Check the parameters; raise ``ValueError`` naming the bad field."""
        self._positive("tau_m", "c_m")
        t_ref = getattr(self, "t_ref")
        self._require(_values(t_ref) >= 0, "t_ref", f"must be >= 0, got {show(t_ref)}")
        self._require(
            _values(self.v_th) > _values(self.v_reset),
            "v_th",
            f"threshold {show(self.v_th)} V must be above v_reset {show(self.v_reset)} V",
        )
        if self.reset not in ("hard", "soft"):
            raise ValueError(f"{type(self).__name__}.reset: must be 'hard' or 'soft', got {self.reset!r}")

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
