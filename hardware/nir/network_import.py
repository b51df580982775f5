"""NIR graph -> engine Network (SI units): the inverse of :func:`network_to_nir`, and a reader
for other graphs of LIF/CubaLIF nodes joined by Linear weights and Delay nodes.

Nodes become, in graph order (so group and projection order, and with them the engine's
delivery order and Poisson streams, are those of the exported network):

- ``Input``: a spike source of the same name. Its spikes are ``inputs[name] = (times, indices)``
  if given, else the stimulus kept in the node's metadata by :func:`network_to_nir` (spike times
  or a Poisson rate), else none.
- ``LIF`` / ``CubaLIF``: a population of ``neurosim.LIF`` / ``neurosim.CubaLIF`` (hard reset,
  ``t_ref = 0``) that steps as the node's Euler form (:mod:`neurosim.hardware.nir.mapping`):
  P_vv = 1 - dt/τ; a LIF's weights are multiplied by g/P_vv (g = dt r/τ: 1 for graphs written
  by :func:`network_to_nir`), a CubaLIF's c_m is set so that its weights stay unchanged.
- a path ``source -> [Linear | Affine with zero bias] -> [Delay] -> population`` (the Delay may
  also come first): a projection of the non-zero weights, named after its weight node, with
  delays ``delay[post]`` (``delay[pre]`` when the Delay comes first) that must be multiples of
  dt; an edge without a weight node is one-to-one with weight 1.
- ``Output``: nothing (the populations are monitored directly).

Exact τ_m, τ_syn and c_m written in node metadata by :func:`network_to_nir` are used when they
reproduce the node's parameters bit for bit, so an exported network comes back with identical
parameters, weights and delays. Anything else (IF, LI, convolutions, a node with several
inputs on a synapse path, non-zero biases) is a ``ValueError`` naming the node.
"""

from __future__ import annotations

import json
import pathlib
import re

import nir
import numpy as np

import neurosim
from neurosim.connectivity import FromArrays
from neurosim.hardware.nir import mapping, nirgraph
from neurosim.hardware.nir.mapping import as_array
from neurosim.projection import RECEPTORS, delays_in_steps


def _compact(values: np.ndarray):
    """A per-neuron array as one float when all neurons share it."""
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    return float(values[0]) if values.size and np.all(values == values[0]) else values


def _identifier(name: str, taken: set[str]) -> str:
    ident = re.sub(r"\W", "_", name)
    if not ident.isidentifier():
        ident = "n_" + ident
    base, k = ident, 1
    while ident in taken:
        ident, k = f"{base}_{k}", k + 1
    taken.add(ident)
    return ident


def _param(node, field: str, size: int, where: str) -> np.ndarray:
    arr = as_array(getattr(node, field)).astype(np.float64)
    try:
        return np.broadcast_to(arr.reshape(-1) if arr.size == size else arr, (size,)).copy()
    except ValueError:
        raise ValueError(f"{where}.{field}: has shape {arr.shape}, the population has {size} neurons") from None


def _meta_values(meta: dict, keys: tuple[str, ...], size: int) -> list[np.ndarray] | None:
    if not all(k in meta for k in keys):
        return None
    return [np.broadcast_to(np.asarray(meta[k], np.float64), (size,)) for k in keys]


