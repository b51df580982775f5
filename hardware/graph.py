"""The layer graph every exporter reads: a trained model as plain NumPy arrays.

A :class:`LayerGraph` is a chain of synapse layers (:class:`Affine`, :class:`Conv2d`,
:class:`SumPool2d`, :class:`Flatten`) and neuron layers (:class:`Spiking`, :class:`Leaky`)
in the training units of :mod:`neurosim.train` (dimensionless: a weight of 1 raises the
membrane by 1, thresholds are θ). With time step ``dt`` (s), one step of a spiking layer
with input current ``x`` (the output of the synapse layers before it) is::

    i' = α i + x                               (CubaLIF; for LIF i' = x)
    r  = H(u - θ)                              (the previous step's spike)
    u' = β u + i' - θ r                        reset "soft"
       = β (1 - r) u + i'                      reset "hard" (to 0)
    s  = H(u' - θ)
    (+ V s_prev in the drive when the layer is recurrent: x + V s)

and a leaky readout is ``u' = β u + x`` with the membrane as output. ``encoder`` says how an
input becomes the first layer's input: ``{"type": "direct"}`` (the static input is presented
at every step), a spike encoder of :mod:`neurosim.train.encoders` (rate, latency; delta on
series) or ``{"type": "series"}`` (a time series fed one value per step).

Build one with :func:`from_model` from a trained :class:`neurosim.train.SNN` and its
description (:mod:`neurosim.train.model_io`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Union

import numpy as np

if TYPE_CHECKING:
    from torch import nn

RESETS = ("soft", "hard")


def _array(name: str, value, ndim: int) -> np.ndarray:
    arr = np.array(value, dtype=np.float64)
    if arr.ndim != ndim or not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: must be a finite {ndim}-D array, got shape {arr.shape}")
    arr.setflags(write=False)
    return arr


def _per_neuron(name: str, value, size: int, low: float, high: float, low_open: bool = False) -> np.ndarray:
    """``value`` (one number or ``size`` of any shape, C order) as a read-only vector in
    ``[low, high]`` (``(low, high]`` with ``low_open``)."""
    arr = np.asarray(value, dtype=np.float64)
    if arr.size == size:  # per-neuron values of any feature shape, in C order
        arr = arr.reshape(size)
    try:
        arr = np.broadcast_to(arr, (size,)).copy()
    except ValueError:
        raise ValueError(f"{name}: needs one value or {size}, got shape {arr.shape}") from None
    bad = ~np.isfinite(arr) | (arr <= low if low_open else arr < low) | (arr > high)
    if np.any(bad):
        i = int(np.argmax(bad))
        bound = f"> {low:g}" if low_open and high == np.inf else f"in {'(' if low_open else '['}{low:g}, {high:g}]"
        raise ValueError(f"{name}: must be {bound}, got {arr[i]:g} (neuron {i})")
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True)
class Affine:
    """``y = W x + b``; ``weight`` [out, in], ``bias`` [out] or None."""

    weight: np.ndarray
    bias: np.ndarray | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "weight", _array("Affine.weight", self.weight, 2))
        if self.bias is not None:
            object.__setattr__(self, "bias", _array("Affine.bias", self.bias, 1))
            if self.bias.shape[0] != self.weight.shape[0]:
                raise ValueError(f"Affine.bias: needs {self.weight.shape[0]} values, got {self.bias.shape[0]}")

    @property
    def out_shape(self) -> tuple[int, ...]:
        return (self.weight.shape[0],)


@dataclass(frozen=True)
class Conv2d:
    """2-D convolution with PyTorch semantics on ``input_shape`` (C, H, W); ``weight`` [Co, Ci, Kh, Kw]."""

    weight: np.ndarray
    input_shape: tuple[int, int, int]
    bias: np.ndarray | None = None
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "weight", _array("Conv2d.weight", self.weight, 4))
        if self.bias is not None:
            object.__setattr__(self, "bias", _array("Conv2d.bias", self.bias, 1))
        if len(self.input_shape) != 3 or self.input_shape[0] != self.weight.shape[1]:
            raise ValueError(f"Conv2d.input_shape: needs (C={self.weight.shape[1]}, H, W), got {self.input_shape}")

    @property
    def out_shape(self) -> tuple[int, int, int]:
        _, h, w = self.input_shape
        kh, kw = self.weight.shape[2:]
        return (self.weight.shape[0], (h + 2 * self.padding[0] - kh) // self.stride[0] + 1,
                (w + 2 * self.padding[1] - kw) // self.stride[1] + 1)


@dataclass(frozen=True)
class SumPool2d:
    """Sum over ``kernel`` windows (stride = kernel) times ``scale`` (1/k² for average pooling)."""

    kernel: int
    input_shape: tuple[int, int, int]
    scale: float = 1.0

    @property
    def out_shape(self) -> tuple[int, int, int]:
        c, h, w = self.input_shape
        return (c, h // self.kernel, w // self.kernel)


@dataclass(frozen=True)
class Flatten:
    """``input_shape`` (C, H, W) -> (C·H·W,), C-order as ``torch.flatten``."""

    input_shape: tuple[int, ...]

    @property
    def out_shape(self) -> tuple[int]:
        return (int(np.prod(self.input_shape)),)


@dataclass(frozen=True)
class Spiking:
    """LIF (``alpha`` None) or CubaLIF layer of ``size`` neurons; ``recurrent`` [size, size] or None."""

    size: int
    beta: np.ndarray
    threshold: np.ndarray
    reset: str = "hard"
    alpha: np.ndarray | None = None
    recurrent: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.reset not in RESETS:
            raise ValueError(f"Spiking.reset: must be one of {RESETS}, got {self.reset!r}")
        object.__setattr__(self, "beta", _per_neuron("Spiking.beta", self.beta, self.size, 0.0, 1.0))
        object.__setattr__(self, "threshold",
                           _per_neuron("Spiking.threshold", self.threshold, self.size, 0.0, np.inf, low_open=True))
        if self.alpha is not None:
            object.__setattr__(self, "alpha", _per_neuron("Spiking.alpha", self.alpha, self.size, 0.0, 1.0))
        if self.recurrent is not None:
            object.__setattr__(self, "recurrent", _array("Spiking.recurrent", self.recurrent, 2))
            if self.recurrent.shape != (self.size, self.size):
                raise ValueError(f"Spiking.recurrent: needs shape ({self.size}, {self.size}), "
                                 f"got {self.recurrent.shape}")

    @property
    def cuba(self) -> bool:
        return self.alpha is not None


@dataclass(frozen=True)
class Leaky:
    """Leaky-integrator readout of ``size`` neurons (no spikes; the output is the membrane)."""

    size: int
    beta: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "beta", _per_neuron("Leaky.beta", self.beta, self.size, 0.0, 1.0))


Layer = Union[Affine, Conv2d, SumPool2d, Flatten, Spiking, Leaky]


@dataclass(frozen=True)
class LayerGraph:
    """A chain of layers on inputs of ``input_shape`` run for ``steps`` steps of ``dt`` seconds.

    ``shapes[k]`` is the feature shape reaching ``layers[k]`` (``shapes[-1]``: the output),
    checked on construction: an ``Affine`` takes a flat input (a ``Flatten`` goes before it),
    a ``Conv2d`` / ``SumPool2d`` / ``Flatten`` the ``input_shape`` it names, a neuron layer as
    many features as its ``size``.
    """

    layers: tuple[Layer, ...]
    input_shape: tuple[int, ...]
    dt: float
    steps: int
    encoder: dict = field(default_factory=lambda: {"type": "direct"})
    shapes: tuple[tuple[int, ...], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.layers:
            raise ValueError("LayerGraph.layers: needs at least one layer")
        if not (isinstance(self.dt, float) and self.dt > 0):
            raise ValueError(f"LayerGraph.dt: must be a time step > 0 in seconds, got {self.dt!r}")
        if not (isinstance(self.steps, int) and self.steps > 0):
            raise ValueError(f"LayerGraph.steps: must be an integer > 0, got {self.steps!r}")
        object.__setattr__(self, "shapes", _propagate(self.layers, tuple(int(s) for s in self.input_shape)))


def _propagate(layers: tuple[Layer, ...], shape: tuple[int, ...]) -> tuple[tuple[int, ...], ...]:
    shapes = [shape]
    for index, layer in enumerate(layers):
        where = f"layers[{index}] ({type(layer).__name__})"
        if isinstance(layer, Affine):
            if shape != (layer.weight.shape[1],):
                raise ValueError(f"{where}.weight: takes {layer.weight.shape[1]} flat inputs, gets shape {shape}"
                                 + (" (put a Flatten before it)" if len(shape) > 1 else ""))
        elif isinstance(layer, (Conv2d, SumPool2d, Flatten)):
            if tuple(layer.input_shape) != shape:
                raise ValueError(f"{where}.input_shape: {tuple(layer.input_shape)} does not match the shape "
                                 f"{shape} reaching it")
        elif layer.size != int(np.prod(shape)):
            raise ValueError(f"{where}.size: {layer.size} does not match the {int(np.prod(shape))} features "
                             f"reaching it (shape {shape})")
        if hasattr(layer, "out_shape"):
            shape = tuple(int(s) for s in layer.out_shape)
        shapes.append(shape)
    return tuple(shapes)


def _numpy(t) -> np.ndarray | None:
    return None if t is None else t.detach().double().cpu().numpy()


def from_model(model: nn.Module, description: dict) -> LayerGraph:
    """The layer graph of a trained ``neurosim.train.SNN`` (dropout dropped, max pooling refused)."""
    from torch import nn

    from neurosim.train.modules import LI, SNN, CubaLIF, NeuronLayer
    if description.get("model") != "snn" or not isinstance(model, SNN):
        raise ValueError(f"model: only feed-forward/recurrent SNN models export, got {description.get('model')!r}")
    shape = tuple(description["input_shape"][:-1] if description.get("series") else description["input_shape"])
    layers: list[Layer] = []
    for index, m in enumerate(model.layers):
        where = f"layers[{index}]"
        if isinstance(m, nn.Dropout):
            continue
        if isinstance(m, nn.Linear):
            layer = Affine(_numpy(m.weight), _numpy(m.bias))
        elif isinstance(m, nn.Conv2d):
            if m.groups != 1 or m.dilation != (1, 1) or isinstance(m.padding, str):
                raise ValueError(f"{where}: Conv2d with groups, dilation or string padding does not export")
            layer = Conv2d(_numpy(m.weight), shape, _numpy(m.bias), tuple(m.stride), tuple(m.padding))
        elif isinstance(m, nn.AvgPool2d):
            k = m.kernel_size if isinstance(m.kernel_size, int) else m.kernel_size[0]
            layer = SumPool2d(k, shape, 1.0 / (k * k))
        elif isinstance(m, nn.Flatten):
            layer = Flatten(shape)
        elif isinstance(m, NeuronLayer):
            if m.reset not in RESETS or m.mpr is not None:
                raise ValueError(f"{where}: reset {m.reset!r} / membrane rectifier do not export")
            size = int(np.prod(shape))
            rec = getattr(m, "recurrent", None)
            if rec is not None and rec.bias is not None:
                raise ValueError(f"{where}: a recurrent bias does not export")
            layer = Spiking(size, _numpy(m.beta.clamp(0, 1)), _numpy(m.threshold), m.reset,
                            _numpy(m.alpha.clamp(0, 1)) if isinstance(m, CubaLIF) else None,
                            None if rec is None else _numpy(rec.weight))
            layers.append(layer)
            continue
        elif isinstance(m, LI):
            layers.append(Leaky(int(np.prod(shape)), _numpy(m.beta.clamp(0, 1))))
            continue
        else:
            raise ValueError(f"{where}: {type(m).__name__} does not export (max pooling: use avgpool2d)")
        layers.append(layer)
        shape = layer.out_shape
    encoder = dict(description.get("encoder", {"type": "direct"}))
    if description.get("series"):  # [C, L] series run one column per step: raw values, or delta spikes
        if encoder.get("type", "direct") == "direct":
            encoder = {"type": "series"}
        input_shape, steps = tuple(description["input_shape"][:-1]), int(description["input_shape"][-1])
    else:
        input_shape, steps = tuple(description["input_shape"]), int(description["steps"])
    return LayerGraph(tuple(layers), input_shape, float(description["dt"]), steps, encoder)


def _tensor(a: np.ndarray | None, shape: tuple[int, ...] | None = None):
    """A torch copy of ``a``; per-neuron vectors take the layer's feature ``shape`` (one value: a scalar)."""
    import torch
    if a is None:
        return None
    if shape is not None:
        a = a[0] if np.all(a == a[0]) else a.reshape(shape)
    return torch.tensor(np.array(a), dtype=torch.get_default_dtype())


