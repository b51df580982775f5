"""The integer model of a :class:`~neurosim.hardware.graph.LayerGraph` (int8 weights, int16
state, Q12 decays, int32 accumulators), its quantiser and the NumPy integer emulator that is
the reference of the C runtime (``runtime/neurosim_snn.c`` computes exactly the same numbers).

Supported graphs: chains of ``[Flatten] Affine -> Spiking`` blocks (LIF or CubaLIF, hard or
soft reset, optionally recurrent) ending in a ``Spiking`` layer or an ``Affine -> Leaky``
readout. ``Flatten`` is a no-op on the C-order vectors and may appear anywhere.

**Scales.** Every quantity ``q`` in training units is stored as an integer ``round(q · s)``
(round half to even, then saturated):

* input: ``x_int = sat8(round(x · input_scale))`` with ``input_scale`` a power of two,
  ``2^floor(log2(127 / input_max))`` (64 for inputs in [0, 1]: digits pixels p/16 become 4p,
  exactly), for the direct-current encoder; 1 for spike inputs (other encoders).
* accumulator scale ``A`` of a block (one value per layer): the largest with all int8 weights
  in [-127, 127]: ``A = min(127 · xs / max|W|, 127 / max|V|)`` (``xs`` = the input's scale, 1
  for spikes, ``V`` the recurrent weights); ``W_int = round(W · A / xs)``,
  ``V_int = round(V · A)``, ``b_int = round(b · A)`` (int32).
* state scale ``s = A / 2^shift`` (``shift`` an integer, negative = left shift): for a spiking
  layer the smallest ``shift`` with ``max θ · s <= 32767 / headroom`` (``headroom`` = 4: the
  state holds up to about 4 θ before it saturates); for a leaky readout the smallest with
  ``u_max · s <= 32767`` where ``u_max`` bounds the membrane: the worst case
  ``max_j (Σ_i |W_ji| x_max + |b_j|) · Σ_{t<T} β^t`` (:func:`~neurosim.hardware.graph.leaky_gain`),
  or, with ``calibration`` inputs, the smaller of that and 1.25 × the largest |u| of the float
  model on them. ``θ_int = sat(round(θ · s), 1, 32767)``.
* decays in Q12: ``β_q = round(β · 4096)`` (0..4096), the same for α.

**One step, per neuron j, exactly** (``>>`` is the arithmetic shift, i.e. floor division by a
power of two; ``sat16`` clamps to [-32768, 32767])::

    acc  = b_j + Σ_i W_ji x_i + Σ_k V_jk s_k(t-1)                int32 (checked not to overflow)
    c    = sat(acc, ±2^20) = the current in state units:
           shift > 0:  (acc + 2^(shift-1)) >> shift             round half up
           shift = 0:  acc
           shift < 0:  acc · 2^(-shift)
           then clamped to ±2^20 (before the multiplication when shift < 0); the clamp never
           changes a result, since everything it feeds saturates to int16
    dec(v, d) = (v · d + 2048) >> 12                             Q12 decay, round half up
    CubaLIF:  i' = sat16(dec(i, α_q) + c);  c := i'
    r    = s_j(t-1)  (= u_j > θ_j, the previous step's spike)
    hard: u' = sat16((r ? 0 : dec(u, β_q)) + c)                  u' = β (1 - r) u + i'
    soft: u' = sat16(dec(u, β_q) + c - r · θ_int)                u' = β u + i' - θ r
    s_j  = u' > θ_int                                            strict, as H(u - θ) in training
    Leaky readout: u' = sat16(dec(u, β_q) + c); the output is u' (dequantised: u' / s)

The emulator :func:`run` vectorises this over the batch with int64 NumPy arrays and the same
clamps, so it is bit-identical to the C runtime.
"""

from __future__ import annotations

import json
import math
import pathlib
import warnings
from dataclasses import dataclass, field

import numpy as np

from neurosim.hardware.graph import (Affine, Conv2d, Flatten, Leaky, LayerGraph, SumPool2d, Spiking, float_run,
                                     leaky_gain)

Q = 12                 # decays in Q12
ONE = 1 << Q
INT16_MIN, INT16_MAX = -32768, 32767
W_MAX = 127            # symmetric int8 weights
CUR_LIMIT = 1 << 20    # clamp of the current in state units (never changes a result)
ACC_LIMIT = (1 << 31) - 1
SHIFT_MIN, SHIFT_MAX = -20, 30   # accumulator -> state shifts (negative: left shifts)

__all__ = ["IntLayer", "IntModel", "quantize", "run", "emulate", "quantize_input", "load"]


