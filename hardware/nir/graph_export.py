"""LayerGraph -> NIR graph, and the ``neurosim export`` entry point that writes a ``.nir`` file.

A :class:`~neurosim.hardware.graph.LayerGraph` becomes the chain ``input -> <layer nodes> -> output``
(node names ``affine0``, ``conv1``, ``lif2``, ``lif2_rec``, ``li3`` ... after the layer index):

======================  ===============================================================
LayerGraph              NIR (parameters: :mod:`neurosim.hardware.nir.mapping`, training units)
======================  ===============================================================
Affine (bias / none)    Affine / Linear
Conv2d                  Conv2d (input_shape (H, W); a missing bias is written as zeros)
SumPool2d               SumPool2d (scale 1) or AvgPool2d (scale 1/k²); stride = kernel
Flatten                 Flatten (start_dim 0: NIR dimensions exclude the batch)
Spiking, alpha None     LIF  τ = dt/(1-β), r = τ/dt, v_leak = v_reset = 0, v_threshold = θ
Spiking, β = 1          IF   r = 1/dt
Spiking, CubaLIF        CubaLIF  τ_syn = dt/(1-α), w_in = τ_syn/dt, τ_mem, r as LIF
recurrent V             Linear ``<neuron>_rec`` with edges neuron -> rec -> neuron
Leaky                   LI   τ, r as LIF, v_leak = 0
======================  ===============================================================

Neuron parameters have the neuron shape (C, H, W after a convolution). The graph's metadata
holds ``dt`` (s), ``steps``, ``encoder`` (JSON), ``input_shape``, the reset convention and the
discretisation. NIR neurons reset to ``v_reset`` (hard reset); a soft reset (``u -= θ``) has no
NIR equivalent, so :func:`to_nir` refuses it with a ``ValueError`` naming the layer.

``r_one=True`` writes ``r = 1`` and ``w_in = 1`` and multiplies the weights that feed each neuron
layer (the preceding Affine/Conv2d and the recurrent Linear) by the inverse gain, for consumers
that ignore ``r`` (Norse's LIF); the result equals the default up to rounding.
"""

from __future__ import annotations

import json
import pathlib

import nir
import numpy as np

from neurosim.hardware import profiles
from neurosim.hardware.files import atomic_output
from neurosim.hardware.graph import Affine, Conv2d, Flatten, LayerGraph, Leaky, SumPool2d, Spiking
from neurosim.hardware.nir import mapping

SOURCE = "neurosim.hardware.nir"


