"""Model equations as a user writes them (Brian2 syntax), parsed and unit-checked with sympy.

    dv/dt = (v_rest - v)/tau_m + (i_exc + i_ext)/c_m : volt      # a differential equation
    i_syn = i_exc + i_inh : amp                                  # a subexpression
    threshold:  v >= v_th            reset:  v = v_reset; w += b

Names in an expression are state variables, subexpressions, parameters (with the dimensions
their model declares), the external current ``i_ext`` (A), unit names (``mV``, ``ms``, ``nS``:
constants) and the functions of :data:`FUNCTIONS`. Anything else is refused, and so is an
expression whose units do not agree; the ``ValueError`` names the symbol or the terms.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction

import sympy
from sympy.parsing.sympy_parser import parse_expr, standard_transformations

from neurosim.neurons.dimensions import DIMENSIONLESS, Dim, named, unit

#: the dimension of an exact zero, which agrees with every unit
ANY = Dim(m=Fraction(10**9))

#: functions an expression may call (Brian2's names), as sympy functions
FUNCTIONS: dict[str, sympy.FunctionClass] = {
    "exp": sympy.exp, "log": sympy.log, "sqrt": sympy.sqrt, "abs": sympy.Abs, "tanh": sympy.tanh,
    "sin": sympy.sin, "cos": sympy.cos, "expm1": sympy.Function("expm1"), "clip": sympy.Function("clip"),
    "exprel": sympy.Function("exprel"),
}
#: named constants (Brian2's): ``inf`` matches any unit (``clip(v, -inf, v_peak)``)
CONSTANTS: dict[str, sympy.Expr] = {"inf": sympy.oo, "pi": sympy.pi, "e": sympy.E}
#: names with a meaning of their own in every model
EXTERNAL_CURRENT = "i_ext"
RESERVED = {"t", "dt", "ref", "ref_steps", "spike", "xi", "i", "N", "lastspike", "not_refractory"}

_IDENT = re.compile(r"[A-Za-z_]\w*")
_DIFF = re.compile(r"^d\s*([A-Za-z_]\w*)\s*/\s*dt$")
_ASSIGN = re.compile(r"^([A-Za-z_]\w*)\s*(=|\+=|-=|\*=)\s*(.+)$")


@dataclass(frozen=True)
class Equation:
    """``d var/dt = rhs`` (differential) or ``var = rhs`` (subexpression), ``var`` in ``dim``."""

    var: str
    rhs: sympy.Expr
    dim: Dim
    differential: bool
    text: str  # the right-hand side as written


@dataclass(frozen=True)
class Statement:
    """``var op expr`` of a reset or refractory clamp (``op``: ``=``, ``+=``, ``-=``, ``*=``)."""

    var: str
    op: str
    expr: sympy.Expr
    text: str


def parse_expression(text: str, where: str) -> sympy.Expr:
    """``text`` as a sympy expression whose every name is a plain symbol (or a known function)."""
    names = {n: FUNCTIONS.get(n, CONSTANTS.get(n, sympy.Symbol(n))) for n in _IDENT.findall(text)}
    try:
        return parse_expr(text, local_dict=names, global_dict={"Integer": sympy.Integer, "Float": sympy.Float,
                                                                "Rational": sympy.Rational, "Symbol": sympy.Symbol},
                          transformations=standard_transformations, evaluate=True)
    except Exception as err:  # sympy raises SyntaxError, TokenError, TypeError ... for bad text
        raise ValueError(f"{where}: cannot read {text.strip()!r} as an expression ({type(err).__name__})") from None


def _strip_comment(line: str) -> str:
    return line.split("#", 1)[0].strip()


def _unit_dim(text: str, where: str) -> Dim:
    """Dimension of a unit annotation (``volt``, ``amp/second``, ``1``)."""
    expr = parse_expression(text, where)
    dims = {}
    for s in expr.free_symbols:
        found = unit(s.name)
        if found is None:
            raise ValueError(f"{where}: unknown unit {s.name!r}")
        dims[s.name] = found[1]
    return dimension(expr, dims, where)


def parse_equations(text: str, where: str = "equations") -> tuple[Equation, ...]:
    """The equations of ``text``, one per line (``#`` starts a comment)."""
    out, seen = [], set()
    for raw in text.strip().splitlines():
        line = _strip_comment(raw)
        if not line:
            continue
        if "(" in line.rsplit(":", 1)[-1]:
            raise ValueError(f"{where}: flags such as '(unless refractory)' are not supported; "
                             f"state what refractoriness clamps with the model's refractory statements")
        if ":" not in line or "=" not in line:
            raise ValueError(f"{where}: {line!r} is not 'dx/dt = expression : unit' or 'x = expression : unit'")
        body, unit_text = line.rsplit(":", 1)
        lhs, rhs = body.split("=", 1)
        lhs = lhs.strip()
        m = _DIFF.match(lhs)
        var = m.group(1) if m else lhs
        if not var.isidentifier():
            raise ValueError(f"{where}: {lhs!r} is not a variable or a derivative 'dx/dt'")
        if var in seen:
            raise ValueError(f"{where}: {var} is defined twice")
        if var in RESERVED or var == EXTERNAL_CURRENT or var in FUNCTIONS or var in CONSTANTS:
            raise ValueError(f"{where}: {var!r} is a reserved name (a function, a constant or the engine's)")
        seen.add(var)
        label = f"{where}: d{var}/dt" if m else f"{where}: {var}"
        out.append(Equation(var, parse_expression(rhs, label), _unit_dim(unit_text.strip(), label), bool(m),
                            rhs.strip()))
    if not any(e.differential for e in out):
        raise ValueError(f"{where}: a model needs at least one differential equation 'dx/dt = ... : unit'")
    return tuple(out)


def parse_statements(text: str, where: str) -> tuple[Statement, ...]:
    """Statements separated by ``;`` or new lines (a reset, a refractory clamp, initial values)."""
    out = []
    for part in re.split(r"[;\n]", text or ""):
        part = _strip_comment(part)
        if not part:
            continue
        m = _ASSIGN.match(part)
        if m is None:
            raise ValueError(f"{where}: {part!r} is not an assignment such as 'v = v_reset' or 'w += b'")
        out.append(Statement(m.group(1), m.group(2), parse_expression(m.group(3), where), m.group(3).strip()))
    return tuple(out)


def _not_dimensionless(d: Dim, what: str, where: str) -> None:
    if not d.dimensionless:
        raise ValueError(f"{where}: {what} must be dimensionless, got {d}")


def dimension(expr: sympy.Expr, dims: dict[str, Dim], where: str) -> Dim:
    """Dimension of ``expr`` given the symbols' dimensions; ``ValueError`` for unknown symbols or
    terms of different units (naming them)."""
    if expr == 0:  # zero is a quantity of any unit ("0*mV" is simplified to 0)
        return ANY
    if isinstance(expr, sympy.Symbol):
        if expr.name not in dims:
            raise ValueError(f"{where}: unknown symbol {expr.name!r}")
        return dims[expr.name]
    if isinstance(expr, sympy.Number) or expr in (sympy.E, sympy.pi) or _infinite(expr):
        return DIMENSIONLESS
    if isinstance(expr, sympy.Add):
        terms = [(a, dimension(a, dims, where)) for a in expr.args]
        first, d0 = terms[0]
        for term, d in terms[1:]:
            if not agree(d, d0):
                raise ValueError(f"{where}: inconsistent units: {first} is in {d0} but {term} is in {d}")
        return d0
    if isinstance(expr, sympy.Mul):  # (a product containing zero is zero, caught above)
        out = DIMENSIONLESS
        for a in expr.args:
            out = out * dimension(a, dims, where)
        return out
    if isinstance(expr, sympy.Pow):
        base, exponent = dimension(expr.base, dims, where), expr.exp
        _not_dimensionless(dimension(exponent, dims, where), f"the exponent of {expr}", where)
        if base.dimensionless:
            return DIMENSIONLESS
        if isinstance(exponent, sympy.Float):  # 0.5 as written in Brian's ms**0.5
            ratio = Fraction(float(exponent)).limit_denominator(12)
            if abs(float(ratio) - float(exponent)) < 1e-12:
                return base ** ratio
        if not isinstance(exponent, sympy.Rational):
            raise ValueError(f"{where}: {expr}: a quantity with units ({base}) needs a constant exponent")
        return base ** Fraction(int(exponent.p), int(exponent.q))
    if isinstance(expr, sympy.Abs):
        return dimension(expr.args[0], dims, where)
    if isinstance(expr, sympy.Function) and expr.func.__name__ == "clip":
        if len(expr.args) != 3:
            raise ValueError(f"{where}: clip takes three arguments (x, low, high), got {len(expr.args)}")
        ds = [d for d in (dimension(a, dims, where) for a in expr.args if not _infinite(a)) if d != ANY]
        if len(set(ds)) > 1:
            raise ValueError(f"{where}: inconsistent units in {expr}: {', '.join(map(str, ds))}")
        return ds[0] if ds else ANY
    if isinstance(expr, sympy.Function):
        if len(expr.args) != 1:
            raise ValueError(f"{where}: {expr.func.__name__} takes one argument")
        _not_dimensionless(dimension(expr.args[0], dims, where), f"the argument of {expr.func.__name__} in {expr}", where)
        return DIMENSIONLESS
    if isinstance(expr, sympy.core.relational.Relational):
        a, b = dimension(expr.lhs, dims, where), dimension(expr.rhs, dims, where)
        if not agree(a, b):
            raise ValueError(f"{where}: inconsistent units: {expr.lhs} is in {a} but {expr.rhs} is in {b}")
        return DIMENSIONLESS
    raise ValueError(f"{where}: {expr} is not supported in a model expression")


def agree(a: Dim, b: Dim) -> bool:
    """Whether two dimensions are compatible (:data:`ANY`, the dimension of zero, agrees with all)."""
    return a == b or ANY in (a, b)


def _infinite(e: sympy.Expr) -> bool:
    return e in (sympy.oo, -sympy.oo)


def unit_constants(exprs: list[sympy.Expr], known: set[str]) -> dict[str, tuple[float, Dim]]:
    """The unit names (``mV``, ``ms``) used as constants in ``exprs`` that are not ``known`` symbols."""
    out = {}
    for e in exprs:
        for s in e.free_symbols:
            if s.name not in known:
                found = unit(s.name)
                if found is not None:
                    out[s.name] = found
    return out


def substitute_units(expr: sympy.Expr, constants: dict[str, tuple[float, Dim]]) -> sympy.Expr:
    """``expr`` with unit names replaced by their SI values."""
    return expr.xreplace({sympy.Symbol(n): sympy.Float(f) for n, (f, _) in constants.items()})


def parse_unit_expression(value: float | str, where: str) -> tuple[float, Dim]:
    """A quantity written with Brian2-style unit expressions (``"39.24*mV/ms**0.5"``, ``"25 mV/ms"``)
    as its SI value and dimension; a bare number is SI and takes any dimension. NaN and infinity
    are refused."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number, dim = float(value), ANY
    elif isinstance(value, str):
        expr = parse_expression(value.replace(" ", "*", 1) if re.match(r"^\s*[-+.\d]", value) else value, where)
        constants = unit_constants([expr], set())
        unknown = sorted(s.name for s in expr.free_symbols if s.name not in constants)
        if unknown:
            raise ValueError(f"{where}: unknown unit {unknown[0]!r} in {value!r}")
        dim = dimension(expr, {n: d for n, (_, d) in constants.items()}, where)
        number = float(substitute_units(expr, constants))
    else:
        raise ValueError(f"{where}: expected a number or a quantity such as '1 mV/ms**0.5', got {value!r}")
    if not math.isfinite(number):
        raise ValueError(f"{where}: must be a finite number, got {value!r}")
    return number, dim


__all__ = ["Equation", "Statement", "parse_equations", "parse_statements", "parse_expression", "dimension",
           "unit_constants", "substitute_units", "parse_unit_expression", "named", "EXTERNAL_CURRENT", "FUNCTIONS"]
