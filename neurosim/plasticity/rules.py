"""The plasticity rule, written once: the statements of its weight updates, and the scalar
updates of traces and modulators (see :mod:`.stdp` and :mod:`.modulator`).

The weight updates of trace-based STDP (pair, Vogels–Sprekeler and triplet; equations in
:mod:`.stdp`) are :data:`POTENTIATION` and :data:`DEPRESSION`: one arithmetic operation per
statement, no literals, branch-free (``soft`` is 1 for the multiplicative weight dependence and
0 for the additive one, ``hard = 1 - soft``), so that every target evaluates the same
operations in the same order and rounds alike:

- :func:`potentiate` and :func:`depress`, generated from them (and :func:`coincide` from
  :data:`COINCIDENCE`, both of a step's changes clipped once, NALSM's order), are plain Python functions of
  scalars; the numba backend compiles them with ``njit`` and the CUDA backend with
  ``cuda.jit(device=True)``;
- :data:`NUMPY_POTENTIATE` / :data:`NUMPY_DEPRESS` are the same source bound to NumPy's ``minimum``
  and ``maximum``,
  applied to arrays of synapses by the NumPy reference;
- :func:`brian2_code` prints them as Brian2 abstract code for the Brian2 translation.

Names: ``w`` the weight, ``x`` the other side's trace (presynaptic ``x_pre(t - D)`` for a
potentiation, postsynaptic ``x_post(t)`` for a depression), ``y`` the own side's slow trace
(triplet: ``o2`` and ``r2``), ``a2``/``a3`` the pair and triplet amplitudes, ``lr`` the
learning-rate factor, ``lo``/``hi`` the bounds, ``alpha`` the Vogels–Sprekeler offset.
"""

from __future__ import annotations

import types
from typing import Callable

import numpy as np

from neurosim.neurons.codegen import compile_source

Statements = tuple[tuple[str, str], ...]

#: ``w <- clip(w + lr (a2 + a3 y) g+(w) x, lo, hi)`` at a postsynaptic spike
POTENTIATION: Statements = (
    ("triplet", "a3 * y"), ("amp", "a2 + triplet"), ("rate", "amp * lr"),
    ("room", "hi - w"), ("soft_room", "soft * room"), ("g", "soft_room + hard"),
    ("ag", "rate * g"), ("dw", "ag * x"), ("moved", "w + dw"),
)
#: ``w <- clip(w - lr (a2 + a3 y) g-(w) (x - alpha), lo, hi)`` at a presynaptic arrival
DEPRESSION: Statements = (
    ("triplet", "a3 * y"), ("amp", "a2 + triplet"), ("rate", "amp * lr"),
    ("room", "w - lo"), ("soft_room", "soft * room"), ("g", "soft_room + hard"),
    ("ag", "rate * g"), ("xa", "x - alpha"), ("dw", "ag * xa"), ("moved", "w - dw"),
)
#: a presynaptic arrival and a postsynaptic spike of the same step, combined as NALSM does
#: (Ivanov & Michmizos 2021, authors' ``NALSM_STDP.py``): both changes are computed from the same
#: ``w`` and summed, then clipped once, ``w <- clip(w + dw+ - dw-, lo, hi)``; ``dw+``/``dw-`` are
#: the ``dw`` of :data:`POTENTIATION` (arguments suffixed ``p``) and :data:`DEPRESSION` (``m``).
#: The engine's backends apply the two statements one after the other, clipping each.
COINCIDENCE_ARGS = ("w", "xp", "yp", "xm", "ym", "a2p", "a3p", "a2m", "a3m", "lrp", "lrm", "lo", "hi", "soft",
                    "hard", "alpha")


def _coincidence() -> Statements:
    def side(statements: Statements, prefix: str, suffix: str) -> list[tuple[str, str]]:
        temps = {var for var, _ in statements}
        args = {"x", "y", "a2", "a3", "lr"}

        def rename(tok: str) -> str:
            return prefix + tok if tok in temps else tok + suffix if tok in args else tok

        return [(prefix + var, " ".join(rename(t) for t in expr.split())) for var, expr in statements[:-1]]

    return (*side(POTENTIATION, "p_", "p"), *side(DEPRESSION, "m_", "m"), ("both", "p_dw - m_dw"),
            ("moved", "w + both"))


