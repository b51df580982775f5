"""Integration methods: from a model's right-hand sides to the lines of its step function.

``f`` maps each state variable ``x`` to ``dx/dt`` (subexpressions and unit names already
substituted); its symbols are state variables, parameters and ``i_ext`` (constant over a step).

- ``exact``: linear equations with constant coefficients, ``dx/dt = A x + b + c i_ext``. The
  step is ``x' = Phi x + G + H i_ext`` with ``Phi = exp(A dt)`` and ``G``, ``H`` the input
  integrals: the top right of the matrix exponential of ``[[A, b, c], [0, 0, 0], [0, 0, 0]] dt``,
  computed per distinct parameter set when the network is built (scipy's Padé ``expm`` after
  power-of-two balancing, error ~1e-15 relative). Entries that are structurally zero are left out.
- ``exponential_euler``: each equation must be linear in its own variable,
  ``dx/dt = a(y) x + b(y)``; ``x' = x + f(x, y) expm1(a dt)/a`` with every variable at the start
  of the step (Brian2's ``exponential_euler``, also Rotter & Diesmann / Hines' scheme for
  HH gates). Exact for linear decoupled equations; first order in ``dt`` in general.
- ``rk4``: classical Runge–Kutta, fourth order; ``rk2``: midpoint, second order;
  ``euler``: forward Euler, first order.

Every method returns code lines assigning ``n_<x>`` (the new values) and the build-time rows
they read (``derive``), see :mod:`neurosim.neurons.description`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import sympy

from neurosim.neurons.codegen import Printer
from neurosim.neurons.equations import EXTERNAL_CURRENT

METHODS = ("exact", "exponential_euler", "rk4", "rk2", "euler")
#: error order of each method in dt (``None``: exact)
ORDER = {"exact": None, "exponential_euler": 1, "rk4": 4, "rk2": 2, "euler": 1}

Rows = dict[str, np.ndarray]


@dataclass
class Scheme:
    """Lines of a step, and how to compute the rows they read from parameters and ``dt``."""

    lines: list[str] = field(default_factory=list)
    #: (row names, function(parameter values, dt) -> {row: per-neuron values})
    derived: list[tuple[tuple[str, ...], Callable[[Rows, float], Rows]]] = field(default_factory=list)


def _dt_rows(names: dict[str, float]) -> tuple[tuple[str, ...], Callable[[Rows, float], Rows]]:
    """Rows holding multiples of dt (``{"_dt2": 0.5}``: ``dt/2``)."""
    def rows(values: Rows, dt: float) -> Rows:
        n = len(next(iter(values.values()))) if values else 1
        return {k: np.full(n, f * dt) for k, f in names.items()}
    return tuple(names), rows


def _lambdify(params: list[str], expr: sympy.Expr) -> Callable[..., np.ndarray]:
    from neurosim.neurons.codegen import BUILD
    return sympy.lambdify([sympy.Symbol(p) for p in params], expr, modules=[BUILD, "numpy"])


def exact(f: dict[str, sympy.Expr], params: list[str], state_names: dict[str, str]) -> Scheme:
    """Exact propagators of ``dx/dt = A x + b + c i_ext`` (see the module docstring)."""
    xs = list(f)
    syms = [sympy.Symbol(x) for x in xs] + [sympy.Symbol(EXTERNAL_CURRENT)]
    k = len(xs)
    coef = sympy.zeros(k, k + 2)  # columns: A, c (i_ext), b (constant)
    for i, x in enumerate(xs):
        expanded = sympy.expand(f[x])
        rest = expanded
        for j, s in enumerate(syms):
            a = sympy.diff(expanded, s)
            if a.free_symbols & set(syms):
                raise ValueError(f"d{x}/dt is not linear with constant coefficients in the state variables "
                                 f"(its coefficient of {s} is {a}): use method 'exponential_euler' or 'rk4'")
            coef[i, j] = a
            rest = rest - a * s
        coef[i, k + 1] = sympy.simplify(rest)
    reach = np.eye(k, dtype=bool) | np.array([[coef[i, j] != 0 for j in range(k)] for i in range(k)])
    for _ in range(k):  # transitive closure: Phi[i, j] != 0 if x_j influences x_i
        reach = reach | (reach.astype(int) @ reach.astype(int) > 0)
    has_c = np.array([coef[j, k] != 0 for j in range(k)])
    has_b = np.array([coef[j, k + 1] != 0 for j in range(k)])
    scheme = Scheme()
    rows: list[str] = []
    for i, x in enumerate(xs):
        terms = []
        for j, y in enumerate(xs):
            if reach[i, j]:
                rows.append(f"_P_{x}_{y}")
                terms.append(f"p__P_{x}_{y}*{state_names[y]}")
        if (reach[i] & has_b).any():
            rows.append(f"_G_{x}")
            terms.append(f"p__G_{x}")
        if (reach[i] & has_c).any():
            rows.append(f"_H_{x}")
            terms.append(f"p__H_{x}*i_ext")
        scheme.lines.append(f"n_{x} = " + " + ".join(terms))
    used = sorted({s.name for s in coef.free_symbols} & set(params))
    funcs = [[_lambdify(used, coef[i, j]) for j in range(k + 2)] for i in range(k)]

    def derive(values: Rows, dt: float) -> Rows:
        n = len(next(iter(values.values()))) if values else 1
        distinct, inverse = _distinct([values[p] for p in used], n)
        m = np.zeros((distinct.shape[0], k + 2, k + 2))
        for i in range(k):
            for j in range(k + 2):
                m[:, i, j] = np.broadcast_to(funcs[i][j](*distinct.T), (distinct.shape[0],))
        table = propagate(m, dt)
        out = {}
        for i, x in enumerate(xs):
            for j, y in enumerate(xs):
                out[f"_P_{x}_{y}"] = i, j
            out[f"_H_{x}"] = i, k
            out[f"_G_{x}"] = i, k + 1
        return {r: table[:, out[r][0], out[r][1]][inverse] for r in rows}

    scheme.derived.append((tuple(rows), derive))
    return scheme


def _distinct(columns: list[np.ndarray], n: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct parameter sets (rows of a ``(sets, parameters)`` array) among ``n`` neurons,
    and each neuron's set: one set, without sorting, when every parameter is shared."""
    cols = [np.broadcast_to(np.asarray(c, np.float64), (n,)) for c in columns]
    if all(c.size == 0 or np.all(c == c[0]) for c in cols):
        return np.array([[c[0] if c.size else 0.0 for c in cols]]), np.zeros(n, np.intp)
    distinct, inverse = np.unique(np.stack(cols, axis=1), axis=0, return_inverse=True)
    return distinct, inverse.ravel()


