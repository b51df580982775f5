"""The one description of a neuron model, and what every backend derives from it.

A :class:`Description` says what the model is: its equations (with units), threshold, reset,
what refractoriness clamps, initial values, the integration method and which variable a
synaptic spike increments. :func:`compile_model` checks it against the model's parameters
(unknown symbols and inconsistent units are refused, naming them) and derives a
:class:`CompiledModel`: the Python source of one step, which the NumPy reference, the numba
and numba.cuda kernels and the torch step run, and the build-time rows (propagators, constants)
that source reads. The Brian2 backend reads the description itself and lets Brian integrate.

One step of a neuron, in every backend (time ``t_m`` to ``t_{m+1}``; arriving spikes were
added to their receptor variables before it)::

    n_x = integrate(x) over dt, for every state variable x       (see integration.py)
    refractory = ref > 0:  clamp statements applied (e.g. v = v_reset)
    spike = not refractory and threshold(n_x)
    spike:  reset statements applied in order;  ref = ref_steps  (floor(t_ref/dt), 0 without t_ref)
    else:   ref = ref - 1 while refractory

This module imports nothing from the engine; backends import it.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import sympy

from neurosim.neurons import integration
from neurosim.neurons.codegen import NUMPY, Printer, compile_source
from neurosim.neurons.dimensions import Dim, name_of, named
from neurosim.neurons.equations import (
    EXTERNAL_CURRENT,
    Equation,
    Statement,
    dimension,
    parse_equations,
    parse_expression,
    parse_statements,
    substitute_units,
    unit_constants,
)

Rows = dict[str, np.ndarray]


@dataclass(frozen=True)
class Description:
    """What a neuron model is, in Brian2's notation (see the module docstring)."""

    equations: str
    threshold: str
    reset: str = ""
    #: statements applied while refractory (``v = v_reset``: v clamped); empty: nothing clamped
    refractory: str = ""
    #: initial values of state variables other than ``v`` (statements; default 0)
    initial: str = ""
    method: str = "exact"
    #: state variable an excitatory / inhibitory spike adds its weight to
    receptors: tuple[str, str] = ("v", "v")


@dataclass(frozen=True)
class CompiledModel:
    """A checked description and the code derived from it."""

    name: str
    description: Description
    state: tuple[str, ...]
    state_dims: tuple[Dim, ...]
    #: runtime rows the step reads after (state, ref, i_ext): parameters, derived rows, constants
    rows: tuple[str, ...]
    #: the step's argument names: state variables, ``ref``, ``i_ext``, one per row, ``ref_steps``
    arguments: tuple[str, ...]
    #: the step's body: assignments to ``n_<x>``, ``n_ref`` and ``spike`` (no return)
    body: tuple[str, ...]
    weight_dimension: str
    receptor_rows: tuple[int, int]
    param_dims: tuple[tuple[str, Dim], ...]
    equations: tuple[Equation, ...]
    constants: tuple[tuple[str, float], ...]
    derivers: tuple[tuple[tuple[str, ...], Callable[[Rows, float], Rows]], ...] = field(repr=False)
    initializers: tuple[tuple[str, Callable[..., np.ndarray]], ...] = field(repr=False)

    @property
    def source(self) -> str:
        """``def step(<arguments>)``: the body, returning the new state variables, ``n_ref`` and ``spike``."""
        ret = ", ".join([f"n_{x}" for x in self.state] + ["n_ref", "spike"])
        return f"def step({', '.join(self.arguments)}):\n" + "".join(f"    {line}\n" for line in self.body) + \
            f"    return {ret}\n"

    @property
    def key(self) -> str:
        """Digest of the step source: two models with one key compile to the same kernel."""
        return hashlib.sha256(self.source.encode()).hexdigest()[:16]

    @property
    def order(self) -> int | None:
        """Error order of the integration in ``dt`` (``None``: exact)."""
        return integration.ORDER[self.description.method]

    def row_values(self, values: Rows, dt: float) -> Rows:
        """Every runtime row for neurons with parameter ``values`` (SI arrays of one length)."""
        n = len(next(iter(values.values()))) if values else 1
        out = {name: np.broadcast_to(np.asarray(values[name], dtype=np.float64), (n,)) for name in self.rows
               if name in values}
        for _, derive in self.derivers:
            out.update(derive(values, dt))
        for name, v in self.constants:
            out[name] = np.full(n, v)
        return {name: out[name] for name in self.rows}

    def initial_state(self, values: Rows, v: np.ndarray) -> dict[str, np.ndarray]:
        """Initial values of every state variable given ``v`` and the parameter values."""
        n = v.shape[0]
        state = {x: np.zeros(n) for x in self.state}
        state["v"] = v.astype(np.float64)
        params = [np.broadcast_to(np.asarray(values[p], dtype=np.float64), (n,)) for p, _ in self.param_dims]
        for var, fn in self.initializers:
            state[var] = np.broadcast_to(np.asarray(fn(*params, *[state[x] for x in self.state]), np.float64),
                                         (n,)).copy()
        return state

    @functools.cached_property
    def numpy_step(self) -> Callable:
        """The step over arrays (the NumPy reference)."""
        return compile_source(self.source, "step", NUMPY, f"<neuron model {self.name}>")


