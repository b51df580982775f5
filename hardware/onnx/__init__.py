"""ONNX export of a :class:`~neurosim.hardware.graph.LayerGraph` for edge CPUs (onnxruntime).

Two graphs are written, both float32 and self-contained (one ``.onnx`` file, no external data):

* the **stateful single-step graph** (``export_step``): inputs ``x`` (one step's input,
  ``[B, *input_shape]``) and every neuron layer's state, outputs ``out`` (the last layer's
  output for this step: the leaky readout's membrane or the last layer's spikes) and the new
  states. State names, in layer order (``k`` counts the neuron layers)::

      LIF / recurrent LIF       u{k}              ->  u{k}_out
      CubaLIF                   i{k}, u{k}        ->  i{k}_out, u{k}_out
      Leaky (LI readout)        u{k}              ->  u{k}_out

  each ``[B, *shape of the layer]``; the rest state is all zeros (:func:`zero_state`). The
  previous step's spike of a layer is recomputed from its membrane (``r = u > θ``, as in
  :mod:`neurosim.hardware.graph`), so recurrent layers need no extra state.
* the **unrolled graph** (``export_unrolled``) of a fixed number of steps ``T`` starting at
  rest: input ``x`` ``[T, B, *input_shape]``, or, with ``static=True`` (the default for the
  direct-current encoder), the static input ``[B, *input_shape]`` presented at every step
  (the synapse layers before the first neuron layer then run once); output ``out``
  ``[T, B, *out_shape]``.

The step equations are those of :mod:`neurosim.hardware.graph` written with the operation
order of :mod:`neurosim.train.functional` (so the float32 results agree with
``graph.to_model(...)`` to rounding). The batch dimension is dynamic.

Why the step is not derived from a neuron :class:`~neurosim.neurons.description.Description`:
these graphs export trained layers of :mod:`neurosim.train` in their discrete-time training
formulation (normalised ``u``, learned β, α, θ, reset from the previous step's spike), which is
the model the weights were trained in; simulator networks are exported through NIR, whose
nodes are read from the model parameters.

The graphs are produced with PyTorch's TorchScript exporter (``dynamo=False``): it writes one
file at any opset >= 9 and needs no ``onnxscript``; the dynamo exporter would need
``onnxscript`` (not installed here) and writes ``.onnx.data`` by default. Each file is
checked with ``onnx.checker``, its operators must be in the profile's ``ops`` and its size
within ``model_bytes`` (:func:`export` checks both graphs against the profile,
``onnx_edge`` by default).
"""

from __future__ import annotations

import io
import pathlib
import warnings
from typing import Sequence

import numpy as np
import onnx  # the ONNX library (absolute import; this package is neurosim.hardware.onnx)
import torch
from torch import nn

from neurosim.hardware import profiles as _profiles
from neurosim.hardware.files import atomic_output
from neurosim.hardware.graph import Affine, Conv2d, Flatten, Leaky, LayerGraph, SumPool2d, Spiking, synapse_module

__all__ = ["StepModule", "UnrolledModule", "state_names", "state_shapes", "zero_state", "export",
           "export_step", "export_unrolled", "graph_ops", "predict", "resolve_profile"]


def resolve_profile(profile) -> _profiles.Profile:
    """``profile`` (None: ``onnx_edge``) checked to be an ONNX profile."""
    return _profiles.resolve(profile, "onnx")


def state_names(graph: LayerGraph) -> list[str]:
    """Names of the state inputs of the step graph, in order (outputs add ``_out``)."""
    names, k = [], 0
    for layer in graph.layers:
        if isinstance(layer, Spiking):
            names += [f"i{k}", f"u{k}"] if layer.cuba else [f"u{k}"]
            k += 1
        elif isinstance(layer, Leaky):
            names.append(f"u{k}")
            k += 1
    return names


def state_shapes(graph: LayerGraph) -> list[tuple[int, ...]]:
    """Feature shapes (without the batch dimension) of the states, in :func:`state_names` order."""
    shapes = graph.shapes
    out = []
    for index, layer in enumerate(graph.layers):
        if isinstance(layer, Spiking):
            out += [shapes[index]] * (2 if layer.cuba else 1)
        elif isinstance(layer, Leaky):
            out.append(shapes[index])
    return out


