"""Weight and delay initialisers: constant, uniform, normal (optionally clipped).

Values are numbers (SI) or unit strings; the dimension is set by the use (a weight onto a
``CubaLIF`` is a current, onto a ``LIF`` a voltage; a delay is a time).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from neurosim.units import parse_quantity, show


class Initializer:
    """Base class: ``sample(n, rng, dimension, field)`` returns ``n`` SI values."""

    def sample(self, n: int, rng: np.random.Generator, dimension: str, field: str) -> np.ndarray:
        raise NotImplementedError


@dataclass(frozen=True)
class Constant(Initializer):
    """Every synapse gets ``value``."""

    value: Any

    def sample(self, n, rng, dimension, field):
        return np.full(n, parse_quantity(self.value, dimension, field))


@dataclass(frozen=True)
class Uniform(Initializer):
    """Values drawn uniformly from ``[low, high)``."""

    low: Any
    high: Any

    def sample(self, n, rng, dimension, field):
        lo = parse_quantity(self.low, dimension, f"{field}.low")
        hi = parse_quantity(self.high, dimension, f"{field}.high")
        if hi < lo:
            raise ValueError(f"{field}.high: {show(self.high)} is below low {show(self.low)}")
        return rng.uniform(lo, hi, size=n)


@dataclass(frozen=True)
class Normal(Initializer):
    """Values drawn from N(mean, std), clipped to ``[low, high]`` when those are given."""

    mean: Any
    std: Any
    low: Any = None
    high: Any = None

    def sample(self, n, rng, dimension, field):
        mu = parse_quantity(self.mean, dimension, f"{field}.mean")
        sd = parse_quantity(self.std, dimension, f"{field}.std")
        if sd < 0:
            raise ValueError(f"{field}.std: must be >= 0, got {show(self.std)}")
        values = rng.normal(mu, sd, size=n)
        lo = -np.inf if self.low is None else parse_quantity(self.low, dimension, f"{field}.low", allow_inf=True)
        hi = np.inf if self.high is None else parse_quantity(self.high, dimension, f"{field}.high", allow_inf=True)
        if hi < lo:
            raise ValueError(f"{field}.high: {show(self.high)} is below low {show(self.low)}")
        return np.clip(values, lo, hi)


@dataclass(frozen=True)
class Redrawn(Normal):
    """Normal values with those outside ``[low, high]`` redrawn (NEST's ``redraw``), not clipped."""

    def sample(self, n, rng, dimension, field):
        super().sample(0, rng, dimension, field)  # checks units, std >= 0 and low <= high
        mu, sd = parse_quantity(self.mean, dimension, f"{field}.mean"), parse_quantity(self.std, dimension, f"{field}.std")
        lo = -np.inf if self.low is None else parse_quantity(self.low, dimension, f"{field}.low")
        hi = np.inf if self.high is None else parse_quantity(self.high, dimension, f"{field}.high")
        mass = 1.0 if sd == 0 and lo <= mu <= hi else 0.0 if sd == 0 else \
            0.5 * (math.erf((hi - mu) / (sd * math.sqrt(2))) - math.erf((lo - mu) / (sd * math.sqrt(2))))
        if mass < 1e-3:
            raise ValueError(f"{field}: fewer than 1 in 1000 draws of N({show(self.mean)}, {show(self.std)}) lie within "
                             f"[{show(self.low)}, {show(self.high)}]; redrawing the others would not end")
        values = rng.normal(mu, sd, size=n)
        bad = np.flatnonzero((values < lo) | (values > hi))
        while bad.size:
            values[bad] = rng.normal(mu, sd, size=bad.size)
            bad = bad[(values[bad] < lo) | (values[bad] > hi)]
        return values


def as_initializer(value: Any) -> Initializer:
    """Numbers and unit strings become :class:`Constant`; initialisers pass through."""
    if isinstance(value, Initializer):
        return value
    if isinstance(value, (int, float, str, np.integer, np.floating)) and not isinstance(value, bool):
        return Constant(value)
    raise ValueError(f"expected a value, a unit string or an initialiser, got {show(value)}")