def _mangle(name: str) -> str:
    return f"p_{name}"


def _check_statements(statements: tuple[Statement, ...], dims: dict[str, Dim], state: tuple[str, ...],
                      where: str) -> None:
    for st in statements:
        if st.var not in state:
            raise ValueError(f"{where}: {st.var!r} is not a state variable (state variables: {', '.join(state)})")
        d = dimension(st.expr, dims, f"{where}: {st.var} {st.op} {st.text}")
        want = named("dimensionless") if st.op == "*=" else dims[st.var]
        if d != want:
            raise ValueError(f"{where}: {st.var} {st.op} {st.text}: the right side is in {d} but {want} is needed")


def _substituted(equations: tuple[Equation, ...]) -> dict[str, sympy.Expr]:
    """Subexpressions (in order; each may use the ones before it), fully expanded into symbols."""
    subs = {sympy.Symbol(e.var): e.rhs for e in equations if not e.differential}
    for _ in range(len(subs)):  # a subexpression may use others, in any order
        subs = {k: v.xreplace(subs) for k, v in subs.items()}
    left = [k.name for k, v in subs.items() if v.free_symbols & set(subs)]
    if left:
        raise ValueError(f"subexpression {left[0]} depends on itself")
    return subs


def _statement_lines(statements: tuple[Statement, ...], condition: str, printer: Printer) -> list[str]:
    lines = []
    for st in statements:
        value = printer(st.expr)
        current = f"n_{st.var}"
        new = {"=": value, "+=": f"{current} + {value}", "-=": f"{current} - {value}", "*=": f"{current}*{value}"}[st.op]
        lines.append(f"{current} = where({condition}, {new}, {current})")
    return lines


def compile_model(name: str, description: Description, param_dims: dict[str, Dim]) -> CompiledModel:
    """Check ``description`` against the parameters' dimensions and derive its step (cached)."""
    return _compile(name, description, tuple(sorted(param_dims.items())))