def propagate(m: np.ndarray, dt: float) -> np.ndarray:
    """``expm(m dt)`` of every matrix of the stack ``m``."""
    from scipy.linalg import expm, matrix_balance
    out = np.empty_like(m)
    for u, matrix in enumerate(m):
        a = matrix * dt
        try:
            with np.errstate(invalid="raise", over="raise"):
                balanced, (scale, _) = matrix_balance(a, permute=False, separate=True)
        except FloatingPointError:  # scales beyond float range (e.g. tau = 2^60 dt): no balancing
            balanced, scale = a, np.ones(a.shape[0])
        out[u] = expm(balanced) * scale[:, None] / scale[None, :]
    return out


def exponential_euler(f: dict[str, sympy.Expr], params: list[str], printer: Printer,
                      state_names: dict[str, str]) -> Scheme:
    """``x' = x + f expm1(a dt)/a``, ``a = df/dx`` free of ``x`` (see the module docstring).

    Where ``a`` depends on parameters only, ``exp(a dt)`` and ``expm1(a dt)/a`` are rows computed
    at build time: ``x' = exp(a dt) x + b expm1(a dt)/a`` with ``b = f - a x``. Subexpressions
    common to the equations (rate functions, gating products) are computed once.
    """
    constant: dict[str, sympy.Expr] = {}
    parts: list[tuple[str, str, sympy.Expr, sympy.Expr]] = []  # (x, form, first, second)
    for x, rhs in f.items():
        s = sympy.Symbol(x)
        a = sympy.simplify(sympy.diff(rhs, s))
        if s in a.free_symbols:
            raise ValueError(f"d{x}/dt is not linear in {x} (its derivative by {x} is {a}): "
                             f"exponential Euler cannot integrate it; use method 'rk4'")
        if a != 0 and a.free_symbols <= {sympy.Symbol(p) for p in params}:
            constant[x] = a
            parts.append((x, "constant", sympy.simplify(sympy.expand(rhs - a * s)), sympy.Integer(0)))
        else:
            parts.append((x, "euler" if a == 0 else "exponential", rhs, a))
    scheme = Scheme()
    temps, reduced = sympy.cse([e for _, _, first, second in parts for e in (first, second)],
                               symbols=sympy.numbered_symbols("t_"))
    saved = dict(printer.names)
    for sym, expr in temps:
        scheme.lines.append(f"{sym.name} = {printer(expr)}")
        printer.names[sym.name] = sym.name
    rows: list[str] = []
    for k, (x, form, _, _) in enumerate(parts):
        first, second, state = reduced[2 * k], reduced[2 * k + 1], state_names[x]
        if form == "constant":
            rows += [f"_E_{x}"] if first == 0 else [f"_E_{x}", f"_F_{x}"]
            drive = "" if first == 0 else f" + {printer(first)}*p__F_{x}"
            scheme.lines.append(f"n_{x} = p__E_{x}*{state}{drive}")
        elif form == "euler":
            scheme.lines.append(f"n_{x} = {state} + {printer(first)}*p__dt")
        else:
            scheme.lines.append(f"n_{x} = {state} + {printer(first)}*phi1({printer(second)}, p__dt)")
    printer.names = saved
    scheme.derived.append(_dt_rows({"_dt": 1.0}))
    if constant:
        funcs = {x: _lambdify(params, a) for x, a in constant.items()}

        def derive(values: Rows, dt: float) -> Rows:
            n = len(next(iter(values.values()))) if values else 1
            out = {}
            for x, fn in funcs.items():
                ah = np.broadcast_to(fn(*[values[p] for p in params]), (n,)) * dt
                out[f"_E_{x}"] = np.exp(ah)
                with np.errstate(invalid="ignore", divide="ignore"):  # a zero coefficient: the limit, dt
                    out[f"_F_{x}"] = np.where(ah == 0, 1.0, np.expm1(ah) / ah) * dt
            return {r: out[r] for r in rows}

        scheme.derived.append((tuple(rows), derive))
    return scheme