def synapse_module(layer: Affine | Conv2d | Flatten) -> nn.Module:
    """The torch module of a weight or reshaping layer, with the layer's weights."""
    import torch
    from torch import nn
    if isinstance(layer, Flatten):
        return nn.Flatten()
    if isinstance(layer, Affine):
        m = nn.Linear(layer.weight.shape[1], layer.weight.shape[0], bias=layer.bias is not None)
    else:
        m = nn.Conv2d(layer.weight.shape[1], layer.weight.shape[0], tuple(layer.weight.shape[2:]),
                      stride=tuple(layer.stride), padding=tuple(layer.padding), bias=layer.bias is not None)
    with torch.no_grad():
        m.weight.copy_(_tensor(layer.weight))
        if layer.bias is not None:
            m.bias.copy_(_tensor(layer.bias))
    return m


def to_model(graph: LayerGraph, **options) -> nn.Module:
    """A ``neurosim.train.SNN`` computing ``graph`` (the inverse of :func:`from_model`);
    ``options`` go to the spiking layers (surrogate, detach_reset, learn_*)."""
    import torch
    from torch import nn
    from neurosim.train.modules import LI, LIF, SNN, CubaLIF, RCubaLIF, RLIF
    modules: list[nn.Module] = []
    for layer, features in zip(graph.layers, graph.shapes):
        if isinstance(layer, (Affine, Conv2d, Flatten)):
            modules.append(synapse_module(layer))
        elif isinstance(layer, SumPool2d):
            k = layer.kernel
            # AvgPool2d computes (sum / divisor); divisor 1/scale gives scale · sum
            divisor = 1.0 / layer.scale
            if abs(divisor - round(divisor)) > 1e-9:
                raise ValueError(f"SumPool2d.scale: 1/scale must be an integer for torch, got {layer.scale!r}")
            modules.append(nn.AvgPool2d(k, divisor_override=int(round(divisor))))
        elif isinstance(layer, Leaky):
            modules.append(LI(_tensor(layer.beta, features), dt=graph.dt))
        else:  # Spiking
            args = dict(beta=_tensor(layer.beta, features), threshold=_tensor(layer.threshold, features),
                        reset=layer.reset, dt=graph.dt, **options)
            if layer.cuba:
                args["alpha"] = _tensor(layer.alpha, features)
            if layer.recurrent is not None:
                m = (RCubaLIF if layer.cuba else RLIF)(layer.size, **args)
                with torch.no_grad():
                    m.recurrent.weight.copy_(_tensor(layer.recurrent))
            else:
                m = (CubaLIF if layer.cuba else LIF)(**args)
            modules.append(m)
    return SNN(*modules)


