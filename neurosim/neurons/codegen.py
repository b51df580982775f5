"""Python source of a model's step function, and its targets: NumPy arrays, numba, numba.cuda, torch.

One source text serves every target: it only uses arithmetic, comparisons, ``&`` of conditions
and the functions of a target namespace (``where``, ``exp``, ``phi1``, ...). Bound to NumPy's
functions it advances whole arrays (the reference backend); bound to scalar functions it is the
per-neuron device code the numba and CUDA kernels inline; bound to torch it is a training step.
Numeric literals never appear in the text: :class:`Printer` hoists them into constants that
the caller passes in the model's precision, so float32 and float64 arithmetic is the same in
NumPy and numba.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import sympy


class Printer:
    """Prints sympy expressions as code; symbols are renamed by ``names``; numbers become constants."""

    def __init__(self, names: dict[str, str]):
        self.names = dict(names)
        self.constants: dict[str, float] = {}

    def constant(self, value: float) -> str:
        for name, v in self.constants.items():
            if v == value and math.copysign(1, v) == math.copysign(1, value):
                return name
        name = f"c_{len(self.constants)}"
        self.constants[name] = float(value)
        return name

    def __call__(self, expr: sympy.Expr) -> str:
        return self._print(sympy.sympify(expr))

    def _print(self, e: sympy.Expr) -> str:
        if isinstance(e, sympy.Symbol):
            return self.names[e.name]
        if isinstance(e, sympy.Number) or e in (sympy.E, sympy.pi, sympy.oo, -sympy.oo):
            value = float(e)
            return f"(-{self.constant(-value)})" if value < 0 else self.constant(value)
        if isinstance(e, sympy.Add):
            return "(" + " + ".join(self._print(a) for a in e.args) + ")"
        if isinstance(e, sympy.Mul):
            return self._mul(e)
        if isinstance(e, sympy.Pow):
            return self._pow(e.base, e.exp)
        if isinstance(e, sympy.Abs):
            return f"abs({self._print(e.args[0])})"
        if isinstance(e, sympy.core.relational.Relational):
            return f"({self._print(e.lhs)} {e.rel_op} {self._print(e.rhs)})"
        if isinstance(e, sympy.Function):
            return f"{e.func.__name__}({', '.join(self._print(a) for a in e.args)})"
        raise ValueError(f"cannot generate code for {e}")

    def _mul(self, e: sympy.Mul) -> str:
        coeff, rest = e.as_coeff_Mul()
        if coeff == -1:
            return f"(-{self._print(rest)})"
        num, den = [], []
        for a in e.args:
            if isinstance(a, sympy.Pow) and isinstance(a.exp, sympy.Integer) and a.exp < 0:
                den.append(self._pow(a.base, -a.exp))
            elif isinstance(a, sympy.Rational) and not isinstance(a, sympy.Integer) and a.p in (1, -1):
                if a.p == -1:
                    num.append(self._print(sympy.Integer(-1)))
                den.append(self._print(sympy.Integer(a.q)))
            else:
                num.append(self._print(a))
        top = "*".join(num) if num else self.constant(1.0)
        return f"({top}/({'*'.join(den)}))" if den else f"({top})"

    def _pow(self, base: sympy.Expr, exp: sympy.Expr) -> str:
        b = self._print(base)
        if exp == sympy.Rational(1, 2):
            return f"sqrt({b})"
        if isinstance(exp, sympy.Integer) and 0 < exp <= 4:
            return "(" + "*".join([b] * int(exp)) + ")"
        if isinstance(exp, sympy.Integer) and -4 <= exp < 0:
            return f"({self.constant(1.0)}/({'*'.join([b] * int(-exp))}))"
        return f"pow({b}, {self._print(exp)})"


# --- target namespaces --------------------------------------------------------------------


def _np_phi1(a: np.ndarray, h: np.ndarray) -> np.ndarray:
    """``expm1(a h)/a`` (``h`` where ``a == 0``): the exponential-Euler step factor."""
    a = np.asarray(a)
    safe = np.where(a == 0, 1, a)
    return np.where(a == 0, h, np.expm1(a * h) / safe)


def _np_exprel(x: np.ndarray) -> np.ndarray:
    """``(exp(x) - 1)/x`` (1 at 0)."""
    x = np.asarray(x)
    return np.where(x == 0, 1, np.expm1(x) / np.where(x == 0, 1, x))


NUMPY: dict[str, Callable] = {
    "exprel": _np_exprel,
    "where": np.where, "exp": np.exp, "expm1": np.expm1, "log": np.log, "sqrt": np.sqrt, "abs": np.abs,
    "tanh": np.tanh, "sin": np.sin, "cos": np.cos, "clip": np.clip, "pow": np.power, "phi1": _np_phi1,
}


def scalar_where(c, a, b):
    return a if c else b


def scalar_clip(x, lo, hi):
    return min(max(x, lo), hi)


def scalar_phi1(a, h):
    return math.expm1(a * h) / a if a != 0 else h


def scalar_exprel(x):
    return math.expm1(x) / x if x != 0 else math.exp(x)  # 1, in the type of x


#: scalar helpers that a scalar target compiles (numba: ``njit(inline="always")``, CUDA: device functions)
SCALAR_HELPERS: dict[str, Callable] = {"where": scalar_where, "clip": scalar_clip, "phi1": scalar_phi1,
                                       "exprel": scalar_exprel}
SCALAR_MATH: dict[str, Callable] = {
    "exp": math.exp, "expm1": math.expm1, "log": math.log, "sqrt": math.sqrt, "abs": abs, "tanh": math.tanh,
    "sin": math.sin, "cos": math.cos, "pow": math.pow,
}


def compile_source(source: str, name: str, namespace: dict[str, Callable], filename: str) -> Callable:
    """The function ``name`` defined by ``source``, its globals being ``namespace``."""
    scope = dict(namespace)
    exec(compile(source, filename, "exec"), scope)
    return scope[name]