def runge_kutta(f: dict[str, sympy.Expr], method: str, printer: Printer, state_names: dict[str, str]) -> Scheme:
    """Explicit Runge–Kutta step (``euler``, ``rk2`` midpoint, classical ``rk4``)."""
    scheme = Scheme()
    xs = list(f)
    stage_inputs = {"euler": [None], "rk2": [None, "p__dt2"], "rk4": [None, "p__dt2", "p__dt2", "p__dt"]}[method]
    current = dict(state_names)
    for k, scale in enumerate(stage_inputs, start=1):
        if scale is not None:
            for x in xs:
                scheme.lines.append(f"y{k}_{x} = {state_names[x]} + {scale}*k{k - 1}_{x}")
            current = {**state_names, **{x: f"y{k}_{x}" for x in xs}}
        _stage(scheme, f, printer, current, f"k{k}_")
    for x in xs:
        s = state_names[x]
        if method == "euler":
            scheme.lines.append(f"n_{x} = {s} + p__dt*k1_{x}")
        elif method == "rk2":
            scheme.lines.append(f"n_{x} = {s} + p__dt*k2_{x}")
        else:
            scheme.lines.append(f"n_{x} = {s} + p__dt6*(k1_{x} + k2_{x} + k2_{x} + k3_{x} + k3_{x} + k4_{x})")
    needed = {"euler": ("_dt",), "rk2": ("_dt", "_dt2"), "rk4": ("_dt", "_dt2", "_dt6")}[method]
    scheme.derived.append(_dt_rows({k: v for k, v in {"_dt": 1.0, "_dt2": 0.5, "_dt6": 1.0 / 6.0}.items()
                                    if k in needed}))
    return scheme


def _stage(scheme: Scheme, f: dict[str, sympy.Expr], printer: Printer, names: dict[str, str], prefix: str) -> None:
    """Lines ``<prefix><x> = f_x`` evaluated at the variables ``names``, common subexpressions shared."""
    xs = list(f)
    temps, reduced = sympy.cse([f[x] for x in xs], symbols=sympy.numbered_symbols(f"{prefix}t"))
    saved = dict(printer.names)
    printer.names.update(names)
    for sym, expr in temps:
        scheme.lines.append(f"{sym.name} = {printer(expr)}")
        printer.names[sym.name] = sym.name
    for x, expr in zip(xs, reduced):
        scheme.lines.append(f"{prefix}{x} = {printer(expr)}")
    printer.names = saved


def integrate(method: str, f: dict[str, sympy.Expr], params: list[str], printer: Printer,
              state_names: dict[str, str]) -> Scheme:
    """The scheme of ``method`` for the right-hand sides ``f``."""
    if method == "exact":
        return exact(f, params, state_names)
    if method == "exponential_euler":
        return exponential_euler(f, params, printer, state_names)
    if method in ("rk4", "rk2", "euler"):
        return runge_kutta(f, method, printer, state_names)
    raise ValueError(f"method: unknown integration method {method!r} (known: {', '.join(METHODS)})")
