"""Counter-based random numbers: the draw for (seed, step, element) depends on nothing else.

Runs are therefore reproducible whatever the thread count or the block boundaries, and
the NumPy and Numba backends draw identical numbers. The mixer is SplitMix64:
``u = splitmix64(splitmix64(seed ^ step·K) ^ element) >> 11`` scaled to [0, 1).
"""

from __future__ import annotations

import math

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


#: draw ``r`` for one element uses the element id ``element | r << DRAW_SHIFT`` (ids stay below 2**40)
DRAW_SHIFT = np.uint64(40)
#: alias-table draws below this mean count, transformed rejection (BTRS, :func:`binomial`) from it
ALIAS_MAX_MEAN = 10.0
#: log k! - ((k + 1/2) log(k + 1) - (k + 1) + log(2 pi)/2) for k = 0..9 (Hörmann 1993, table 1)
_STIRLING_TAIL = (0.08106146679532726, 0.04134069595540929, 0.02767792568499834, 0.02079067210376509,
                  0.0166446911898211, 0.01387612882307075, 0.01189670994589177, 0.01041126526197209,
                  0.009255462182712733, 0.008330563433362871)


@njit(cache=True)
def stirling_tail(k):
    """The error of Stirling's formula for log k! (k >= 0, a float)."""
    if k < 10:
        return _STIRLING_TAIL[int(k)]
    kp1 = k + 1.0
    return (1.0 / 12 - (1.0 / 360 - 1.0 / 1260 / (kp1 * kp1)) / (kp1 * kp1)) / kp1


def binomial_alias(n: int, p: float) -> tuple[int, np.ndarray, np.ndarray]:
    """Walker's alias table of Binomial(n, p) for one-uniform draws (see :func:`alias_draw`):
    ``(k0, prob, alias)`` (``alias`` holds indices as float64) over the counts ``k0 .. k0 + len(prob) - 1`` outside which every
    probability is below 2**-64 (their total mass, below 2**-58, is dropped), built with
    Vose's method. Empty tables where the mean ``n min(p, 1-p)`` is
    :data:`ALIAS_MAX_MEAN` or more (:func:`binomial` rejects instead)."""
    q = min(p, 1.0 - p)
    if n * q >= ALIAS_MAX_MEAN:
        return 0, np.zeros(0), np.zeros(0)
    pmf = [(1.0 - q) ** n]
    while len(pmf) <= n and not (len(pmf) > n * q + 1 and pmf[-1] < 2.0 ** -64):
        k = len(pmf)
        pmf.append(pmf[-1] * (q / (1.0 - q) * (n - k + 1) / k))
    weights = np.array(pmf[::-1] if p > 0.5 else pmf)
    k0 = n - len(pmf) + 1 if p > 0.5 else 0
    size = weights.size
    scaled = weights / weights.sum() * size
    prob, alias = np.ones(size), np.arange(size)
    small, large = [i for i in range(size) if scaled[i] < 1.0], [i for i in range(size) if scaled[i] >= 1.0]
    while small and large:
        s, g = small.pop(), large.pop()
        prob[s], alias[s] = scaled[s], g
        scaled[g] -= 1.0 - scaled[s]
        (small if scaled[g] < 1.0 else large).append(g)
    return k0, prob, alias.astype(np.float64)


def alias_draw(u, prob, alias):
    """The table index (as a float) an alias table (:func:`binomial_alias`, ``alias`` as
    float64) gives the uniform ``u`` in [0, 1): column ``i = floor(u size)``, kept if the
    remaining fraction is below ``prob[i]``, else ``alias[i]``."""
    x = u * prob.shape[0]
    i = min(np.uint64(x), np.uint64(prob.shape[0] - 1))
    column = np.float64(i)
    return column if x - column < prob[i] else alias[i]


def binomial(seed, step, element, n, q, flip):
    """Binomial(n, p) count for ``(seed, step, element)`` from the counter-based uniforms, for
    means ``n q`` of :data:`ALIAS_MAX_MEAN` or more (smaller ones draw from an alias table).

    ``q = min(p, 1 - p)`` and ``flip = p > 1/2`` are the caller's. Hörmann's transformed
    rejection with squeeze (BTRS; W. Hörmann, J. Stat. Comput. Simul. 46, 1993), exact; two
    uniforms per trial, trial ``r`` drawing elements ``element | (2r) << 40`` and
    ``element | (2r + 1) << 40``.
    """
    nf = float(n)
    spq = math.sqrt(nf * q * (1.0 - q))
    b = 1.15 + 2.53 * spq
    a = -0.0873 + 0.0248 * b + 0.01 * q
    c = nf * q + 0.5
    v_r = 0.92 - 4.2 / b
    r = q / (1.0 - q)
    alpha = (2.83 + 5.1 / b) * spq
    m = math.floor((nf + 1.0) * q)
    trial = np.uint64(0)
    while True:
        u = uniform_jit(seed, step, element | ((trial + trial) << DRAW_SHIFT)) - 0.5
        v = uniform_jit(seed, step, element | ((trial + trial + np.uint64(1)) << DRAW_SHIFT))
        trial += np.uint64(1)
        us = 0.5 - abs(u)
        if us <= 0.0:
            continue
        kf = math.floor((2.0 * a / us + b) * u + c)
        if kf < 0.0 or kf > nf:
            continue
        if us >= 0.07 and v <= v_r:
            break
        lv = math.log(v * alpha / (a / (us * us) + b))
        bound = ((m + 0.5) * math.log((m + 1.0) / (r * (nf - m + 1.0)))
                 + (nf + 1.0) * math.log((nf - m + 1.0) / (nf - kf + 1.0))
                 + (kf + 0.5) * math.log(r * (nf - kf + 1.0) / (kf + 1.0))
                 + stirling_tail(m) + stirling_tail(nf - m) - stirling_tail(kf) - stirling_tail(nf - kf))
        if lv <= bound:
            break
    k = int(kf)
    return n - k if flip else k


binomial_jit = njit(cache=True)(binomial)


def normal(seed, step, element):
    """A standard normal for ``(seed, step, element)``: Box–Muller of the uniforms of elements
    ``element`` and ``element | 1 << 40``, ``sqrt(-2 log(1 - u1)) cos(2 pi u2)``."""
    u1 = uniform_jit(seed, step, element)
    u2 = uniform_jit(seed, step, element | (np.uint64(1) << DRAW_SHIFT))
    return math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(2.0 * math.pi * u2)


normal_jit = njit(cache=True, inline="always")(normal)


@njit(cache=True)
def normal_draws(seed, step, first, stop):
    """:func:`normal` for the elements ``first .. stop - 1``: the NumPy backend's draws."""
    out = np.empty(stop - first)
    for j in range(first, stop):
        out[j - first] = normal_jit(seed, np.uint64(step), np.uint64(j))
    return out


@njit(cache=True)
def binomial_counts(seed, step, first, stop, n, q, flip):
    """:func:`binomial` for the elements ``first .. stop - 1`` (int64 array): the NumPy backend's draws."""
    out = np.empty(stop - first, np.int64)
    for j in range(first, stop):
        out[j - first] = binomial_jit(seed, np.uint64(step), np.uint64(j), n, q, flip)
    return out
