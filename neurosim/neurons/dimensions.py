"""Physical dimensions as exponent vectors over the SI base units (m, kg, s, A).

Used to check the units of model equations: a dimension is a small frozen vector, products
add exponents, and the named dimensions of :mod:`neurosim.units` map onto it.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from neurosim.units import _UNIT_TABLE


@dataclass(frozen=True)
class Dim:
    """Exponents of metre, kilogram, second and ampere."""

    m: Fraction = Fraction(0)
    kg: Fraction = Fraction(0)
    s: Fraction = Fraction(0)
    a: Fraction = Fraction(0)

    def __mul__(self, other: Dim) -> Dim:
        return Dim(self.m + other.m, self.kg + other.kg, self.s + other.s, self.a + other.a)

    def __truediv__(self, other: Dim) -> Dim:
        return self * other ** -1

    def __pow__(self, k: Fraction | int) -> Dim:
        k = Fraction(k)
        return Dim(self.m * k, self.kg * k, self.s * k, self.a * k)

    @property
    def dimensionless(self) -> bool:
        return self == DIMENSIONLESS

    def __str__(self) -> str:
        for name, dim in _NAMED.items():
            if dim == self:
                return _SI_SYMBOL[name]
        for name, dim in _NAMED.items():
            if name not in ("dimensionless", "time", "frequency") and dim / _NAMED["time"] == self:
                return f"{_SI_SYMBOL[name]}/s"
        parts = [f"{sym}^{e}" if e != 1 else sym for sym, e in zip(("m", "kg", "s", "A"), (self.m, self.kg, self.s, self.a)) if e]
        return " ".join(parts) or "1"


DIMENSIONLESS = Dim()
_NAMED: dict[str, Dim] = {
    "dimensionless": DIMENSIONLESS,
    "time": Dim(s=Fraction(1)),
    "frequency": Dim(s=Fraction(-1)),
    "current": Dim(a=Fraction(1)),
    "voltage": Dim(Fraction(2), Fraction(1), Fraction(-3), Fraction(-1)),
    "resistance": Dim(Fraction(2), Fraction(1), Fraction(-3), Fraction(-2)),
    "conductance": Dim(Fraction(-2), Fraction(-1), Fraction(3), Fraction(2)),
    "capacitance": Dim(Fraction(-2), Fraction(-1), Fraction(4), Fraction(2)),
}
_SI_SYMBOL = {"dimensionless": "1", "time": "s", "frequency": "Hz", "current": "A", "voltage": "V",
              "resistance": "Ohm", "conductance": "S", "capacitance": "F"}


def named(dimension: str) -> Dim:
    """The :class:`Dim` of a dimension name of :mod:`neurosim.units` (``"voltage"``, ...)."""
    return _NAMED[dimension]


def name_of(dim: Dim) -> str | None:
    """The dimension name of ``dim`` (``"voltage"``), or ``None`` if it has none."""
    return next((n for n, d in _NAMED.items() if d == dim), None)


def unit(symbol: str) -> tuple[float, Dim] | None:
    """SI factor and dimension of a unit symbol (``mV``, ``msecond``, ``nS``), ``None`` if unknown."""
    if symbol in _UNIT_TABLE:
        factor, dim = _UNIT_TABLE[symbol]
        return factor, _NAMED[dim]
    return None


def brian_unit(dim: Dim) -> str:
    """The unit of ``dim`` as Brian2 writes it in an equation (``volt``, ``amp/second``)."""
    names = {"dimensionless": "1", "time": "second", "frequency": "hertz", "current": "amp", "voltage": "volt",
             "resistance": "ohm", "conductance": "siemens", "capacitance": "farad"}
    name = name_of(dim)
    if name is not None:
        return names[name]
    for base in ("voltage", "current", "conductance"):
        if dim * named("time") == named(base):
            return f"{names[base]}/second"
    raise ValueError(f"no Brian2 unit for dimension {dim}")
