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

from neurosim.neurons import fastexp


class Printer:
    """Prints sympy expressions as code; symbols are renamed by ``names``; numbers become constants.

    Division by a quantity of parameters only (``x/c_m``, ``x/tau``) is printed as a product with
    a reciprocal row ``p__R_k`` computed once when the network is built (``reciprocals``: row ->
    expression): a division per neuron and step is several times the cost of a product, and the
    compiler may not make that change itself (it rounds differently). Division by a number is a
    product with its hoisted reciprocal, for the same reason.
    """

    def __init__(self, names: dict[str, str], params: frozenset[str] = frozenset()):
        self.names = dict(names)
        self.params = frozenset(params)
        self.constants: dict[str, float] = {}
        self.reciprocals: dict[str, sympy.Expr] = {}

    def reciprocal(self, base: sympy.Expr) -> str:
        """The row holding ``1/base`` (an expression of parameters only)."""
        for name, expr in self.reciprocals.items():
            if expr == base:
                return f"p_{name}"
        name = f"_R_{len(self.reciprocals)}"
        self.reciprocals[name] = base
        return f"p_{name}"

    def _parametric(self, e: sympy.Expr) -> bool:
        names = {s.name for s in e.free_symbols}
        return bool(names) and names <= self.params
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
            if isinstance(a, sympy.Pow) and isinstance(a.exp, sympy.Integer) and a.exp < 0 and self._parametric(a.base):
                num.append(self.reciprocal(a.base ** -a.exp))
            elif isinstance(a, sympy.Pow) and isinstance(a.exp, sympy.Integer) and a.exp < 0:
                den.append(self._pow(a.base, -a.exp))
            elif isinstance(a, sympy.Rational) and not isinstance(a, sympy.Integer):
                num.append(self._print(a))  # a hoisted constant, as any number
            else:
                num.append(self._print(a))
        top = "*".join(num) if num else self.constant(1.0)
        return f"({top}/({'*'.join(den)}))" if den else f"({top})"

    def _pow(self, base: sympy.Expr, exp: sympy.Expr) -> str:
        if isinstance(exp, sympy.Integer) and exp < 0 and self._parametric(base):
            return self.reciprocal(base ** -exp)
        b = self._print(base)
        if exp == sympy.Rational(1, 2):
            return f"sqrt({b})"
        if isinstance(exp, sympy.Integer) and 0 < exp <= 4:
            return "(" + "*".join([b] * int(exp)) + ")"
        if isinstance(exp, sympy.Integer) and -4 <= exp < 0:
            return f"({self.constant(1.0)}/({'*'.join([b] * int(-exp))}))"
        return f"pow({b}, {self._print(exp)})"


# --- target namespaces --------------------------------------------------------------------


def scalar_where(c, a, b):
    return a if c else b


def scalar_clip(x, lo, hi):
    return min(max(x, lo), hi)


def scalar_phi1(a, h):
    """``expm1(a h)/a``, as :func:`neurosim.neurons.fastexp.phi1` computes it."""
    y = a * h
    return h * (1.0 + y * (0.5 + y * (1.0 / 6.0))) if abs(y) < 1e-5 else (math.exp(y) - 1.0) / a


def scalar_exprel(x):
    """``expm1(x)/x``, as :func:`neurosim.neurons.fastexp.exprel` computes it."""
    return 1.0 + x * (0.5 + x * (1.0 / 6.0)) if abs(x) < 1e-5 else (math.exp(x) - 1.0) / x


#: scalar helpers that the CUDA target compiles as device functions (the numba CPU target takes
#: :func:`cpu_namespace`, whose ``exp``, ``phi1`` and ``exprel`` are :mod:`neurosim.neurons.fastexp`'s)
SCALAR_HELPERS: dict[str, Callable] = {"where": scalar_where, "clip": scalar_clip, "phi1": scalar_phi1,
                                       "exprel": scalar_exprel}
SCALAR_MATH: dict[str, Callable] = {
    "exp": math.exp, "expm1": math.expm1, "log": math.log, "sqrt": math.sqrt, "abs": abs, "tanh": math.tanh,
    "sin": math.sin, "cos": math.cos, "pow": math.pow, "floor": math.floor,
}


def cpu_namespace() -> dict[str, Callable]:
    """The functions of a step body in numba CPU code: ``math``'s, with the vectorisable ``exp``,
    ``phi1`` and ``exprel`` of :mod:`neurosim.neurons.fastexp`."""
    import numba

    helpers = {name: numba.njit(inline="always")(fn) for name, fn in (("where", scalar_where), ("clip", scalar_clip))}
    return {**SCALAR_MATH, **helpers, "exp": fastexp.exp, "phi1": fastexp.phi1, "exprel": fastexp.exprel}


def _fast_exp(x):
    return fastexp.exp(x)


def _fast_phi1(a, h):
    return fastexp.phi1(a, h)


def _fast_exprel(x):
    return fastexp.exprel(x)


def _libm_expm1(x):
    return math.expm1(x)


def _libm_log(x):
    return math.log(x)


def _libm_tanh(x):
    return math.tanh(x)


def _libm_sin(x):
    return math.sin(x)


def _libm_cos(x):
    return math.cos(x)


def _libm_pow(x, y):
    return math.pow(x, y)


class _Ufunc:
    """A NumPy ufunc (float32 and float64) of a scalar function, compiled by numba on first use.

    The NumPy reference evaluates transcendental functions with the very code the numba kernels
    inline (:mod:`neurosim.neurons.fastexp`'s ``exp``, the C library's ``log``, ``tanh``, ...):
    NumPy's own vectorised ``np.exp`` differs from it in the last bit for some arguments, which
    would break the spike-for-spike agreement of the backends over long runs."""

    def __init__(self, scalar: Callable, n_args: int):
        self.scalar, self.n_args, self.ufunc = scalar, n_args, None

    def __call__(self, *args: np.ndarray) -> np.ndarray:
        if self.ufunc is None:  # float32 first: NumPy takes the first loop the inputs fit
            import numba
            sigs = [f"{t}({', '.join([t] * self.n_args)})" for t in ("float32", "float64")]
            self.ufunc = numba.vectorize(sigs)(self.scalar)  # not cached: fastexp edits must not go stale
        return self.ufunc(*args)


NUMPY: dict[str, Callable] = {
    "where": np.where, "sqrt": np.sqrt, "abs": np.abs, "clip": np.clip, "floor": np.floor,
    "exp": _Ufunc(_fast_exp, 1), "expm1": _Ufunc(_libm_expm1, 1), "log": _Ufunc(_libm_log, 1),
    "tanh": _Ufunc(_libm_tanh, 1), "sin": _Ufunc(_libm_sin, 1), "cos": _Ufunc(_libm_cos, 1),
    "pow": _Ufunc(_libm_pow, 2), "phi1": _Ufunc(_fast_phi1, 2), "exprel": _Ufunc(_fast_exprel, 1),
}


def _build_exprel(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    safe = np.where(x == 0, 1.0, x)
    return np.where(x == 0, 1.0, np.expm1(safe) / safe)


#: plain NumPy functions for values computed once when a network is built (initial values, coefficients)
BUILD: dict[str, Callable] = {"expm1": np.expm1, "exprel": _build_exprel, "clip": np.clip, "abs": np.abs}


def compile_source(source: str, name: str, namespace: dict[str, Callable], filename: str) -> Callable:
    """The function ``name`` defined by ``source``, its globals being ``namespace``."""
    scope = dict(namespace)
    exec(compile(source, filename, "exec"), scope)
    return scope[name]
