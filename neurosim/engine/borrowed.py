"""Borrowed views: arrays (alone or in a tuple) without their reference count, for hot calls.

numba updates the reference count of every array it passes to a function that is not inlined,
atomically, on each call and return. The step loop calls the phases around the neuron update
once per step with the layout's ~30 arrays, so those updates cost about a microsecond per step.
:func:`borrowed` returns the same arrays with a null meminfo: numba skips reference counting
for them. They are valid while the arrays they view are alive, which the caller guarantees by
holding the originals for the whole call of the kernel that made them.
"""

from __future__ import annotations

from numba.core import cgutils, types
from numba.extending import intrinsic


def _drop_meminfo(context, builder, ty, value):
    ary = context.make_array(ty)(context, builder, value=value)
    ary.meminfo = cgutils.get_null_value(ary.meminfo.type)
    ary.parent = cgutils.get_null_value(ary.parent.type)
    return ary._getvalue()


@intrinsic
def borrowed(typingctx, value):
    """``value`` (an array, or a tuple of arrays and scalars) with reference counting off."""
    if isinstance(value, types.Array):
        def codegen(context, builder, signature, args):
            return _drop_meminfo(context, builder, value, args[0])
        return value(value), codegen
    if isinstance(value, types.BaseTuple) and all(
            isinstance(t, (types.Array, types.Number, types.Boolean)) for t in value.types):
        def codegen(context, builder, signature, args):
            out = args[0]
            for i, ty in enumerate(value.types):
                if isinstance(ty, types.Array):
                    out = builder.insert_value(out, _drop_meminfo(context, builder, ty,
                                                                  builder.extract_value(out, i)), i)
            return out
        return value(value), codegen
    return None