def zero_state(graph: LayerGraph, batch: int) -> dict[str, np.ndarray]:
    """The rest state (all zeros, float32) of the step graph for a batch of ``batch``."""
    return {n: np.zeros((batch, *s), np.float32) for n, s in zip(state_names(graph), state_shapes(graph))}


def _t(a: np.ndarray, shape: Sequence[int] | None = None) -> torch.Tensor:
    t = torch.tensor(np.asarray(a, dtype=np.float32))
    return t if shape is None else t.reshape(tuple(shape))


class StepModule(nn.Module):
    """One time step of ``graph``: ``forward(x, *states) -> (out, *new_states)`` (float32)."""

    def __init__(self, graph: LayerGraph):
        super().__init__()
        self.graph = graph
        shapes = graph.shapes
        self.kinds: list[str] = []
        self.mods = nn.ModuleList()
        for index, layer in enumerate(graph.layers):
            shape = shapes[index]
            if isinstance(layer, (Affine, Conv2d, Flatten)):
                m = synapse_module(layer).float()
                self.kinds.append("synapse")
            elif isinstance(layer, SumPool2d):
                m = _SumPool(layer.kernel, layer.scale)
                self.kinds.append("synapse")
            elif isinstance(layer, Spiking):
                m = nn.Module()
                m.register_buffer("beta", _t(layer.beta, shape))
                m.register_buffer("threshold", _t(layer.threshold, shape))
                if layer.cuba:
                    m.register_buffer("alpha", _t(layer.alpha, shape))
                if layer.recurrent is not None:
                    if len(shape) != 1:
                        raise ValueError(f"layers[{index}] (Spiking).recurrent: needs a flat layer, got shape {shape}")
                    m.rec = nn.Linear(layer.size, layer.size, bias=False)
                    with torch.no_grad():
                        m.rec.weight.copy_(_t(layer.recurrent))
                self.kinds.append("cuba" if layer.cuba else "lif")
            else:  # Leaky
                m = nn.Module()
                m.register_buffer("beta", _t(layer.beta, shape))
                self.kinds.append("li")
            self.mods.append(m)
        self.resets = [getattr(layer, "reset", None) for layer in graph.layers]
        self.n_states = len(state_names(graph))

    def synapses(self, h: torch.Tensor, start: int, stop: int) -> torch.Tensor:
        for kind, m in zip(self.kinds[start:stop], self.mods[start:stop]):
            if kind != "synapse":
                raise RuntimeError("synapses: a neuron layer in the range")
            h = m(h)
        return h

    def first_neuron(self) -> int:
        return next((k for k, kind in enumerate(self.kinds) if kind != "synapse"), len(self.kinds))

    def forward(self, x: torch.Tensor, *states: torch.Tensor | None, start: int = 0):
        """One step from layer ``start`` on (``x`` is that layer's input); a state of None is
        the rest state (zeros)."""
        if len(states) != self.n_states:
            raise ValueError(f"StepModule: needs {self.n_states} states, got {len(states)}")
        h, k, new = x, 0, []
        # states belonging to layers before ``start`` do not exist (only synapse layers precede it)
        for index, (kind, m) in enumerate(zip(self.kinds, self.mods)):
            if index < start:
                continue
            if kind == "synapse":
                h = m(h)
            elif kind == "li":
                u = h if states[k] is None else m.beta * states[k] + h
                new.append(u)
                h, k = u, k + 1
            else:
                if kind == "cuba":
                    i_prev, u_prev = states[k], states[k + 1]
                    k += 2
                else:
                    u_prev = states[k]
                    k += 1
                drive = h
                if u_prev is None:  # at rest (the first unrolled step): u = i = 0, no spike
                    if kind == "cuba":
                        new.append(drive)
                    u = drive
                else:
                    r = (u_prev > m.threshold).to(u_prev.dtype)  # the previous step's spike
                    if hasattr(m, "rec"):
                        drive = drive + m.rec(r)
                    if kind == "cuba":
                        i = m.alpha * i_prev + drive
                        new.append(i)
                        drive = i
                    if self.resets[index] == "soft":
                        u = m.beta * u_prev + drive - r * m.threshold
                    else:
                        u = m.beta * ((1 - r) * u_prev) + drive
                new.append(u)
                h = (u > m.threshold).to(u.dtype)
        return (h, *new)


