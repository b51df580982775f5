"""A :class:`~neurosim.hardware.graph.LayerGraph` in Loihi's fixed point: a :class:`LoihiNetwork`.

Every neuron layer of the graph becomes a group of CUBA compartments (:mod:`.emulator` has
the arithmetic) fed by the synapse layers before it, composed into one linear map:

=====================  ======================================================================
training (graph)        Loihi
=====================  ======================================================================
LIF ``i' = x``          ``du = 4095`` (current decay 4096/4096: ``u`` holds this step's input)
CubaLIF ``α``           ``du = 4095 - round(4096 α)`` (effective decay ``du + 1``)
``β``                   ``dv = round(4096 (1 - β))``
threshold ``θ_i``       ``vth`` (17-bit mantissa, compared with ``v`` as ``vth << 6``)
hard reset              ``v <- 0`` on a spike (soft reset does not map: ``ValueError``)
weights ``W``           8-bit mantissas, ``weight_exp``; a_in = (Σ W s) << weight_exp
bias ``b``              13-bit mantissa ``<< bias_exp`` (added to ``v``)
LI readout              a compartment with ``du = 4095`` and ``vth`` at its maximum (never
                        spikes); its ``v`` is the output
recurrent ``V``         a second Dense from the layer onto itself (one-step delay, as trained)
=====================  ======================================================================

**Scale.** Training units are dimensionless (θ ~ 1). Neuron ``i`` of a layer gets a scale
``s_i`` (a_in units per training unit; ``v = 64 s_i u``) with ``s_i = vth / θ_i`` for one
integer ``vth`` per layer, so thresholds are exact and all rounding goes into weights and
biases. ``vth`` is the largest integer for which the rows' weights fit the 8-bit mantissas
(at ``weight_exp``), the biases fit 13 bits, and ``vth <= 16383`` (leaves ``v`` 8 θ of
headroom before the 24-bit clip). A readout layer has one scale, chosen to fill the weight
range while its largest possible ``v`` (a bound, or calibration samples × 1.5) stays below
the never-reached threshold.

**Weights.** Mixed-sign matrices use even mantissas in [-254, 254] (Loihi drops the LSB in
mixed mode; -256 is avoided because a one-signed row of a mixed layer would be clipped to
-255 by Lava), excitatory ones 0..255, inhibitory ones -255..0. With ``netx=True`` (the
default) ``weight_exp = 0`` and ``bias_exp = 6`` so the effective weights are the integers a
netx ``.net`` stores (lava-dl recomputes the exponent from them) and biases are what netx's
``bias`` means (``bias_mant`` with ``bias_exp = 6``). With ``netx=False`` the exponent is
chosen per layer (-8..7) to push ``vth`` up to its cap, and ``bias_exp`` per neuron (0..7).

**Direct-current input.** The synapse layers before the first neuron layer (e.g. the first
``Affine`` on a static image) run on the host, in float64, once per sample:
``I = W x + b`` is quantised to the first layer's 13-bit bias mantissa (``bias_exp = 6``),
exactly how a netx ``input`` layer is driven (its neurons' ``bias_mant`` is written per
sample). A bias enters ``v`` directly, so that first layer must be LIF (a CubaLIF layer
would filter its input through ``u``: refused). Its scale fits ``|I|`` over ``input_range`` (default [0, 1], a bound) into 13 bits.
Spike encoders (rate, latency) are instead fed as input spikes to a first Dense layer.

**Timing.** Each Dense synapse delays by one step, so layer ``k`` lags the trained model by
``delays[k]`` steps (``k`` with host input, ``k + 1`` with input spikes); :func:`predict`
(in the package ``__init__``) realigns. A bias of a deeper layer acts from step 0, before
the first input reaches it: a transient the trained model does not have (small; kept, since
it is what the chip does).

:attr:`LoihiNetwork.errors` reports, per layer: weight errors (``max_rel``: max |Ŵ - W| /
max |W|; ``rms_rel``: rms(Ŵ - W) / rms(W)), bias and threshold errors, decay errors
(``|α̂ - α|``, ``|β̂ - β|`` maximised over neurons; per-layer decays are the neurons' mean),
the clipped weights and whether ``u`` may wrap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from neurosim.hardware.graph import (Affine, Conv2d, Flatten, LayerGraph, Leaky, Spiking, SumPool2d, float_run,
                                     leaky_gain)

VTH_MAX = (1 << 17) - 1          # 17-bit threshold mantissa
VTH_CAP = VTH_MAX // 8           # spiking layers: keep 8 θ of v range below the 24-bit clip
BIAS_MANT_MAX = (1 << 12) - 1    # 13-bit signed mantissa: -4096..4095
BIAS_EXP_NETX = 6                # netx: bias_exp is always 6
WEIGHT_GRID = {"mixed": (-254, 254, 2), "excitatory": (0, 255, 1), "inhibitory": (-255, 0, 1)}
READOUT_MARGIN = 1.5             # calibration: largest |v| seen x this must stay below vth
SYNAPSE_TYPES = (Affine, Conv2d, SumPool2d, Flatten)


# --------------------------------------------------------------------------------------------
# linear maps of synapse chains (numpy, float64)

def _conv2d(x: np.ndarray, layer: Conv2d, weight: np.ndarray | None = None) -> np.ndarray:
    """PyTorch Conv2d (no groups/dilation) on x [B, C, H, W]."""
    w = layer.weight if weight is None else weight
    ph, pw = layer.padding
    sh, sw = layer.stride
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    co, ho, wo = layer.out_shape
    kh, kw = w.shape[2:]
    out = np.zeros((x.shape[0], co, ho, wo))
    for i in range(kh):
        for j in range(kw):
            patch = xp[:, :, i:i + sh * (ho - 1) + 1:sh, j:j + sw * (wo - 1) + 1:sw]
            out += np.einsum("oc,bchw->bohw", w[:, :, i, j], patch)
    return out


def apply_chain(chain: list, x: np.ndarray, with_bias: bool = True) -> np.ndarray:
    """The synapse layers of ``chain`` applied to a batch ``x`` [B, *shape] (float64)."""
    h = np.asarray(x, dtype=np.float64)
    for layer in chain:
        if isinstance(layer, Affine):
            h = h.reshape(h.shape[0], -1) @ layer.weight.T
            if with_bias and layer.bias is not None:
                h = h + layer.bias
        elif isinstance(layer, Conv2d):
            h = _conv2d(h.reshape(h.shape[0], *layer.input_shape), layer)
            if with_bias and layer.bias is not None:
                h = h + layer.bias[None, :, None, None]
        elif isinstance(layer, SumPool2d):
            c, hh, ww = layer.input_shape
            k = layer.kernel
            h = h.reshape(h.shape[0], c, hh, ww)[:, :, :hh // k * k, :ww // k * k]
            h = h.reshape(h.shape[0], c, hh // k, k, ww // k, k).sum(axis=(3, 5)) * layer.scale
        elif isinstance(layer, Flatten):
            h = h.reshape(h.shape[0], -1)
    return h.reshape(h.shape[0], -1)


def chain_matrix(chain: list, in_shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(M [n_out, n_in], c [n_out]) with ``chain(x) = M x + c`` on flattened inputs."""
    n_in = int(np.prod(in_shape))
    if not chain:
        return np.eye(n_in), np.zeros(n_in)
    offset = apply_chain(chain, np.zeros((1, *in_shape)))[0]
    cols = []
    for start in range(0, n_in, 1024):
        eye = np.zeros((min(1024, n_in - start), n_in))
        eye[np.arange(eye.shape[0]), start + np.arange(eye.shape[0])] = 1.0
        cols.append(apply_chain(chain, eye.reshape(-1, *in_shape), with_bias=False))
    return np.concatenate(cols).T.copy(), offset