def _neuron(node, size: int, dt: float, where: str) -> tuple[neurosim.LIF, np.ndarray]:
    """(neuron model, factor multiplying the rows of the weights into it)."""
    if not isinstance(node, (nir.LIF, nir.CubaLIF)):
        raise ValueError(f"{where}: the engine has no such neuron (LIF and CubaLIF import; IF has no leak, "
                         f"LI no spikes)")
    meta = nirgraph.metadata(node)
    common = dict(v_rest=_compact(_param(node, "v_leak", size, where)),
                  v_th=_compact(_param(node, "v_threshold", size, where)),
                  v_reset=_compact(_param(node, "v_reset", size, where)), t_ref=0.0, reset="hard")
    if isinstance(node, nir.LIF):
        tau, r = _param(node, "tau", size, where), _param(node, "r", size, where)
        if np.any(tau <= dt):
            raise ValueError(f"{where}.tau: the engine's exact decay needs τ > dt = {dt:g} s, got {tau.min():g} s")
        exact = _meta_values(meta, ("tau_m", "c_m"), size)
        if exact is not None:
            q = mapping.engine_lif(exact[0], dt)
            if np.array_equal(q["tau"], tau) and np.array_equal(q["r"], r):
                return neurosim.LIF(tau_m=_compact(exact[0]), c_m=_compact(exact[1]), **common), np.ones(size)
        tau_m, factor = mapping.engine_from_lif(tau, r, dt)
        extra = {} if exact is None else {"c_m": _compact(exact[1])}  # c_m only matters for current input
        return neurosim.LIF(tau_m=_compact(tau_m), **extra, **common), factor
    p = {f: _param(node, f, size, where) for f in ("tau_syn", "w_in", "tau_mem", "r")}
    if np.any(p["tau_syn"] <= dt) or np.any(p["tau_mem"] <= dt):
        raise ValueError(f"{where}: the engine's exact decay needs tau_syn and tau_mem > dt = {dt:g} s")
    exact = _meta_values(meta, ("tau_m", "tau_syn", "c_m"), size)
    if exact is not None:
        q = mapping.engine_cuba(*exact, dt)
        if not all(np.array_equal(q[f], p[f]) for f in p):
            exact = None
    tau_m, tau_s, c_m = exact or mapping.engine_from_cuba(p["tau_syn"], p["w_in"], p["tau_mem"], p["r"], dt)
    return neurosim.CubaLIF(tau_m=_compact(tau_m), tau_syn_exc=_compact(tau_s), tau_syn_inh=_compact(tau_s),
                            c_m=_compact(c_m), **common), np.ones(size)


def _walk(start: str, first: str, nodes, succ, pred, populations) -> tuple[str, str | None, str | None, bool, list]:
    """Follow ``start -> first -> ...`` to a population: (target, weight node, delay node, delay first, path)."""
    weight = delay = None
    delay_first = False
    path, current = [], first
    while current not in populations:
        node = nodes[current]
        where = f"node {current!r} ({type(node).__name__})"
        if isinstance(node, nir.Output):
            raise ValueError(f"{where}: an Output must follow a population or Input directly, not {start!r} via "
                             f"{path}")
        if isinstance(node, nirgraph.WEIGHTS) and weight is None:
            weight = current
        elif isinstance(node, nir.Delay) and delay is None:
            delay, delay_first = current, weight is None
        elif isinstance(node, nir.Input):
            raise ValueError(f"{where}: an Input node cannot receive edges")
        else:
            raise ValueError(f"{where}: not supported between populations (a synapse path is [Linear|Affine] and "
                             f"[Delay] once each)")
        if len(pred[current]) != 1 or len(succ[current]) != 1:
            raise ValueError(f"{where}: has inputs {pred[current]} and outputs {succ[current]}; a synapse node "
                             f"joins one source to one population")
        path.append(current)
        current = succ[current][0]
    return current, weight, delay, delay_first, path