class _SumPool(nn.Module):
    def __init__(self, kernel: int, scale: float):
        super().__init__()
        self.pool = nn.AvgPool2d(kernel)
        self.factor = float(scale) * kernel * kernel

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.pool(x)
        return y if self.factor == 1.0 else y * self.factor


class UnrolledModule(nn.Module):
    """``steps`` steps of ``graph`` from rest: ``forward(x) -> out [T, B, ...]``; ``x`` is
    ``[T, B, *input_shape]`` or, with ``static``, ``[B, *input_shape]`` presented at every step."""

    def __init__(self, graph: LayerGraph, steps: int | None = None, static: bool | None = None):
        super().__init__()
        self.step = StepModule(graph)
        self.steps = int(graph.steps if steps is None else steps)
        if self.steps < 1:
            raise ValueError(f"steps: must be >= 1, got {steps!r}")
        self.static = (graph.encoder.get("type", "direct") == "direct") if static is None else bool(static)
        self.shapes = state_shapes(graph)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        states = [None] * len(self.shapes)  # at rest; written without a ConstantOfShape operator
        start = 0
        if self.static:
            start = self.step.first_neuron()
            x = self.step.synapses(x, 0, start)  # direct coding: the synapse layers before the first neuron run once
        outs = []
        for t in range(self.steps):
            out, *states = self.step(x if self.static else x[t], *states, start=start)
            outs.append(out)
        return torch.stack(outs)


def graph_ops(model: onnx.ModelProto) -> list[str]:
    """Sorted operator types used by ``model`` (subgraphs included)."""
    ops: set[str] = set()

    def walk(g: onnx.GraphProto) -> None:
        for n in g.node:
            ops.add(n.op_type)
            for a in n.attribute:
                if a.type == onnx.AttributeProto.GRAPH:
                    walk(a.g)
                for sub in a.graphs:
                    walk(sub)
    walk(model.graph)
    return sorted(ops)


def _build(module: nn.Module, args: tuple, input_names: list[str], output_names: list[str],
           dynamic: dict[str, dict[int, str]], opset: int) -> onnx.ModelProto:
    """The checked ONNX model of ``module`` (not yet written)."""
    module.eval()
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with torch.no_grad():
            torch.onnx.export(module, args, buffer, dynamo=False, opset_version=opset, input_names=input_names,
                              output_names=output_names, dynamic_axes=dynamic, do_constant_folding=True)
    model = onnx.load_model_from_string(buffer.getvalue())
    model.producer_name = "neurosim"
    onnx.checker.check_model(model, full_check=True)
    return model


def _check(model: onnx.ModelProto, path: pathlib.Path, profile: _profiles.Profile) -> dict:
    """Check ``model`` against ``profile`` (operators, size) before it is written to ``path``."""
    ops = graph_ops(model)
    size = model.ByteSize()
    if "ops" in profile.limits:
        profile.require_subset("ops", ops)
    profile.check({"model_bytes": size})
    return {"path": str(path), "ops": ops, "model_bytes": size,
            "opset": max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))}


def _save(models: dict[pathlib.Path, onnx.ModelProto]) -> None:
    """Write checked models, each one file with all weights inline, each whole or not at all."""
    for path, model in models.items():
        with atomic_output(path) as tmp:
            onnx.save_model(model, str(tmp))


def _opset(profile: _profiles.Profile, opset: int | None) -> int:
    if opset is None:
        opset = int(profile.limits.get("opset", 17))
    if "opset" in profile.limits and opset > profile.limits["opset"]:
        raise ValueError(f"profile {profile.name!r}: opset {opset} above the limit of {profile.limits['opset']}")
    return int(opset)


