"""The neuron update of the numba kernel, generated from the compiled models of a layout.

Each model's step body (:mod:`neurosim.neurons.description`) is compiled with scalar
functions (:func:`neurosim.neurons.codegen.cpu_namespace`: ``math``'s, and the vectorisable
``exp`` of :mod:`neurosim.neurons.fastexp`) into the loop of a
segment function generated per model, and ``update_neurons``
dispatches each segment to its model's loop. A segment whose parameters are shared reads them
as scalars once (and a constant external current as a scalar): the loop then stays within
cache bandwidth and LLVM vectorises it. Loops run over ``range(len)`` of per-segment views: a
loop from a non-zero start carries numba's negative-index wraparound, which blocks
vectorisation. Divisions follow NumPy's error model (a zero divisor gives inf or nan, as in
the NumPy reference, instead of a branch that raises), which also lets LLVM vectorise them.
The update prefers 512-bit vectors (:mod:`neurosim.engine.wide_vectors`) where the CPU has
them: about 25 % less time per neuron-step than LLVM's 256-bit default on AVX-512 CPUs.
"""

from __future__ import annotations

import functools
import hashlib
from typing import Callable

import numba

from neurosim.engine.wide_vectors import prefer_wide_vectors
from neurosim.neurons import codegen
from neurosim.neurons.description import CompiledModel



def _loop(model: CompiledModel, rows: list[str], indent: str) -> str:
    """The loop over the neurons of a segment: load the state, the step's body, store the state."""
    nx = len(model.state)
    pad = indent + "    "
    load = "".join(f"{pad}{model.arguments[j]} = x{j}[i]\n" for j in range(nx))
    store = "".join(f"{pad}x{j}[i] = n_{x}\n" for j, x in enumerate(model.state))
    body = "".join(f"{pad}{line}\n" for line in model.body)
    return (f"{indent}for i in range(b - a):\n{load}{pad}ref = r[i]\n{''.join(pad + r + chr(10) for r in rows)}"
            f"{body}{store}{pad}r[i] = n_ref\n{pad}out[i] = spike\n")


def tag(models: tuple[CompiledModel, ...]) -> str:
    """A name suffix unique to a set of models. Generated functions carry it: numba names a
    compiled function after its qualified name (and a per-process counter), so two kernels
    loaded from the disk cache could otherwise define one symbol twice, and a call would reach
    the other model's code."""
    return hashlib.sha256("|".join(m.key for m in models).encode()).hexdigest()[:12]


def _segment_source(k: int, model: CompiledModel, suffix: str = "") -> str:
    """``segment_k(g, ...)``: the loop of one segment running model ``k``, with the model's step
    body inlined (a call with more than 30 arguments would not compile)."""
    nx = len(model.state)
    names = model.arguments[nx + 2:-1]  # one per row
    views = "".join(f"    x{j} = vars_[{j}, a:b]\n" for j in range(nx))
    shared = "".join(f"        {name} = params[{j}, a]\n" for j, name in enumerate(names))
    own = "".join(f"        q{j} = params[{j}, a:b]\n" for j in range(len(names)))
    own_loads = [f"{name} = q{j}[i]" for j, name in enumerate(names)]
    return (
        f"def segment_{k}{suffix}(g, segments, params, ref_steps, vars_, ref, i_ext, spiked):\n"
        f"    a, b = segments[g, 0], segments[g, 1]\n"
        f"{views}"
        f"    r, out, cur, rs = ref[a:b], spiked[a:b], i_ext[a:b], ref_steps[a:b]\n"
        f"    if segments[g, 2]:\n"
        f"{shared}"
        f"        ref_steps_0 = ref_steps[a]\n"
        f"        if segments[g, 3]:\n"
        f"            i_ext_0 = i_ext[a]\n"
        + _loop(model, ["i_ext = i_ext_0", "ref_steps = ref_steps_0"], "            ")
        + "        else:\n"
        + _loop(model, ["i_ext = cur[i]", "ref_steps = ref_steps_0"], "            ")
        + "    else:\n"
        + own
        + _loop(model, ["i_ext = cur[i]", "ref_steps = rs[i]"] + own_loads, "        ")
    )


def _dispatch_source(n_models: int, suffix: str = "") -> str:
    lines = [f"def update_neurons{suffix}(segments, params, ref_steps, vars_, ref, i_ext, spiked):",
             "    prefer_wide_vectors()",
             "    for g in range(segments.shape[0]):",
             "        kind = segments[g, 4]"]
    for k in range(n_models):
        lines.append(f"        {'if' if k == 0 else 'elif'} kind == {k}:")
        lines.append(f"            segment_{k}{suffix}(g, segments, params, ref_steps, vars_, ref, i_ext, spiked)")
    return "\n".join(lines) + "\n"


@functools.lru_cache(maxsize=64)
def update_function(models: tuple[CompiledModel, ...]) -> Callable:
    """The jitted ``update_neurons(segments, params, ref_steps, vars_, ref, i_ext, spiked)`` of ``models``."""
    suffix = f"_{tag(models)}"
    scope = {**codegen.cpu_namespace(), "prefer_wide_vectors": prefer_wide_vectors}
    for k, model in enumerate(models):
        name = f"segment_{k}{suffix}"
        seg = codegen.compile_source(_segment_source(k, model, suffix), name, scope, f"<segment {model.name}>")
        scope[name] = numba.njit(inline="always", error_model="numpy")(seg)
    update = codegen.compile_source(_dispatch_source(len(models), suffix), f"update_neurons{suffix}", scope,
                                    "<neuron update>")
    return numba.njit(nogil=True, error_model="numpy")(update)
