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
from neurosim.neurons.codegen import BUILD, NUMPY, Printer, compile_source
from neurosim.neurons.dimensions import Dim, name_of, named
from neurosim.neurons.equations import (
    EXTERNAL_CURRENT,
    agree,
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
    #: ``"grid"``: refractoriness lasts whole steps from the step of the spike; ``"continuous"``:
    #: it lasts ``t_ref`` from the interpolated threshold crossing (see :func:`_continuous_lines`)
    timing: str = "grid"


TIMINGS = ("grid", "continuous")
#: the state variable of continuous timing: the fraction of the step in which refractoriness ends
#: that is still refractory
LAG = "ref_lag"


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
    #: the body for training (:attr:`torch_source`): as :attr:`body`, but ``spike`` is a float
    #: ``heaviside``/``heaviside_ge`` of the threshold's ``lhs - rhs`` masked by ``ref <= 0`` and
    #: the reset uses ``spike_where`` (differentiable in ``spike``)
    torch_body: tuple[str, ...] = field(default=(), repr=False, compare=False)

    @property
    def source(self) -> str:
        """``def step(<arguments>)``: the body, returning the new state variables, ``n_ref`` and ``spike``."""
        ret = ", ".join([f"n_{x}" for x in self.state] + ["n_ref", "spike"])
        return f"def step({', '.join(self.arguments)}):\n" + "".join(f"    {line}\n" for line in self.body) + \
            f"    return {ret}\n"

    @property
    def torch_source(self) -> str:
        """``def step(<arguments>)`` of :attr:`torch_body`, returning what :attr:`source` returns (``spike``
        as a float tensor); bind it to :func:`neurosim.train.described.torch_namespace`."""
        if self.description.timing != "grid":
            raise ValueError(f"{self.name}.timing: training steps are on the grid; use timing = 'grid' to train")
        ret = ", ".join([f"n_{x}" for x in self.state] + ["n_ref", "spike"])
        return f"def step({', '.join(self.arguments)}):\n" + "".join(f"    {line}\n" for line in self.torch_body) + \
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
            state[var] = np.broadcast_to(np.asarray(fn(*params, *[state[x] for x in self.state if x != LAG]), np.float64),
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
        if not agree(d, want):
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


def _statement_lines(statements: tuple[Statement, ...], condition: str, printer: Printer,
                     select: str = "where") -> list[str]:
    lines = []
    for st in statements:
        value = printer(st.expr)
        current = f"n_{st.var}"
        new = {"=": value, "+=": f"{current} + {value}", "-=": f"{current} - {value}", "*=": f"{current}*{value}"}[st.op]
        lines.append(f"{current} = {select}({condition}, {new}, {current})")
    return lines


#: the torch step's surrogate Heaviside of ``x`` for each threshold relation ``lhs <op> rhs``:
#: (function, which side minus which) -- ``heaviside(x)`` is ``x > 0``, ``heaviside_ge(x)`` is ``x >= 0``
_TORCH_THRESHOLD = {">": ("heaviside", 1), ">=": ("heaviside_ge", 1), "<": ("heaviside", -1),
                    "<=": ("heaviside_ge", -1)}


def _torch_threshold(threshold: sympy.core.relational.Relational, printer: Printer) -> str:
    """``heaviside(lhs - rhs)`` (or its mirror) of the threshold (an inequality)."""
    fn, sign = _TORCH_THRESHOLD[threshold.rel_op]
    lhs, rhs = printer(threshold.lhs), printer(threshold.rhs)
    return f"{fn}({lhs} - {rhs})" if sign > 0 else f"{fn}({rhs} - {lhs})"


def compile_model(name: str, description: Description, param_dims: dict[str, Dim]) -> CompiledModel:
    """Check ``description`` against the parameters' dimensions and derive its step (cached)."""
    return _compile(name, description, tuple(sorted(param_dims.items())))


@dataclass(frozen=True)
class _Checked:
    """A description parsed and unit-checked: what code generation starts from."""

    equations: tuple[Equation, ...]
    state: tuple[str, ...]
    dims: dict[str, Dim]
    units: dict[str, tuple[float, Dim]]
    threshold: sympy.core.relational.Relational
    reset: tuple[Statement, ...]
    clamp: tuple[Statement, ...]
    initial: tuple[Statement, ...]
    weight_dimension: str


def _check(where: str, d: Description, params: dict[str, Dim]) -> _Checked:
    """Parse ``d`` and check every name and unit against the parameters (``ValueError`` naming them)."""
    equations = parse_equations(d.equations, f"{where}.equations")
    state = tuple(e.var for e in equations if e.differential)
    if "v" not in state:
        raise ValueError(f"{where}.equations: a neuron model needs a membrane potential 'dv/dt = ... : volt'")
    clash = [e.var for e in equations if e.var in params]
    if clash:
        raise ValueError(f"{where}.equations: {clash[0]!r} is both a parameter and a variable")
    dims: dict[str, Dim] = {**params, EXTERNAL_CURRENT: named("current"), **{e.var: e.dim for e in equations}}
    threshold = parse_expression(d.threshold, f"{where}.threshold")
    if not isinstance(threshold, sympy.core.relational.Relational) or threshold.rel_op in ("==", "!="):
        raise ValueError(f"{where}.threshold: {d.threshold!r} is not a condition such as 'v >= v_th'")
    reset = parse_statements(d.reset, f"{where}.reset")
    clamp = parse_statements(d.refractory, f"{where}.refractory")
    initial = parse_statements(d.initial, f"{where}.initial")
    every = [e.rhs for e in equations] + [threshold] + [s.expr for s in reset + clamp + initial]
    units = unit_constants(every, set(dims))
    dims.update({u: dim for u, (_, dim) in units.items()})
    for e in equations:
        label = f"{where}.equations: d{e.var}/dt" if e.differential else f"{where}.equations: {e.var}"
        got = dimension(e.rhs, dims, label)
        want = e.dim / named("time") if e.differential else e.dim
        if not agree(got, want):
            raise ValueError(f"{label} = {e.text}: the right side is in {got} but {want} is needed "
                             f"(the variable is in {e.dim})")
    dimension(threshold, dims, f"{where}.threshold")
    _check_statements(reset, dims, state, f"{where}.reset")
    _check_statements(clamp, dims, state, f"{where}.refractory")
    _check_statements(initial, dims, state, f"{where}.initial")
    missing = [r for r in d.receptors if r not in state]
    if missing:
        raise ValueError(f"{where}.receptors: {missing[0]!r} is not a state variable "
                         f"(state variables: {', '.join(state)})")
    receptor_dims = {dims[r] for r in d.receptors}
    if len(receptor_dims) != 1 or name_of(next(iter(receptor_dims))) is None:
        raise ValueError(f"{where}.receptors: both receptors need variables of one named dimension")
    if d.timing not in TIMINGS:
        raise ValueError(f"{where}.timing: must be 'grid' or 'continuous', got {d.timing!r}")
    if d.timing == "continuous" and ("t_ref" not in params or not clamp):
        raise ValueError(f"{where}.timing: 'continuous' needs a refractory period t_ref and refractory statements")
    if d.method not in integration.METHODS:
        raise ValueError(f"{where}.method: unknown integration method {d.method!r} "
                         f"(known: {', '.join(integration.METHODS)})")
    return _Checked(equations, state, dims, units, threshold, reset, clamp, initial,
                    name_of(next(iter(receptor_dims))))


def _after_step(c: _Checked, expand: Callable[[sympy.Expr], sympy.Expr], after: Printer) -> tuple[list[str], list[str]]:
    """The lines after integration: refractory clamp, threshold, reset, countdown; for the
    engine's targets and for torch (a float surrogate spike, resets differentiable in it)."""
    lines = ["refr = ref > 0"]
    lines += _statement_lines(tuple(Statement(s.var, s.op, expand(s.expr), s.text) for s in c.clamp), "refr", after)
    resets = tuple(Statement(s.var, s.op, expand(s.expr), s.text) for s in c.reset)
    engine = lines + [f"spike = (ref <= 0) & {after(expand(c.threshold))}"]
    engine += _statement_lines(resets, "spike", after)
    engine.append("n_ref = where(spike, ref_steps, where(refr, ref - 1, ref))")
    torch = lines + [f"spike = {_torch_threshold(expand(c.threshold), after)}*(ref <= 0)"]
    torch += _statement_lines(resets, "spike", after, select="spike_where")
    torch.append("n_ref = where(spike > 0, ref_steps, where(refr, ref - 1, ref))")
    return engine, torch


def _continuous_lines(c: _Checked, expand: Callable[[sympy.Expr], sympy.Expr], before: Printer,
                      after: Printer) -> list[str]:
    """The lines after integration with continuous refractory timing.

    A spike's crossing time is interpolated linearly in ``g = lhs - rhs`` of the threshold
    between the start and the end of the step (fraction ``cross`` of the step), and the neuron
    stays refractory for ``t_ref`` from then: ``rem = t_ref/dt - (1 - cross)`` steps after the
    step's end, ``floor(rem)`` whole steps (``ref``) and the fraction ``ref_lag`` of the next. In
    that last step the clamped variables move by the fraction ``1 - ref_lag`` of their free
    change, ``x + (1 - lag)(x_free - x)``. Both are second order in ``dt`` (interpolation of a
    smooth trajectory), so the interval between spikes under constant drive is the continuous
    ``t_ref + T_free`` up to O(dt^2), where grid timing gives ``t_ref + ceil(T_free/dt) dt``.
    Spikes are still delivered and recorded at the end of their step."""
    zero, one = before.constant(0.0), before.constant(1.0)
    th = c.threshold
    lhs, rhs = (th.lhs, th.rhs) if th.rel_op in (">", ">=") else (th.rhs, th.lhs)
    gap = expand(lhs - rhs)
    lag = f"s_{LAG}"
    lines = ["refr = ref > 0"]
    lines += _statement_lines(tuple(Statement(s.var, s.op, expand(s.expr), s.text) for s in c.clamp), "refr", after)
    lines += [f"part = (ref <= 0) & ({lag} > {zero})", f"free = {one} - {lag}"]
    lines += [f"n_{v} = where(part, s_{v} + free*(n_{v} - s_{v}), n_{v})" for v in dict.fromkeys(s.var for s in c.clamp)]
    lines += [f"g0 = {before(gap)}", f"g1 = {after(gap)}", f"rise = where(g1 > g0, g1 - g0, {one})",
              f"frac = clip(-g0/rise, {zero}, {one})", f"cross = where(part, {lag} + free*frac, frac)",
              f"rem0 = p_{REF_TIME} - ({one} - cross)", f"rem = where(rem0 > {zero}, rem0, {zero})",
              "whole = floor(rem)"]
    lines.append(f"spike = (ref <= 0) & {after(expand(c.threshold))}")
    lines += _statement_lines(tuple(Statement(s.var, s.op, expand(s.expr), s.text) for s in c.reset), "spike", after)
    lines += [f"n_{LAG} = where(spike, rem - whole, where(part, {zero}, {lag}))",
              "n_ref = where(spike, whole, where(refr, ref - 1, ref))"]
    return lines


#: the row of continuous timing: the refractory period in steps, ``t_ref / dt`` (not rounded)
REF_TIME = "_ref_time"


def _ref_time_row(values: Rows, dt: float) -> Rows:
    return {REF_TIME: np.asarray(values["t_ref"], np.float64) / dt}


def _reciprocal_rows(reciprocals: dict[str, sympy.Expr], params: list[str]):
    """The rows ``1/expression`` of the printer's reciprocals, computed from the parameters."""
    funcs = {name: sympy.lambdify([sympy.Symbol(p) for p in params], expr, modules=[BUILD, "numpy"])
             for name, expr in reciprocals.items()}

    def derive(values: Rows, dt: float) -> Rows:
        n = len(next(iter(values.values()))) if values else 1
        args = [values[p] for p in params]
        return {name: 1.0 / np.broadcast_to(np.asarray(fn(*args), np.float64), (n,)) for name, fn in funcs.items()}

    return tuple(funcs), derive


@functools.lru_cache(maxsize=256)
def _compile(name: str, d: Description, param_dims: tuple[tuple[str, Dim], ...]) -> CompiledModel:
    params = dict(param_dims)
    c = _check(name, d, params)
    subs = _substituted(c.equations)

    def expand(expr: sympy.Expr) -> sympy.Expr:
        return substitute_units(expr.xreplace(subs), c.units)

    f = {e.var: expand(e.rhs) for e in c.equations if e.differential}
    param_names = sorted(params)
    state_names = {x: f"s_{x}" for x in c.state}
    mangled = {**{p: _mangle(p) for p in params}, EXTERNAL_CURRENT: EXTERNAL_CURRENT}
    printer = Printer({**mangled, **state_names}, frozenset(params))
    try:
        scheme = integration.integrate(d.method, f, param_names, printer, state_names)
    except ValueError as err:
        raise ValueError(f"{name}.method: {err}") from None
    after = Printer({**mangled, **{x: f"n_{x}" for x in c.state}}, frozenset(params))
    after.constants, after.reciprocals = printer.constants, printer.reciprocals  # shared by the whole step
    engine, torch = _after_step(c, expand, after)
    derivers = list(scheme.derived)
    state = c.state
    if d.timing == "continuous":
        state = (*c.state, LAG)
        engine, torch = _continuous_lines(c, expand, printer, after), []  # training steps are on the grid
        derivers.append(((REF_TIME,), _ref_time_row))
        state_names[LAG] = f"s_{LAG}"
    body, torch_body = scheme.lines + engine, scheme.lines + torch

    used = set(re.findall(r"\bp_(\w+)", "\n".join(body)))
    if printer.reciprocals:
        derivers.append(_reciprocal_rows(printer.reciprocals, param_names))
    derived_rows = [r for names, _ in derivers for r in names]
    rows = tuple([p for p in param_names if p in used] + derived_rows + list(printer.constants))
    args = [state_names[x] for x in state] + ["ref", "i_ext"] + \
        [(r if r in printer.constants else _mangle(r)) for r in rows] + ["ref_steps"]
    symbols = [sympy.Symbol(p) for p in param_names] + [sympy.Symbol(x) for x in c.state]
    inits = tuple((s.var, sympy.lambdify(symbols, expand(s.expr), modules=[BUILD, "numpy"])) for s in c.initial)
    dims = {**c.dims, LAG: named("dimensionless")}
    return CompiledModel(
        name=name, description=d, state=state, state_dims=tuple(dims[x] for x in state), rows=rows,
        arguments=tuple(args), body=tuple(body), weight_dimension=c.weight_dimension,
        receptor_rows=(c.state.index(d.receptors[0]), c.state.index(d.receptors[1])),
        param_dims=tuple((p, params[p]) for p in param_names), equations=c.equations,
        constants=tuple(printer.constants.items()), derivers=tuple(derivers), initializers=inits,
        torch_body=tuple(torch_body),
    )