def leaky_gain(beta: float, steps: int) -> float:
    """Σ_{t<steps} β^t: how far a leaky integrator driven by at most 1 per step can get in
    ``steps`` steps from rest (the worst-case range quantisers give a readout)."""
    return float(steps) if beta >= 1 else float((1.0 - beta ** steps) / (1.0 - beta))


def float_run(graph: LayerGraph, x: np.ndarray, batch: int = 1000) -> tuple[np.ndarray, list[float]]:
    """The float model on inputs ``x``: static samples [B, *input_shape] presented at every step
    (direct coding) or sequences [T, B, *input_shape] (spike encoders: encoded beforehand).
    Returns the last layer's output [T, B, n] (membrane of a readout, spikes otherwise) and the
    largest |membrane| of each neuron layer (what quantisers calibrate their ranges with)."""
    import torch

    static = graph.encoder.get("type", "direct") == "direct"
    model = to_model(graph).eval()
    outs, peaks = [], None
    with torch.no_grad():
        for start in range(0, x.shape[0 if static else 1], batch):
            xb = np.asarray(x[start:start + batch] if static else x[:, start:start + batch])
            run = model.run(torch.as_tensor(xb, dtype=torch.get_default_dtype()), steps=graph.steps if static else None)
            outs.append(run.out.numpy())
            layer_peaks = [float(u.abs().max()) for u in run.membranes]
            peaks = layer_peaks if peaks is None else [max(a, b) for a, b in zip(peaks, layer_peaks)]
    return np.concatenate(outs, axis=1), peaks


def float_outputs(graph: LayerGraph, x: np.ndarray, batch: int = 1000) -> np.ndarray:
    """The float model's last-layer output [T, B, n] for static inputs ``x`` [B, *input_shape]
    presented at every step (direct coding)."""
    if graph.encoder.get("type", "direct") != "direct":
        raise ValueError(f"encoder: float_outputs presents static inputs (direct coding), got {graph.encoder!r}")
    return float_run(graph, x, batch)[0]
