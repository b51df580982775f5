"""Compiled NALSM dynamics (Ivanov & Michmizos 2021; see ``params.py``): one sample of T steps,
and many samples in parallel.

Per step, in the authors' order:

1. S = v (1 - clip(r, 0, 1)) >= v_th          (Poisson-coded inputs spike directly)
2. v <- v (1 - S)
3. s_j <- 0 for every pre j that spiked
4. v <- v + Σ_j W_ij k(s_j) + I_in + bias - v/tau_v,    k(s) = exp(-s/tau_u)/tau_u
5. s <- min(s + 1, s_max)
6. r <- (r - 1)(1 - S) + t_ref S
7. STDP with the traces from before this step, then x <- d (x + inc S)
8. A <- A + (w_astro (Σ_liquid S - Σ_input S) + b - A)/tau_astro
9. feature phase only: eta, A, w_astro, b *= decay

The synaptic input Σ_j W_ij k(s_j) is kept per liquid neuron as ``D_i + k(s_max) C_i``:
``D`` sums the synapses whose timer still runs (all scaled by exp(-1/tau_u) each step) and
``C`` the weights of clipped timers. Spikes, clipped timers and weight changes update exactly
the synapses of the neuron concerned, so a step costs O(N + events), not O(synapses). A
presynaptic spike touches its synapses once: timer restart and STDP in one pass.

STDP and astrocyte use the engine's shared plasticity description: the weight updates are the
statements of :mod:`neurosim.plasticity.rules` (``potentiate`` at a post spike, ``depress`` at
a pre spike, ``coincide`` when both spike in the same step), the traces ``rules.next_trace``
(all-to-all, increment 0.1) and the astrocyte ``rules.modulator_step`` (drive = liquid minus
input spikes). NALSM's rule maps onto them as a_plus = eta, a_minus = A (excitatory and input
pre) and a_plus = -A, a_minus = -eta (inhibitory pre), the astrocyte's A being the
learning-rate factor. One difference from the engine remains, NALSM's and therefore kept here:
a coincident pre and post spike changes the weight by ``coincide`` (both changes from the same
w, clipped once, as the authors' ``NALSM_STDP.py``), whereas the engine's backends depress and
then potentiate, clipping after each; the two differ only when the depressed weight crosses a
bound (``tests/test_lsm_stdp_shared.py``).

Why the kernel stays separate from the engine's network loop (each item changes the numbers):

- the neuron is the authors' discrete update reproduced operation for operation (spike test
  before integration, reset by multiplication, forward Euler ``- v/tau_v``, refractory counter
  that still integrates), whereas the engine integrates, then thresholds;
- a synapse's input is a timer kernel ``k(s_j)`` restarted by each presynaptic spike and
  clipped at ``s_max`` (timers start at ``t_lim``, not at "long ago"), not a receptor state
  variable; the engine has no timer synapse;
- the input neurons are LIF neurons receiving ``100 · Bernoulli(p)`` current every ms;
- the protocol is batched per sample as the authors' TensorFlow graph: in phase 2 every sample
  starts from its own copy of ``W_INI`` and its plastic changes are discarded, and eta, A,
  w_astro and b decay by 0.99 each step, which the engine's modulators (no decay of their weight
  and bias) and its single shared weight array cannot express;
- the coincidence rule above (clip once).
"""

from __future__ import annotations

import numpy as np
from numba import prange

from neurosim.engine.jit_cache import njit
from neurosim.engine.rng import splitmix64_jit, uniform_jit
from neurosim.plasticity import rules

BERNOULLI_CURRENT, POISSON_SPIKES, EVENT_CURRENT = 0, 1, 2
INPUT, EXCITATORY, INHIBITORY = 0, 1, 2  # kind of a presynaptic neuron


_potentiate = njit(inline="always")(rules.potentiate)
_depress = njit(inline="always")(rules.depress)
_coincide = njit(inline="always")(rules.coincide)
_next_trace = njit(inline="always")(rules.next_trace)
_modulator_step = njit(inline="always")(rules.modulator_step)


@njit(cache=True, inline="always")
def _restart_row(j, W, indptr, post, D, C, kern, s_old, s_max):
    """Pre ``j`` spiked: its synapses' kernel jumps from ``k(s_old)`` back to ``k(0)``."""
    start, stop = indptr[j], indptr[j + 1]
    if s_old == s_max:
        k_0 = kern[0]
        for q in range(start, stop):
            C[post[q]] -= W[q]
            D[post[q]] += W[q] * k_0
    else:
        jump = kern[0] - kern[s_old]
        for q in range(start, stop):
            D[post[q]] += W[q] * jump


