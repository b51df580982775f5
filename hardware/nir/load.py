"""NIR graph -> LayerGraph (-> torch ``neurosim.train.SNN`` with :func:`neurosim.hardware.graph.to_model`).

Reads graphs written by :func:`neurosim.hardware.nir.to_nir` and by other tools (snnTorch's
``export_to_nir``, Norse's ``to_nir``): a chain ``Input -> ... -> Output`` of Affine, Linear,
Conv2d, SumPool2d, AvgPool2d, Flatten, LIF, CubaLIF, IF and LI nodes, where each neuron node may
have one recurrent Affine/Linear loop (snnTorch's exporter writes ``RLeaky`` as nodes ``3.lif`` and
``3.w_rec``). Nested ``NIRGraph`` nodes are inlined, their Input and Output acting as pass-throughs
(the RNN subgraphs that snnTorch's own importer builds internally are not valid graphs of this
kind: their Input feeds the recurrent weights).

Neuron parameters map back with the Euler convention of :mod:`neurosim.hardware.nir.mapping`::

    β = 1 - dt/τ (LIF, LI; 1 for IF)    α = 1 - dt/τ_syn    θ = v_threshold    reset "hard"
    input gain g = dt r/τ (LIF, LI), dt r (IF), (dt w_in/τ_syn)(dt r/τ_mem) (CubaLIF)

A LayerGraph neuron has gain 1, so a gain != 1 (``r = 1`` graphs, as Norse writes) multiplies the
preceding Affine/Conv2d and the recurrent weights; a recurrent Affine's bias is added to the
preceding Affine's bias (snnTorch ``RLeaky``). A gain within a few ulps of 1 (float32 graphs
from snnTorch) counts as 1. Exact β and α recorded by neurosim's exporter in node metadata are
used when they reproduce the node's τ bit for bit.

Reset: NIR has none; a neuron resets to ``v_reset`` ("hard") unless its metadata, else the
graph's, says ``reset_mechanism`` (or ``reset``) "subtract"/"soft" (:func:`.nirgraph.reset`).
NIR steps reset right after the spike, so a subtraction decays with v; a LayerGraph subtracts θ
undecayed one step later (snnTorch's ``reset_delay=True``). The two agree without leak (IF), so
soft reset imports for IF layers, and for leaky ones when the metadata says ``reset_delay: True``.

Refused with a ``ValueError`` naming the node: other node types (Delay, Scale, Threshold, I,
CubaLI, Conv1d), branches and merges, ``v_leak != 0``, ``v_reset != 0``, β < 0 (τ < dt), and a
graph without ``metadata["dt"]`` when no ``dt`` is passed. Norse 1.1's exporter writes τ·dt
instead of τ (norse#411): pass ``tau_times_dt=True`` for those graphs.

Warned about (:class:`.checks.NIRImportWarning`; a ``ValueError`` with ``strict=True``, see
:mod:`.checks`): a graph without ``metadata["dt"]`` whose input gains depend on the dt passed (IF
with ``r·dt != 1``: Norse and Sinabs mean ``r = 1`` as "add I once per step"), and a spiking
layer none of whose neurons can reach ``v_threshold`` even with every input spiking in every step.
"""

from __future__ import annotations

import json
import pathlib

import nir
import numpy as np

from neurosim.hardware.graph import Affine, Conv2d, Flatten, LayerGraph, Leaky, SumPool2d, Spiking, to_model
from neurosim.hardware.nir import checks, mapping, nirgraph
from neurosim.hardware.nir.mapping import as_array

SUPPORTED = "Input, Output, Affine, Linear, Conv2d, SumPool2d, AvgPool2d, Flatten, LIF, CubaLIF, IF, LI"


def _pair(value, where: str) -> tuple[int, int]:
    arr = as_array(value).reshape(-1)
    if arr.size == 1:
        arr = np.repeat(arr, 2)
    if arr.size != 2:
        raise ValueError(f"{where}: expected one or two integers, got {value!r}")
    return int(arr[0]), int(arr[1])


def _accepts(node: nir.NIRNode, shape: tuple[int, ...]) -> bool:
    """Whether ``node`` takes inputs of ``shape`` (used to drop a leading batch dimension of 1)."""
    if isinstance(node, nirgraph.WEIGHTS):
        return len(shape) == 1 and shape[0] == node.weight.shape[-1]
    if isinstance(node, nir.Conv2d):
        return len(shape) == 3 and shape[0] == node.weight.shape[1]
    return True


