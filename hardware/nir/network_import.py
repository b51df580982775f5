"""NIR graph -> engine Network (SI units): the inverse of :func:`network_to_nir`, and a reader
for other graphs of LIF/CubaLIF/IF nodes joined by Linear/Affine weights and Delay nodes.

Nodes become, in graph order (so group and projection order, and with them the engine's
delivery order and Poisson streams, are those of the exported network):

- ``Input``: a spike source of the same name. Its spikes are ``inputs[name] = (times, indices)``
  if given, else the stimulus kept in the node's metadata by :func:`network_to_nir` (spike times
  or a Poisson rate), else none.
- ``LIF`` / ``CubaLIF``: a population of ``neurosim.LIF`` / ``neurosim.CubaLIF`` (``t_ref = 0``)
  that steps as the node's Euler form (:mod:`neurosim.hardware.nir.mapping`): P_vv = 1 - dt/τ; a
  LIF's weights are multiplied by g/P_vv (g = dt r/τ: 1 for graphs written by
  :func:`network_to_nir`), a CubaLIF's c_m is set so that its weights stay unchanged.
- ``IF`` (v += dt r I, no leak): a population of ``neurosim.LIF`` with τ_m = 2^60 dt, for which the
  engine's decay exp(-dt/τ_m) is exactly 1 (float64 and float32), so it integrates exactly without
  leak; v_rest = 0 (an IF starts at 0), weights multiplied by g = dt r.
- a path ``source -> [Linear | Affine] -> [Delay] -> population`` (the Delay may also come first):
  a projection of the non-zero weights, named after its weight node, with delays ``delay[post]``
  (``delay[pre]`` when the Delay comes first) that must be multiples of dt; an edge without a
  weight node is one-to-one with weight 1. An Affine's bias b (summed over the paths into a
  population) becomes the population's constant bias current ``i_bias = g b / P_vI``, which adds
  g b per step as the Euler form does (not onto a CubaLIF, where NIR filters it through the
  synapse, nor behind a Delay, where it would start late).
- ``Output``: nothing (the populations are monitored directly).

Reset: "hard" (to v_reset) unless the node's or graph's metadata says ``reset_mechanism`` (or
``reset``) "subtract"/"soft" (:func:`.nirgraph.reset`): the engine's soft reset, v -= v_th - v_reset
right after the spike, as NIR steps (refused for a leaky neuron whose metadata says
``reset_delay: True``, snnTorch's undecayed subtraction one step later).

Exact τ_m, τ_syn and c_m written in node metadata by :func:`network_to_nir` are used when they
reproduce the node's parameters bit for bit, so an exported network comes back with identical
parameters, weights and delays; an IF takes c_m from its metadata too (it only scales i_bias).
Anything else (LI, convolutions, a node with several inputs on a synapse path) is a
``ValueError`` naming the node. Warned about (``ValueError`` with ``strict=True``;
:mod:`.checks`): a graph without ``metadata["dt"]`` whose input gains depend on the dt passed,
and a population none of whose neurons can reach v_th even with every input spiking in every step.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import re

import nir
import numpy as np

import neurosim
from neurosim.connectivity import FromArrays
from neurosim.hardware.nir import checks, mapping, nirgraph
from neurosim.hardware.nir.mapping import as_array
from neurosim.hardware.nir.closed_form import membrane_propagators
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


def _common(node, size: int, where: str, reset: str) -> dict:
    """The LIF fields every imported neuron shares."""
    return dict(v_th=_compact(_param(node, "v_threshold", size, where)),
                v_reset=_compact(_param(node, "v_reset", size, where)), t_ref=0.0, reset=reset)


def _if(node, size: int, dt: float, where: str, reset: str) -> tuple[neurosim.LIF, np.ndarray]:
    """(the no-leak engine LIF of a NIR IF, the factor of the weights into it)."""
    c_m = nirgraph.metadata(node).get("c_m")
    extra = {} if c_m is None else {"c_m": _compact(np.broadcast_to(np.asarray(c_m, np.float64), (size,)))}
    model = neurosim.LIF(tau_m=mapping.no_leak_tau(dt), v_rest=0.0, **extra, **_common(node, size, where, reset))
    return model, mapping.if_gain(_param(node, "r", size, where), dt, node.r)


def _lif(node, size: int, dt: float, where: str, reset: str) -> tuple[neurosim.LIF, np.ndarray]:
    """(the engine LIF of a NIR LIF, the factor of the weights into it)."""
    common = dict(v_rest=_compact(_param(node, "v_leak", size, where)), **_common(node, size, where, reset))
    tau, r = _param(node, "tau", size, where), _param(node, "r", size, where)
    if np.any(tau <= dt):
        raise ValueError(f"{where}.tau: the engine's exact decay needs τ > dt = {dt:g} s, got {tau.min():g} s")
    exact = _meta_values(nirgraph.metadata(node), ("tau_m", "c_m"), size)
    if exact is not None:
        q = mapping.engine_lif(exact[0], dt)
        if np.array_equal(q["tau"], tau) and np.array_equal(q["r"], r):
            return neurosim.LIF(tau_m=_compact(exact[0]), c_m=_compact(exact[1]), **common), np.ones(size)
    tau_m, factor = mapping.engine_from_lif(tau, r, dt)
    extra = {} if exact is None else {"c_m": _compact(exact[1])}  # c_m only matters for current input
    return neurosim.LIF(tau_m=_compact(tau_m), **extra, **common), factor


def _cuba(node, size: int, dt: float, where: str, reset: str) -> tuple[neurosim.CubaLIF, np.ndarray]:
    """(the engine CubaLIF of a NIR CubaLIF, weight factor 1)."""
    common = dict(v_rest=_compact(_param(node, "v_leak", size, where)), **_common(node, size, where, reset))
    p = {f: _param(node, f, size, where) for f in ("tau_syn", "w_in", "tau_mem", "r")}
    if np.any(p["tau_syn"] <= dt) or np.any(p["tau_mem"] <= dt):
        raise ValueError(f"{where}: the engine's exact decay needs tau_syn and tau_mem > dt = {dt:g} s")
    exact = _meta_values(nirgraph.metadata(node), ("tau_m", "tau_syn", "c_m"), size)
    if exact is not None:
        q = mapping.engine_cuba(*exact, dt)
        if not all(np.array_equal(q[f], p[f]) for f in p):
            exact = None
    tau_m, tau_s, c_m = exact or mapping.engine_from_cuba(p["tau_syn"], p["w_in"], p["tau_mem"], p["r"], dt)
    return neurosim.CubaLIF(tau_m=_compact(tau_m), tau_syn_exc=_compact(tau_s), tau_syn_inh=_compact(tau_s),
                            c_m=_compact(c_m), **common), np.ones(size)


def _reset(node, graph_meta: dict, where: str) -> str:
    reset, delayed = nirgraph.reset(node, graph_meta, where)
    if reset == "soft" and delayed and not isinstance(node, nir.IF):
        raise ValueError(f"{where}.metadata: reset_delay True subtracts v_threshold undecayed one step after the "
                         f"spike (snnTorch); the engine subtracts right after it, as NIR steps: the same only "
                         f"without leak (IF)")
    return reset


def _neuron(node, size: int, dt: float, where: str, graph_meta: dict) -> tuple[neurosim.LIF, np.ndarray]:
    """(neuron model, factor multiplying the rows of the weights into it)."""
    build = {nir.IF: _if, nir.LIF: _lif, nir.CubaLIF: _cuba}.get(type(node))
    if build is None:
        raise ValueError(f"{where}: the engine has no such neuron (LIF, CubaLIF and IF import; LI has no spikes)")
    return build(node, size, dt, where, _reset(node, graph_meta, where))


def _with_bias(model: neurosim.LIF, factor: np.ndarray, bias: np.ndarray, size: int, dt: float,
               name: str) -> neurosim.LIF:
    """``model`` with the bias current that adds g·bias per step (g = factor·P_vv, the NIR gain)."""
    p = model.per_neuron(size, name)
    p_vv, p_vi = membrane_propagators(p["tau_m"], p["c_m"], dt)
    return dataclasses.replace(model, i_bias=_compact(factor * p_vv * bias / p_vi))


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


#: a path from a source to a population: (position of its first node, source, target, weight node,
#: delay node, whether the delay comes first)
Path = tuple[int, str, str, str | None, str | None, bool]


def _ordered(g: nir.NIRGraph, meta: dict) -> tuple[dict, list[tuple[str, str]]]:
    """The graph's nodes (in the exported network's order when it kept one) and edges."""
    nodes, edges = nirgraph.flatten(g)
    if "node_order" in meta:  # the exported network's order (nir.read lists nodes by name)
        rank = {name: k for k, name in enumerate(json.loads(meta["node_order"]))}
        nodes = dict(sorted(nodes.items(), key=lambda item: rank.get(item[0], len(rank))))
    return nodes, edges


def _size(node) -> int:
    if isinstance(node, nir.Input):
        return int(np.prod(as_array(node.input_type["input"])))
    return int(as_array(node.v_threshold).size) if hasattr(node, "v_threshold") else 0


def _paths(nodes: dict, succ, pred, groups: list[str], populations: set[str]) -> list[Path]:
    """Every path from a group to a population, in the order of their first nodes."""
    position = {name: k for k, name in enumerate(nodes)}
    paths, used = [], set()
    for source in groups:
        for first in succ[source]:
            if isinstance(nodes[first], nir.Output):
                continue
            target, weight, delay, delay_first, path = _walk(source, first, nodes, succ, pred, populations)
            used.update(path)
            paths.append((position[first], source, target, weight, delay, delay_first))
    dangling = [k for k, n in nodes.items() if isinstance(n, (nir.Delay, *nirgraph.WEIGHTS)) and k not in used]
    if dangling:
        raise ValueError(f"node {dangling[0]!r}: is not on a path from an Input or population to a population")
    return sorted(paths, key=lambda c: c[0])


def _biases(paths: list[Path], nodes: dict) -> dict[str, np.ndarray]:
    """The summed Affine biases into each population (only populations that get one)."""
    total: dict[str, np.ndarray] = {}
    for _, _, target, weight, delay, _ in paths:
        node = nodes.get(weight)
        if not isinstance(node, nir.Affine) or not np.any(as_array(node.bias) != 0):
            continue
        where = f"node {weight!r}.bias"
        if isinstance(nodes[target], nir.CubaLIF):
            raise ValueError(f"{where}: a bias into a CubaLIF ({target!r}) passes its synapse in NIR (it rises with "
                             f"tau_syn); the engine's bias current does not: need zeros")
        if delay is not None:
            raise ValueError(f"{where}: a bias behind the Delay node {delay!r} starts after the delay in NIR; the "
                             f"engine's bias current starts at once: need zeros")
        bias = as_array(node.bias).astype(np.float64).reshape(-1)
        size = _size(nodes[target])
        if bias.size not in (1, size):
            raise ValueError(f"{where}: has {bias.size} values, the population {target!r} has {size} neurons")
        total[target] = total.get(target, 0.0) + np.broadcast_to(bias, (size,))
    return total


def _source(net: neurosim.Network, name: str, ident: str, node, inputs: dict):
    size, m = _size(node), nirgraph.metadata(node)
    if name in inputs:
        times, indices = inputs[name]
        return net.spike_source(ident, size, times=times, indices=indices)
    if m.get("source") == "poisson_source":
        return net.poisson_source(ident, size, rate=_compact(m["rate"]), start=m["start"],
                                  stop=None if np.isinf(m["stop"]) else m["stop"])
    return net.spike_source(ident, size, times=m.get("times", []), indices=m.get("indices", []))


def _connect(net: neurosim.Network, path: Path, nodes: dict, groups: dict, factors: dict, dt: float,
             taken: set[str]) -> None:
    """The projection of one path (weights times the target's factor; delays in whole steps)."""
    _, source, target, weight, delay, delay_first = path
    n_pre, n_post = groups[source].size, groups[target].size
    label = weight or delay or f"{source}_to_{target}"
    where = f"node {label!r}"
    if weight is None:
        if n_pre != n_post:
            raise ValueError(f"{where}: an edge {source!r} -> {target!r} without weights needs equal sizes")
        matrix, receptor = np.eye(n_post), "auto"
    else:
        matrix = as_array(nodes[weight].weight).astype(np.float64)
        if matrix.shape != (n_post, n_pre):
            raise ValueError(f"{where}.weight: needs shape ({n_post}, {n_pre}) from {source!r} to {target!r}, "
                             f"got {matrix.shape}")
        receptor = nirgraph.metadata(nodes[weight]).get("receptor", "auto")
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


def _check(net: neurosim.Network, nodes: dict, groups: dict, dt: float, stated_dt: bool, strict: bool) -> None:
    """Report what :mod:`.checks` finds: an unstated dt that sets input gains, populations that cannot fire."""
    where = {name: f"node {name!r} ({type(nodes[name]).__name__})" for name in groups}
    hints = {} if stated_dt else {name: checks.dt_hint(nodes[name], dt) for name in groups
                                  if isinstance(nodes[name], nirgraph.NEURONS)}
    if any(hints.values()):
        checks.report(checks.dt_message({where[k]: h for k, h in hints.items() if h}, dt), strict)
    silent = checks.silent_populations(net, checks.HORIZON)
    if not silent:
        return
    by_group = {group.name: name for name, group in groups.items()}
    first = next(iter(silent))
    name, (drive, theta) = by_group[first], silent[first]
    within = f" within {checks.HORIZON} steps" if isinstance(nodes[name], nir.IF) else ""
    text = (f"{where[name]}: no neuron of population {first!r} can reach v_th{within}: with every input spiking in "
            f"every step (bias included) v rises by at most {drive:.3g} V per step, against v_th - v_rest >= "
            f"{theta:.3g} V")
    others = [by_group[k] for k in silent if k != first]
    if others:
        text += f"; nor can the populations of nodes {others}"
    if hints.get(name):
        text += f". The graph has no metadata['dt']; the node's {hints[name]}"
    checks.report(text, strict)


def to_network(nir_graph_or_path: nir.NIRGraph | str | pathlib.Path, dt: float | None = None, *,
               inputs: dict | None = None, seed: int | None = None, precision: str | None = None,
               strict: bool = False) -> neurosim.Network:
    """The engine network of a NIR graph (see the module docstring). ``dt`` defaults to
    ``metadata["dt"]``, ``seed`` and ``precision`` to the exported network's. Group names are the
    node names (made identifiers: ``lif1.lif`` -> ``lif1_lif``). ``strict=True`` raises the import
    warnings (:mod:`.checks`) as ``ValueError``."""
    g = nirgraph.read(nir_graph_or_path)
    meta = nirgraph.metadata(g)
    dt = nirgraph.resolve_dt(dt, g)
    nodes, edges = _ordered(g, meta)
    succ, pred = nirgraph.adjacency(edges)
    inputs = dict(inputs or {})
    unknown = [k for k in inputs if not isinstance(nodes.get(k), nir.Input)]
    if unknown:
        raise ValueError(f"inputs: {unknown[0]!r} is not an Input node of the graph")
    kept = [k for k, n in nodes.items() if not isinstance(n, (nir.Output, nir.Delay, *nirgraph.WEIGHTS))]
    populations = {k for k in kept if not isinstance(nodes[k], nir.Input)}
    paths = _paths(nodes, succ, pred, kept, populations)
    biases = _biases(paths, nodes)
    net = neurosim.Network(dt=dt, seed=int(meta.get("seed", 0)) if seed is None else seed,
                           precision=precision or meta.get("precision", "float64"))
    taken: set[str] = set()
    groups, factors = {}, {}
    for name in kept:
        node, ident = nodes[name], _identifier(name, taken)
        where = f"node {name!r} ({type(node).__name__})"
        try:
            if isinstance(node, nir.Input):
                groups[name] = _source(net, name, ident, node, inputs)
                continue
            size = _size(node)
            model, factors[name] = _neuron(node, size, dt, where, meta)
            if name in biases:
                model = _with_bias(model, factors[name], biases[name], size, dt, ident)
            groups[name] = net.population(ident, size, model)
        except ValueError as e:
            raise e if str(e).startswith("node ") else ValueError(f"{where}: {e}") from None
    for path in paths:
        _connect(net, path, nodes, groups, factors, dt, taken)
    _check(net, nodes, groups, dt, mapping.META_DT in meta, strict)
    return net
