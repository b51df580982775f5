"""A small declarative schema for scenario tables: types, units, defaults, unknown keys.

``validate(data, spec)`` checks a parsed TOML value against a :class:`Field` tree and
returns the resolved value (defaults filled in, ints widened to floats where floats are
expected, quantities converted to SI floats). Every problem is collected as a
:class:`Problem` with the dotted path of the bad field, so the user sees all of them at once.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any, Callable

from neurosim.units import check_finite, parse_quantity, show

_MISSING = object()


@dataclass(frozen=True)
class Problem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ScenarioError(ValueError):
    """A scenario is invalid; ``problems`` lists every bad field."""

    def __init__(self, problems: list[Problem] | str):
        self.problems = [Problem("", problems)] if isinstance(problems, str) else list(problems)
        super().__init__("; ".join(str(p) for p in self.problems))


@dataclass(frozen=True)
class Field:
    """Specification of one value.

    ``kind``: ``str``, ``int``, ``float``, ``bool``, ``quantity`` (number or unit string of
    dimension ``dim``, resolved to SI), ``list`` (items checked by ``item``), ``table``
    (keys checked by ``fields``; ``open=True`` keeps unknown keys), ``any``, or ``union``
    (the first of ``options`` that accepts the value). ``check`` may return an error message.
    Numbers must be finite; ``allow_inf`` admits ±inf where it has a meaning (e.g. β = inf for
    zero temperature).
    """

    kind: str
    required: bool = False
    default: Any = _MISSING
    dim: str | None = None
    choices: tuple | None = None
    minimum: float | None = None
    exclusive_minimum: bool = False
    maximum: float | None = None
    item: "Field | None" = None
    fields: dict[str, "Field"] = field(default_factory=dict)
    open: bool = False
    options: tuple["Field", ...] = ()
    check: Callable[[Any], str | None] | None = None
    min_items: int = 0
    allow_inf: bool = False
    doc: str = ""

    @property
    def has_default(self) -> bool:
        return self.default is not _MISSING


def table(fields: dict[str, Field], **kw: Any) -> Field:
    return Field("table", fields=fields, **kw)


def list_of(item: Field, **kw: Any) -> Field:
    return Field("list", item=item, **kw)


def quantity(dim: str, **kw: Any) -> Field:
    return Field("quantity", dim=dim, **kw)


def _type_name(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
            dict: "a table"}.get(type(value), type(value).__name__)


def suggest(name: str, candidates: list[str]) -> str:
    """`` did you mean 'x'?`` for the closest candidate, or an empty string."""
    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _number(value: Any, spec: Field, path: str, problems: list[Problem]) -> Any:
    if spec.kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(Problem(path, f"expected an integer, got {_type_name(value)} {show(value)}"))
            return _MISSING
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        problems.append(Problem(path, f"expected a number, got {_type_name(value)} {show(value)}"))
        return _MISSING
    try:
        return check_finite(float(value), path, spec.allow_inf)
    except ValueError as exc:
        problems.append(Problem(path, str(exc).removeprefix(f"{path}: ")))
        return _MISSING


def _bounds(value: Any, spec: Field, path: str, problems: list[Problem]) -> None:
    if spec.minimum is not None:
        if value < spec.minimum or (spec.exclusive_minimum and value == spec.minimum):
            op = ">" if spec.exclusive_minimum else ">="
            problems.append(Problem(path, f"must be {op} {spec.minimum:g}, got {show(value)}"))
    if spec.maximum is not None and value > spec.maximum:
        problems.append(Problem(path, f"must be <= {spec.maximum:g}, got {show(value)}"))


_ACCEPTS = {"float": (int, float), "int": (int,), "quantity": (int, float, str), "str": (str,), "list": (list,),
            "table": (dict,), "bool": (bool,)}


def _accepts_type(spec: Field, value: Any) -> bool:
    """True if ``spec`` takes values of ``value``'s type (so its complaint is the one to show)."""
    if spec.kind == "union":
        return any(_accepts_type(option, value) for option in spec.options)
    return isinstance(value, _ACCEPTS.get(spec.kind, ())) and (spec.kind == "bool") == isinstance(value, bool)


def _union(value: Any, spec: Field, path: str, problems: list[Problem]) -> Any:
    """The first option that accepts ``value``; else the problems of the closest option of its type."""
    closest: list[Problem] | None = None
    for option in spec.options:
        trial: list[Problem] = []
        out = validate(value, option, path, trial)
        if not trial:
            return out
        if _accepts_type(option, value) and (closest is None or len(trial) < len(closest)):
            closest = trial
    problems.extend(closest or [Problem(path, f"{show(value)} is not valid here "
                                              f"({spec.doc or 'see the documentation'})")])
    return _MISSING


def validate(value: Any, spec: Field, path: str, problems: list[Problem]) -> Any:
    """Check ``value`` against ``spec``; append problems; return the resolved value."""
    kind = spec.kind
    out: Any = value
    if kind == "any":
        return value
    if kind == "union":
        return _union(value, spec, path, problems)
    if kind == "str":
        if not isinstance(value, str):
            problems.append(Problem(path, f"expected a string, got {_type_name(value)} {show(value)}"))
            return _MISSING
    elif kind == "bool":
        if not isinstance(value, bool):
            problems.append(Problem(path, f"expected true or false, got {_type_name(value)} {show(value)}"))
            return _MISSING
    elif kind in ("int", "float"):
        out = _number(value, spec, path, problems)
        if out is _MISSING:
            return out
        _bounds(out, spec, path, problems)
    elif kind == "quantity":
        try:
            out = parse_quantity(value, spec.dim, path, spec.allow_inf)
        except ValueError as exc:
            problems.append(Problem(path, str(exc).removeprefix(f"{path}: ")))
            return _MISSING
        _bounds(out, spec, path, problems)
    elif kind == "list":
        if not isinstance(value, list):
            problems.append(Problem(path, f"expected a list, got {_type_name(value)}"))
            return _MISSING
        if len(value) < spec.min_items:
            problems.append(Problem(path, f"needs at least {spec.min_items} entries, got {len(value)}"))
        out = [validate(v, spec.item, f"{path}.{k}", problems) for k, v in enumerate(value)] if spec.item else value
    elif kind == "table":
        if not isinstance(value, dict):
            problems.append(Problem(path, f"expected a table, got {_type_name(value)} {show(value)}"))
            return _MISSING
        out = validate_table(value, spec, path, problems)
    else:
        raise ValueError(f"schema: unknown kind {kind!r}")
    if spec.choices is not None and out not in spec.choices:
        choices = ", ".join(repr(c) for c in spec.choices)
        problems.append(Problem(path, f"{show(value)} is not one of {choices}{suggest(str(value), [str(c) for c in spec.choices])}"))
    if spec.check is not None and out is not _MISSING:
        message = spec.check(out)
        if message:
            problems.append(Problem(path, message))
    return out


def validate_table(data: dict, spec: Field, path: str, problems: list[Problem]) -> dict:
    prefix = f"{path}." if path else ""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key in spec.fields:
            resolved = validate(value, spec.fields[key], prefix + key, problems)
            if resolved is not _MISSING:
                out[key] = resolved
        elif spec.open:
            out[key] = value
        else:
            problems.append(Problem(prefix + key, f"unknown key{suggest(key, list(spec.fields))}"))
    for key, f in spec.fields.items():
        if key in data:
            continue
        if f.required:
            problems.append(Problem(prefix + key, "required but missing"))
        elif f.has_default:
            out[key] = f.default
    return out