def step_model(graph: LayerGraph, path: pathlib.Path, profile: _profiles.Profile,
               opset: int | None = None) -> tuple[dict, onnx.ModelProto]:
    """(report, model) of the stateful single-step graph, checked against ``profile``, not written."""
    module = StepModule(graph)
    names = state_names(graph)
    x = torch.zeros((2, *graph.input_shape))
    states = tuple(torch.zeros((2, *s)) for s in state_shapes(graph))
    inputs, outputs = ["x", *names], ["out", *[f"{n}_out" for n in names]]
    dynamic = {n: {0: "batch"} for n in inputs + outputs}
    model = _build(module, (x, *states), inputs, outputs, dynamic, _opset(profile, opset))
    return {**_check(model, path, profile), "inputs": inputs, "outputs": outputs}, model


def unrolled_model(graph: LayerGraph, path: pathlib.Path, profile: _profiles.Profile, steps: int | None = None,
                   static: bool | None = None, opset: int | None = None) -> tuple[dict, onnx.ModelProto]:
    """(report, model) of the graph unrolled over ``steps`` (default ``graph.steps``; see the
    module docstring for ``static``), checked against ``profile``, not written."""
    module = UnrolledModule(graph, steps, static)
    x = torch.zeros((2, *graph.input_shape)) if module.static else torch.zeros((module.steps, 2, *graph.input_shape))
    batch_axis = 0 if module.static else 1
    model = _build(module, (x,), ["x"], ["out"], {"x": {batch_axis: "batch"}, "out": {1: "batch"}},
                   _opset(profile, opset))
    return {**_check(model, path, profile), "steps": module.steps, "static_input": module.static,
            "inputs": ["x"], "outputs": ["out"]}, model


def export_step(graph: LayerGraph, path: pathlib.Path | str, profile=None, opset: int | None = None) -> dict:
    """Write the stateful single-step graph of ``graph`` to ``path``; check it against
    ``profile`` (default ``onnx_edge``) and return ``{"path", "ops", "model_bytes", "opset",
    "inputs", "outputs"}``."""
    path = pathlib.Path(path)
    report, model = step_model(graph, path, resolve_profile(profile), opset)
    _save({path: model})
    return report


def export_unrolled(graph: LayerGraph, path: pathlib.Path | str, profile=None, steps: int | None = None,
                    static: bool | None = None, opset: int | None = None) -> dict:
    """Write the unrolled graph (:func:`unrolled_model`) to ``path``; return its report."""
    path = pathlib.Path(path)
    report, model = unrolled_model(graph, path, resolve_profile(profile), steps, static, opset)
    _save({path: model})
    return report


def export(graph: LayerGraph, out: pathlib.Path, profile=None) -> dict:
    """Write the step graph at ``out`` (a ``.onnx`` path) and the unrolled ``graph.steps``-step
    graph at ``<stem>.unrolled.onnx`` next to it, both checked against ``profile`` (default
    ``onnx_edge``; its target must be "onnx"). Returns a JSON-able report."""
    profile = resolve_profile(profile)
    out = pathlib.Path(out)
    if out.suffix != ".onnx":
        raise ValueError(f"out: the ONNX export writes a .onnx file, got {str(out)!r}")
    unrolled_path = unrolled_path_of(out)
    step, step_onnx = step_model(graph, out, profile)
    unrolled, unrolled_onnx = unrolled_model(graph, unrolled_path, profile)
    _save({out: step_onnx, unrolled_path: unrolled_onnx})  # only once both passed the profile
    return {"target": "onnx", "profile": profile.name, "files": [step["path"], unrolled["path"]],
            "states": state_names(graph), "step": step, "unrolled": unrolled,
            "ops": sorted(set(step["ops"]) | set(unrolled["ops"])),
            "model_bytes": step["model_bytes"] + unrolled["model_bytes"]}


def unrolled_path_of(out: pathlib.Path) -> pathlib.Path:
    """Where :func:`export` writes the unrolled graph next to the step graph ``out``."""
    return out.with_name(f"{out.stem}.unrolled.onnx")


def predict(path: pathlib.Path | str, x: np.ndarray, threads: int = 1) -> np.ndarray:
    """Run an unrolled graph (``export_unrolled``) in onnxruntime on inputs ``x`` (its ``x``
    input: static ``[B, *input_shape]`` or ``[T, B, *input_shape]``); returns ``out`` ``[T, B, ...]``."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return session.run(["out"], {"x": np.ascontiguousarray(x, dtype=np.float32)})[0]