@njit(cache=True, inline="always")
def _bounds(kind, w_max):
    """Weight bounds of synapses from a presynaptic neuron of this kind."""
    return (0.0 if kind == EXCITATORY else -w_max), (0.0 if kind == INHIBITORY else w_max)


@njit(cache=True, inline="always")
def _rates(kind, eta, rate):
    """``(a2p, lrp, a2m, lrm)`` of a synapse from a presynaptic neuron of this kind onto a liquid
    neuron whose depression rate is ``rate``: the shared rule's amplitudes and learning-rate
    factors (:mod:`neurosim.plasticity.rules`) that give NALSM's ΔW = eta S_i x_j - rate S_j x_i
    (excitatory, input) or -rate S_i x_j + eta S_j x_i (inhibitory)."""
    if kind == INHIBITORY:
        return -1.0, rate, -eta, 1.0
    return eta, 1.0, 1.0, rate


@njit(cache=True, inline="always")
def _set_weight(q, l, w_new, W, D, C, clipped, k_now):
    """``W[q] = w_new``, and the same change in the synaptic input of ``l`` (whose presynaptic
    timer is ``clipped`` or has the kernel value ``k_now``)."""
    delta = w_new - W[q]
    W[q] = w_new
    if clipped:
        C[l] += delta
    else:
        D[l] += delta * k_now


@njit(cache=True)
def run_sample(T, mode, drive, seed, W, indptr, post, kind, w_max, csc_ptr, csc_syn, csc_pre, n_in,
               tau_v, v_th, t_ref, tau_u, bias, t_lim, s_max, input_current,
               plastic, rates, tau_astro, trace_decay, trace_inc, decay, astro_mask, x, counts, raster):
    """Run one sample for ``T`` steps; ``W`` is updated in place when ``plastic``.

    ``drive``: per-input probabilities (modes BERNOULLI_CURRENT, POISSON_SPIKES) or an event
    array ``[T, n_in]`` (EVENT_CURRENT). Liquid spike counts are added to ``counts[bin]``
    (``counts`` has ``n_bins`` rows splitting the T steps evenly); if
    ``raster`` has T rows, liquid spikes are written there. ``rates`` = (eta, A, w_astro, b)
    at the start; returns them at the end. ``x``: the STDP traces of all neurons at the start,
    updated in place (the authors' code never resets them between samples).
    """
    n_tot = indptr.shape[0] - 1
    n_liq = n_tot - n_in
    kern = np.exp(-np.arange(s_max + 1) / tau_u) / tau_u
    r_decay = np.exp(-1.0 / tau_u)
    v = np.zeros(n_tot)
    ref = np.zeros(n_tot, np.int64)
    timer = np.full(n_tot, t_lim, np.int64)
    S = np.zeros(n_tot, np.uint8)
    D = np.zeros(n_liq)
    C = np.zeros(n_liq)
    rate_of, pending = np.zeros(n_liq), np.zeros(n_liq)
    for j in range(n_tot):
        for q in range(indptr[j], indptr[j + 1]):
            if t_lim == s_max:
                C[post[q]] += W[q]
            else:
                D[post[q]] += W[q] * kern[t_lim]
    eta, A, w_astro, b = rates[0], rates[1], rates[2], rates[3]
    record = raster.shape[0] == T
    for t in range(T):
        n_spk_in = 0
        n_spk_liq = 0
        # 1-2. spikes and reset
        for i in range(n_tot):
            if mode == POISSON_SPIKES and i < n_in:
                s = uniform_jit(seed, np.uint64(t), np.uint64(i)) < drive[0, i]
            else:
                rc = min(max(ref[i], 0), 1)
                s = v[i] * (1 - rc) >= v_th
            S[i] = s
            v[i] = v[i] * (1 - S[i])
            if s:
                if i < n_in:
                    n_spk_in += 1
                else:
                    n_spk_liq += 1
        # 3. timers of spiking neurons restart; with plasticity, their synapses' STDP change is
        #    computed now (all its inputs are known: S, traces and rates before this step) and
        #    joins the synaptic input after step 5, when every restarted timer reads 1
        if plastic:
            for l in range(n_liq):
                rate_of[l] = A if astro_mask[l] else eta
                pending[l] = 0.0
        for j in range(n_tot):
            if not S[j]:
                continue
            _restart_row(j, W, indptr, post, D, C, kern, timer[j], s_max)
            timer[j] = 0
            if plastic:
                lo, hi = _bounds(kind[j], w_max)
                for q in range(indptr[j], indptr[j + 1]):
                    l = post[q]
                    i = n_in + l
                    if x[i] == 0.0 and not S[i]:
                        continue  # nothing to depress
                    a2p, lrp, a2m, lrm = _rates(kind[j], eta, rate_of[l])
                    if S[i]:  # pre and post spike together: both changes, clipped once
                        w_new = _coincide(W[q], x[j], 0.0, x[i], 0.0, a2p, 0.0, a2m, 0.0, lrp, lrm, lo, hi,
                                          0.0, 1.0, 0.0)
                    else:
                        w_new = _depress(W[q], x[i], 0.0, a2m, 0.0, lrm, lo, hi, 0.0, 1.0, 0.0)
                    pending[l] += w_new - W[q]
                    W[q] = w_new
        # 4. membrane
        for i in range(n_in):
            if mode == BERNOULLI_CURRENT:
                current = input_current if uniform_jit(seed, np.uint64(t), np.uint64(i)) < drive[0, i] else 0.0
            elif mode == EVENT_CURRENT:
                current = input_current * drive[t, i]
            else:
                current = 0.0
            v[i] = v[i] + current + bias - v[i] / tau_v
        for l in range(n_liq):
            i = n_in + l
            v[i] = v[i] + (D[l] + kern[s_max] * C[l]) + bias - v[i] / tau_v
        # 5. timers advance (D follows the kernel's exponential decay; clipped timers move to C)
        for l in range(n_liq):
            D[l] *= r_decay
        for j in range(n_tot):
            if timer[j] < s_max:
                timer[j] += 1
                if timer[j] == s_max:
                    for q in range(indptr[j], indptr[j + 1]):
                        D[post[q]] -= W[q] * kern[s_max]
                        C[post[q]] += W[q]
        if plastic:
            for l in range(n_liq):
                D[l] += pending[l] * kern[1]
        # 6. refractory counters
        for i in range(n_tot):
            ref[i] = (ref[i] - 1) * (1 - S[i]) + t_ref * S[i]
        # 7. STDP of postsynaptic spikes (presynaptic ones were done in step 3), then the traces
        if plastic:
            for l in range(n_liq):
                if not S[n_in + l]:
                    continue
                for k in range(csc_ptr[l], csc_ptr[l + 1]):
                    j = csc_pre[k]
                    if S[j] or x[j] == 0.0:
                        continue  # done with the presynaptic spike in step 3, or nothing to learn
                    lo, hi = _bounds(kind[j], w_max)
                    a2p, lrp, a2m, lrm = _rates(kind[j], eta, rate_of[l])
                    q = csc_syn[k]
                    w_new = _potentiate(W[q], x[j], 0.0, a2p, 0.0, lrp, lo, hi, 0.0, 1.0)
                    _set_weight(q, l, w_new, W, D, C, timer[j] == s_max, kern[timer[j]])
        for i in range(n_tot):
            x[i] = _next_trace(x[i], S[i], trace_inc, trace_decay, False)
        # 8-9. astrocyte, then the feature-phase decay of the rates
        A = _modulator_step(A, n_spk_liq - n_spk_in, w_astro, b, tau_astro)
        if decay != 1.0:
            eta *= decay
            A *= decay
            w_astro *= decay
            b *= decay
        row = t * counts.shape[0] // T
        for l in range(n_liq):
            counts[row, l] += S[n_in + l]
            if record:
                raster[t, l] = S[n_in + l]
    return eta, A, w_astro, b