COINCIDENCE: Statements = _coincidence()
#: the last statement's value, clipped to the bounds, is the new weight (``min``/``max``: Python's
#: builtins for scalars, which numba and CUDA compile; NumPy's ``minimum``/``maximum`` for arrays)
RESULT = "min(max(moved, lo), hi)"
POTENTIATION_ARGS = ("w", "x", "y", "a2", "a3", "lr", "lo", "hi", "soft", "hard")
DEPRESSION_ARGS = (*POTENTIATION_ARGS, "alpha")


def _source(name: str, statements: Statements, arguments: tuple[str, ...]) -> str:
    body = "".join(f"    {var} = {expr}\n" for var, expr in statements)
    return f"def {name}({', '.join(arguments)}):\n{body}    return {RESULT}\n"


def _generate(name: str, statements: Statements, arguments: tuple[str, ...],
              namespace: dict[str, Callable]) -> Callable:
    return compile_source(_source(name, statements, arguments), name, namespace, f"<plasticity {name}>")


_ARRAYS = {"min": np.minimum, "max": np.maximum}
potentiate = _generate("potentiate", POTENTIATION, POTENTIATION_ARGS, {})
depress = _generate("depress", DEPRESSION, DEPRESSION_ARGS, {})
coincide = _generate("coincide", COINCIDENCE, COINCIDENCE_ARGS, {})
NUMPY_POTENTIATE = _generate("potentiate", POTENTIATION, POTENTIATION_ARGS, _ARRAYS)
NUMPY_DEPRESS = _generate("depress", DEPRESSION, DEPRESSION_ARGS, _ARRAYS)


def brian2_code(statements: Statements, names: dict[str, str], prefix: str) -> str:
    """``statements`` as Brian2 abstract code: arguments renamed by ``names`` (``w`` to the
    synaptic weight variable, which receives the result), temporaries prefixed by ``prefix``."""
    temps = {var for var, _ in statements}

    def rename(expr: str) -> str:
        return " ".join(prefix + tok if tok in temps else names.get(tok, tok) for tok in expr.split())

    lines = [f"{prefix}{var} = {rename(expr)}" for var, expr in statements]
    lines.append(f"{names['w']} = clip({prefix}moved, {names['lo']}, {names['hi']})")
    return "\n".join(lines) + "\n"


def next_trace(x, spiked, inc, decay, nearest):
    """The trace one step later: ``(x + inc S) d`` (all-to-all) or ``(inc if S else x) d`` (nearest)."""
    if nearest:
        return (inc if spiked else x) * decay
    return (x + inc if spiked else x) * decay


def same_step_trace(x, inc, nearest):
    """The presynaptic trace including an arrival now: ``x + inc`` (all-to-all) or ``inc`` (nearest)."""
    return inc if nearest else x + inc


def modulator_step(a, drive, weight, bias, tau_steps):
    """``A + (weight drive + bias - A) / (tau / dt)``."""
    return a + (weight * drive + bias - a) / tau_steps


def integrate_modulators(n_mod, pl):
    """Modulators ``0 .. n_mod-1`` of the layout's ``Plasticity`` arrays ``pl``, in index order:
    each takes :func:`modulator_step` with the drive ``sum coef n`` (``n`` the spike counts
    ``gcount`` of the groups that drive it) and sets the learning-rate factors ``lr`` it targets.
    The engines compile it with their compiled :func:`modulator_step` (:func:`bound`)."""
    for m in range(n_mod):
        drive = 0.0
        for q in range(pl.mod_drive_ptr[m], pl.mod_drive_ptr[m + 1]):
            drive += pl.mod_coef[q] * pl.gcount[pl.mod_group[q]]
        a_m = modulator_step(pl.mod_state[m], drive, pl.mod_weight[m], pl.mod_bias[m], pl.mod_tau[m])
        pl.mod_state[m] = a_m
        for q in range(pl.mod_target_ptr[m], pl.mod_target_ptr[m + 1]):
            pl.lr[pl.mod_proj[q], pl.mod_kind[q]] = a_m


def bound(func: Callable, **names: Callable) -> Callable:
    """``func`` with the global functions ``names`` replaced (by an engine's compiled ones)."""
    return types.FunctionType(func.__code__, {**func.__globals__, **names}, func.__name__)
