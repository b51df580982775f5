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

from neurosim.units import parse_quantity

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
            problems.append(Problem(path, f"expected an integer, got {_type_name(value)} {value!r}"))
            return _MISSING
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        problems.append(Problem(path, f"expected a number, got {_type_name(value)} {value!r}"))
        return _MISSING
    return float(value)


def _bounds(value: Any, spec: Field, path: str, problems: list[Problem]) -> None:
    if spec.minimum is not None:
        if value < spec.minimum or (spec.exclusive_minimum and value == spec.minimum):
            op = ">" if spec.exclusive_minimum else ">="
            problems.append(Problem(path, f"must be {op} {spec.minimum:g}, got {value!r}"))
    if spec.maximum is not None and value > spec.maximum:
        problems.append(Problem(path, f"must be <= {spec.maximum:g}, got {value!r}"))


def validate(value: Any, spec: Field, path: str, problems: list[Problem]) -> Any:
    """Check ``value`` against ``spec``; append problems; return the resolved value."""
    kind = spec.kind
    out: Any = value
    if kind == "any":
        return value
    if kind == "union":
        for option in spec.options:
            trial: list[Problem] = []
            out = validate(value, option, path, trial)
            if not trial:
                return out
        problems.append(Problem(path, f"{value!r} is not valid here ({spec.doc or 'see the documentation'})"))
        return _MISSING
    if kind == "str":
        if not isinstance(value, str):
            problems.append(Problem(path, f"expected a string, got {_type_name(value)} {value!r}"))
            return _MISSING
    elif kind == "bool":
        if not isinstance(value, bool):
            problems.append(Problem(path, f"expected true or false, got {_type_name(value)} {value!r}"))
            return _MISSING
    elif kind in ("int", "float"):
        out = _number(value, spec, path, problems)
        if out is _MISSING:
            return out
        _bounds(out, spec, path, problems)
    elif kind == "quantity":
        try:
            out = parse_quantity(value, spec.dim, path)
        except ValueError as exc:
            problems.append(Problem(path, str(exc).removeprefix(f"{path}: ")))
            return _MISSING
        _bounds(out, spec, path, problems)
    elif kind == "list":
        if not isinstance(value, list):
            problems.append(Problem(path, f"expected a list, got {_type_name(value)} {value!r}"))
            return _MISSING
        if len(value) < spec.min_items:
            problems.append(Problem(path, f"needs at least {spec.min_items} entries, got {len(value)}"))
        out = [validate(v, spec.item, f"{path}.{k}", problems) for k, v in enumerate(value)] if spec.item else value
    elif kind == "table":
        if not isinstance(value, dict):
            problems.append(Problem(path, f"expected a table, got {_type_name(value)} {value!r}"))
            return _MISSING
        out = validate_table(value, spec, path, problems)
    else:
        raise ValueError(f"schema: unknown kind {kind!r}")
    if spec.choices is not None and out not in spec.choices:
        choices = ", ".join(repr(c) for c in spec.choices)
        problems.append(Problem(path, f"{value!r} is not one of {choices}{suggest(str(value), [str(c) for c in spec.choices])}"))
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
