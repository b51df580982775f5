"""Bit-accurate emulator of Loihi's CUBA compartment and Dense synapse (Lava's ``fixed_pt`` models).

One step of a CUBA neuron with 24-bit state, as Lava's ``PyLifModelBitAcc`` computes it
(``ds_offset = 1`` for the current, ``dm_offset = 0`` for the voltage)::

    u <- sign(u (4096 - (du+1))) * (|u (4096 - (du+1))| >> 12) + (a_in << 6)
         then one wrap: u > 2^23 -> u - 2^24;  u <= -2^23 -> u + 2^24
    v <- sign(v (4096 - dv)) * (|v (4096 - dv)| >> 12) + u + bias_eff
         then clip to [-(2^23 - 1), 2^23 - 1]
    s  = v > (vth << 6);   v <- 0 where s

with ``bias_eff = bias_mant << bias_exp`` (``>>`` for a negative exponent). ``u`` is not reset
on a spike. A Dense synapse (``PyDenseModelBitAcc``) sends, at step t, what it accumulated
from the spikes it received at step t-1 (its output is buffered one step)::

    a_in(t) = (sum_j W_ij s_j(t-1)) << weight_exp      (>> -weight_exp, an arithmetic
                                                        floor shift, when weight_exp < 0)

Weights are the 8-bit mantissas after Lava's clip and truncation for the sign mode
(:func:`lava_dense_weights`). A recurrent synapse is a second Dense from the layer onto
itself (shifted separately; the two inputs add at ``a_in``).

:func:`run_lif` steps a single group of neurons driven directly by ``a_in`` (the setting of
Lava's LIF unit tests); :func:`run_network` steps a whole :class:`LoihiNetwork`; its
:class:`Trace` keeps the spikes of every layer and the voltage of readout layers.
:func:`reference_run` is the same dynamics in float64 (exact decays, no wrap or clip), the
yardstick for the truncation error. Layer ``k`` of a network lags the trained model by
``net.delays[k]`` steps (one per Dense synapse on the path).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

U_MAX = 1 << 23          # 24-bit signed state: u wraps around +-2^23
V_LIMIT = (1 << 23) - 1  # v clips to +-(2^23 - 1)
DECAY_UNITY = 4096
SIGN_MODES = ("mixed", "excitatory", "inhibitory")


# --------------------------------------------------------------------------------------------
# kernels

@njit(cache=True, inline="always")
def _decay(x: np.int64, keep: np.int64) -> np.int64:
    """sign(x*keep) * (|x*keep| >> 12): truncation towards zero, as the hardware does."""
    p = x * keep
    if p >= 0:
        return p >> 12
    return -((-p) >> 12)


@njit(cache=True, inline="always")
def _shift(x: np.int64, exp: np.int64) -> np.int64:
    if exp > 0:
        return x << exp
    return x >> (-exp)  # arithmetic (floor) shift, as numpy's right_shift on signed ints


@njit(cache=True)
def cuba_step(u, v, a_in, du, dv, bias_eff, vth_eff, spikes):
    """One CUBA step in place on ``u, v`` [B, N] (int64) with input ``a_in`` [B, N];
    ``bias_eff`` [B or 1, N]; writes ``spikes`` [B, N] (uint8)."""
    keep_u = DECAY_UNITY - (du + 1)
    keep_v = DECAY_UNITY - dv
    per_sample = bias_eff.shape[0] > 1
    for b in range(u.shape[0]):
        bb = b if per_sample else 0
        for n in range(u.shape[1]):
            uu = _decay(u[b, n], keep_u) + (a_in[b, n] << 6)
            if uu > U_MAX:
                uu -= 2 * U_MAX
            elif uu <= -U_MAX:
                uu += 2 * U_MAX
            u[b, n] = uu
            vv = _decay(v[b, n], keep_v) + uu + bias_eff[bb, n]
            if vv > V_LIMIT:
                vv = V_LIMIT
            elif vv < -V_LIMIT:
                vv = -V_LIMIT
            if vv > vth_eff:
                spikes[b, n] = 1
                vv = 0
            else:
                spikes[b, n] = 0
            v[b, n] = vv


@njit(cache=True)
def dense_accumulate(spikes, weight_t, exp, out):
    """``out[b] += (sum_j weight_t[j] * spikes[b, j]) shifted by exp`` (one Dense synapse);
    ``weight_t`` is the transposed weight matrix [n_in, N] (int64)."""
    n_out = weight_t.shape[1]
    acc = np.zeros(n_out, dtype=np.int64)
    for b in range(spikes.shape[0]):
        acc[:] = 0
        for j in range(spikes.shape[1]):
            if spikes[b, j] != 0:
                for n in range(n_out):
                    acc[n] += weight_t[j, n]
        for n in range(n_out):
            out[b, n] += _shift(acc[n], exp)


# --------------------------------------------------------------------------------------------
# Lava's weight handling and the LIF unit-test setting

def sign_mode_of(weights: np.ndarray) -> str:
    """Lava's ``determine_sign_mode``: excitatory if all >= 0, inhibitory if all <= 0, else mixed."""
    w = np.asarray(weights)
    if w.size == 0 or w.min() >= 0:
        return "excitatory"
    if w.max() <= 0:
        return "inhibitory"
    return "mixed"