@njit(cache=True, parallel=True)
def run_batch(T, mode, drives, sample_ids, seed, W_init, indptr, post, kind, w_max, csc_ptr, csc_syn,
              csc_pre, n_in, tau_v, v_th, t_ref, tau_u, bias, t_lim, s_max, input_current, plastic, rates, tau_astro,
              trace_decay, trace_inc, decay, astro_mask, x_init, counts, rasters, raster_of):
    """Independent samples in parallel, each from a fresh copy of ``W_init`` and of the traces ``x_init``.

    Sample k uses the random stream ``splitmix64(seed ^ sample_ids[k])``, so its features do
    not depend on the batch or the thread that runs it. ``counts[k]`` receives its liquid spike
    counts; ``raster_of[k] >= 0`` selects ``rasters[raster_of[k]]`` for its raster.
    """
    n = drives.shape[0]
    empty = np.zeros((0, counts.shape[2]), np.uint8)
    for k in prange(n):
        W = W_init.copy()
        key = splitmix64_jit(seed ^ np.uint64(sample_ids[k]))
        raster = rasters[raster_of[k]] if raster_of[k] >= 0 else empty
        run_sample(T, mode, drives[k], key, W, indptr, post, kind, w_max, csc_ptr, csc_syn, csc_pre, n_in,
                   tau_v, v_th, t_ref, tau_u, bias, t_lim, s_max, input_current, plastic, rates, tau_astro,
                   trace_decay, trace_inc, decay, astro_mask, x_init.copy(), counts[k], raster)