class _Builder:
    def __init__(self, nodes: dict, recurrent: dict, dt: float, tau_times_dt: bool, meta: dict):
        self.nodes, self.recurrent, self.dt, self.tau_times_dt, self.meta = nodes, recurrent, dt, tau_times_dt, meta
        self.layers: list = []
        self.gains: dict[int, np.ndarray] = {}  # layer index -> the input gain folded into its weights

    # -- neuron parameters
    def _param(self, node, field: str, shape: tuple[int, ...], where: str) -> np.ndarray:
        arr = as_array(getattr(node, field)).astype(np.float64)
        size = int(np.prod(shape))
        if arr.size == size:
            return arr.reshape(-1)
        try:
            return np.broadcast_to(arr, shape).reshape(-1).copy()
        except ValueError:
            raise ValueError(f"{where}.{field}: has shape {arr.shape}, the layer has shape {shape}") from None

    def _tau(self, node, field: str, shape, where) -> np.ndarray:
        tau = self._param(node, field, shape, where)
        return tau / self.dt if self.tau_times_dt else tau

    def _decay(self, node, tau: np.ndarray, meta_key: str, field: str, where: str) -> np.ndarray:
        exact = nirgraph.metadata(node).get(meta_key)
        if exact is not None and not self.tau_times_dt:
            exact = np.asarray(exact, dtype=np.float64).reshape(-1)
            if exact.shape == tau.shape and np.array_equal(mapping.time_constant(exact, self.dt), tau):
                return exact
        d = mapping.decay(tau, self.dt)
        if np.any(d < 0) or not np.all(np.isfinite(d)):
            raise ValueError(f"{where}.{field}: τ = {tau.min():g} s is below dt = {self.dt:g} s (β = 1 - dt/τ < 0); "
                             f"graphs from Norse 1.1 store τ·dt (norse#411): pass tau_times_dt=True")
        return d

    def _zero(self, node, field: str, shape, where: str) -> None:
        values = self._param(node, field, shape, where)
        if np.any(values != 0):
            raise ValueError(f"{where}.{field}: a LayerGraph neuron {'rests' if field == 'v_leak' else 'resets'} "
                             f"at 0, got {values[values != 0][0]!r}")

    def _fold(self, gain: np.ndarray, rec: np.ndarray | None, rec_bias: np.ndarray | None,
              where: str) -> np.ndarray | None:
        """Multiply the weights into the neuron layer by ``gain`` and move a recurrent bias into the
        preceding bias; returns the recurrent weights (scaled)."""
        if np.all(gain == 1) and (rec_bias is None or np.all(rec_bias == 0)):
            return rec
        prev = self.layers[-1] if self.layers else None
        if isinstance(prev, Affine):
            bias = prev.bias if rec_bias is None else (rec_bias if prev.bias is None else prev.bias + rec_bias)
            self.layers[-1] = Affine(prev.weight * gain[:, None], None if bias is None else bias * gain)
        elif isinstance(prev, Conv2d) and rec_bias is None:
            per_channel = gain.reshape(prev.weight.shape[0], -1)
            if np.any(per_channel != per_channel[:, :1]):
                raise ValueError(f"{where}: its input gain differs within a channel; cannot fold it into the Conv2d")
            f = per_channel[:, 0]
            self.layers[-1] = Conv2d(prev.weight * f[:, None, None, None], prev.input_shape,
                                     None if prev.bias is None else prev.bias * f, prev.stride, prev.padding)
        else:
            raise ValueError(f"{where}: input gain r·dt/τ = {gain.reshape(-1)[0]:g} (or a recurrent bias) needs a "
                             f"preceding Affine/Linear/Conv2d to fold into, found {type(prev).__name__}")
        return None if rec is None else rec * gain[:, None]

    def _recurrent(self, name: str, size: int, where: str) -> tuple[np.ndarray | None, np.ndarray | None]:
        rec_name = self.recurrent.get(name)
        if rec_name is None:
            return None, None
        node = self.nodes[rec_name]
        weight = as_array(node.weight).astype(np.float64)
        if weight.shape != (size, size):
            raise ValueError(f"node {rec_name!r} (recurrent {type(node).__name__}).weight: needs shape "
                             f"({size}, {size}), got {weight.shape}")
        bias = as_array(node.bias).astype(np.float64).reshape(-1) if isinstance(node, nir.Affine) else None
        return weight, bias

    def _reset(self, node, beta: np.ndarray, where: str) -> str:
        reset, delayed = nirgraph.reset(node, self.meta, where)
        if reset == "soft" and np.any(beta < 1) and delayed is not True:
            raise ValueError(f"{where}: resets by subtraction right after the spike (NIR's step), so the subtracted "
                             f"v_threshold decays with v; a LayerGraph subtracts it undecayed one step later, the same "
                             f"only without leak (IF). If the graph means that (snnTorch's reset_delay=True), set "
                             f"metadata['reset_delay'] = True")
        return reset

    def neuron(self, name: str, node, shape: tuple[int, ...], where: str):
        size, dt = int(np.prod(shape)), self.dt
        rec, rec_bias = self._recurrent(name, size, where)
        if isinstance(node, nir.LI) and rec is not None:
            raise ValueError(f"{where}: a recurrent leaky readout has no LayerGraph layer")
        if isinstance(node, nir.IF):
            gain = mapping.if_gain(self._param(node, "r", shape, where), dt, node.r)
            beta = np.ones(size)
        elif isinstance(node, (nir.LIF, nir.LI)):
            tau = self._tau(node, "tau", shape, where)
            beta = self._decay(node, tau, "beta", "tau", where)
            r = self._param(node, "r", shape, where)
            gain = mapping.gain(r, tau, dt, unit_r=tau / dt)
            self._zero(node, "v_leak", shape, where)
        elif isinstance(node, nir.CubaLIF):
            tau_mem, tau_syn = self._tau(node, "tau_mem", shape, where), self._tau(node, "tau_syn", shape, where)
            beta = self._decay(node, tau_mem, "beta", "tau_mem", where)
            alpha = self._decay(node, tau_syn, "alpha", "tau_syn", where)
            r, w_in = self._param(node, "r", shape, where), self._param(node, "w_in", shape, where)
            gain = (mapping.gain(w_in, tau_syn, dt, unit_r=tau_syn / dt)
                    * mapping.gain(r, tau_mem, dt, unit_r=tau_mem / dt))
            self._zero(node, "v_leak", shape, where)
        else:
            raise ValueError(f"{where}: not supported by a LayerGraph (supported: {SUPPORTED})")
        rec = self._fold(gain, rec, rec_bias, where)
        self.gains[len(self.layers)] = gain
        if isinstance(node, nir.LI):
            return Leaky(size, beta)
        self._zero(node, "v_reset", shape, where)
        theta = self._param(node, "v_threshold", shape, where)
        reset = self._reset(node, beta, where)
        return Spiking(size, beta, theta, reset, alpha if isinstance(node, nir.CubaLIF) else None, rec)

    def synapse(self, node, shape: tuple[int, ...], where: str):
        if isinstance(node, nirgraph.WEIGHTS):
            weight = as_array(node.weight).astype(np.float64)
            if weight.ndim != 2 or not _accepts(node, shape):
                raise ValueError(f"{where}.weight: shape {weight.shape} does not take inputs of shape {shape}")
            bias = as_array(node.bias).astype(np.float64).reshape(-1) if isinstance(node, nir.Affine) else None
            return Affine(weight, bias)
        if isinstance(node, nir.Conv2d):
            weight = as_array(node.weight).astype(np.float64)
            if int(node.groups) != 1 or _pair(node.dilation, f"{where}.dilation") != (1, 1):
                raise ValueError(f"{where}: groups and dilation must be 1")
            if len(shape) != 3 or shape[0] != weight.shape[1]:
                raise ValueError(f"{where}.weight: takes {weight.shape[1]} channels, gets shape {shape}")
            stride = _pair(node.stride, f"{where}.stride")
            if isinstance(node.padding, str):
                if node.padding == "valid":
                    padding = (0, 0)
                elif stride == (1, 1) and all(k % 2 for k in weight.shape[2:]):
                    padding = (weight.shape[2] // 2, weight.shape[3] // 2)
                else:
                    raise ValueError(f"{where}.padding: 'same' needs stride 1 and odd kernels")
            else:
                padding = _pair(node.padding, f"{where}.padding")
            bias = as_array(node.bias).astype(np.float64).reshape(-1)
            return Conv2d(weight, shape, bias, stride, padding)
        if isinstance(node, (nir.SumPool2d, nir.AvgPool2d)):
            k = _pair(node.kernel_size, f"{where}.kernel_size")
            stride = k if node.stride is None else _pair(node.stride, f"{where}.stride")
            if k[0] != k[1] or stride != k or _pair(node.padding, f"{where}.padding") != (0, 0):
                raise ValueError(f"{where}: a LayerGraph pools square kernels with stride = kernel and no padding, "
                                 f"got kernel {k}, stride {stride}, padding {node.padding!r}")
            if len(shape) != 3:
                raise ValueError(f"{where}: pools (C, H, W) inputs, gets shape {shape}")
            return SumPool2d(k[0], shape, 1.0 if isinstance(node, nir.SumPool2d) else 1.0 / (k[0] * k[0]))
        if isinstance(node, nir.Flatten):
            start, end = int(node.start_dim), int(node.end_dim)
            if start != 0 or end not in (-1, len(shape) - 1):
                raise ValueError(f"{where}: a LayerGraph flattens all dimensions (start_dim 0, end_dim -1; NIR "
                                 f"dimensions exclude the batch), got start_dim {start}, end_dim {end}")
            return Flatten(shape)
        raise ValueError(f"{where}: not supported by a LayerGraph (supported: {SUPPORTED})")


def _silent_message(graph: LayerGraph, found: tuple[int, float], where: str, gain: np.ndarray, horizon: int,
                    hint: str | None) -> str:
    index, drive = found
    layer = graph.layers[index]
    within = f" within {horizon} steps" if np.any(layer.beta == 1) else ""
    folded = "" if np.all(gain == 1) else f" (its input gain {checks.span(gain)} folded into the weights)"
    text = (f"{where}: no neuron can reach v_threshold{within}: with every input neuron spiking in every step its "
            f"largest input per step is {drive:.3g}{folded}, against v_threshold >= "
            f"{float(np.min(layer.threshold)):.3g}; the layers after it get no spikes")
    return text if hint is None else f"{text}. The graph has no metadata['dt']; the node's {hint}"


def _check(graph: LayerGraph, builder: _Builder, order: list[str], stated_dt: bool, strict: bool) -> None:
    """Report what :mod:`.checks` finds: an unstated dt that sets input gains, a layer that cannot fire."""
    neurons = {index: name for index, name in enumerate(order) if isinstance(builder.nodes[name], nirgraph.NEURONS)}
    where = {name: f"node {name!r} ({type(builder.nodes[name]).__name__})" for name in neurons.values()}
    scale = 1.0 / graph.dt if builder.tau_times_dt else 1.0
    hints = {} if stated_dt else {name: checks.dt_hint(builder.nodes[name], graph.dt, scale)
                                  for name in neurons.values()}
    if any(hints.values()):
        checks.report(checks.dt_message({where[k]: h for k, h in hints.items() if h}, graph.dt), strict)
    horizon = max(graph.steps, checks.HORIZON)
    found = checks.silent_layer(graph, horizon)
    if found is not None:
        name = neurons[found[0]]
        checks.report(_silent_message(graph, found, where[name], builder.gains[found[0]], horizon, hints.get(name)),
                      strict)


def from_nir(nir_graph_or_path: nir.NIRGraph | str | pathlib.Path, dt: float | None = None, *,
             steps: int | None = None, tau_times_dt: bool = False, strict: bool = False) -> LayerGraph:
    """The LayerGraph of a NIR graph (or ``.nir`` file). ``dt`` (s) defaults to ``metadata["dt"]``;
    ``steps`` to ``metadata["steps"]`` (else 1); the encoder to ``metadata["encoder"]`` (else direct).
    ``strict=True`` raises the import warnings (:mod:`.checks`) as ``ValueError``."""
    g = nirgraph.read(nir_graph_or_path)
    meta = nirgraph.metadata(g)
    if meta.get("kind") == "network":
        raise ValueError("graph: exported from an engine Network (SI units, v_leak = v_rest); "
                         "import it with neurosim.hardware.nir.to_network")
    dt = nirgraph.resolve_dt(dt, g)
    nodes, edges = nirgraph.flatten(g)
    input_name, order, recurrent = nirgraph.chain(nodes, edges)
    shape = tuple(int(s) for s in as_array(nodes[input_name].input_type["input"]).reshape(-1))
    if order and len(shape) > 1 and shape[0] == 1 and not _accepts(nodes[order[0]], shape) \
            and _accepts(nodes[order[0]], shape[1:]):
        shape = shape[1:]  # a batch dimension of 1 (snnTorch without ignore_dims, Rockpool)
    input_shape = shape
    builder = _Builder(nodes, recurrent, dt, tau_times_dt, meta)
    for name in order:
        node = nodes[name]
        where = f"node {name!r} ({type(node).__name__})"
        try:
            if isinstance(node, nirgraph.NEURONS):
                layer = builder.neuron(name, node, shape, where)
            else:
                layer = builder.synapse(node, shape, where)
                shape = tuple(int(s) for s in layer.out_shape)
        except ValueError as e:
            raise e if str(e).startswith("node ") else ValueError(f"{where}: {e}") from None
        builder.layers.append(layer)
    if not builder.layers:
        raise ValueError("graph: has no layers between its Input and Output")
    if steps is None:
        steps = int(meta.get("steps", 1))
    encoder = json.loads(meta["encoder"]) if "encoder" in meta else {"type": "direct"}
    graph = LayerGraph(tuple(builder.layers), input_shape, dt, int(steps), encoder)
    _check(graph, builder, order, mapping.META_DT in meta, strict)
    return graph


def to_torch(nir_graph_or_path: nir.NIRGraph | str | pathlib.Path, dt: float | None = None, *,
             tau_times_dt: bool = False, strict: bool = False, **options):
    """A ``neurosim.train.SNN`` computing the NIR graph: :func:`from_nir` then ``to_model``
    (``options`` go to the spiking layers: surrogate, detach_reset, learn_*)."""
    return to_model(from_nir(nir_graph_or_path, dt, tau_times_dt=tau_times_dt, strict=strict), **options)
