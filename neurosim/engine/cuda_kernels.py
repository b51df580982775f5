"""The device functions the ``cuda`` backend's persistent kernel shares
(:mod:`neurosim.engine.cuda_persistent`): counter-based random numbers, spike emission, the
delivery of one spike's row, the ring-buffer take.

Under the CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``) the kernel runs with one thread, which
executes every loop in index order, like the numba backend.

The state is one flat array ``flat[K N]`` (row ``k``: the ``k``-th state variable of each
neuron's model, see :mod:`neurosim.engine.layout`): a synapse's target is its index into it.
The neuron step is generated from the layout's compiled models
(:mod:`neurosim.engine.cuda_neurons`). Spikes are appended to a list with an atomic counter;
the recorded spikes (``spk_step``, ``spk_id``) are appended the same way and put in the numba
backend's order by the host at the end of the block.
"""

from __future__ import annotations

import os
import types

import numpy as np

from neurosim.engine.cuda_compat import restore_numpy_aliases

restore_numpy_aliases()  # before numba.cuda compiles anything
from numba import cuda  # noqa: E402

from neurosim.engine import rng
from neurosim.engine.rng import _M1, _M2, _GOLDEN, _S11, _S27, _S30, _S31, _STEP_KEY, _TO_UNIT

SIMULATED = os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0") or bool(getattr(cuda, "simulator_enabled", False))

#: the slot of the device counter array ``ctr`` that counts the recorded spikes (``_emit``)
SPK = 0

if SIMULATED:
    _MASK64 = (1 << 64) - 1

    def _mix_py(x):
        z = (x + 0x9E3779B97F4A7C15) & _MASK64
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
        return z ^ (z >> 31)

    @cuda.jit(device=True)
    def uniform(seed, step, element):
        """:func:`neurosim.engine.rng.uniform_jit` with Python integers (no overflow warnings)."""
        key = _mix_py(int(seed) ^ ((int(step) * 0xD1B54A32D192ED03) & _MASK64))
        return (_mix_py(key ^ int(element)) >> 11) * _TO_UNIT
else:
    @cuda.jit(device=True)
    def _mix(x):
        z = x + _GOLDEN
        z = (z ^ (z >> _S30)) * _M1
        z = (z ^ (z >> _S27)) * _M2
        return z ^ (z >> _S31)

    @cuda.jit(device=True)
    def uniform(seed, step, element):
        """:func:`neurosim.engine.rng.uniform_jit` on the device (uint64 wrapping arithmetic)."""
        key = _mix(seed ^ (np.uint64(step) * _STEP_KEY))
        return np.float64(_mix(key ^ np.uint64(element)) >> _S11) * _TO_UNIT


def _on_device(func, **names):
    """A device function of ``func`` whose globals ``names`` are replaced (by device functions)."""
    return cuda.jit(device=True)(types.FunctionType(func.__code__, {**func.__globals__, **names}, func.__name__))


_alias_draw = cuda.jit(device=True)(rng.alias_draw)
_binomial = _on_device(rng.binomial, uniform_jit=uniform, stirling_tail=cuda.jit(device=True)(rng.stirling_tail.py_func))


_normal = _on_device(rng.normal, uniform_jit=uniform)


@cuda.jit(device=True)
def _emit(j, stamp, k, ctr, slot, spikes, spike_mask, spk_step, spk_id, counts, group_of):
    """Append spike of element ``j`` at step ``stamp`` to the list ``spikes`` (counter
    ``ctr[slot]``), record it if monitored, count it for the rate monitors (block step ``k``)."""
    pos = cuda.atomic.add(ctr, slot, 1)
    spikes[pos] = j
    if spike_mask[j]:
        n = cuda.atomic.add(ctr, SPK, 1)
        spk_step[n] = stamp
        spk_id[n] = j
    cuda.atomic.add(counts, (k, group_of[j]), 1)


@cuda.jit(device=True)
def _deliver_spike(j, base, lane, lanes, indptr, target, weight, delay, row_delay, row_uniform, row_weight, skip,
                   flat, buf):
    """Lane ``lane`` of ``lanes`` delivers its share of row ``j`` (spike due ``base + delay``):
    delay 0 adds into the state, later ones into the ring buffer (atomics). A row with plastic
    synapses (``row_delay`` -2, plastic layouts only) is walked per synapse with the live
    weights, and its delayed plastic synapses (``skip``) are left to their arrival
    (:func:`neurosim.engine.cuda_plasticity.depress`); a row of delayed plastic synapses
    only (-3) has nothing to deliver now."""
    mask = buf.shape[0] - 1
    d_row = row_delay[j]
    if d_row < -1:
        if d_row == -2:
            for s in range(indptr[j] + lane, indptr[j + 1], lanes):
                if delay[s] == 0:
                    cuda.atomic.add(flat, target[s], weight[s])
                elif skip[s] == 0:
                    cuda.atomic.add(buf, ((base + np.int64(delay[s])) & mask, target[s]), weight[s])
        return
    uniform_w = row_uniform[j] != 0
    w_row = row_weight[j]
    for s in range(indptr[j] + lane, indptr[j + 1], lanes):
        d = d_row if d_row >= 0 else np.int32(delay[s])  # delays are small unsigned integers
        w = w_row if uniform_w else weight[s]
        if d == 0:
            cuda.atomic.add(flat, target[s], w)
        else:
            cuda.atomic.add(buf, ((base + d) & mask, target[s]), w)


@cuda.jit(device=True)
def _take_one(i, n, flat, buf, slot, buffered):
    """Add neuron ``i``'s entries of ring-buffer slot ``slot`` to the state rows flagged in
    ``buffered`` (uint8, one per state row); clear them."""
    for r in range(buffered.shape[0]):
        if buffered[r]:
            flat[r * n + i] += buf[slot, r * n + i]
            buf[slot, r * n + i] = 0
