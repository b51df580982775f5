"""numba.cuda kernels of the ``cuda`` backend (see :mod:`neurosim.engine.cuda_backend`).

Every kernel is a grid-stride loop, so the same code runs with any launch configuration: on a
GPU with many threads, under the CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``) with one thread
in one block, which then executes every loop in index order, like the numba backend. Every
kernel first reads ``halt[0]`` (the step at which the block stopped, ``n_steps`` while it
runs): kernels queued for steps after an early stop do nothing.

The state is one flat array ``flat[K N]`` (row ``k``: the ``k``-th state variable of each
neuron's model, see :mod:`neurosim.engine.layout`): a synapse's target is its index into it.
The neuron update is generated from the layout's compiled models
(:mod:`neurosim.engine.cuda_neurons`); this module holds the kernels every layout shares.
Spikes are appended to a list with an atomic counter; the recorded spikes (``spk_step``,
``spk_id``) are appended the same way and put in the numba backend's order by the host at the
end of the block. In layouts with plastic projections the spikes are delivered
by ``deliver_plastic``, which also notes them for the plasticity phase (the kernels of
:mod:`neurosim.engine.cuda_plasticity`).
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

# slots of the device counter array ``ctr``: recorded spikes, the two spike lists, and the
# elements in ``fired`` (plasticity)
SPK, SRC_LIST, NEU_LIST, FIRED = 0, 1, 2, 3

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


@cuda.jit
def poisson_input(k, step, halt, flat, offset, first, n_targets, seed, k0, prob, alias, count, q, flip, w):
    """One per-target Poisson input (see :class:`neurosim.engine.layout.Drive`): neuron
    ``first + i`` adds its count times ``w`` to ``flat[offset + i]``."""
    if halt[0] <= k:
        return
    for i in range(cuda.grid(1), n_targets, cuda.gridsize(1)):
        j = first + i
        if prob.shape[0] > 0:
            c = k0 + _alias_draw(uniform(seed, step, j), prob, alias)
        else:
            c = _binomial(seed, np.uint64(step), np.uint64(j), count, q, flip)
        flat[offset + i] += c * w


_normal = _on_device(rng.normal, uniform_jit=uniform)


@cuda.jit
def noise_input(k, step, halt, flat, offset, first, n_targets, seed, a, b):
    """One noise input (see :class:`neurosim.engine.layout.Drive`): neuron ``first + i`` adds
    ``a[i] + b[i] z`` to ``flat[offset + i]``."""
    if halt[0] <= k:
        return
    for i in range(cuda.grid(1), n_targets, cuda.gridsize(1)):
        flat[offset + i] += a[i] + b[i] * _normal(seed, np.uint64(step), np.uint64(first + i))


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


@cuda.jit
def begin_step(k, halt, ctr, n_elements, cap, cur_id, cur_delta, c0, c1, i_ext):
    """Step start (one thread): stop the block when the spike buffer could overflow (as the
    numba backend does), apply the current changes ``c0 .. c1``, empty the spike lists."""
    if cuda.grid(1) != 0 or halt[0] <= k:
        return
    if ctr[SPK] + n_elements > cap:
        halt[0] = k
        return
    for c in range(c0, c1):
        i_ext[cur_id[c]] += cur_delta[c]
    ctr[SRC_LIST] = 0
    ctr[NEU_LIST] = 0


@cuda.jit
def sources(k, step, halt, ctr, gen_id, g0, n_gen, poisson_id, poisson_p, poisson_start, poisson_stop, seed,
            spikes, spike_mask, spk_step, spk_id, counts, group_of):
    """Spike generators ``g0 .. g0 + n_gen`` and the Poisson sources spiking at ``step``."""
    if halt[0] <= k:
        return
    total = n_gen + poisson_id.shape[0]
    for t in range(cuda.grid(1), total, cuda.gridsize(1)):
        if t < n_gen:
            _emit(gen_id[g0 + t], step, k, ctr, SRC_LIST, spikes, spike_mask, spk_step, spk_id, counts, group_of)
        else:
            q = t - n_gen
            if poisson_start[q] <= step and step < poisson_stop[q]:
                j = poisson_id[q]
                if uniform(seed, step, j) < poisson_p[q]:
                    _emit(j, step, k, ctr, SRC_LIST, spikes, spike_mask, spk_step, spk_id, counts, group_of)


@cuda.jit(device=True)
def _deliver_spike(j, base, lane, lanes, indptr, target, weight, delay, row_delay, row_uniform, row_weight, skip,
                   flat, buf):
    """Lane ``lane`` of ``lanes`` delivers its share of row ``j`` (spike due ``base + delay``):
    delay 0 adds into the state, later ones into the ring buffer (atomics). A row with plastic
    synapses (``row_delay`` -2, plastic layouts only) is walked per synapse with the live
    weights, and its delayed plastic synapses (``skip``) are left to their arrival
    (:func:`neurosim.engine.cuda_plasticity.plastic_pre`); a row of delayed plastic synapses
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


@cuda.jit
def deliver_plastic(k, halt, ctr, slot, spikes, base, lanes, indptr, target, weight, delay, row_delay, row_uniform,
                    row_weight, flat, buf, skip, group_of, last, gcount, watch, fired, n_hit, hit):
    """:func:`deliver` in a layout with plastic projections (``numba_backend._emit_plastic``):
    lane 0 of each spike's group also notes the spike for the next plasticity phase (latest
    spike step ``last``, group count ``gcount``, and the list ``fired`` of watched elements,
    counter ``ctr[FIRED]``; same-step pairing: the flag ``hit[base mod L, j]``). Every call
    delivers spikes stamped ``base``."""
    if halt[0] <= k:
        return
    count = ctr[slot]
    gid = cuda.grid(1)
    group, lane, n_groups = gid // lanes, gid % lanes, cuda.gridsize(1) // lanes
    for e in range(group, count, n_groups):
        j = spikes[e]
        if lane == 0:
            last[j] = base
            cuda.atomic.add(gcount, group_of[j], 1)
            if watch[j]:
                fired[cuda.atomic.add(ctr, FIRED, 1)] = j
                if n_hit > 0:
                    hit[base & (hit.shape[0] - 1), j] = 1
        _deliver_spike(j, base, lane, lanes, indptr, target, weight, delay, row_delay, row_uniform, row_weight, skip,
                       flat, buf)


@cuda.jit(device=True)
def _take_one(i, n, flat, buf, slot, buffered):
    """Add neuron ``i``'s entries of ring-buffer slot ``slot`` to the state rows flagged in
    ``buffered`` (uint8, one per state row); clear them."""
    for r in range(buffered.shape[0]):
        if buffered[r]:
            flat[r * n + i] += buf[slot, r * n + i]
            buf[slot, r * n + i] = 0


@cuda.jit
def take_buffered(k, halt, n, flat, buf, slot, buffered):
    """Add the ring-buffer slot ``slot`` to the state rows flagged in ``buffered`` and clear it."""
    if halt[0] <= k:
        return
    for i in range(cuda.grid(1), n, cuda.gridsize(1)):
        _take_one(i, n, flat, buf, slot, buffered)


@cuda.jit
def record_state(k, halt, n, flat, rec_id, rec_var, rec_out, row):
    """Sample the recorded state columns into row ``row`` of ``rec_out``."""
    if halt[0] <= k:
        return
    for c in range(cuda.grid(1), rec_id.shape[0], cuda.gridsize(1)):
        rec_out[row, c] = flat[rec_var[c] * n + rec_id[c]]
