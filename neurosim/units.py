"""Physical units: parse quantities such as ``"20 ms"`` or ``"-65 mV"`` into SI floats.

Everything inside neurosim is SI (seconds, volts, amperes, farads, ohms, siemens, hertz).
Users may write a bare number (taken as SI) or a string ``"<number> <unit>"``; the unit must
have the dimension the field expects, otherwise a ``ValueError`` names the field.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

#: dimension name -> base SI symbol and accepted aliases
_BASE_UNITS: dict[str, tuple[str, ...]] = {
    "time": ("s", "sec", "second", "seconds"),
    "voltage": ("V", "volt", "volts"),
    "current": ("A", "amp", "ampere", "amperes"),
    "capacitance": ("F", "farad", "farads"),
    "resistance": ("Ohm", "ohm", "Ω"),
    "conductance": ("S", "siemens"),
    "frequency": ("Hz", "hertz"),
    "dimensionless": (),
}

_PREFIXES: dict[str, float] = {
    "p": 1e-12,
    "n": 1e-9,
    "u": 1e-6,
    "µ": 1e-6,
    "μ": 1e-6,
    "m": 1e-3,
    "": 1.0,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
}

_UNIT_TABLE: dict[str, tuple[float, str]] = {}
for _dim, _symbols in _BASE_UNITS.items():
    for _sym in _symbols:
        _UNIT_TABLE[_sym] = (1.0, _dim)
        if len(_sym) <= 3:  # prefixes only on short symbols (ms, mV, pA ...), not on "second"
            for _p, _f in _PREFIXES.items():
                _UNIT_TABLE.setdefault(_p + _sym, (_f, _dim))
_UNIT_TABLE["min"] = (60.0, "time")
_UNIT_TABLE["h"] = (3600.0, "time")

_QUANTITY = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([^\s\d].*?)?\s*$")


def parse_quantity(value: Any, dimension: str, field: str = "value") -> float:
    """Return ``value`` in SI units as a float.

    ``value`` is a number (already SI) or a string ``"<number> <unit>"`` whose unit has
    the given ``dimension`` (one of ``time, voltage, current, capacitance, resistance,
    conductance, frequency, dimensionless``). ``field`` names the field in error messages.
    """
    if dimension not in _BASE_UNITS:
        raise ValueError(f"{field}: unknown dimension {dimension!r}")
    if isinstance(value, bool):
        raise ValueError(f"{field}: expected a number or a quantity string, got {value!r}")
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"{field}: expected a number or a quantity string, got {value!r}")
    match = _QUANTITY.match(value)
    if match is None:
        raise ValueError(f"{field}: cannot read {value!r} as a quantity such as '20 ms'")
    number, unit = float(match.group(1)), match.group(2)
    if not unit:
        return number
    if unit not in _UNIT_TABLE:
        raise ValueError(f"{field}: unknown unit {unit!r} in {value!r}")
    factor, unit_dim = _UNIT_TABLE[unit]
    if unit_dim != dimension:
        raise ValueError(
            f"{field}: {value!r} is a {unit_dim} but a {dimension} is expected"
        )
    return number * factor


def parse_array(value: Any, dimension: str, field: str = "value") -> float | np.ndarray:
    """Like :func:`parse_quantity` but also accepts a sequence or array (per-neuron values).

    Returns a float for scalars and a float64 array otherwise.
    """
    if isinstance(value, (str, int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return parse_quantity(value, dimension, field)
    if isinstance(value, np.ndarray) and value.dtype.kind in "fiu":
        return value.astype(np.float64)
    if isinstance(value, (list, tuple, np.ndarray)):
        return np.array(
            [parse_quantity(v, dimension, f"{field}[{k}]") for k, v in enumerate(value)],
            dtype=np.float64,
        )
    raise ValueError(f"{field}: expected a number, a quantity string or an array, got {value!r}")


def dimension_of(unit: str) -> str:
    """The dimension of a unit symbol such as ``"mV"`` (``ValueError`` if unknown)."""
    if unit not in _UNIT_TABLE:
        raise ValueError(f"unknown unit {unit!r}")
    return _UNIT_TABLE[unit][1]


def steps(duration: float, dt: float, field: str = "duration", allow_zero: bool = True) -> int:
    """Number of steps of length ``dt`` in ``duration`` seconds; it must be a whole number."""
    n = duration / dt
    k = int(round(n))
    if abs(n - k) > 1e-6 * max(1.0, abs(n)):
        raise ValueError(f"{field}: {duration!r} s is not a multiple of dt = {dt!r} s")
    if k < 0 or (k == 0 and not allow_zero):
        raise ValueError(f"{field}: must be {'>= 0' if allow_zero else '> 0'}, got {duration!r} s")
    return k
