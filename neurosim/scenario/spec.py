"""Scenario files: reading TOML, ``--set`` overrides, and validation into a resolved config.

A scenario is a TOML file:

    schema_version = 1
    name = "quickstart"
    task = "simulate"                  # a registered task kind
    [model]                            # explicit network (see network_spec) or name = "cuba"
    [simulation]  duration = "1 s", dt = "0.1 ms", backend = "auto", seed = 1, threads = 1
    [[record]]    type = "spikes" | "state" | "rate" | "weights", populations (names or slices "P[0:100]"),
                  variables, indices, interval, connections, merge (spikes of all populations in one monitor)
    [output]      path = "results/quickstart.h5", overwrite = "error" | "overwrite"
    [sweep]       mode = "grid" | "zip" | "random", repeats, samples, params = {"dotted.path" = [...]}

Validation is complete before anything runs: the schema (types, units, unknown keys with
close-match suggestions), then the task's ``prepare`` step (e.g. a dry build of the network).
The resolved config (defaults filled in, quantities in SI) is what gets hashed and stored.
"""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path
from typing import Any

import tomli_w

from neurosim.scenario.network_spec import EXPLICIT_MODEL_FIELDS
from neurosim.scenario.schema import Field, Problem, ScenarioError, list_of, quantity, suggest, table, validate_table
from neurosim.scenario.tasks import tasks

SCHEMA_VERSION = 1
#: tables and lists may nest this deep in a scenario or a --set value (real scenarios use about 6)
MAX_DEPTH = 32
#: TOML type names of the values a --set path may run into
TOML_TYPES = {str: "string", int: "integer", float: "float", bool: "boolean"}


def _model_form(model: dict) -> str | None:
    explicit = [k for k in EXPLICIT_MODEL_FIELDS if k in model]
    if "name" in model and explicit:
        return f"give either name (a named model) or {', '.join(explicit)} (an explicit network), not both"
    if "name" not in model and "populations" not in model:
        return "needs name (a named model such as 'cuba') or populations (an explicit network)"
    if "params" in model and "name" not in model:
        return "params: only valid together with name"
    return None


MODEL = table({"name": Field("str"), "params": table({}, open=True), **EXPLICIT_MODEL_FIELDS}, check=_model_form)

SIMULATION = table({
    "duration": quantity("time", required=True, minimum=0.0, exclusive_minimum=True, maximum=1e6),
    "dt": quantity("time", default=1e-4, minimum=0.0, exclusive_minimum=True, maximum=1.0),
    "backend": Field("str", default="auto"),
    "seed": Field("int", default=0, minimum=0, maximum=2**63 - 1),
    "threads": Field("int", default=1, minimum=1, maximum=4096),
    "precision": Field("str", default="float64", choices=("float64", "float32")),
    "max_memory_gib": Field("float", minimum=0.0, exclusive_minimum=True,
                            doc="memory the network may take (default: what the machine has available)"),
})

RECORD = table({
    "type": Field("str", required=True, choices=("spikes", "state", "rate", "weights")),
    "populations": list_of(Field("str")),
    "connections": list_of(Field("str")),
    "variables": list_of(Field("str"), min_items=1),
    "indices": list_of(Field("int", minimum=0)),
    "interval": quantity("time", minimum=0.0, exclusive_minimum=True),
    "merge": Field("bool", doc="spikes of all populations in one monitor (global neuron ids)"),
})

OUTPUT = table({
    "path": Field("str"),
    "overwrite": Field("str", default="error", choices=("error", "overwrite")),
})

SWEEP = table({
    "mode": Field("str", default="grid", choices=("grid", "zip", "random")),
    "repeats": Field("int", default=1, minimum=1, maximum=100_000),
    "samples": Field("int", minimum=1, maximum=1_000_000),
    "params": table({}, open=True, required=True, check=lambda p: None if p else "needs at least one parameter"),
})

COMMON: dict[str, Field] = {
    "schema_version": Field("int", required=True, choices=(SCHEMA_VERSION,)),
    "name": Field("str", default="scenario",
                  check=lambda s: None if s and all(c.isalnum() or c in "-_." for c in s) else
                  "use letters, digits, '-', '_' and '.' only"),
    "description": Field("str", default=""),
    "task": Field("str", default="simulate"),
    "model": MODEL,
    "simulation": SIMULATION,
    "record": list_of(RECORD),
    "output": OUTPUT,
    "sweep": SWEEP,
}


def _too_deep(value: Any) -> str | None:
    """The dotted path of a value nested deeper than :data:`MAX_DEPTH`, if any (no recursion)."""
    stack: list[tuple[Any, tuple[str, ...]]] = [(value, ())]
    while stack:
        node, where = stack.pop()
        if len(where) > MAX_DEPTH:
            return ".".join(where[:4]) + "..."
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        stack.extend((v, (*where, str(k))) for k, v in items)
    return None


class _TooDeep(ValueError):
    """TOML nested deeper than :data:`MAX_DEPTH` (or than the parser's recursion allows)."""