@dataclass
class IntLayer:
    """One block ``Affine -> neuron layer`` in integers (see the module docstring)."""

    kind: str                       # "lif" | "cuba" | "li"
    weight: np.ndarray              # int8 [n_out, n_in]
    bias: np.ndarray                # int32 [n_out] (accumulator units)
    shift: int                      # accumulator -> state units
    beta: np.ndarray                # int16 [n_out], Q12
    alpha: np.ndarray | None = None      # int16 [n_out], Q12 (CubaLIF)
    threshold: np.ndarray | None = None  # int16 [n_out] (spiking layers)
    recurrent: np.ndarray | None = None  # int8 [n_out, n_out]
    reset: str = "hard"             # "hard" | "soft" (spiking layers)
    acc_scale: float = 1.0          # A: accumulator units per training unit of current
    state_scale: float = 1.0        # s = A / 2^shift: state units per training unit
    index: int = 0                  # the neuron layer's index in the LayerGraph

    @property
    def n_in(self) -> int:
        return int(self.weight.shape[1])

    @property
    def n_out(self) -> int:
        return int(self.weight.shape[0])

    @property
    def spiking(self) -> bool:
        return self.kind in ("lif", "cuba")


@dataclass
class IntModel:
    """The integer model: ``layers`` in order, the input quantiser and the output scale."""

    layers: list[IntLayer]
    input_shape: tuple[int, ...]
    input_scale: float              # x_int = sat8(round(x · input_scale))
    steps: int
    static_input: bool              # direct-current coding: the same input at every step
    errors: dict = field(default_factory=dict)

    @property
    def n_input(self) -> int:
        return int(np.prod(self.input_shape))

    @property
    def n_output(self) -> int:
        return self.layers[-1].n_out

    @property
    def output(self) -> str:
        """"membrane" (leaky readout, int16 membrane) or "spikes" (0/1 of the last layer)."""
        return "spikes" if self.layers[-1].spiking else "membrane"

    @property
    def output_scale(self) -> float:
        """Divide the integer output by this to get training units."""
        return 1.0 if self.layers[-1].spiking else self.layers[-1].state_scale

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict:
        def arr(a):
            return None if a is None else {"dtype": str(a.dtype), "shape": list(a.shape), "data": a.ravel().tolist()}
        return {"format": "neurosim.hardware.c.integer", "version": 1, "input_shape": list(self.input_shape),
                "input_scale": self.input_scale, "steps": self.steps, "static_input": self.static_input,
                "errors": self.errors,
                "layers": [{"kind": L.kind, "reset": L.reset, "shift": L.shift, "acc_scale": L.acc_scale,
                            "state_scale": L.state_scale, "index": L.index,
                            **{k: arr(getattr(L, k)) for k in ("weight", "bias", "beta", "alpha", "threshold",
                                                               "recurrent")}} for L in self.layers]}

    @classmethod
    def from_dict(cls, d: dict) -> "IntModel":
        if d.get("format") != "neurosim.hardware.c.integer":
            raise ValueError(f"integer model: unknown format {d.get('format')!r}")

        def arr(a):
            return None if a is None else np.array(a["data"], dtype=a["dtype"]).reshape(a["shape"])
        layers = [IntLayer(kind=L["kind"], reset=L["reset"], shift=int(L["shift"]), acc_scale=float(L["acc_scale"]),
                           state_scale=float(L["state_scale"]), index=int(L["index"]),
                           **{k: arr(L[k]) for k in ("weight", "bias", "beta", "alpha", "threshold", "recurrent")})
                  for L in d["layers"]]
        return cls(layers, tuple(d["input_shape"]), float(d["input_scale"]), int(d["steps"]), bool(d["static_input"]),
                   dict(d.get("errors", {})))

    def save(self, path: pathlib.Path | str) -> None:
        pathlib.Path(path).write_text(json.dumps(self.to_dict()))


def load(path: pathlib.Path | str) -> IntModel:
    """An :class:`IntModel` from ``model.json`` (or a C export folder holding one)."""
    path = pathlib.Path(path)
    if path.is_dir():
        path = path / "model.json"
    if not path.is_file():
        raise ValueError(f"integer model: no file {path}")
    return IntModel.from_dict(json.loads(path.read_text()))