def _shaped(values: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    return np.array(values, dtype=np.float64).reshape(shape)


def _neuron(index: int, layer: Spiking | Leaky, shape: tuple[int, ...], dt: float, r_one: bool
            ) -> tuple[str, nir.NIRNode, np.ndarray]:
    """(name, NIR node, the factor by which the weights into it are multiplied)."""
    where = f"layers[{index}] ({type(layer).__name__})"
    beta = _shaped(layer.beta, shape)
    zeros = np.zeros(shape)
    if isinstance(layer, Leaky):
        if np.any(beta >= 1):
            raise ValueError(f"{where}.beta: a leaky readout needs β < 1 (NIR LI has a finite τ), got {layer.beta!r}")
        p = mapping.training_lif(beta, dt)
        r = np.ones(shape) if r_one else p["r"]
        return f"li{index}", nir.LI(tau=p["tau"], r=r, v_leak=zeros, metadata={"beta": beta}), p["r"] / r
    if layer.reset != "hard":
        raise ValueError(f"{where}.reset: {layer.reset!r} (u -= θ after a spike) has no NIR equivalent; NIR neurons "
                         f"reset to v_reset (hard reset): train the model with reset = \"hard\" (train.neuron.reset in a scenario)")
    theta = _shaped(layer.threshold, shape)
    if layer.cuba:
        alpha = _shaped(layer.alpha, shape)
        if np.any(beta >= 1) or np.any(alpha >= 1):
            raise ValueError(f"{where}: NIR CubaLIF needs α < 1 and β < 1 (finite τ_syn, τ_mem)")
        p = mapping.training_cuba(alpha, beta, dt)
        w_in, r = (np.ones(shape), np.ones(shape)) if r_one else (p["w_in"], p["r"])
        node = nir.CubaLIF(tau_syn=p["tau_syn"], tau_mem=p["tau_mem"], r=r, v_leak=zeros, v_threshold=theta,
                           v_reset=zeros, w_in=w_in, metadata={"beta": beta, "alpha": alpha})
        return f"lif{index}", node, (p["w_in"] / w_in) * (p["r"] / r)
    if np.all(beta == 1):
        r = np.ones(shape) if r_one else np.full(shape, 1.0 / dt)
        return f"if{index}", nir.IF(r=r, v_threshold=theta, v_reset=zeros), (1.0 / dt) / r
    if np.any(beta >= 1):
        raise ValueError(f"{where}.beta: mixes β = 1 (IF) and β < 1 (LIF) in one layer; NIR has no such node")
    p = mapping.training_lif(beta, dt)
    r = np.ones(shape) if r_one else p["r"]
    node = nir.LIF(tau=p["tau"], r=r, v_leak=zeros, v_threshold=theta, v_reset=zeros, metadata={"beta": beta})
    return f"lif{index}", node, p["r"] / r


def _scaled(index: int, node: nir.NIRNode, factor: np.ndarray) -> nir.NIRNode:
    """``node`` (the weights into neuron layer ``index``) with its output multiplied by ``factor``."""
    if np.all(factor == 1):
        return node
    if isinstance(node, (nir.Affine, nir.Linear)):
        f = factor.reshape(-1)
        if isinstance(node, nir.Affine):
            return nir.Affine(weight=node.weight * f[:, None], bias=node.bias * f)
        return nir.Linear(weight=node.weight * f[:, None])
    if isinstance(node, nir.Conv2d):
        per_channel = factor.reshape(factor.shape[0], -1)
        if np.any(per_channel != per_channel[:, :1]):
            raise ValueError(f"layers[{index}]: r_one needs one gain per channel after a convolution")
        f = per_channel[:, 0]
        return nir.Conv2d(input_shape=node.input_shape, weight=node.weight * f[:, None, None, None],
                          stride=node.stride, padding=node.padding, dilation=node.dilation, groups=node.groups,
                          bias=node.bias * f)
    raise ValueError(f"layers[{index}]: r_one folds r into the weights before the neuron layer, but it follows "
                     f"a {type(node).__name__}; use the default r = τ/dt")


def to_nir(graph: LayerGraph, *, r_one: bool = False) -> nir.NIRGraph:
    """The NIR graph of ``graph`` (see the module docstring for the mapping)."""
    if not isinstance(graph, LayerGraph):
        raise ValueError(f"graph: expected a neurosim.hardware.graph.LayerGraph, got {type(graph).__name__}")
    dt = graph.dt
    shape = tuple(int(s) for s in graph.input_shape)
    nodes: dict[str, nir.NIRNode] = {"input": nir.Input(input_type={"input": np.array(shape)})}
    edges: list[tuple[str, str]] = []
    previous = "input"
    for index, layer in enumerate(graph.layers):
        rec_name = None
        if isinstance(layer, Affine):
            name = f"affine{index}"
            node = (nir.Linear(weight=np.array(layer.weight)) if layer.bias is None
                    else nir.Affine(weight=np.array(layer.weight), bias=np.array(layer.bias)))
            shape = layer.out_shape
        elif isinstance(layer, Conv2d):
            name = f"conv{index}"
            bias = np.zeros(layer.weight.shape[0]) if layer.bias is None else np.array(layer.bias)
            node = nir.Conv2d(input_shape=tuple(int(s) for s in layer.input_shape[1:]), weight=np.array(layer.weight),
                              stride=tuple(int(s) for s in layer.stride), padding=tuple(int(p) for p in layer.padding),
                              dilation=(1, 1), groups=1, bias=bias)
            shape = layer.out_shape
        elif isinstance(layer, SumPool2d):
            k = int(layer.kernel)
            name = f"pool{index}"
            args = dict(kernel_size=np.array([k, k]), stride=np.array([k, k]), padding=np.array([0, 0]))
            if layer.scale == 1.0:
                node = nir.SumPool2d(**args)
            elif layer.scale == 1.0 / (k * k):
                node = nir.AvgPool2d(**args)
            else:
                raise ValueError(f"layers[{index}] (SumPool2d).scale: NIR pools sum (scale 1) or average "
                                 f"(scale 1/k² = {1.0 / (k * k)!r}), got {layer.scale!r}")
            shape = layer.out_shape
        elif isinstance(layer, Flatten):
            name = f"flatten{index}"
            node = nir.Flatten(input_type={"input": np.array(shape)}, start_dim=0, end_dim=-1)
            shape = layer.out_shape
        elif isinstance(layer, (Spiking, Leaky)):
            name, node, factor = _neuron(index, layer, shape, dt, r_one)
            if r_one and np.any(factor != 1):
                if previous == "input":
                    raise ValueError(f"layers[{index}]: r_one folds r into the weights before the neuron layer, "
                                     f"but it is the first layer")
                nodes[previous] = _scaled(index, nodes[previous], factor)
            if isinstance(layer, Spiking) and layer.recurrent is not None:
                if len(shape) != 1:
                    raise ValueError(f"layers[{index}] (Spiking).recurrent: needs a flat layer, got shape {shape}")
                rec_name = f"{name}_rec"
                rec_node = nir.Linear(weight=np.array(layer.recurrent) * factor.reshape(-1)[:, None])
        else:
            raise ValueError(f"layers[{index}]: {type(layer).__name__} has no NIR node")
        nodes[name] = node
        edges.append((previous, name))
        if rec_name is not None:
            nodes[rec_name] = rec_node
            edges += [(name, rec_name), (rec_name, name)]
        previous = name
    nodes["output"] = nir.Output(output_type={"output": np.array(shape)})
    edges.append((previous, "output"))
    meta = {
        "source": SOURCE, "kind": "layer_graph", mapping.META_DT: float(dt), "steps": int(graph.steps),
        "encoder": json.dumps(graph.encoder), "input_shape": np.array(graph.input_shape, dtype=np.int64),
        "units": "training (dimensionless; a weight of 1 raises v by 1 at r = tau/dt)",
        "reset": mapping.RESET, "reset_doc": mapping.RESET_DOC, "threshold": "v > v_threshold",
        "discretization": mapping.DISCRETIZATION, "r_one": int(bool(r_one)),
    }
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta)