def _parse(text: str) -> Any:
    """``tomllib.loads(text)``, raising :class:`_TooDeep` for nesting deeper than :data:`MAX_DEPTH`."""
    try:
        data = tomllib.loads(text)
    except RecursionError:
        raise _TooDeep(f"nested more than {MAX_DEPTH} levels deep") from None
    where = _too_deep(data)
    if where:
        raise _TooDeep(f"nested more than {MAX_DEPTH} levels deep (at {where})")
    return data


def read_toml(path: str | Path) -> dict:
    """Parse a scenario file; problems (missing, empty, not TOML) become :class:`ScenarioError`."""
    p = Path(path)
    if p.is_dir():
        raise ScenarioError(f"{p}: is a folder; give a scenario file (.toml)")
    if not p.is_file():
        raise ScenarioError(f"{p}: no such scenario file")
    text = p.read_text(encoding="utf-8-sig", errors="replace")  # -sig: a byte-order mark is not TOML
    try:
        data = _parse(text)
    except _TooDeep as exc:
        raise ScenarioError(f"{p}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{p}: not valid TOML ({exc})") from None
    if not data:
        raise ScenarioError(f"{p}: the scenario file is empty (no keys or tables)")
    return data


def parse_override(assignment: str) -> tuple[list[str], Any]:
    """``"a.b.0.c=VALUE"`` -> (["a", "b", "0", "c"], VALUE parsed as TOML; bare words are strings)."""
    if "=" not in assignment:
        raise ScenarioError(f"--set {assignment!r}: expected dotted.path=value")
    key, raw = assignment.split("=", 1)
    keys = key.strip().split(".")
    if not all(keys):
        raise ScenarioError(f"--set {assignment!r}: empty component in {key!r}")
    if len(keys) > MAX_DEPTH:
        raise ScenarioError(f"--set {assignment!r}: the path is more than {MAX_DEPTH} keys deep")
    try:
        value = _parse(f"v = {raw.strip()}")["v"]
    except _TooDeep:
        raise ScenarioError(f"--set {key}: the value is nested more than {MAX_DEPTH} levels deep") from None
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return keys, value


def set_path(config: dict, keys: list[str], value: Any, label: str) -> None:
    """Set ``config[k0][k1]...`` (integers index lists); intermediate tables are created."""
    node: Any = config
    for depth, k in enumerate(keys[:-1]):
        nxt = keys[depth + 1]
        if isinstance(node, list):
            if not k.isdigit() or int(k) >= len(node):
                raise ScenarioError(f"{label}: {'.'.join(keys[:depth + 1])} is not an index of the list")
            node = node[int(k)]
        elif isinstance(node, dict):
            if k not in node:
                node[k] = [] if nxt.isdigit() else {}
            node = node[k]
        else:
            _not_a_table(label, keys[:depth], node)
    last = keys[-1]
    if isinstance(node, list):
        if not last.isdigit() or int(last) > len(node):
            raise ScenarioError(f"{label}: {'.'.join(keys)} is not an index of the list")
        if int(last) == len(node):
            node.append(value)
        else:
            node[int(last)] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        _not_a_table(label, keys[:-1], node)


def _not_a_table(label: str, keys: list[str], node: Any) -> None:
    kind = TOML_TYPES.get(type(node), type(node).__name__)
    raise ScenarioError(f"{label}: {'.'.join(keys)} is a {kind} ({node!r}), not a table or list")


def root_spec() -> Field:
    """The schema of a scenario: the common tables plus those of every task kind."""
    fields = dict(COMMON)
    for kind in tasks().values():
        for name, f in kind.tables.items():
            fields.setdefault(name, f)
    return table(fields)


def resolve(raw: dict) -> dict:
    """Validate a parsed scenario against the schema of its task; return the resolved config."""
    kinds = tasks()
    task_name = raw.get("task", "simulate")
    problems: list[Problem] = []
    if task_name not in kinds:
        raise ScenarioError([Problem("task", f"unknown task {task_name!r} (known: {', '.join(kinds)})"
                                             f"{suggest(str(task_name), list(kinds))}")])
    kind = kinds[task_name]
    config = validate_table(raw, root_spec(), "", problems)
    for name in kind.required:
        if name not in raw:
            problems.append(Problem(name, f"required by task {task_name!r} but missing"))
    foreign = [n for k in kinds.values() if k is not kind for n in k.tables if n not in kind.tables]
    for name in foreign:
        if name in raw:
            problems.append(Problem(name, f"not used by task {task_name!r}"))
    if problems:
        raise ScenarioError(problems)
    return config


def output_path(config: dict) -> Path:
    """Where a resolved scenario writes its results: ``output.path``, else ``results/<name>.h5``."""
    return Path(config.get("output", {}).get("path") or f"results/{config['name']}.h5")


def config_toml(config: dict) -> str:
    """The resolved config as TOML (stored in results and hashed)."""
    return tomli_w.dumps(config)


def config_hash(config: dict) -> str:
    return hashlib.sha256(config_toml(config).encode()).hexdigest()


def load(path: str | Path, overrides: list[str] = ()) -> dict:
    """Read, override and resolve a scenario (schema-level validation only)."""
    raw = read_toml(path)
    for assignment in overrides:
        keys, value = parse_override(assignment)
        set_path(raw, keys, value, f"--set {assignment}")
    return resolve(raw)