# ---------------------------------------------------------------------------- quantiser
def _blocks(graph: LayerGraph) -> list[tuple[int, int, Affine, Spiking | Leaky]]:
    """(neuron layer index, Affine index, Affine, neuron layer) of each block; raises on
    unsupported graphs (the graph itself has checked every size)."""
    out: list[tuple[int, int, Affine, Spiking | Leaky]] = []
    pending: tuple[int, Affine] | None = None
    n = int(np.prod(graph.input_shape))
    if n > 65535:
        raise ValueError(f"LayerGraph.input_shape: {n} input values, above the 65535 of the C runtime")
    for index, layer in enumerate(graph.layers):
        where = f"layers[{index}] ({type(layer).__name__})"
        if out and isinstance(out[-1][3], Leaky):
            raise ValueError(f"{where}: the C export needs the Leaky readout to be the last layer")
        if isinstance(layer, (Conv2d, SumPool2d)):
            raise ValueError(f"{where}: not supported by the C export (it takes Flatten, Affine, "
                             f"Spiking (LIF, CubaLIF) and Leaky layers)")
        if isinstance(layer, Flatten):
            continue
        if isinstance(layer, Affine):
            if pending is not None:
                raise ValueError(f"{where}: two Affine layers in a row do not export to C (fold them into one)")
            pending = (index, layer)
            continue
        if isinstance(layer, (Spiking, Leaky)):
            if pending is None:
                raise ValueError(f"{where}: the C export needs an Affine layer right before each neuron layer")
            out.append((index, pending[0], pending[1], layer))
            pending = None
            continue
        raise ValueError(f"{where}: unknown layer type")
    if pending is not None:
        raise ValueError(f"layers[{pending[0]}] (Affine): the C export needs a neuron layer after the last Affine")
    if not out:
        raise ValueError("LayerGraph.layers: the C export needs at least one Affine -> neuron layer block")
    for index, _, _, layer in out:
        if max(layer.size, 1) > 65535:
            raise ValueError(f"layers[{index}] ({type(layer).__name__}).size: {layer.size} above 65535")
    return out


def _encoder(graph: LayerGraph) -> bool:
    """True for direct-current (static) input; spike encoders give 0/1 inputs."""
    kind = graph.encoder.get("type", "direct")
    if kind not in ("direct", "rate", "latency", "delta"):
        raise ValueError(f"LayerGraph.encoder.type: {kind!r} does not export to C (direct, rate, latency, delta; "
                         f"raw series values are not 0/1 spikes)")
    return kind == "direct"


def _q12(value: np.ndarray) -> np.ndarray:
    q = np.rint(np.asarray(value, dtype=np.float64) * ONE)
    return np.clip(q, 0, ONE).astype(np.int16)


def _pow2_floor(x: float) -> float:
    return float(2.0 ** math.floor(math.log2(x)))


