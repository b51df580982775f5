"""Physical units: parse quantities such as ``"20 ms"`` or ``"-65 mV"`` into SI floats.

Everything inside neurosim is SI (seconds, volts, amperes, farads, ohms, siemens, hertz).
Users may write a bare number (taken as SI) or a string ``"<number> <unit>"``; the unit must
have the dimension the field expects, otherwise a ``ValueError`` names the field. NaN and
infinity are never a valid quantity (``allow_inf`` admits ±inf where it has a meaning).
"""

from __future__ import annotations

import math
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
#: Brian2's spelled-out names take prefixes too (msecond, mvolt, pamp, nsiemens, khertz)
for _sym in ("second", "volt", "amp", "farad", "ohm", "siemens", "hertz"):
    for _p, _f in _PREFIXES.items():
        _UNIT_TABLE.setdefault(_p + _sym, (_f, _UNIT_TABLE[_sym][1]))
_UNIT_TABLE["min"] = (60.0, "time")
_UNIT_TABLE["h"] = (3600.0, "time")

#: a number, then optionally a unit, separated by spaces or by Brian2's ``*`` ("20 ms", "20*ms")
_QUANTITY = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(?:\*\s*)?([^\s\d*].*?)?\s*$")


def show(value: Any) -> str:
    """``value`` as a user reads it in a message: numbers with ``:g``, strings quoted, no numpy reprs."""
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return f"{float(value):g}"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, np.ndarray) or isinstance(value, (list, tuple)):
        items = list(np.asarray(value, dtype=object).ravel())
        head = ", ".join(show(v) for v in items[:4])
        return f"[{head}{', ...' if len(items) > 4 else ''}]"
    return str(value)


def check_finite(number: float, field: str, allow_inf: bool = False) -> float:
    """``number`` if it is finite (or ±inf with ``allow_inf``); otherwise a ``ValueError`` naming ``field``."""
    if math.isnan(number) or (math.isinf(number) and not allow_inf):
        raise ValueError(f"{field}: must be a finite number, got {show(number)}")
    return number


def parse_quantity(value: Any, dimension: str, field: str = "value", allow_inf: bool = False) -> float:
    """Return ``value`` in SI units as a float.

    ``value`` is a number (already SI) or a string ``"<number> <unit>"`` whose unit has
    the given ``dimension`` (one of ``time, voltage, current, capacitance, resistance,
    conductance, frequency, dimensionless``). ``field`` names the field in error messages.
    NaN is refused, and so is ±inf unless ``allow_inf``.
    """
    if dimension not in _BASE_UNITS:
        raise ValueError(f"{field}: unknown dimension {dimension!r}")
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{field}: expected a number or a quantity string, got {show(value)}")
    if isinstance(value, (int, float, np.integer, np.floating)):
        return check_finite(float(value), field, allow_inf)
    if not isinstance(value, str):
        raise ValueError(f"{field}: expected a number or a quantity string, got {show(value)}")
    match = _QUANTITY.match(value)
    if match is None:
        raise ValueError(f"{field}: cannot read {value!r} as a quantity such as '20 ms'")
    number, unit = float(match.group(1)), match.group(2)
    if not unit:
        return check_finite(number, field, allow_inf)
    if unit not in _UNIT_TABLE:
        raise ValueError(f"{field}: unknown unit {unit!r} in {value!r}")
    factor, unit_dim = _UNIT_TABLE[unit]
    if unit_dim != dimension:
        raise ValueError(
            f"{field}: {value!r} is a {unit_dim} but a {dimension} is expected"
        )
    return check_finite(number * factor, field, allow_inf)


def finite_array(values: np.ndarray, field: str) -> np.ndarray:
    """``values`` as float64 if every entry is finite; otherwise a ``ValueError`` naming the first bad entry."""
    out = np.asarray(values, dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(out))
    if bad.size:
        raise ValueError(f"{field}[{bad[0]}]: must be a finite number, got {show(out.ravel()[bad[0]])}")
    return out