def lava_dense_weights(weights: np.ndarray, sign_mode: str | None = None, num_weight_bits: int = 8) -> np.ndarray:
    """The weights a bit-accurate Lava Dense uses: clipped to 8 bits for the sign mode
    (mixed [-256, 255], excitatory [0, 255], inhibitory [-255, 0]), then the low
    ``8 - num_weight_bits (+1 when mixed)`` bits dropped (of |w| when inhibitory)."""
    mode = sign_mode or sign_mode_of(weights)
    if mode not in SIGN_MODES:
        raise ValueError(f"sign_mode: must be one of {', '.join(SIGN_MODES)}, got {mode!r}")
    if not 1 <= num_weight_bits <= 9:
        raise ValueError(f"num_weight_bits: must be in 1..9, got {num_weight_bits!r}")
    w = np.asarray(weights).astype(np.int64)
    if mode == "inhibitory":
        w = -w
    w = np.clip(w, -256 if mode == "mixed" else 0, 255)
    drop = 8 - num_weight_bits + (mode == "mixed")
    w = (w >> drop) << drop
    return -w if mode == "inhibitory" else w


def _bias_eff(bias_mant, bias_exp) -> np.ndarray:
    mant = np.asarray(bias_mant, dtype=np.int64)
    exp = np.broadcast_to(np.asarray(bias_exp, dtype=np.int64), mant.shape)
    return np.where(exp >= 0, mant << np.maximum(exp, 0), mant >> np.maximum(-exp, 0))


@dataclass(frozen=True)
class LIFTrace:
    """Per step (after the step, after the reset): ``u``, ``v`` [T, N] and ``spikes`` [T, N]."""

    u: np.ndarray
    v: np.ndarray
    spikes: np.ndarray


