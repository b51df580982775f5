"""Export to Intel Loihi: fixed-point quantisation, a bit-accurate emulator, netx files, core mapping.

::

    net = quantize(graph)                    # LayerGraph -> LoihiNetwork (integers), net.errors
    y = predict(net, x)                      # [T, B, n_out] float readout, aligned with the model
    write_netx(net, "model.net")             # lava-dl netx HDF5
    map_network(net, profiles.load("loihi1"))  # cores used, or ValueError naming the limit
    report = export(graph, Path("model.net"))  # all of it (the ``neurosim export --target loihi`` entry)

The arithmetic is Lava's bit-accurate ``fixed_pt`` CUBA LIF and Dense (:mod:`.emulator`); the
mapping from training units is in :mod:`.quantize`; the ``.net`` layout in :mod:`.netx`.
"""

from __future__ import annotations

import pathlib
import warnings

import numpy as np

from neurosim.hardware import profiles as _profiles
from neurosim.hardware.graph import LayerGraph
from neurosim.hardware.loihi.emulator import Trace, lava_dense_weights, reference_run, run_lif, run_network
from neurosim.hardware.loihi.mapper import map_network
from neurosim.hardware.loihi.netx import host_path, load, read_host, read_netx, write_host, write_netx
from neurosim.hardware.loihi.quantize import HostInput, LoihiLayer, LoihiNetwork, quantize

__all__ = ["quantize", "predict", "emulate", "encode", "export", "write_netx", "read_netx", "load", "host_path",
           "write_host", "read_host", "map_network",
           "run_network", "run_lif", "reference_run", "lava_dense_weights", "LoihiNetwork", "LoihiLayer",
           "HostInput", "Trace"]


def encode(graph_or_net, x: np.ndarray, seed: int = 0) -> np.ndarray:
    """Input spike trains [T, B, *input_shape] of static samples ``x`` for a rate or latency
    encoder (the training encoders, with a seeded generator)."""
    import torch

    from neurosim.train import encoders
    enc = graph_or_net.encoder
    steps = graph_or_net.steps
    xt = torch.as_tensor(np.asarray(x), dtype=torch.float32)
    if enc.get("type") == "rate":
        gen = torch.Generator().manual_seed(seed)
        return encoders.rate(xt, steps, enc.get("gain", 1.0), gen).numpy()
    if enc.get("type") == "latency":
        return encoders.latency(xt, steps, enc.get("threshold", 0.01)).numpy()
    raise ValueError(f"encoder.type: {enc.get('type')!r} is not a spike encoder")


def _check_batch(net: LoihiNetwork, x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != len(net.input_shape) + 1 or tuple(x.shape[1:]) != tuple(net.input_shape):
        raise ValueError(f"x: needs a batch [B, {', '.join(map(str, net.input_shape))}], got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.number) or not np.all(np.isfinite(x)):
        raise ValueError("x: must hold finite numbers")
    return x


def emulate(net: LoihiNetwork, x: np.ndarray, record_v: str | list[int] = "readout", seed: int = 0) -> Trace:
    """Run the emulator on static samples ``x`` [B, *input_shape] for ``steps + latency`` steps
    (host current or encoded spikes as the network takes them)."""
    if not isinstance(net, LoihiNetwork):
        raise ValueError(f"net: must be a LoihiNetwork, got {type(net).__name__}")
    x = _check_batch(net, x)
    total = net.steps + net.latency
    if net.input_mode == "bias":
        if net.host is None:
            raise ValueError("net: has no host input part (read from a .net?); use run_network with bias mantissas")
        mant, clipped = net.host.bias_mant(x)
        if clipped:
            warnings.warn(f"{clipped} input currents exceed the first layer's 13-bit bias range and were clipped "
                          f"(inputs outside the input_range used to quantise?)", RuntimeWarning, stacklevel=2)
        return run_network(net, mant, total, record_v)
    spikes = encode(net, x, seed).reshape(net.steps, x.shape[0], -1)
    pad = np.zeros((total - net.steps, *spikes.shape[1:]), spikes.dtype)
    return run_network(net, np.concatenate([spikes, pad]), total, record_v)


def predict(loihi_net: LoihiNetwork, x: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """The emulated model's output [T_out, B, n_out] (float) on samples ``x`` [B, *input_shape]:
    the readout's membrane in training units (``v / (64 scale)``), or the last layer's spikes
    if it is a spiking layer; the chip's latency is removed, so step t matches the trained
    model's step t (T_out = the model's steps). Use the model's rule on it (max over time,
    argmax)."""
    net = loihi_net
    x = _check_batch(net, x)
    out = []
    lag = net.latency
    last = net.output
    for start in range(0, x.shape[0], batch_size):
        trace = emulate(net, x[start:start + batch_size])
        if last.readout and trace.spikes[-1].any():
            warnings.warn("the readout's v reached the 24-bit limit and reset: its scale is too large for these "
                          "inputs (quantize with calibration samples)", RuntimeWarning, stacklevel=2)
        if last.readout:
            v = trace.v[-1][lag:lag + net.steps].astype(np.float64)
            out.append(v / (64.0 * last.scale))
        else:
            out.append(trace.spikes[-1][lag:lag + net.steps].astype(np.float64))
    return np.concatenate(out, axis=1)


def export(graph: LayerGraph, out: pathlib.Path, profile=None) -> dict:
    """Quantise ``graph``, map it onto ``profile`` (default ``loihi2``; its target must be
    "loihi"), write the netx file ``out`` (a ``.net`` path) and, with direct-current input,
    the host part next to it (``<stem>.host.npz``: the float matrix, offset and scale that
    turn a sample into the input layer's bias mantissas). Returns a JSON-able report."""
    if not isinstance(graph, LayerGraph):
        raise ValueError(f"graph: must be a LayerGraph, got {type(graph).__name__}")
    profile = _profiles.resolve(profile, "loihi")
    out = pathlib.Path(out)
    if out.suffix != ".net":
        raise ValueError(f"out: the Loihi export writes a netx .net file, got {str(out)!r}")
    net = quantize(graph)
    mapping = map_network(net, profile)
    write_netx(net, out)
    files = [str(out)]
    host_file = host_path(out)
    if net.host is not None:
        files.append(str(write_host(net.host, host_file)))
    elif host_file.exists():  # a stale host part of an earlier export would not belong to this .net
        host_file.unlink()
    return {"target": "loihi", "profile": profile.name, "files": files, "input_mode": net.input_mode,
            "latency_steps": net.latency, "steps": net.steps,
            "layers": [{"name": l.name, "type": l.kind, "shape": list(l.shape), "du": l.du, "dv": l.dv,
                        "vth": l.vth, "weight_exp": l.weight_exp, "readout": l.readout} for l in net.layers],
            "quantization": net.errors, "cores": mapping["cores"], "chips": mapping["chips"],
            "mapping": mapping}