def parse_array(value: Any, dimension: str, field: str = "value") -> float | np.ndarray:
    """Like :func:`parse_quantity` but also accepts a sequence or array (per-neuron values).

    Returns a float for scalars and a float64 array otherwise; every value must be finite.
    """
    if isinstance(value, (str, int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_)):
        return parse_quantity(value, dimension, field)
    if isinstance(value, np.ndarray) and value.dtype.kind in "fiu":
        return finite_array(value, field)
    if isinstance(value, (list, tuple, np.ndarray)):
        return np.array(
            [parse_quantity(v, dimension, f"{field}[{k}]") for k, v in enumerate(value)],
            dtype=np.float64,
        )
    raise ValueError(f"{field}: expected a number, a quantity string or an array, got {show(value)}")


def dimension_of_quantity(value: Any, field: str = "value") -> str:
    """The dimension name of a quantity: its unit's (``"20 ms"``: time); a bare number is dimensionless."""
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_)):
        return "dimensionless"
    if not isinstance(value, str):
        raise ValueError(f"{field}: expected a number or a quantity string, got {show(value)}")
    match = _QUANTITY.match(value)
    if match is None:
        raise ValueError(f"{field}: cannot read {value!r} as a quantity such as '20 ms'")
    unit = match.group(2)
    if not unit:
        return "dimensionless"
    if unit not in _UNIT_TABLE:
        raise ValueError(f"{field}: unknown unit {unit!r} in {value!r}")
    return _UNIT_TABLE[unit][1]


def dimension_of(unit: str) -> str:
    """The dimension of a unit symbol such as ``"mV"`` (``ValueError`` if unknown)."""
    if unit not in _UNIT_TABLE:
        raise ValueError(f"unknown unit {unit!r}")
    return _UNIT_TABLE[unit][1]


def steps(duration: float, dt: float, field: str = "duration", allow_zero: bool = True) -> int:
    """Number of steps of length ``dt`` in ``duration`` seconds; it must be a whole number."""
    check_finite(duration, field)
    n = duration / dt
    k = int(round(n))
    if abs(n - k) > 1e-6 * max(1.0, abs(n)):
        raise ValueError(f"{field}: {show(duration)} s is not a multiple of dt = {show(dt)} s")
    if k < 0 or (k == 0 and not allow_zero):
        raise ValueError(f"{field}: must be {'>= 0' if allow_zero else '> 0'}, got {show(duration)} s")
    return k


def steps_array(times: np.ndarray, dt: float, field: str) -> np.ndarray:
    """Whole numbers of steps of length ``dt`` in every time of ``times`` (s), as int64."""
    n = np.asarray(times, dtype=np.float64) / dt
    k = np.rint(n)
    bad = np.flatnonzero(np.abs(n - k) > 1e-6 * np.maximum(1.0, np.abs(n)))
    if bad.size:
        raise ValueError(f"{field}: {show(float(times[bad[0]]))} s is not a multiple of dt = {show(dt)} s")
    return k.astype(np.int64)


def active_window(start: Any, stop: Any, field: str) -> tuple[float, float]:
    """``[start, stop)`` in seconds (``stop`` None: open-ended, ``inf``), checked: 0 <= start <= stop."""
    first = parse_quantity(start, "time", f"{field}.start")
    last = math.inf if stop is None else parse_quantity(stop, "time", f"{field}.stop", allow_inf=True)
    if first < 0 or last < first:
        raise ValueError(f"{field}.stop: active in [start, stop) with 0 <= start <= stop, "
                         f"got [{show(first)}, {show(last)}) s")
    return first, last


def window_steps(start: float, stop: float, dt: float) -> tuple[int, int]:
    """The steps of ``[start, stop)``: first step in it, first step after it (``2**62`` for an open end)."""
    last = 2 ** 62 if math.isinf(stop) else math.ceil(stop / dt - 1e-9)
    return math.ceil(start / dt - 1e-9), last