def run_lif(a_in: np.ndarray, du: int, dv: int, vth: int, bias_mant=0, bias_exp=0, size: int | None = None) -> LIFTrace:
    """``T`` steps of ``N`` CUBA neurons whose synaptic input is ``a_in`` [T, N] (or [T] for all
    neurons), as Lava's LIF receives it on ``a_in`` (no Dense delay): the setting of Lava's
    ``TestLIFProcessModelsFixed``."""
    a = np.asarray(a_in, dtype=np.int64)
    if a.ndim == 1:
        a = a[:, None] if size is None else np.repeat(a[:, None], size, axis=1)
    elif size is not None and a.shape[1] != size:
        raise ValueError(f"a_in: needs {size} neurons, got shape {a.shape}")
    T, N = a.shape
    for name, value, hi in (("du", du, 4095), ("dv", dv, 4095)):
        if not (isinstance(value, (int, np.integer)) and 0 <= value <= hi):
            raise ValueError(f"{name}: must be an integer in 0..{hi}, got {value!r}")
    bias = np.broadcast_to(_bias_eff(bias_mant, bias_exp), (N,)).reshape(1, N).copy()
    u = np.zeros((1, N), np.int64)
    v = np.zeros((1, N), np.int64)
    s = np.zeros((1, N), np.uint8)
    us, vs, ss = (np.zeros((T, N), np.int64) for _ in range(3))
    for t in range(T):
        cuba_step(u, v, a[t:t + 1], np.int64(du), np.int64(dv), bias, np.int64(int(vth) << 6), s)
        us[t], vs[t], ss[t] = u[0], v[0], s[0]
    return LIFTrace(us, vs, ss.astype(bool))


# --------------------------------------------------------------------------------------------
# networks

@dataclass(frozen=True)
class Trace:
    """What :func:`run_network` records, over ``T`` emulated steps of a batch of ``B`` samples:
    ``spikes[k]`` [T, B, N_k] (bool) of every layer and ``v[k]`` [T, B, N_k] (int64) of the
    layers named in ``record_v`` (readout layers by default; None elsewhere)."""

    spikes: list
    v: list


def _weights_t(layer) -> tuple[np.ndarray | None, np.ndarray | None]:
    w = None if layer.weight is None else np.ascontiguousarray(
        lava_dense_weights(layer.dense_weight(), layer.sign_mode, layer.num_weight_bits).T)
    r = None if layer.weight_rec is None else np.ascontiguousarray(
        lava_dense_weights(layer.weight_rec, layer.sign_mode_rec, layer.num_weight_bits).T)
    return w, r


def run_network(net, inputs: np.ndarray, steps: int, record_v: str | list[int] = "readout") -> Trace:
    """Emulate ``net`` (a :class:`~neurosim.hardware.loihi.quantize.LoihiNetwork`) for ``steps``
    steps on one batch, from rest.

    ``inputs`` is what reaches the chip: with ``net.input_mode == "bias"`` the bias mantissas
    of the first layer [B, N_0] (int, :meth:`HostInput.bias_mant` of the samples), constant
    over the run; with ``"spikes"`` the input spike trains [steps, B, n_in] (0/1).
    ``record_v``: "readout", "all" or a list of layer indices whose voltage to keep.
    """
    layers = net.layers
    if net.input_mode == "bias":
        x = np.asarray(inputs)
        if x.ndim != 2 or x.shape[1] != layers[0].size:
            raise ValueError(f"inputs: needs the first layer's bias mantissas [B, {layers[0].size}], "
                             f"got shape {x.shape}")
        if not np.issubdtype(x.dtype, np.integer):
            raise ValueError(f"inputs: bias mantissas must be integers, got {x.dtype}")
        B = x.shape[0]
        first_bias = _bias_eff(x, layers[0].bias_exp[None, :])
    else:
        x = np.asarray(inputs)
        n_in = int(np.prod(net.input_shape))
        if x.ndim != 3 or x.shape[0] < steps or x.shape[2] != n_in:
            raise ValueError(f"inputs: needs input spikes [>= {steps}, B, {n_in}], got shape {x.shape}")
        B = x.shape[1]
        x = (x != 0).astype(np.uint8)
    if record_v == "readout":
        keep = {k for k, layer in enumerate(layers) if layer.readout}
    elif record_v == "all":
        keep = set(range(len(layers)))
    else:
        keep = set(record_v)
    weights = [_weights_t(layer) for layer in layers]
    biases = []
    for k, layer in enumerate(layers):
        if k == 0 and net.input_mode == "bias":
            biases.append(np.ascontiguousarray(first_bias, dtype=np.int64))
        else:
            biases.append(_bias_eff(layer.bias_mant, layer.bias_exp).reshape(1, -1).astype(np.int64))
    us = [np.zeros((B, layer.size), np.int64) for layer in layers]
    vs = [np.zeros((B, layer.size), np.int64) for layer in layers]
    prev = [np.zeros((B, layer.size), np.uint8) for layer in layers]
    zero_in = np.zeros((B, 0), np.uint8)
    spikes_out = [np.zeros((steps, B, layer.size), bool) for layer in layers]
    v_out = [np.zeros((steps, B, layer.size), np.int64) if k in keep else None for k, layer in enumerate(layers)]
    for t in range(steps):
        # the Dense buffers: spikes of step t-1 (input spikes of step t-1 for the first layer)
        sources = [(x[t - 1] if t > 0 else np.zeros_like(x[0])) if net.input_mode == "spikes" else zero_in]
        sources += prev[:-1]
        new = []
        for k, layer in enumerate(layers):
            a_in = np.zeros((B, layer.size), np.int64)
            w_t, r_t = weights[k]
            if w_t is not None:
                dense_accumulate(sources[k], w_t, np.int64(layer.weight_exp), a_in)
            if r_t is not None:
                dense_accumulate(prev[k], r_t, np.int64(layer.weight_exp), a_in)
            s = np.zeros((B, layer.size), np.uint8)
            cuba_step(us[k], vs[k], a_in, np.int64(layer.du), np.int64(layer.dv), biases[k],
                      np.int64(int(layer.vth) << 6), s)
            spikes_out[k][t] = s != 0
            if v_out[k] is not None:
                v_out[k][t] = vs[k]
            new.append(s)
        prev = new
    return Trace(spikes_out, v_out)


