"""Reading NIR graphs: files or graphs, nested subgraphs inlined, metadata decoded, chains walked."""

from __future__ import annotations

import math
import pathlib
from collections import defaultdict

import nir
import numpy as np

#: neuron node types (the ones that hold state)
NEURONS = (nir.LIF, nir.CubaLIF, nir.LI, nir.IF, nir.CubaLI, nir.I)
WEIGHTS = (nir.Affine, nir.Linear)


def read(graph_or_path: nir.NIRGraph | str | pathlib.Path) -> nir.NIRGraph:
    """``graph_or_path`` as a graph (a path is read with ``nir.read``; types are checked by the importers)."""
    if isinstance(graph_or_path, (str, pathlib.Path)):
        return nir.read(graph_or_path, type_check=False)
    if not isinstance(graph_or_path, nir.NIRGraph):
        raise ValueError(f"graph: expected a nir.NIRGraph or a path, got {type(graph_or_path).__name__}")
    return graph_or_path


def _plain(value):
    """A metadata value as written back by ``nir.read`` (bytes, 0-d arrays) as a plain Python value."""
    if isinstance(value, bytes):
        return value.decode("utf8")
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, np.generic):
        return value.item()
    return value


def metadata(node: nir.NIRNode) -> dict:
    """The node's (or graph's) metadata with strings and scalars as Python values."""
    meta = getattr(node, "metadata", None)
    return {k: _plain(v) for k, v in meta.items()} if isinstance(meta, dict) else {}


#: reset metadata values (snnTorch's ``reset_mechanism`` names and neurosim's) -> reset
RESETS = {"zero": "hard", "hard": "hard", "subtract": "soft", "soft": "soft"}
RESET_KEYS = ("reset_mechanism", "reset")


def reset(node: nir.NIRNode, graph_meta: dict, where: str) -> tuple[str, bool | None]:
    """(reset, reset_delay) of a neuron node from its metadata, else the graph's: ``reset_mechanism`` or
    ``reset`` ("zero"/"hard": v <- v_reset; "subtract"/"soft": v -= v_threshold - v_reset) and
    ``reset_delay`` (None when not stated). NIR itself has no reset field: "hard" by default."""
    sources = ((metadata(node), f"{where}.metadata"), (graph_meta, "graph.metadata"))
    for meta, at in sources:
        key = next((k for k in RESET_KEYS if k in meta), None)
        if key is None:
            continue
        kind = RESETS.get(str(meta[key]).lower())
        if kind is None:
            raise ValueError(f"{at}[{key!r}]: {meta[key]!r} is not a reset the importers know; use 'zero' / 'hard' "
                             f"(v <- v_reset) or 'subtract' / 'soft' (v -= v_threshold - v_reset)")
        delay = next((m["reset_delay"] for m, _ in sources if "reset_delay" in m), None)
        return kind, None if delay is None else bool(delay)
    return "hard", None


def resolve_dt(dt: float | None, graph: nir.NIRGraph) -> float:
    """The time step: ``dt`` if given (it must agree with ``metadata["dt"]`` when the graph has one),
    else the graph's ``metadata["dt"]``; a ``ValueError`` naming ``dt`` if neither is there."""
    stored = metadata(graph).get("dt")
    if dt is None:
        if stored is None:
            raise ValueError("dt: the graph has no metadata['dt'] (NIR stores no time step); pass dt= in seconds, "
                             "e.g. 1e-4 for graphs exported by snnTorch")
        dt = stored
    if isinstance(dt, bool) or not isinstance(dt, (int, float)) or not (0 < float(dt) < math.inf):
        raise ValueError(f"dt: must be a time step > 0 in seconds, got {dt!r}")
    if stored is not None and float(stored) != float(dt):
        raise ValueError(f"dt: the graph was exported for dt = {stored!r} s (metadata['dt']), got dt = {dt!r} s")
    return float(dt)