def to_network(nir_graph_or_path: nir.NIRGraph | str | pathlib.Path, dt: float | None = None, *,
               inputs: dict | None = None, seed: int | None = None, precision: str | None = None) -> neurosim.Network:
    """The engine network of a NIR graph (see the module docstring). ``dt`` defaults to
    ``metadata["dt"]``, ``seed`` and ``precision`` to the exported network's. Group names are the
    node names (made identifiers: ``lif1.lif`` -> ``lif1_lif``)."""
    g = nirgraph.read(nir_graph_or_path)
    meta = nirgraph.metadata(g)
    dt = nirgraph.resolve_dt(dt, g)
    nodes, edges = nirgraph.flatten(g)
    if "node_order" in meta:  # the exported network's order (nir.read lists nodes by name)
        rank = {name: k for k, name in enumerate(json.loads(meta["node_order"]))}
        nodes = dict(sorted(nodes.items(), key=lambda item: rank.get(item[0], len(rank))))
    succ, pred = nirgraph.adjacency(edges)
    net = neurosim.Network(dt=dt, seed=int(meta.get("seed", 0)) if seed is None else seed,
                           precision=precision or meta.get("precision", "float64"))
    inputs = dict(inputs or {})
    unknown = [k for k in inputs if not isinstance(nodes.get(k), nir.Input)]
    if unknown:
        raise ValueError(f"inputs: {unknown[0]!r} is not an Input node of the graph")
    taken: set[str] = set()
    groups, factors = {}, {}
    for name, node in nodes.items():
        where = f"node {name!r} ({type(node).__name__})"
        if isinstance(node, (nir.Output, nir.Delay, *nirgraph.WEIGHTS)):
            continue
        size = int(np.prod(as_array(node.output_type["output"]))) if isinstance(node, nir.Input) \
            else int(as_array(node.v_threshold).size) if hasattr(node, "v_threshold") else 0
        ident = _identifier(name, taken)
        try:
            if isinstance(node, nir.Input):
                m = nirgraph.metadata(node)
                if name in inputs:
                    times, indices = inputs[name]
                    groups[name] = net.spike_source(ident, size, times=times, indices=indices)
                elif m.get("source") == "poisson_source":
                    groups[name] = net.poisson_source(ident, size, rate=_compact(m["rate"]), start=m["start"],
                                                      stop=None if np.isinf(m["stop"]) else m["stop"])
                else:
                    groups[name] = net.spike_source(ident, size, times=m.get("times", []), indices=m.get("indices", []))
            else:
                model, factors[name] = _neuron(node, size, dt, where)
                groups[name] = net.population(ident, size, model)
        except ValueError as e:
            raise e if str(e).startswith("node ") else ValueError(f"{where}: {e}") from None
    populations = {k for k in groups if not isinstance(nodes[k], nir.Input)}
    connections, used = [], set()
    position = {name: k for k, name in enumerate(nodes)}
    for source in groups:
        for first in succ[source]:
            if isinstance(nodes[first], nir.Output):
                continue
            target, weight, delay, delay_first, path = _walk(source, first, nodes, succ, pred, populations)
            used.update(path)
            connections.append((position[first], source, target, weight, delay, delay_first))
    dangling = [k for k, n in nodes.items() if isinstance(n, (nir.Delay, *nirgraph.WEIGHTS)) and k not in used]
    if dangling:
        raise ValueError(f"node {dangling[0]!r}: is not on a path from an Input or population to a population")
    for _, source, target, weight, delay, delay_first in sorted(connections, key=lambda c: c[0]):
        n_pre, n_post = groups[source].size, groups[target].size
        label = weight or delay or f"{source}_to_{target}"
        where = f"node {label!r}"
        if weight is None:
            if n_pre != n_post:
                raise ValueError(f"{where}: an edge {source!r} -> {target!r} without weights needs equal sizes")
            matrix = np.eye(n_post)
            receptor = "auto"
        else:
            node = nodes[weight]
            matrix = as_array(node.weight).astype(np.float64)
            if matrix.shape != (n_post, n_pre):
                raise ValueError(f"{where}.weight: needs shape ({n_post}, {n_pre}) from {source!r} to {target!r}, "
                                 f"got {matrix.shape}")
            if isinstance(node, nir.Affine) and np.any(as_array(node.bias) != 0):
                raise ValueError(f"{where}.bias: the engine has no constant input on a projection; need zeros")
            receptor = nirgraph.metadata(node).get("receptor", "auto")
            receptor = receptor if receptor in RECEPTORS else "auto"
        if np.any(factors[target] != 1):
            matrix = matrix * factors[target][:, None]
        post, pre = np.nonzero(matrix)
        delays = None
        if delay is not None:
            values = as_array(nodes[delay].delay).astype(np.float64).reshape(-1)
            n = n_pre if delay_first else n_post
            values = np.broadcast_to(values, (n,)) if values.size in (1, n) else None
            if values is None:
                raise ValueError(f"node {delay!r}.delay: needs 1 or {n} values")
            steps = delays_in_steps(values, dt, f"node {delay!r}.delay")
            delays = (steps * dt)[pre if delay_first else post]
        net.connect(groups[source], groups[target], FromArrays(pre, post, weight=matrix[post, pre], delay=delays),
                    receptor=receptor, name=_identifier(label, taken))
    return net