def quantize(graph: LayerGraph, *, input_max: float = 1.0, calibration: np.ndarray | None = None,
             headroom: float = 4.0, steps: int | None = None) -> IntModel:
    """The integer model of ``graph`` (see the module docstring for every rounding).

    ``input_max``: the largest |input| of the direct-current encoder (1 for images in [0, 1]);
    ``calibration``: optional float inputs ``[N, *input_shape]`` (static) or ``[T, N, ...]``
    that set the leaky readout's scale from the float model's membranes (otherwise a worst-case
    bound); ``headroom``: the spiking state holds up to about ``headroom`` θ before saturating.
    """
    blocks = _blocks(graph)
    static = _encoder(graph)
    if not (isinstance(input_max, (int, float)) and math.isfinite(input_max) and input_max > 0):
        raise ValueError(f"input_max: must be a number > 0, got {input_max!r}")
    if not (isinstance(headroom, (int, float)) and 1 <= headroom <= 1024):
        raise ValueError(f"headroom: must be a number in [1, 1024], got {headroom!r}")
    T = int(graph.steps if steps is None else steps)
    input_scale = _pow2_floor(W_MAX / input_max) if static else 1.0
    x_max = input_max if static else 1.0
    measured = None
    if calibration is not None:
        measured = float_run(graph, np.asarray(calibration, dtype=np.float64))[1]
    layers: list[IntLayer] = []
    errors: dict = {"input_scale": input_scale, "layers": []}
    xs = input_scale
    for index, affine_index, affine, neuron in blocks:
        where = f"layers[{index}] ({type(neuron).__name__})"
        W = np.asarray(affine.weight, dtype=np.float64)
        b = np.zeros(W.shape[0]) if affine.bias is None else np.asarray(affine.bias, dtype=np.float64)
        V = None if not isinstance(neuron, Spiking) or neuron.recurrent is None else \
            np.asarray(neuron.recurrent, dtype=np.float64)
        candidates = []
        if np.abs(W).max() > 0:
            candidates.append(W_MAX * xs / np.abs(W).max())
        if V is not None and np.abs(V).max() > 0:
            candidates.append(W_MAX / np.abs(V).max())
        A = min(candidates) if candidates else 1.0
        if not candidates and np.abs(b).max() > 0:
            A = 2.0 ** 16 / np.abs(b).max()
        w_int = np.clip(np.rint(W * A / xs), -W_MAX, W_MAX).astype(np.int8)
        v_int = None if V is None else np.clip(np.rint(V * A), -W_MAX, W_MAX).astype(np.int8)
        b_int = np.rint(b * A)
        if np.abs(b_int).max(initial=0) >= 2 ** 30:
            raise ValueError(f"layers[{affine_index}] (Affine).bias: too large for an int32 "
                             f"accumulator at scale {A:g}")
        b_int = b_int.astype(np.int32)
        beta = np.asarray(neuron.beta, dtype=np.float64)
        if isinstance(neuron, Spiking):
            theta = np.asarray(neuron.threshold, dtype=np.float64)
            target = INT16_MAX / headroom
            shift = math.ceil(math.log2(A * theta.max() / target))
        else:
            x_abs = x_max if not layers else 1.0
            cur_max = float((np.abs(W).sum(axis=1) * x_abs + np.abs(b)).max())
            bound = cur_max * leaky_gain(float(beta.max()), T)
            if measured is not None:
                # every neuron layer is in a block, so this block's position is its calibration index
                seen = measured[len(layers)]
                bound = min(bound, 1.25 * seen) if seen > 0 else bound
            bound = max(bound, 1e-12)
            shift = math.ceil(math.log2(A * bound / INT16_MAX))
        shift = int(max(min(shift, SHIFT_MAX), SHIFT_MIN))
        s = A / 2.0 ** shift
        # accumulator overflow: |acc| + the rounding offset must stay below 2^31
        xq_max = W_MAX + 1 if not layers else 1
        acc_max = (np.abs(w_int.astype(np.int64)).sum(axis=1) * xq_max + np.abs(b_int.astype(np.int64))
                   + (0 if v_int is None else np.abs(v_int.astype(np.int64)).sum(axis=1))).max()
        if acc_max + (1 << max(shift - 1, 0)) > ACC_LIMIT:
            raise ValueError(f"{where}: the int32 accumulator could overflow ({acc_max} > 2^31); too many inputs")
        layer = IntLayer(kind="li" if isinstance(neuron, Leaky) else ("cuba" if neuron.cuba else "lif"),
                         weight=w_int, bias=b_int, shift=shift, beta=_q12(beta),
                         acc_scale=float(A), state_scale=float(s), index=index)
        err = {"layer": index, "kind": layer.kind, "acc_scale": float(A), "state_scale": float(s), "shift": shift,
               "weight_max_abs_error": float(np.abs(w_int * xs / A - W).max()),
               "weight_max_abs": float(np.abs(W).max()),
               "bias_max_abs_error": float(np.abs(b_int / A - b).max()),
               "beta_max_abs_error": float(np.abs(layer.beta / ONE - beta).max())}
        if isinstance(neuron, Spiking):
            layer.reset = neuron.reset
            th = np.clip(np.rint(theta * s), 1, INT16_MAX)
            layer.threshold = th.astype(np.int16)
            err["threshold_max_rel_error"] = float(np.abs(th / s - theta).max() / theta.max())
            if neuron.cuba:
                layer.alpha = _q12(neuron.alpha)
                err["alpha_max_abs_error"] = float(np.abs(layer.alpha / ONE - neuron.alpha).max())
            if v_int is not None:
                layer.recurrent = v_int
                err["recurrent_max_abs_error"] = float(np.abs(v_int / A - V).max())
        else:
            err["membrane_bound"] = float(INT16_MAX / s)
        errors["layers"].append(err)
        layers.append(layer)
        xs = 1.0  # the next block's input is spikes
    model = IntModel(layers, tuple(int(v) for v in graph.input_shape), input_scale, T, static, errors)
    return model


# ---------------------------------------------------------------------------- emulator
def quantize_input(model: IntModel, x: np.ndarray) -> np.ndarray:
    """Float inputs (training units) -> int8: ``sat8(round(x · input_scale))``, flattened to
    ``[..., n_input]`` (the leading batch / time axes kept)."""
    x = np.asarray(x, dtype=np.float64)
    lead = x.ndim - len(model.input_shape)
    if lead not in (1, 2) or tuple(x.shape[lead:]) != tuple(model.input_shape):
        raise ValueError(f"x: needs shape [B, {', '.join(map(str, model.input_shape))}] "
                         f"(or [T, B, ...]), got {list(x.shape)}")
    q = np.rint(x * model.input_scale)
    clipped = int(np.count_nonzero((q < -128) | (q > 127)))
    if clipped:
        warnings.warn(f"{clipped} input values exceed the int8 range and were saturated (inputs above the "
                      f"input_max used to quantise?)", RuntimeWarning, stacklevel=2)
    return np.clip(q, -128, 127).astype(np.int8).reshape(*x.shape[:lead], model.n_input)


