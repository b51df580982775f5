"""Let LLVM vectorise a kernel's loops with 512-bit registers where the CPU has them.

LLVM tunes several AVX-512 CPUs (Skylake-X, Ice Lake, Sapphire Rapids) to prefer 256-bit
vectors, and numba sets no per-function preference. The neuron update is a loop of ~30
independent operations per 4 float64 neurons, bound by instruction throughput rather than
memory; with 512-bit vectors each instruction covers 8. :func:`prefer_wide_vectors`, called
in a jitted function, marks the function it is lowered into with LLVM's
``"prefer-vector-width"="512"`` attribute. Element-wise arithmetic is the same at any vector
width, so results do not change; on CPUs without AVX-512 the attribute has no effect.
"""

from __future__ import annotations

from numba.core import types
from numba.extending import intrinsic

#: LLVM's function attribute (a string attribute, which llvmlite's attribute set does not list)
ATTRIBUTE = '"prefer-vector-width"="512"'


@intrinsic
def prefer_wide_vectors(typingctx):
    """Mark the jitted function this call is lowered into to prefer 512-bit vectors."""
    def codegen(context, builder, signature, args):
        set.add(builder.function.attributes, ATTRIBUTE)  # bypasses the list of known enum attributes
        return context.get_dummy_value()
    return types.none(), codegen
