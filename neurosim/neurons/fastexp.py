"""``exp`` that LLVM vectorises, with the same bits in the NumPy reference and the numba kernels.

The C library's ``exp`` is a call LLVM cannot vectorise (its vector variants in libmvec round
differently, so a vectorised loop would no longer match the reference bit for bit). This one
is plain arithmetic: ``x = k ln2 + r`` with ``|r| <= ln2/2`` (Cody–Waite, two-part ln2), a
Taylor polynomial of ``exp(r)`` (degree 13 in float64, 7 in float32: truncation below
1e-17 / 1e-9 relative), Horner's scheme, and ``2^k`` assembled in the exponent bits. Error: at
most 2 units in the last place over the normal range (tested against ``math.exp``); results
below the smallest normal number flush to 0, overflow gives inf, NaN stays NaN. Being
arithmetic only, it gives the same bits scalar or vectorised, on every CPU, in the numba kernels
and in the NumPy reference (a ufunc compiled from the same code).

``phi1(a, h) = expm1(a h)/a`` and ``exprel(x) = expm1(x)/x`` are built on it: ``(exp(y) - 1)``
loses relative accuracy for tiny ``y``, so below ``|y| < 1e-5`` a three-term series is used.
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic, overload, register_jitable

_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.44269504088896338700e+00
_SHIFT = 6755399441055744.0  # 1.5 * 2^52: adding it rounds to an integer kept in the low mantissa bits
_MAX = 709.782712893384
_MIN = -708.3964185322641  # exp(_MIN) is the smallest normal number
_COEF64 = tuple(1.0 / math.factorial(k) for k in range(14))

_LN2_HI32 = np.float32(0.693145751953125)
_LN2_LO32 = np.float32(1.428606765330187045e-06)
_INV_LN2_32 = np.float32(1.4426950408889634)
_SHIFT32 = np.float32(12582912.0)  # 1.5 * 2^23
_MAX32 = np.float32(88.72283)
_MIN32 = np.float32(-87.33654)
_COEF32 = tuple(np.float32(1.0 / math.factorial(k)) for k in range(8))


@intrinsic
def _as_int(typingctx, x):
    """The bits of a float as an integer of its width."""
    width = 64 if x == types.float64 else 32
    sig = types.int64(x) if width == 64 else types.int32(x)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(width))
    return sig, codegen


@intrinsic
def _as_float(typingctx, bits):
    """The float whose bits are the integer ``bits`` (int64 -> float64, int32 -> float32)."""
    wide = bits == types.int64
    sig = types.float64(bits) if wide else types.float32(bits)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType() if wide else ir.FloatType())
    return sig, codegen


@register_jitable
def _exp64(x):
    kd = x * _INV_LN2 + _SHIFT
    bits = _as_int(kd)
    k = kd - _SHIFT
    r = (x - k * _LN2_HI) - k * _LN2_LO
    p = _COEF64[13]
    p = p * r + _COEF64[12]
    p = p * r + _COEF64[11]
    p = p * r + _COEF64[10]
    p = p * r + _COEF64[9]
    p = p * r + _COEF64[8]
    p = p * r + _COEF64[7]
    p = p * r + _COEF64[6]
    p = p * r + _COEF64[5]
    p = p * r + _COEF64[4]
    p = p * r + _COEF64[3]
    p = p * r + _COEF64[2]
    p = p * r + _COEF64[1]
    p = p * r + _COEF64[0]
    y = p * _as_float((bits + np.int64(1023)) << np.int64(52))
    y = np.inf if x > _MAX else y
    return 0.0 if x < _MIN else y


@register_jitable
def _exp32(x):
    kd = x * _INV_LN2_32 + _SHIFT32
    bits = _as_int(kd)
    k = kd - _SHIFT32
    r = (x - k * _LN2_HI32) - k * _LN2_LO32
    p = _COEF32[7]
    p = p * r + _COEF32[6]
    p = p * r + _COEF32[5]
    p = p * r + _COEF32[4]
    p = p * r + _COEF32[3]
    p = p * r + _COEF32[2]
    p = p * r + _COEF32[1]
    p = p * r + _COEF32[0]
    y = p * _as_float(np.int32((bits + 127) << 23))  # numba widens int32 arithmetic: back to 32 bits
    y = np.float32(np.inf) if x > _MAX32 else y
    return np.float32(0.0) if x < _MIN32 else y


def exp(x):
    """``e^x`` (see the module docstring); numba code only."""
    return math.exp(x)


@overload(exp)
def _exp_impl(x):
    if x == types.float32:
        return lambda x: _exp32(x)
    if isinstance(x, types.Float):
        return lambda x: _exp64(x)
    return lambda x: _exp64(float(x))


def phi1(a, h):
    """``expm1(a h)/a`` (``h`` where ``a = 0``); numba code only."""
    return math.expm1(a * h) / a if a != 0 else h


def _constants(t: types.Type) -> tuple:
    """(1, 1/2, 1/6, 1e-5) in the float type ``t``, so that float32 stays float32."""
    f = np.float32 if t == types.float32 else np.float64
    return f(1.0), f(0.5), f(1.0 / 6.0), f(1e-5)


@overload(phi1)
def _phi1_impl(a, h):
    one, half, sixth, small = _constants(a)

    def impl(a, h):
        y = a * h
        series = h * (one + y * (half + y * sixth))
        return series if abs(y) < small else (exp(y) - one) / a
    return impl


def exprel(x):
    """``(e^x - 1)/x`` (1 at 0); numba code only."""
    return math.expm1(x) / x if x != 0 else 1.0


@overload(exprel)
def _exprel_impl(x):
    one, half, sixth, small = _constants(x)

    def impl(x):
        series = one + x * (half + x * sixth)
        return series if abs(x) < small else (exp(x) - one) / x
    return impl
