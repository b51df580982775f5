"""The neuron step of the ``cuda`` backend, generated from the compiled models of a layout.

Each model's step body (:mod:`neurosim.neurons.description`) becomes a device function
``model_k(i, n, flat, ref, i_ext, params, ref_steps)`` that loads neuron ``i``'s state
variables (rows of ``flat[K N]``), its refractory counter, external current and parameter
rows, runs the body, stores the new state and returns whether the neuron spiked. The device
function ``step_neuron`` runs the model of neuron ``i`` (``model_of[i]``, from
``Layout.segments``' model column); the persistent kernel
(:mod:`neurosim.engine.cuda_persistent`) calls it for every neuron of every step. Nothing of
any model is written here: the model math is the body the
description compiles to, and the scalar helpers (``where``, ``clip``, ``phi1``, ``exprel``)
are those of :mod:`neurosim.neurons.codegen`, compiled as device functions.

Under numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``) the math functions of the body
(``exp``, ``expm1``, ``log``, ``pow``...), and those the helpers call, are the NumPy reference
backend's own (``codegen.NUMPY``) applied to scalars, so that the simulated kernel reproduces
the ``numpy`` backend bit for bit in float64 whatever functions the reference evaluates with
(Python's ``math.exp`` and NumPy's vectorised ``np.exp`` differ in the last bit for a few per
cent of arguments). On a GPU they are ``math``'s, i.e. CUDA's libdevice, and results agree with
the other backends to rounding (NVVM also contracts multiply-adds into FMAs).

Generated steps are cached per tuple of models.
"""

from __future__ import annotations

import functools
import re
import types
from typing import Callable

import numpy as np
from numba import cuda

from neurosim.engine.cuda_kernels import SIMULATED
from neurosim.neurons import codegen
from neurosim.neurons.description import CompiledModel

#: the parameters of a generated ``model_k`` (a model's step must not use these names)
_RESERVED = {"i", "n", "flat", "ref_a", "i_ext_a", "params", "ref_steps_a"}


def _math_namespace() -> dict[str, Callable]:
    """The math functions a body and the helpers call: the NumPy reference's when simulated, else ``math``'s."""
    if SIMULATED:
        return {name: codegen.NUMPY.get(name, fn) for name, fn in codegen.SCALAR_MATH.items()}
    return dict(codegen.SCALAR_MATH)


@functools.lru_cache(maxsize=1)
def _helpers() -> dict[str, Callable]:
    """``codegen.SCALAR_HELPERS`` as device functions (their ``math`` bound as the body's). On a
    GPU, ``phi1`` and ``exprel`` are :mod:`neurosim.neurons.fastexp`'s stubs with CUDA overloads
    whose constants take the argument's type, so that float32 layouts compute in float32."""
    math_ns = types.SimpleNamespace(**_math_namespace())
    out = {}
    for name, fn in codegen.SCALAR_HELPERS.items():
        if SIMULATED:  # the same code, its ``math.exp``... being the NumPy reference's
            fn = types.FunctionType(fn.__code__, {**fn.__globals__, "math": math_ns}, fn.__name__, fn.__defaults__,
                                    fn.__closure__)
        elif name in _TYPED:
            out[name] = _TYPED[name]()
            continue
        out[name] = cuda.jit(device=True)(fn)
    return out


@functools.lru_cache(maxsize=1)
def _typed_helpers() -> dict[str, Callable]:
    """CUDA overloads of ``fastexp.phi1`` / ``fastexp.exprel`` (the formulas of
    ``codegen.scalar_phi1`` / ``scalar_exprel``, constants in the argument's float type)."""
    import math

    from numba.extending import overload

    from neurosim.neurons import fastexp

    @overload(fastexp.phi1, target="cuda")
    def _phi1(a, h):
        one, half, sixth, small = fastexp._constants(a)

        def impl(a, h):
            y = a * h
            series = h * (one + y * (half + y * sixth))
            return series if abs(y) < small else (math.exp(y) - one) / a
        return impl

    @overload(fastexp.exprel, target="cuda")
    def _exprel(x):
        one, half, sixth, small = fastexp._constants(x)

        def impl(x):
            series = one + x * (half + x * sixth)
            return series if abs(x) < small else (math.exp(x) - one) / x
        return impl

    return {"phi1": fastexp.phi1, "exprel": fastexp.exprel}


#: helpers replaced on a GPU by type-preserving overloads (registered on first use)
_TYPED = {"phi1": lambda: _typed_helpers()["phi1"], "exprel": lambda: _typed_helpers()["exprel"]}


def _check_names(model: CompiledModel) -> None:
    used = set(re.findall(r"\b[A-Za-z_]\w*\b", "\n".join(model.body))) | set(model.arguments)
    clash = sorted(used & _RESERVED)
    if clash:
        raise ValueError(f"neuron model {model.name}: its step uses {', '.join(clash)}, "
                         "names the CUDA kernel reserves")


def model_source(k: int, model: CompiledModel) -> str:
    """``model_k(i, n, flat, ref_a, i_ext_a, params, ref_steps_a)``: neuron ``i`` takes model ``k``'s step."""
    _check_names(model)
    nx = len(model.state)
    names = model.arguments[nx + 2:-1]  # one per runtime row
    lines = [f"def model_{k}(i, n, flat, ref_a, i_ext_a, params, ref_steps_a):"]
    lines += [f"    {model.arguments[j]} = flat[{j} * n + i]" for j in range(nx)]
    lines += ["    ref = ref_a[i]", "    i_ext = i_ext_a[i]", "    ref_steps = ref_steps_a[i]"]
    lines += [f"    {name} = params[{j}, i]" for j, name in enumerate(names)]
    lines += [f"    {line}" for line in model.body]
    lines += [f"    flat[{j} * n + i] = n_{x}" for j, x in enumerate(model.state)]
    lines += ["    ref_a[i] = n_ref", "    return spike"]
    return "\n".join(lines) + "\n"


def step_source(n_models: int) -> str:
    """``step_neuron(i, n, flat, ref_a, i_ext_a, params, ref_steps_a, model_of)``: neuron ``i``
    takes the step of its model; returns whether it spiked."""
    lines = ["def step_neuron(i, n, flat, ref_a, i_ext_a, params, ref_steps_a, model_of):",
             "    kind = model_of[i]"]
    for m in range(n_models):
        lines.append(f"    {'if' if m == 0 else 'elif'} kind == {m}:")
        lines.append(f"        return model_{m}(i, n, flat, ref_a, i_ext_a, params, ref_steps_a)")
    lines.append("    return False")
    return "\n".join(lines) + "\n"


@functools.lru_cache(maxsize=64)
def neuron_step(models: tuple[CompiledModel, ...]):
    """The device function ``step_neuron`` of ``models`` (:func:`step_source`)."""
    scope = {**_math_namespace(), **_helpers(), "cuda": cuda}
    for m, model in enumerate(models):
        fn = codegen.compile_source(model_source(m, model), f"model_{m}", scope, f"<cuda neuron model {model.name}>")
        scope[f"model_{m}"] = cuda.jit(device=True)(fn)
    step = codegen.compile_source(step_source(len(models)), "step_neuron", scope, "<cuda neuron step>")
    return cuda.jit(device=True)(step)


def model_of(segments: np.ndarray, n: int) -> np.ndarray:
    """The model index (``Layout.models``) of every neuron, from the segments' model column."""
    out = np.zeros(max(n, 1), np.int32)
    for a, b, _, _, kind in segments:
        out[a:b] = kind
    return out