# --------------------------------------------------------------------------------------------
# the integer network

@dataclass(frozen=True)
class ConvSpec:
    """A conv synapse: kernel [Co, Ci, kh, kw] over ``input_shape`` (C, H, W)."""

    input_shape: tuple[int, int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]


@dataclass(frozen=True)
class HostInput:
    """The synapse layers before the first neuron layer, computed on the host per sample:
    the first layer's bias mantissas are ``round(scale_i (M x + c)_i)`` clipped to 13 bits."""

    matrix: np.ndarray          # [N0, n_in] float64
    offset: np.ndarray          # [N0]
    scale: np.ndarray           # [N0] a_in units per training unit
    input_shape: tuple[int, ...]

    def current(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if x.shape[1:] != tuple(self.input_shape):
            raise ValueError(f"x: needs samples of shape {tuple(self.input_shape)}, got {x.shape[1:]}")
        return x.reshape(x.shape[0], -1) @ self.matrix.T + self.offset

    def bias_mant(self, x: np.ndarray) -> tuple[np.ndarray, int]:
        """(mantissas [B, N0] int64, how many were clipped) of samples ``x`` [B, *input_shape]."""
        q = np.rint(self.current(x) * self.scale)
        clipped = int(np.count_nonzero((q > BIAS_MANT_MAX) | (q < -BIAS_MANT_MAX - 1)))
        return np.clip(q, -BIAS_MANT_MAX - 1, BIAS_MANT_MAX).astype(np.int64), clipped


@dataclass(frozen=True)
class LoihiLayer:
    """A group of CUBA compartments and the synapses into it (integers as Lava takes them)."""

    name: str
    shape: tuple[int, ...]              # neuron shape: (N,) or (C, H, W)
    du: int
    dv: int
    vth: int
    bias_mant: np.ndarray               # [N] int64
    bias_exp: np.ndarray                # [N] int64
    scale: np.ndarray                   # [N] float64, a_in units per training unit
    readout: bool = False               # never spikes; its v is the output
    weight: np.ndarray | None = None    # mantissas: dense [N, n_in] or conv kernel [Co, Ci, kh, kw]
    weight_exp: int = 0
    sign_mode: str = "mixed"
    weight_rec: np.ndarray | None = None  # [N, N] mantissas
    sign_mode_rec: str = "mixed"
    num_weight_bits: int = 8            # Lava's truncation (8: keep every mantissa bit)
    conv: ConvSpec | None = None
    source_shape: tuple[int, ...] = ()
    _dense: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    @property
    def kind(self) -> str:
        if self.weight is None:
            return "input"
        if self.conv is not None:
            return "conv"
        return "dense_rec" if self.weight_rec is not None else "dense"

    def dense_weight(self) -> np.ndarray:
        """Weight mantissas as a dense [N, n_in] int64 matrix (a conv kernel expanded)."""
        if self.weight is None:
            raise ValueError(f"{self.name}: has no input synapses")
        if self.conv is None:
            return self.weight
        if "w" not in self._dense:
            spec = self.conv
            layer = Conv2d(self.weight.astype(np.float64), spec.input_shape, None, spec.stride, spec.padding)
            m, _ = chain_matrix([layer], spec.input_shape)
            self._dense["w"] = np.rint(m).astype(np.int64)
        return self._dense["w"]

    def effective_weight(self) -> np.ndarray:
        """What one input spike adds to a_in: mantissa x 2^weight_exp (dense [N, n_in], float)."""
        return self.dense_weight() * 2.0 ** self.weight_exp


@dataclass(frozen=True)
class LoihiNetwork:
    """Integer layers in order; ``host`` (input_mode "bias") computes the first layer's input."""

    layers: tuple[LoihiLayer, ...]
    input_shape: tuple[int, ...]
    steps: int
    dt: float
    input_mode: str                      # "bias" (host current) | "spikes" (encoder spikes)
    host: HostInput | None
    encoder: dict
    netx: bool
    errors: dict

    @property
    def delays(self) -> list[int]:
        first = 0 if self.input_mode == "bias" else 1
        return [first + k for k in range(len(self.layers))]

    @property
    def latency(self) -> int:
        """Steps between the model's output at step t and the chip's (the last layer's delay)."""
        return self.delays[-1]

    @property
    def output(self) -> LoihiLayer:
        return self.layers[-1]


# --------------------------------------------------------------------------------------------
# quantisation helpers (public for tests)

def sign_mode(*weights: np.ndarray | None) -> str:
    """The sign mode of the weights into one layer (taken together)."""
    values = [np.asarray(w) for w in weights if w is not None and np.size(w)]
    if not values:
        return "excitatory"
    lo = min(float(w.min()) for w in values)
    hi = max(float(w.max()) for w in values)
    if lo >= 0:
        return "excitatory"
    if hi <= 0:
        return "inhibitory"
    return "mixed"


def quantize_weights(w: np.ndarray, mode: str, weight_exp: int = 0) -> np.ndarray:
    """Mantissas for effective weights ``w`` (a_in units): ``w / 2^weight_exp`` rounded to the
    sign mode's grid (even values when mixed) and clipped to it."""
    if mode not in WEIGHT_GRID:
        raise ValueError(f"sign_mode: must be one of {', '.join(WEIGHT_GRID)}, got {mode!r}")
    if not -8 <= weight_exp <= 7:
        raise ValueError(f"weight_exp: must be in -8..7, got {weight_exp!r}")
    lo, hi, step = WEIGHT_GRID[mode]
    m = np.rint(np.asarray(w, dtype=np.float64) / 2.0 ** weight_exp / step) * step
    return np.clip(m, lo, hi).astype(np.int64)


def current_decay(alpha: float) -> int:
    """``du`` for a synaptic-current decay factor α per step (effective decay ``du + 1``)."""
    return int(np.clip(4095 - round(4096 * float(alpha)), 0, 4095))


def voltage_decay(beta: float) -> int:
    """``dv`` for a membrane decay factor β per step."""
    return int(np.clip(round(4096 * (1.0 - float(beta))), 0, 4095))


def _bias(b: np.ndarray, scale: np.ndarray, netx: bool) -> tuple[np.ndarray, np.ndarray, int]:
    """(mantissa, exponent, clipped count) for biases ``b`` (training units) at ``scale``."""
    target = b * scale * 64.0  # in v units
    if netx:
        exp = np.full(b.shape, BIAS_EXP_NETX, np.int64)
    else:
        need = np.abs(target) / BIAS_MANT_MAX
        exp = np.clip(np.ceil(np.log2(np.maximum(need, 1e-300))), 0, 7).astype(np.int64)
    q = np.rint(target / 2.0 ** exp)
    clipped = int(np.count_nonzero((q > BIAS_MANT_MAX) | (q < -BIAS_MANT_MAX - 1)))
    return np.clip(q, -BIAS_MANT_MAX - 1, BIAS_MANT_MAX).astype(np.int64), exp, clipped


def _rel_errors(true: np.ndarray, approx: np.ndarray) -> dict:
    true = np.asarray(true, dtype=np.float64)
    err = np.asarray(approx, dtype=np.float64) - true
    if true.size == 0:
        return {"max_rel": 0.0, "rms_rel": 0.0}
    top = float(np.abs(true).max())
    rms = float(np.sqrt(np.mean(true ** 2)))
    return {"max_rel": float(np.abs(err).max()) / top if top > 0 else float(np.abs(err).max()),
            "rms_rel": float(np.sqrt(np.mean(err ** 2))) / rms if rms > 0 else 0.0}


def _weight_bits(m: np.ndarray, mode: str) -> int:
    """Bits of the synapse weight field: mixed-sign mantissas are stored without their LSB when
    all even (as on Loihi) plus a sign bit; one-signed ones need only the magnitude."""
    top = int(np.abs(m).max())
    if mode == "mixed":
        return ((top >> 1) if not np.any(m % 2) else top).bit_length() + 1
    return top.bit_length()


def _row_abs(w: np.ndarray | None, conv: bool, size: int, reduce=np.max) -> np.ndarray:
    """``reduce`` (max or sum) of |w| over each neuron's inputs; a convolution kernel
    [Co, Ci, kh, kw] gives one value per channel, repeated over the channel's neurons (C, H, W)."""
    if w is None:
        return np.zeros(size)
    if conv:
        per_c = reduce(np.abs(w).reshape(w.shape[0], -1), axis=1)
        return np.repeat(per_c, size // w.shape[0])
    return reduce(np.abs(w), axis=1) if w.shape[1] else np.zeros(size)


# --------------------------------------------------------------------------------------------
# the quantiser

@dataclass
class _Stage:
    index: int                # index of the neuron layer in graph.layers
    chain: list
    neuron: Spiking | Leaky
    in_shape: tuple[int, ...]
    shape: tuple[int, ...]


def _stages(graph: LayerGraph) -> list[_Stage]:
    stages: list[_Stage] = []
    chain: list = []
    shape = tuple(graph.input_shape)
    chain_in = shape
    for index, layer in enumerate(graph.layers):
        where = f"layers[{index}] ({type(layer).__name__})"
        if isinstance(layer, SYNAPSE_TYPES):
            if stages and stages[-1].neuron.__class__ is Leaky:
                raise ValueError(f"{where}: nothing may follow the Leaky readout on Loihi")
            chain.append(layer)
            shape = graph.shapes[index + 1]
            continue
        if isinstance(layer, Spiking):
            if layer.reset != "hard":
                raise ValueError(f"{where}: reset {layer.reset!r} does not map to Loihi, whose neurons reset "
                                 f"v to 0 on a spike; train with reset = \"hard\"")
        elif not isinstance(layer, Leaky):
            raise ValueError(f"{where}: does not map to Loihi")
        if stages and isinstance(stages[-1].neuron, Leaky):
            raise ValueError(f"{where}: nothing may follow the Leaky readout on Loihi (its output is a membrane, "
                             f"not spikes)")
        stages.append(_Stage(index, chain, layer, chain_in, shape))
        chain, chain_in = [], shape
    if chain:
        raise ValueError(f"layers[{len(graph.layers) - 1}]: synapse layers after the last neuron layer do not map "
                         f"to Loihi (end the graph with a Spiking or Leaky layer)")
    if not stages:
        raise ValueError("LayerGraph.layers: has no neuron layer to map onto Loihi compartments")
    return stages


def _decays(neuron, errors: dict) -> tuple[int, int]:
    beta = np.asarray(neuron.beta, dtype=np.float64)
    dv = voltage_decay(float(beta.mean()))
    errors["beta_error"] = float(np.abs((4096 - dv) / 4096 - beta).max())
    alpha = getattr(neuron, "alpha", None)
    if alpha is None:
        du = 4095
        errors["alpha_error"] = 0.0
    else:
        alpha = np.asarray(alpha, dtype=np.float64)
        du = current_decay(float(alpha.mean()))
        errors["alpha_error"] = float(np.abs((4095 - du) / 4096 - alpha).max())
    return du, dv


def _calibration_vmax(graph: LayerGraph, calibration: np.ndarray | None) -> float | None:
    """Largest |readout membrane| of the float model on the calibration samples (encoded first)."""
    if calibration is None:
        return None
    x = np.asarray(calibration)
    if graph.encoder.get("type", "direct") != "direct":
        from neurosim.hardware.loihi import encode
        x = encode(graph, x)
    return float_run(graph, x)[1][-1]


def quantize(graph: LayerGraph, *, netx: bool = True, input_range: tuple[float, float] = (0.0, 1.0),
             calibration: np.ndarray | None = None) -> LoihiNetwork:
    """The fixed-point :class:`LoihiNetwork` of ``graph`` (see the module docstring).

    ``netx``: keep to what a lava-dl netx ``.net`` can express (``weight_exp = 0``,
    ``bias_exp = 6``). ``input_range``: the (low, high) range of input values, used to bound
    the host-computed input current. ``calibration``: optional samples [B, *input_shape] used
    to size the readout's scale from the float model's largest membrane (else a bound).
    """
    if not isinstance(graph, LayerGraph):
        raise ValueError(f"graph: must be a LayerGraph, got {type(graph).__name__}")
    lo_in, hi_in = (float(v) for v in input_range)
    if not (math.isfinite(lo_in) and math.isfinite(hi_in) and lo_in <= hi_in):
        raise ValueError(f"input_range: must be (low, high) with low <= high, got {input_range!r}")
    enc = dict(graph.encoder or {"type": "direct"})
    etype = enc.get("type", "direct")
    if etype == "direct":
        input_mode = "bias"
    elif etype in ("rate", "latency"):
        input_mode = "spikes"
    else:
        raise ValueError(f"LayerGraph.encoder.type: {etype!r} inputs do not map to Loihi "
                         f"(direct, rate and latency do)")
    stages = _stages(graph)
    vmax_cal = _calibration_vmax(graph, calibration)
    total_steps = graph.steps + len(stages)
    layers: list[LoihiLayer] = []
    report: dict = {"layers": []}
    host = None
    for k, st in enumerate(stages):
        neuron = st.neuron
        readout = isinstance(neuron, Leaky)
        size = neuron.size
        errs: dict = {"layer": k, "graph_index": st.index, "type": "readout" if readout else
                      ("CubaLIF" if getattr(neuron, "cuba", False) else "LIF"), "size": size}
        du, dv = _decays(neuron, errs)
        rec = None if readout else neuron.recurrent
        is_host = k == 0 and input_mode == "bias"
        conv = (len(st.chain) == 1 and isinstance(st.chain[0], Conv2d) and len(st.in_shape) == 3
                and not is_host)
        if is_host and getattr(neuron, "cuba", False) and np.any(neuron.alpha > 0):
            raise ValueError(f"layers[{st.index}]: a CubaLIF layer fed by the host (direct-current input) does "
                             "not map to Loihi: the host current is a bias added to v, bypassing the synaptic "
                             "current u; make the first spiking layer LIF or use a spike encoder")
        if is_host:
            m, c = chain_matrix(st.chain, st.in_shape)
            w = None
            # bound of |I| over the input box
            pos = np.maximum(m * lo_in, m * hi_in).sum(axis=1) + c
            neg = np.minimum(m * lo_in, m * hi_in).sum(axis=1) + c
            drive = np.maximum(np.abs(pos), np.abs(neg))
            b = None
        elif conv:
            layer0 = st.chain[0]
            w = layer0.weight
            c = np.zeros(size) if layer0.bias is None else np.repeat(layer0.bias, size // w.shape[0])
            b = c
        else:
            m, c = chain_matrix(st.chain, st.in_shape)
            w, b = m, c
        mode = sign_mode(w, rec)
        lo_w, hi_w, _ = WEIGHT_GRID[mode]
        wmax = max(abs(lo_w), hi_w)
        row_max = np.maximum(_row_abs(w, conv, size), _row_abs(rec, False, size))
        if readout:
            theta = None
        else:
            theta = np.asarray(neuron.threshold, dtype=np.float64)
            if conv:
                per_c = theta.reshape(w.shape[0], -1)
                if not np.allclose(per_c, per_c[:, :1]):
                    raise ValueError(f"layers[{st.index}] (Spiking): thresholds must be equal within each channel "
                                     f"of a conv layer to share its kernel on Loihi")
        # ---- choose the scale (a_in units per training unit) -------------------------------
        # every limit is expressed as an upper bound on vth (spiking) or on s (readout)
        ref = theta if theta is not None else np.ones(size)
        with np.errstate(divide="ignore"):
            w_lim = np.where(row_max > 0, wmax * ref / row_max, np.inf)          # at weight_exp 0
            if is_host:
                b_lim = np.where(drive > 0, BIAS_MANT_MAX * ref / drive, np.inf)
            else:
                bias_cap = BIAS_MANT_MAX * (1 if netx else 2)                    # exp 6, or up to 7
                b_lim = np.where(np.abs(b) > 0, bias_cap * ref / np.abs(b), np.inf)
        cap = VTH_CAP
        if readout:
            bq = (4096 - dv) / 4096
            if vmax_cal is not None:
                vmax = vmax_cal * READOUT_MARGIN
                errs["readout_range"] = "calibration"
            else:
                drive_r = drive if is_host else _row_abs(w, conv, size, np.sum) + np.abs(b)
                vmax = float(drive_r.max()) * leaky_gain(bq, total_steps)
                errs["readout_range"] = "bound"
            cap = (VTH_MAX - 1) / max(vmax, 1e-300)
        other = min(float(b_lim.min()), cap)
        base = float(w_lim.min())
        if netx or not np.isfinite(base):
            exp = 0
        else:
            exp = int(np.clip(math.floor(math.log2(other / base)), -8, 7)) if other < np.inf else 7
        limit = min(base * 2.0 ** exp, other)
        if readout:
            vth = VTH_MAX
            s_common = limit if np.isfinite(limit) else 1.0
            scale = np.full(size, s_common)
        else:
            vth = int(min(max(math.floor(limit), 1), VTH_MAX)) if np.isfinite(limit) else min(VTH_CAP, VTH_MAX)
            scale = vth / theta
        # ---- quantise -----------------------------------------------------------------------
        clipped = 0
        wq = rq = None
        if w is not None:
            if conv:
                s_c = scale.reshape(w.shape[0], -1)[:, 0]
                target = w * s_c[:, None, None, None]
            else:
                target = w * scale[:, None]
            wq = quantize_weights(target, mode, exp)
            lo_g, hi_g, _ = WEIGHT_GRID[mode]
            clipped += int(np.count_nonzero((target / 2.0 ** exp > hi_g + 1) | (target / 2.0 ** exp < lo_g - 1)))
            back = wq * 2.0 ** exp / (s_c[:, None, None, None] if conv else scale[:, None])
            errs["weight"] = _rel_errors(w, back)
        if rec is not None:
            target = rec * scale[:, None]
            rq = quantize_weights(target, mode, exp)
            errs["weight_rec"] = _rel_errors(rec, rq * 2.0 ** exp / scale[:, None])
        if is_host:
            bm = np.zeros(size, np.int64)
            be = np.full(size, BIAS_EXP_NETX, np.int64)
            host = HostInput(m, c, scale.copy(), tuple(graph.input_shape))
            errs["input_current_step"] = float((1.0 / scale).max())
            errs["input_current_bound"] = float(drive.max())
        else:
            bm, be, bclip = _bias(b, scale, netx)
            clipped += bclip
            errs["bias"] = _rel_errors(b, bm * 2.0 ** be / 64.0 / scale)
        if theta is not None:
            errs["threshold_rel"] = float(np.abs(vth / scale - theta).max() / theta.max())
        errs.update({"du": du, "dv": dv, "vth": vth, "weight_exp": exp,
                     "sign_mode": mode if (w is not None or rec is not None) else None,
                     "scale_min": float(scale.min()), "scale_max": float(scale.max()), "clipped": clipped,
                     "weight_bits": max([_weight_bits(m, mode) for m in (wq, rq) if m is not None and m.size],
                                        default=0)})
        # can u wrap? steady state of u under the largest possible a_in
        if wq is not None or rq is not None:
            a_max = 0.0
            if wq is not None:
                dense = wq if not conv else None
                a_max += float(np.abs(dense).sum(axis=1).max()) if dense is not None else \
                    float(np.abs(wq).reshape(wq.shape[0], -1).sum(axis=1).max())
            if rq is not None:
                a_max += float(np.abs(rq).sum(axis=1).max())
            a_max *= 2.0 ** exp
            keep = (4095 - du) / 4096
            errs["u_may_wrap"] = bool(a_max * 64 / max(1 - keep, 1e-12) > (1 << 23))
        else:
            errs["u_may_wrap"] = False
        shape = tuple(st.shape)
        spec = None
        if conv:
            layer0 = st.chain[0]
            spec = ConvSpec(tuple(layer0.input_shape), tuple(layer0.stride), tuple(layer0.padding))
        layers.append(LoihiLayer(
            name=f"layer{k}", shape=shape, du=du, dv=dv, vth=vth, bias_mant=bm, bias_exp=be, scale=scale,
            readout=readout, weight=wq, weight_exp=exp, sign_mode=mode, weight_rec=rq, sign_mode_rec=mode,
            conv=spec, source_shape=tuple(st.in_shape)))
        report["layers"].append(errs)
    report["max_weight_rel_error"] = max([e.get("weight", {}).get("max_rel", 0.0) for e in report["layers"]]
                                         + [e.get("weight_rec", {}).get("max_rel", 0.0) for e in report["layers"]])
    report["max_decay_error"] = max(max(e["alpha_error"], e["beta_error"]) for e in report["layers"])
    report["clipped"] = sum(e["clipped"] for e in report["layers"])
    return LoihiNetwork(tuple(layers), tuple(graph.input_shape), int(graph.steps), float(graph.dt), input_mode,
                        host, enc, bool(netx), report)
