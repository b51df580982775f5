"""Counter-based random numbers: the draw for (seed, step, element) depends on nothing else.

Runs are therefore reproducible whatever the thread count or the block boundaries, and
the NumPy and Numba backends draw identical numbers. The mixer is SplitMix64:
``u = splitmix64(splitmix64(seed ^ step·K) ^ element) >> 11`` scaled to [0, 1).
"""

from __future__ import annotations

import numpy as np

from neurosim.engine.jit_cache import njit

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_STEP_KEY = np.uint64(0xD1B54A32D192ED03)
_TO_UNIT = 1.0 / 9007199254740992.0  # 2**-53


def splitmix64(x):
    """SplitMix64 finaliser on uint64 scalars or arrays (wrapping arithmetic)."""
    z = x + _GOLDEN
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


splitmix64_jit = njit(cache=True)(splitmix64)


@njit(cache=True)
def uniform_jit(seed, step, element):
    """Uniform double in [0, 1) for uint64 scalars ``seed``, ``step``, ``element``."""
    key = splitmix64_jit(seed ^ (step * _STEP_KEY))
    return (splitmix64_jit(key ^ element) >> _S11) * _TO_UNIT


def uniform(seed: np.uint64, step: int, elements: np.ndarray) -> np.ndarray:
    """NumPy version of :func:`uniform_jit` for an array of element ids."""
    with np.errstate(over="ignore"):
        step_arr = np.full(elements.shape, step, dtype=np.uint64)
        key = splitmix64(np.uint64(seed) ^ (step_arr * _STEP_KEY))
        return (splitmix64(key ^ elements.astype(np.uint64)) >> _S11) * _TO_UNIT