def flatten(graph: nir.NIRGraph, prefix: str = "") -> tuple[dict[str, nir.NIRNode], list[tuple[str, str]]]:
    """Nodes and edges with nested ``NIRGraph`` nodes inlined (their names prefixed ``name.``): an edge
    into a subgraph goes to the nodes after its Input, an edge out of it leaves from the nodes before
    its Output. Duplicate edges are dropped."""
    nodes: dict[str, nir.NIRNode] = {}
    edges: list[tuple[str, str]] = []
    entries: dict[str, list[str]] = {}
    exits: dict[str, list[str]] = {}
    for name, node in graph.nodes.items():
        full = prefix + name
        if isinstance(node, nir.NIRGraph):
            inner, inner_edges = flatten(node, full + ".")
            ins = [k for k, n in inner.items() if isinstance(n, nir.Input)]
            outs = [k for k, n in inner.items() if isinstance(n, nir.Output)]
            entries[full] = [b for a, b in inner_edges if a in ins]
            exits[full] = [a for a, b in inner_edges if b in outs]
            nodes.update({k: n for k, n in inner.items() if k not in ins and k not in outs})
            edges.extend((a, b) for a, b in inner_edges if a not in ins and b not in outs)
        else:
            nodes[full] = node
    for a, b in graph.edges:
        a, b = prefix + str(a), prefix + str(b)
        for src in exits.get(a, [a]):
            for dst in entries.get(b, [b]):
                edges.append((src, dst))
    for a, b in edges:
        for end in (a, b):
            if end not in nodes:
                raise ValueError(f"graph.edges: ({a!r}, {b!r}) names a node {end!r} that is not in the graph")
    return nodes, list(dict.fromkeys(edges))


def adjacency(edges: list[tuple[str, str]]) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    succ: dict[str, list[str]] = defaultdict(list)
    pred: dict[str, list[str]] = defaultdict(list)
    for a, b in edges:
        succ[a].append(b)
        pred[b].append(a)
    return succ, pred


def chain(nodes: dict[str, nir.NIRNode], edges: list[tuple[str, str]]) -> tuple[str, list[str], dict[str, str]]:
    """Walk a graph that is a chain ``Input -> ... -> Output`` whose neuron nodes may each have one
    recurrent ``Affine``/``Linear`` loop. Returns (input name, the nodes in order without Input and
    Output, {neuron: its recurrent weight node}); a ``ValueError`` names the node where the graph
    branches or merges."""
    succ, pred = adjacency(edges)
    inputs = [k for k, n in nodes.items() if isinstance(n, nir.Input)]
    if len(inputs) != 1:
        raise ValueError(f"graph: a layer chain needs exactly one Input node, found {len(inputs)} {inputs}")
    for a, b in edges:
        if a == b:
            raise ValueError(f"node {a!r}: an edge onto itself is not supported; put an Affine/Linear in the loop")
    order: list[str] = []
    recurrent: dict[str, str] = {}
    current, seen = inputs[0], {inputs[0]}
    while True:
        after = list(succ[current])
        if isinstance(nodes[current], NEURONS):
            loops = [s for s in after if isinstance(nodes[s], WEIGHTS) and succ[s] == [current] and pred[s] == [current]]
            if len(loops) > 1:
                raise ValueError(f"node {current!r}: has {len(loops)} recurrent loops {loops}; at most one is supported")
            if loops:
                recurrent[current] = loops[0]
                after.remove(loops[0])
                seen.add(loops[0])
        if not after:
            break
        if len(after) > 1:
            raise ValueError(f"node {current!r}: feeds {len(after)} nodes {after}; a layer chain does not branch")
        nxt = after[0]
        inputs_of_next = [p for p in pred[nxt] if p != recurrent.get(nxt, None) and p != current]
        if inputs_of_next:
            # the recurrent loop of nxt is only known once nxt is visited: accept a weight node looping on nxt
            loop = [p for p in inputs_of_next if isinstance(nodes[p], WEIGHTS) and pred[p] == [nxt] and succ[p] == [nxt]]
            if len(inputs_of_next) != len(loop) or len(loop) > 1:
                raise ValueError(f"node {nxt!r}: has inputs {pred[nxt]}; a layer chain does not merge")
        if nxt in seen:
            raise ValueError(f"node {nxt!r}: a cycle other than a neuron's recurrent loop is not supported")
        seen.add(nxt)
        if isinstance(nodes[nxt], nir.Output):
            break
        order.append(nxt)
        current = nxt
    left = [k for k, n in nodes.items() if k not in seen and not isinstance(n, nir.Output)]
    if left:
        raise ValueError(f"node {left[0]!r}: is not on the chain from {inputs[0]!r} to the output")
    return inputs[0], order, recurrent