def _usage(g: nir.NIRGraph) -> dict[str, int]:
    neurons = sum(int(np.prod(n.output_type["output"])) for n in g.nodes.values()
                  if isinstance(n, (nir.LIF, nir.CubaLIF, nir.LI, nir.IF)))
    weights = sum(int(np.size(n.weight)) for n in g.nodes.values() if hasattr(n, "weight"))
    return {"neurons": neurons, "weights": weights, "nodes": len(g.nodes), "edges": len(g.edges)}


def _same(a: nir.NIRGraph, b: nir.NIRGraph) -> bool:
    """Whether ``b`` (read back) has the nodes, edges and parameter arrays of ``a`` bit for bit."""
    if set(a.nodes) != set(b.nodes) or sorted(a.edges) != sorted(b.edges):
        return False
    for name, node in a.nodes.items():
        other = b.nodes[name]
        if type(other) is not type(node):
            return False
        for key, value in vars(node).items():
            if isinstance(value, np.ndarray) and key not in ("input_type", "output_type"):
                if not np.array_equal(value, np.asarray(getattr(other, key))):
                    return False
    return True


def write_checked(g: nir.NIRGraph, out: pathlib.Path) -> None:
    """``nir.write`` ``g`` to ``out`` (a ``.nir`` path; whole or not at all) after reading it back unchanged."""
    if out.suffix != ".nir":
        raise ValueError(f"out: the NIR export writes a .nir file, got {str(out)!r}")
    with atomic_output(out) as tmp:
        nir.write(tmp, g)
        if not _same(g, nir.read(tmp)):
            raise RuntimeError(f"{out}: the NIR file read back differs from the graph written")


def export(graph: LayerGraph, out: pathlib.Path, profile=None) -> dict:
    """Write ``graph`` as a NIR file ``out`` (``nir.write``, gzip-compressed HDF5), read it back to
    check it, and return a JSON-able report. ``profile`` (a :class:`neurosim.hardware.profiles.Profile`) must
    target "nir"; NIR itself has no limits, but a profile's numeric limits on ``neurons``,
    ``weights``, ``nodes`` or ``edges`` are checked. The file is written only if it reads back unchanged."""
    profile = profiles.resolve(profile, "nir")
    g = to_nir(graph)
    usage = _usage(g)
    if profile is not None:
        profile.check(usage)
    out = pathlib.Path(out)
    write_checked(g, out)
    return {"format": "nir", "file": str(out), "nir_version": nir.version, "dt": float(graph.dt),
            "steps": int(graph.steps), **usage,
            "node_types": {name: type(node).__name__ for name, node in g.nodes.items()},
            "reset": mapping.RESET, "profile": None if profile is None else profile.name}
