"""Borrowed views (neurosim.engine.borrowed): same memory, no reference counting."""

import numba
import numpy as np
import pytest
from numba.core import cgutils, types
from numba.core.errors import TypingError
from numba.extending import intrinsic

from neurosim.engine.borrowed import borrowed


@intrinsic
def _meminfo_address(typingctx, ary):
    """The address of an array's meminfo (0 when it has none)."""
    def codegen(context, builder, signature, args):
        meminfo = context.make_array(ary)(context, builder, value=args[0]).meminfo
        return builder.ptrtoint(meminfo, cgutils.intp_t)
    return types.intp(ary), codegen


@numba.njit
def _addresses(a):
    return _meminfo_address(a), _meminfo_address(borrowed(a))


def test_a_borrowed_view_has_no_meminfo_and_the_original_keeps_its_own():
    own, view = _addresses(np.zeros(4))
    assert own != 0
    assert view == 0


@numba.njit
def _write_through(pair):
    a, b, scale = borrowed(pair)
    a[1] = 7.0 * scale
    b[0] = 3
    return a.shape[0] + b.shape[0]


def test_a_borrowed_tuple_views_the_same_memory_and_keeps_its_scalars():
    a, b = np.zeros(3), np.zeros(2, dtype=np.int32)
    assert _write_through((a, b, 2.0)) == 5
    assert a.tolist() == [0.0, 14.0, 0.0]
    assert b.tolist() == [3, 0]


def test_a_tuple_holding_something_else_is_refused():
    @numba.njit
    def f(t):
        return borrowed(t)

    with pytest.raises(TypingError):
        f((np.zeros(2), (np.zeros(2),)))