def reference_run(net, inputs: np.ndarray, steps: int) -> Trace:
    """:func:`run_network`'s dynamics in float64 with exact decays (``u (4096-du-1)/4096``,
    ``v (4096-dv)/4096``), no wrap and no clip, the same integer parameters and the same
    one-step synaptic delays; ``v`` is recorded for every layer (float64)."""
    layers = net.layers
    x = np.asarray(inputs)
    if net.input_mode == "bias":
        B = x.shape[0]
    else:
        B = x.shape[1]
    us = [np.zeros((B, layer.size)) for layer in layers]
    vs = [np.zeros((B, layer.size)) for layer in layers]
    prev = [np.zeros((B, layer.size)) for layer in layers]
    spikes_out = [np.zeros((steps, B, layer.size), bool) for layer in layers]
    v_out = [np.zeros((steps, B, layer.size)) for layer in layers]
    for t in range(steps):
        if net.input_mode == "spikes":
            sources = [(x[t - 1] != 0).astype(float) if t > 0 else np.zeros((B, x.shape[2]))]
        else:
            sources = [None]
        sources += prev[:-1]
        new = []
        for k, layer in enumerate(layers):
            a = np.zeros((B, layer.size))
            if layer.weight is not None:
                a += sources[k] @ (layer.dense_weight() * 2.0 ** layer.weight_exp).T
            if layer.weight_rec is not None:
                a += prev[k] @ (layer.weight_rec * 2.0 ** layer.weight_exp).T
            if k == 0 and net.input_mode == "bias":
                bias = x * 2.0 ** layer.bias_exp[None, :]
            else:
                bias = (layer.bias_mant * 2.0 ** layer.bias_exp)[None, :]
            us[k] = us[k] * (DECAY_UNITY - layer.du - 1) / DECAY_UNITY + a * 64
            vs[k] = vs[k] * (DECAY_UNITY - layer.dv) / DECAY_UNITY + us[k] + bias
            s = vs[k] > (int(layer.vth) << 6)
            vs[k] = np.where(s, 0.0, vs[k])
            spikes_out[k][t] = s
            v_out[k][t] = vs[k]
            new.append(s.astype(float))
        prev = new
    return Trace(spikes_out, v_out)