@functools.lru_cache(maxsize=256)
def _compile(name: str, d: Description, param_dims: tuple[tuple[str, Dim], ...]) -> CompiledModel:
    where = name
    equations = parse_equations(d.equations, f"{where}.equations")
    params = dict(param_dims)
    state = tuple(e.var for e in equations if e.differential)
    if "v" not in state:
        raise ValueError(f"{where}.equations: a neuron model needs a membrane potential 'dv/dt = ... : volt'")
    clash = [e.var for e in equations if e.var in params]
    if clash:
        raise ValueError(f"{where}.equations: {clash[0]!r} is both a parameter and a variable")
    dims: dict[str, Dim] = {**params, EXTERNAL_CURRENT: named("current")}
    dims.update({e.var: e.dim for e in equations})
    threshold = parse_expression(d.threshold, f"{where}.threshold")
    reset = parse_statements(d.reset, f"{where}.reset")
    clamp = parse_statements(d.refractory, f"{where}.refractory")
    initial = parse_statements(d.initial, f"{where}.initial")
    every = [e.rhs for e in equations] + [threshold] + [s.expr for s in reset + clamp + initial]
    units = unit_constants(every, set(dims) | {e.var for e in equations})
    dims.update({u: dim for u, (_, dim) in units.items()})
    time = named("time")
    for e in equations:
        label = f"{where}.equations: d{e.var}/dt" if e.differential else f"{where}.equations: {e.var}"
        got = dimension(e.rhs, dims, label)
        want = e.dim / time if e.differential else e.dim
        if got != want:
            raise ValueError(f"{label} = {e.text}: the right side is in {got} but {want} is needed "
                             f"(the variable is in {e.dim})")
    if not isinstance(threshold, sympy.core.relational.Relational):
        raise ValueError(f"{where}.threshold: {d.threshold!r} is not a condition such as 'v >= v_th'")
    dimension(threshold, dims, f"{where}.threshold")
    _check_statements(reset, dims, state, f"{where}.reset")
    _check_statements(clamp, dims, state, f"{where}.refractory")
    _check_statements(initial, dims, state, f"{where}.initial")
    receptor_dims = set()
    for r in d.receptors:
        if r not in state:
            raise ValueError(f"{where}.receptors: {r!r} is not a state variable (state variables: {', '.join(state)})")
        receptor_dims.add(dims[r])
    if len(receptor_dims) != 1 or name_of(next(iter(receptor_dims))) is None:
        raise ValueError(f"{where}.receptors: both receptors need variables of one named dimension")
    if d.method not in integration.METHODS:
        raise ValueError(f"{where}.method: unknown integration method {d.method!r} "
                         f"(known: {', '.join(integration.METHODS)})")

    subs = _substituted(equations)

    def expand(expr: sympy.Expr) -> sympy.Expr:
        return substitute_units(expr.xreplace(subs), units)

    f = {e.var: expand(e.rhs) for e in equations if e.differential}
    param_names = sorted(params)
    state_names = {x: f"s_{x}" for x in state}
    printer = Printer({**{p: _mangle(p) for p in params}, **state_names, EXTERNAL_CURRENT: EXTERNAL_CURRENT})
    try:
        scheme = integration.integrate(d.method, f, param_names, printer, state_names)
    except ValueError as err:
        raise ValueError(f"{where}.method: {err}") from None
    body = list(scheme.lines)
    body.append("refr = ref > 0")
    after = Printer({})
    after.constants = printer.constants
    after.names = {**{p: _mangle(p) for p in params}, **{x: f"n_{x}" for x in state}, EXTERNAL_CURRENT: EXTERNAL_CURRENT}
    body += _statement_lines(tuple(Statement(s.var, s.op, expand(s.expr), s.text) for s in clamp), "refr", after)
    body.append(f"spike = (ref <= 0) & {after(expand(threshold))}")
    body += _statement_lines(tuple(Statement(s.var, s.op, expand(s.expr), s.text) for s in reset), "spike", after)
    body.append("n_ref = where(spike, ref_steps, where(refr, ref - 1, ref))")

    used = set(re.findall(r"\bp_(\w+)", "\n".join(body)))
    derived_rows = [r for names, _ in scheme.derived for r in names]
    rows = tuple([p for p in param_names if p in used] + derived_rows + list(printer.constants))
    args = [state_names[x] for x in state] + ["ref", "i_ext"] + \
        [(r if r in printer.constants else _mangle(r)) for r in rows] + ["ref_steps"]

    state_syms = [sympy.Symbol(x) for x in state]
    inits = tuple((s.var, sympy.lambdify([sympy.Symbol(p) for p in param_names] + state_syms, expand(s.expr),
                                         modules=[NUMPY, "numpy"])) for s in initial)
    return CompiledModel(
        name=name, description=d, state=state, state_dims=tuple(dims[x] for x in state), rows=rows,
        arguments=tuple(args), body=tuple(body), weight_dimension=name_of(next(iter(receptor_dims))),
        receptor_rows=(state.index(d.receptors[0]), state.index(d.receptors[1])),
        param_dims=tuple((p, params[p]) for p in param_names), equations=equations,
        constants=tuple(printer.constants.items()), derivers=tuple(scheme.derived), initializers=inits,
    )