def _sat16(v: np.ndarray) -> np.ndarray:
    return np.clip(v, INT16_MIN, INT16_MAX)


def _decay(v: np.ndarray, d: np.ndarray) -> np.ndarray:
    return (v * d.astype(np.int64) + (ONE >> 1)) >> Q


def _current(acc: np.ndarray, shift: int) -> np.ndarray:
    if shift > 0:
        c = (acc + (1 << (shift - 1))) >> shift
    elif shift == 0:
        c = acc
    else:
        lim = CUR_LIMIT >> (-shift)
        return np.clip(acc, -lim, lim) * (1 << (-shift))
    return np.clip(c, -CUR_LIMIT, CUR_LIMIT)


def run(model: IntModel, x_int: np.ndarray, steps: int | None = None, record: bool = False):
    """The integer emulator: ``x_int`` int8 ``[B, n_input]`` (static input, presented at each of
    ``steps`` steps, default ``model.steps``) or ``[T, B, n_input]``. Returns the per-step
    outputs int32 ``[T, B, n_output]`` (the readout membrane or the last layer's spikes); with
    ``record``, also a list per layer of ``{"u", "i", "s"}`` int arrays ``[T, B, n]``."""
    x_int = np.asarray(x_int)
    if x_int.ndim == 2:
        T = int(model.steps if steps is None else steps)
        seq = None
    elif x_int.ndim == 3:
        T, seq = x_int.shape[0], x_int
    else:
        raise ValueError(f"x_int: needs shape [B, {model.n_input}] or [T, B, {model.n_input}], got {list(x_int.shape)}")
    if x_int.shape[-1] != model.n_input:
        raise ValueError(f"x_int: needs {model.n_input} input values per sample, got {x_int.shape[-1]}")
    if not np.issubdtype(x_int.dtype, np.integer) or x_int.min(initial=0) < -128 or x_int.max(initial=0) > 127:
        raise ValueError("x_int: must hold int8 values (-128..127)")
    B = x_int.shape[-2]
    u = [np.zeros((B, L.n_out), np.int64) for L in model.layers]
    i = [np.zeros((B, L.n_out), np.int64) for L in model.layers]
    s = [np.zeros((B, L.n_out), np.int64) for L in model.layers]
    W = [L.weight.astype(np.int64).T for L in model.layers]
    V = [None if L.recurrent is None else L.recurrent.astype(np.int64).T for L in model.layers]
    outs = np.zeros((T, B, model.n_output), np.int32)
    rec = [{"u": [], "i": [], "s": []} for _ in model.layers] if record else None
    for t in range(T):
        h = (x_int if seq is None else seq[t]).astype(np.int64)
        for k, L in enumerate(model.layers):
            acc = h @ W[k] + L.bias.astype(np.int64)
            if V[k] is not None:
                acc = acc + s[k] @ V[k]
            c = _current(acc, L.shift)
            if L.kind == "cuba":
                i[k] = _sat16(_decay(i[k], L.alpha) + c)
                c = i[k]
            if L.kind == "li":
                u[k] = _sat16(_decay(u[k], L.beta) + c)
            else:
                r = s[k]
                if L.reset == "soft":
                    u[k] = _sat16(_decay(u[k], L.beta) + c - r * L.threshold.astype(np.int64))
                else:
                    u[k] = _sat16(np.where(r != 0, 0, _decay(u[k], L.beta)) + c)
                s[k] = (u[k] > L.threshold.astype(np.int64)).astype(np.int64)
                h = s[k]
            if record:
                rec[k]["u"].append(u[k].copy())
                rec[k]["i"].append(i[k].copy())
                rec[k]["s"].append(s[k].copy())
        last = model.layers[-1]
        outs[t] = s[-1] if last.spiking else u[-1]
    if record:
        return outs, [{key: np.stack(v) for key, v in r.items()} for r in rec]
    return outs


def emulate(model: IntModel, x: np.ndarray, steps: int | None = None) -> np.ndarray:
    """The integer emulator on float inputs ``x`` ``[B, *input_shape]`` (static) or
    ``[T, B, *input_shape]``: the dequantised output ``[T, B, n_output]`` (float64)."""
    return run(model, quantize_input(model, x), steps) / model.output_scale
