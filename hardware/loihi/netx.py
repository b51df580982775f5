"""lava-dl netx ``.net`` files (HDF5) of a :class:`LoihiNetwork`: :func:`write_netx`, :func:`read_netx`.

The layout (what ``lava.lib.dl.netx.hdf5.Network`` reads; no compression)::

    /layer/<i>/type        1-element |S10: b'input' | b'dense' | b'dense_rec' | b'conv' | b'flatten'
    /layer/<i>/shape       int64: (C, H, W) or (N,) (the reader reverses it to Lava's W, H, C)
    /layer/<i>/weight      float32 holding integers (the reader casts to int): dense (out, in),
                           conv (out, in, kH, kW, 1)
    /layer/<i>/weight_rec  float32 (N, N)                          dense_rec only
    /layer/<i>/bias        float32 integers, per neuron (dense) or per channel (conv); Lava uses
                           them as bias_mant with bias_exp = 6
    /layer/<i>/inFeatures, outFeatures (dense); inChannels, outChannels, kernelSize, stride,
                           padding, dilation, groups (conv)
    /layer/<i>/neuron/type      b'CUBA'
    /layer/<i>/neuron/iDecay    du + 1 (the reader takes du = iDecay - 1)
    /layer/<i>/neuron/vDecay    dv
    /layer/<i>/neuron/vThMant   vth
    /layer/<i>/neuron/refDelay  1 (not modelled by Lava's LIF)
    /layer/<i>/neuron/gradedSpike  False
    /simulation/Ts = 1, /simulation/tSample = the model's steps

Layer 0 is ``input``: with host-computed input current it carries the first layer's neuron
group (netx builds an ``Input`` block, a LIF whose ``bias_mant`` the host writes per sample);
with input spikes it holds only the input shape. A dense layer fed by a (C, H, W) layer is
preceded by a ``flatten`` layer (netx then flattens in C, H, W order, as torch does).

netx recomputes each dense layer's weight exponent, bit count and sign mode from the stored
integers (``optimize_weight_bits``) and Lava's Dense then clips and truncates them;
:func:`write_netx` replays that and refuses a network whose weights would not come back
exactly. Conv kernels are written in PyTorch's (out, in, kH, kW) order plus a trailing 1, the
layout lava-dl's own exporter uses; the reader flips and transposes them for Lava's Conv (see
lava-dl issue #260), which then computes PyTorch's cross-correlation.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import h5py
import numpy as np

from neurosim.hardware.files import atomic_output
from neurosim.hardware.loihi.emulator import lava_dense_weights, sign_mode_of
from neurosim.hardware.loihi.quantize import BIAS_EXP_NETX, VTH_MAX, ConvSpec, HostInput, LoihiLayer, LoihiNetwork

TYPES = ("input", "dense", "dense_rec", "conv", "flatten")


def _type(name: str) -> np.ndarray:
    return np.array([name.encode("ascii")], dtype="|S10")


def netx_weight_bits(weight: np.ndarray) -> tuple[np.ndarray, int, int]:
    """What netx's ``optimize_weight_bits`` makes of stored integer weights: (mantissas,
    num_weight_bits, weight_exp). Raises ``ValueError`` where netx would clip or fail."""
    w = np.asarray(weight).astype(np.int64)
    if w.size == 0 or not np.any(w):
        raise ValueError("weight: all zero; netx cannot size the exponent of an all-zero matrix")
    top, bottom = int(w.max()), int(w.min())
    if bottom < 0 < top and (top > 254 or bottom < -256):
        raise ValueError(f"weight: mixed-sign weights must lie in -256..254 for netx, got {bottom}..{top}")
    if top < 0:
        mixed, scale = False, -256 / bottom
    elif bottom >= 0:
        mixed, scale = False, 255 / top
    else:
        mixed, scale = True, min(127 / top, -128 / bottom)
    scale_bits = int(math.floor(math.log2(scale))) + int(mixed)
    if scale_bits < 0:
        raise ValueError(f"weight: values up to {max(top, -bottom)} exceed netx's 8-bit range")
    n = 8
    while n > 0 and np.any(w % (1 << n)):
        n -= 1
    n -= int(mixed)
    return w << scale_bits, 8 - scale_bits - n, -scale_bits


def _effective_ints(layer: LoihiLayer, which: str) -> np.ndarray:
    """The integer weights to store (what one spike adds to a_in), checked to round-trip."""
    mant = layer.weight if which == "weight" else layer.weight_rec
    exp = layer.weight_exp
    eff = mant.astype(np.float64) * 2.0 ** exp
    if np.any(eff != np.rint(eff)):
        raise ValueError(f"{layer.name}: weight_exp {exp} gives fractional effective weights, which a netx "
                         f".net cannot hold (quantize with netx=True)")
    return np.rint(eff).astype(np.int64)


def _check_netx_dense(layer: LoihiLayer, w: np.ndarray, r: np.ndarray | None) -> None:
    """Replay netx's loading of (w, r) and Lava's Dense weight handling; refuse any change."""
    joint = w if r is None else np.hstack([w, r])
    mant, bits, exp = netx_weight_bits(joint)
    for part, orig in ((mant[:, :w.shape[1]], w), (mant[:, w.shape[1]:], r)):
        if orig is None:
            continue
        used = lava_dense_weights(part, sign_mode_of(part), bits)
        if not np.array_equal(used, part) or not np.array_equal(used >> -exp, orig):
            raise ValueError(f"{layer.name}: netx/Lava would change these weights when loading them "
                             f"(weight_bits {bits}, exponent {exp})")


def _neuron(group: h5py.Group, layer: LoihiLayer) -> None:
    group.create_dataset("type", data=np.bytes_(b"CUBA"))
    group.create_dataset("iDecay", data=np.int64(layer.du + 1))
    group.create_dataset("vDecay", data=np.int64(layer.dv))
    group.create_dataset("vThMant", data=np.int64(layer.vth))
    group.create_dataset("refDelay", data=np.int64(1))
    group.create_dataset("gradedSpike", data=np.bool_(False))


def _bias_ints(layer: LoihiLayer) -> np.ndarray | None:
    if not np.any(layer.bias_mant):
        return None
    val = layer.bias_mant.astype(np.float64) * 2.0 ** (layer.bias_exp - 6)
    if np.any(val != np.rint(val)):
        raise ValueError(f"{layer.name}: biases with bias_exp < 6 do not fit netx (bias_exp is always 6 there); "
                         f"quantize with netx=True")
    return np.rint(val).astype(np.int64)


def write_netx(net: LoihiNetwork, path: str | Path) -> Path:
    """Write ``net`` as a netx ``.net`` at ``path``; returns the path."""
    if not isinstance(net, LoihiNetwork):
        raise ValueError(f"net: must be a LoihiNetwork, got {type(net).__name__}")
    path = Path(path)
    if path.suffix != ".net":
        raise ValueError(f"path: a netx file ends in .net, got {str(path)!r}")
    for layer in net.layers:
        for name, lo, hi in (("du", 0, 4095), ("dv", 0, 4095), ("vth", 0, VTH_MAX)):
            value = getattr(layer, name)
            if not lo <= value <= hi:
                raise ValueError(f"{layer.name}.{name}: {value} is outside {lo}..{hi}")
    entries: list[tuple[str, LoihiLayer | tuple]] = []
    layers = list(net.layers)
    if net.input_mode == "bias":
        first = layers.pop(0)
        if first.weight_rec is not None:
            raise ValueError(f"{first.name}: a recurrent first layer driven by host current has no netx form "
                             f"(the netx input layer has no synapses)")
        entries.append(("input", first))
    else:
        entries.append(("input", tuple(net.input_shape)))
    for layer in layers:
        if layer.conv is None and len(layer.source_shape) == 3:
            entries.append(("flatten", (int(np.prod(layer.source_shape)),)))
        entries.append((layer.kind, layer))
    # validate everything before creating the file
    payload = []
    for kind, item in entries:
        if kind in ("dense", "dense_rec"):
            w = _effective_ints(item, "weight")
            r = _effective_ints(item, "weight_rec") if kind == "dense_rec" else None
            _check_netx_dense(item, w, r)
            payload.append((kind, item, w, r, _bias_ints(item)))
        elif kind == "conv":
            w = _effective_ints(item, "weight")
            if np.abs(w).max() > 255:
                raise ValueError(f"{item.name}: conv weights must lie in -256..255")
            bias = _bias_ints(item)
            if bias is not None:
                per_c = bias.reshape(w.shape[0], -1)
                if np.any(per_c != per_c[:, :1]):
                    raise ValueError(f"{item.name}: a conv layer's bias must be the same within a channel")
                bias = per_c[:, 0]
            payload.append((kind, item, w, None, bias))
        elif kind == "input" and isinstance(item, LoihiLayer):
            if np.any(item.bias_exp != 6):
                raise ValueError(f"{item.name}: the host input is a bias with bias_exp 6 in netx")
            payload.append((kind, item, None, None, None))
        else:
            payload.append((kind, item, None, None, None))
    with atomic_output(path) as tmp, h5py.File(tmp, "w") as f:
        group = f.create_group("layer")
        for i, (kind, item, w, r, bias) in enumerate(payload):
            g = group.create_group(str(i))
            g.create_dataset("type", data=_type(kind))
            if kind == "flatten" or (kind == "input" and not isinstance(item, LoihiLayer)):
                g.create_dataset("shape", data=np.asarray(item, dtype=np.int64))
                continue
            g.create_dataset("shape", data=np.asarray(item.shape, dtype=np.int64))
            if kind in ("dense", "dense_rec"):
                g.create_dataset("inFeatures", data=np.int64(w.shape[1]))
                g.create_dataset("outFeatures", data=np.int64(w.shape[0]))
                g.create_dataset("weight", data=w.astype(np.float32))
                if r is not None:
                    g.create_dataset("weight_rec", data=r.astype(np.float32))
            elif kind == "conv":
                spec = item.conv
                g.create_dataset("inChannels", data=np.int64(w.shape[1]))
                g.create_dataset("outChannels", data=np.int64(w.shape[0]))
                g.create_dataset("kernelSize", data=np.asarray(w.shape[2:], dtype=np.int64))
                g.create_dataset("stride", data=np.asarray(spec.stride, dtype=np.int64))
                g.create_dataset("padding", data=np.asarray(spec.padding, dtype=np.int64))
                g.create_dataset("dilation", data=np.ones(2, dtype=np.int64))
                g.create_dataset("groups", data=np.int64(1))
                g.create_dataset("weight", data=w.astype(np.float32)[..., None])
            if bias is not None:
                g.create_dataset("bias", data=bias.astype(np.float32))
            _neuron(g.create_group("neuron"), item)
        sim = f.create_group("simulation")
        sim.create_dataset("Ts", data=np.int64(1))
        sim.create_dataset("tSample", data=np.int64(net.steps))
    return path


def _str(ds: h5py.Dataset) -> str:
    value = ds[()]
    if isinstance(value, np.ndarray):
        value = value.reshape(-1)[0]
    return value.decode("ascii") if isinstance(value, bytes) else str(value)


def _layer_from(g: h5py.Group, name: str, kind: str, source_shape: tuple, last: bool) -> LoihiLayer:
    n = g["neuron"]
    neuron_type = _str(n["type"])
    if neuron_type not in ("CUBA", "LOIHI"):
        raise ValueError(f"{name}: neuron type {neuron_type!r} is not a CUBA neuron")
    shape = tuple(int(v) for v in g["shape"][()])
    size = int(np.prod(shape))
    du, dv, vth = int(n["iDecay"][()]) - 1, int(n["vDecay"][()]), int(n["vThMant"][()])
    weight = rec = spec = None
    bits, exp, mode, mode_rec = 8, 0, "mixed", "mixed"
    bias = np.zeros(size, np.int64)
    if kind in ("dense", "dense_rec"):
        w = g["weight"][()].astype(np.int64)
        if w.ndim == 1:
            w = w.reshape(size, -1)
        if kind == "dense_rec":
            r = g["weight_rec"][()].astype(np.int64).reshape(size, size)
            mant, bits, exp = netx_weight_bits(np.hstack([w, r]))
            weight, rec = mant[:, :w.shape[1]], mant[:, w.shape[1]:]
            mode_rec = sign_mode_of(rec)
        else:
            weight, bits, exp = netx_weight_bits(w)
        mode = sign_mode_of(weight)
        if "bias" in g:
            bias = g["bias"][()].astype(np.int64).reshape(size)
    elif kind == "conv":
        k = g["weight"][()].astype(np.int64)
        weight = k.reshape(k.shape[:4])
        mode = sign_mode_of(weight)
        spec = ConvSpec(tuple(int(v) for v in source_shape), tuple(int(v) for v in g["stride"][()]),
                        tuple(int(v) for v in g["padding"][()]))
        if "bias" in g:
            bias = np.repeat(g["bias"][()].astype(np.int64), size // weight.shape[0])
    return LoihiLayer(name=name, shape=shape, du=du, dv=dv, vth=vth, bias_mant=bias,
                      bias_exp=np.full(size, 6, np.int64), scale=np.ones(size), readout=last and vth >= VTH_MAX,
                      weight=weight, weight_exp=exp, sign_mode=mode, weight_rec=rec, sign_mode_rec=mode_rec,
                      num_weight_bits=bits, conv=spec, source_shape=tuple(source_shape))


def read_netx(path: str | Path) -> LoihiNetwork:
    """A ``.net`` file as a :class:`LoihiNetwork` whose weights are what Lava would use (after
    netx's exponent optimisation); scales are 1 (unknown) and there is no host part: run it
    with :func:`~neurosim.hardware.loihi.emulator.run_network` on integer inputs."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"path: no file {path}")
    with h5py.File(path, "r") as f:
        if "layer" not in f:
            raise ValueError(f"{path}: not a netx file (no /layer group)")
        count = len(f["layer"])
        kinds = [_str(f["layer"][str(i)]["type"]) for i in range(count)]
        for i, kind in enumerate(kinds):
            if kind not in TYPES:
                raise ValueError(f"{path}: layer {i} has type {kind!r}; readable: {', '.join(TYPES)}")
        if not kinds or kinds[0] != "input":
            raise ValueError(f"{path}: layer 0 must be an input layer")
        g0 = f["layer"]["0"]
        in_shape = tuple(int(v) for v in g0["shape"][()])
        layers: list[LoihiLayer] = []
        neuron_kinds = [i for i, kind in enumerate(kinds) if kind != "flatten" and (kind != "input" or "neuron" in g0)]
        shape = in_shape
        if "neuron" in g0:
            mode = "bias"
            layers.append(_layer_from(g0, "layer0", "input", (), neuron_kinds[-1] == 0))
        else:
            mode = "spikes"
        for i in range(1, count):
            g = f["layer"][str(i)]
            if kinds[i] == "flatten":
                continue
            layer = _layer_from(g, f"layer{len(layers)}", kinds[i], shape, i == neuron_kinds[-1])
            layers.append(layer)
            shape = layer.shape
        steps = int(f["simulation"]["tSample"][()]) if "simulation" in f and "tSample" in f["simulation"] else 1
    errors = {"source": str(path)}
    return LoihiNetwork(tuple(layers), in_shape, steps, 1e-3, mode, None,
                        {"type": "direct" if mode == "bias" else "spikes"}, True, errors)


def host_path(net_path: str | Path) -> Path:
    """The host part written next to a ``.net``: ``<stem>.host.npz``."""
    net_path = Path(net_path)
    return net_path.with_name(f"{net_path.stem}.host.npz")


def write_host(host: HostInput, path: str | Path) -> Path:
    """Write the host part (matrix, offset, scale, input shape) that turns a sample into the
    input layer's bias mantissas (``bias_exp`` 6, 13 bits)."""
    path = Path(path)
    with atomic_output(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, matrix=host.matrix, offset=host.offset, scale=host.scale,
                 input_shape=np.asarray(host.input_shape, dtype=np.int64), bias_exp=np.int64(BIAS_EXP_NETX))
    return path


def read_host(path: str | Path) -> HostInput:
    with np.load(Path(path)) as d:
        return HostInput(d["matrix"], d["offset"], d["scale"], tuple(int(v) for v in d["input_shape"]))


def load(path: str | Path) -> LoihiNetwork:
    """A written ``.net`` with its host part (when the export has one), ready for
    :func:`~neurosim.hardware.loihi.predict`: what the chip would run."""
    net = read_netx(path)
    if net.input_mode == "bias":
        host = read_host(host_path(path))
        net = dataclasses.replace(net, host=host, input_shape=host.input_shape)  # samples, not the input layer
    return net
