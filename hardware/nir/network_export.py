"""Engine Network -> NIR graph (SI units), and ``export_network`` for ``neurosim export`` of a
``simulate`` scenario.

======================================  ==========================================================
engine                                  NIR
======================================  ==========================================================
SpikeSource / PoissonSource ``name``    Input ``name`` (shape [n]); the stimulus (times and indices,
                                        or rate/start/stop) is kept in the node's metadata
Population of ``LIF``                   LIF ``name``: τ_E = dt/(1 - e^(-dt/τ_m)), r = τ_E P_vv/dt,
                                        v_leak = v_rest, v_threshold = v_th, v_reset (volts)
Population of ``CubaLIF``               CubaLIF ``name``: τ_syn,E, w_in = τ_syn,E/dt, τ_mem,E,
                                        r = τ_mem,E P_vs/dt (V/A)
Projection ``p``, delay 0               Linear ``p`` (weight [post, pre], volts or amperes):
                                        pre -> p -> post
synapses of ``p`` with delay d steps    Linear ``p_d<d>`` -> Delay ``p_d<d>_delay`` (d·dt seconds,
                                        one per postsynaptic neuron) -> post
every population                        Output ``<name>_output``
======================================  ==========================================================

(the mapping and why these τ make an Euler consumer reproduce the exact integration:
:mod:`neurosim.hardware.nir.mapping`). A recurrent projection is simply a cycle. With delay 0
the engine adds a weight at the spike's own time (the step boundary where the spike is recorded),
which is what an undelayed NIR edge means in continuous time; a spike at ``t`` with delay ``d``
steps arrives at ``t + d·dt`` in both.
A discrete-time consumer (nirtorch, snnTorch, Norse) numbers the engine's step m+1 as its step m
and passes a population's spikes to the next population within the same step, so it runs an
exported network with one step less latency on every population -> population edge (sources ->
population and recurrent edges agree step for step, see ``tests/test_nir.py``); for the engine's
spikes import the graph back with :func:`neurosim.hardware.nir.to_network`.

Refused with a ``ValueError`` naming the field: soft reset (NIR resets to v_reset), a refractory
period of a step or more, a bias current, current injections, plasticity and modulators,
CubaLIF with ``tau_syn_exc != tau_syn_inh`` (NIR has one synaptic current), and initial
potentials other than v_rest. Weight matrices are dense (NIR has no sparse format); parallel
synapses between one pair with the same delay are summed.
"""

from __future__ import annotations

import json
import pathlib

import nir
import numpy as np

import neurosim
from neurosim.hardware.nir import mapping
from neurosim.hardware.nir.graph_export import write_checked
from neurosim.population import PoissonSource, Population, SpikeSource

SOURCE = "neurosim.hardware.nir"


def _check_population(pop: Population, dt: float) -> dict:
    model, where = pop.model, f"population.{pop.name}"
    if not isinstance(model, neurosim.LIF):
        raise ValueError(f"{where}.model: {type(model).__name__} has no NIR node (LIF and CubaLIF export)")
    p = model.per_neuron(pop.size, pop.name)
    if model.reset != "hard":
        raise ValueError(f"{where}.reset: {model.reset!r} (v -= v_th - v_reset) has no NIR equivalent; NIR neurons "
                         f"reset to v_reset (use reset='hard')")
    if np.any(np.floor(p["t_ref"] / dt + 1e-9) > 0):
        raise ValueError(f"{where}.t_ref: NIR neurons have no refractory period; need t_ref < dt = {dt:g} s, "
                         f"got {model.t_ref!r} s")
    if np.any(p["i_bias"] != 0):
        raise ValueError(f"{where}.i_bias: NIR neurons have no bias current; need 0, got {model.i_bias!r} A")
    if isinstance(model, neurosim.CubaLIF) and np.any(p["tau_syn_exc"] != p["tau_syn_inh"]):
        raise ValueError(f"{where}.tau_syn_inh: NIR CubaLIF has one synaptic current; need tau_syn_inh = "
                         f"tau_syn_exc, got {model.tau_syn_inh!r} s and {model.tau_syn_exc!r} s")
    if pop.v_init is not None:
        v0 = pop.initial_v(np.random.default_rng(0)) if not hasattr(pop.v_init, "sample") else None
        if v0 is None or np.any(v0 != p["v_rest"]):
            raise ValueError(f"{where}.v_init: NIR neurons start at rest (v_leak); got {pop.v_init!r}")
    return p


def _population_node(pop: Population, dt: float) -> nir.NIRNode:
    p = _check_population(pop, dt)
    common = dict(v_leak=p["v_rest"], v_threshold=p["v_th"], v_reset=p["v_reset"])
    if isinstance(pop.model, neurosim.CubaLIF):
        q = mapping.engine_cuba(p["tau_m"], p["tau_syn_exc"], p["c_m"], dt)
        return nir.CubaLIF(tau_syn=q["tau_syn"], tau_mem=q["tau_mem"], r=q["r"], w_in=q["w_in"], **common,
                           metadata={"model": "CubaLIF", "tau_m": p["tau_m"], "tau_syn": p["tau_syn_exc"],
                                     "c_m": p["c_m"]})
    q = mapping.engine_lif(p["tau_m"], dt)
    return nir.LIF(tau=q["tau"], r=q["r"], **common, metadata={"model": "LIF", "tau_m": p["tau_m"], "c_m": p["c_m"]})


def _source_node(group) -> nir.NIRNode:
    meta: dict = {}
    if isinstance(group, SpikeSource):
        meta["source"] = "spike_source"
        if group.times.size:
            meta.update(times=np.asarray(group.times, np.float64), indices=np.asarray(group.indices, np.int64))
    elif isinstance(group, PoissonSource):
        meta.update(source="poisson_source", rate=np.broadcast_to(np.asarray(group.rate, np.float64), (group.size,)).copy(),
                    start=float(group.start), stop=float(group.stop))
    else:
        raise ValueError(f"population.{group.name}: {type(group).__name__} has no NIR node")
    return nir.Input(input_type={"input": np.array([group.size])}, metadata=meta)


def network_to_nir(net: neurosim.Network, dt: float | None = None, outputs: list[str] | None = None
                   ) -> nir.NIRGraph:
    """The NIR graph of the engine network ``net``. ``dt`` (s, default ``net.dt``) is the time step of
    the consumer the time constants are chosen for; ``outputs`` names the populations that get an
    Output node (default: all)."""
    if not isinstance(net, neurosim.Network):
        raise ValueError(f"net: expected a neurosim.Network, got {type(net).__name__}")
    dt = net.dt if dt is None else float(dt)
    if not dt > 0:
        raise ValueError(f"dt: must be a time step > 0 in seconds, got {dt!r}")
    if net.currents:
        raise ValueError(f"current.target: current injection into {net.currents[0].target.name!r} has no NIR "
                         f"equivalent (NIR graphs take spikes at their Input nodes)")
    if net.modulators:
        raise ValueError(f"modulator.{net.modulators[0].name}: plasticity does not export to NIR")
    nodes: dict[str, nir.NIRNode] = {}
    for group in net.groups:
        nodes[group.name] = _population_node(group, dt) if isinstance(group, Population) else _source_node(group)
    edges: list[tuple[str, str]] = []
    for proj in net.projections:
        if proj.plasticity is not None:
            raise ValueError(f"connection.{proj.name}.plasticity: NIR has no plasticity; the weights would change")
        syn = proj.synapses
        pre, post = syn.pre.astype(np.int64), syn.post.astype(np.int64)
        delays = np.unique(syn.delay)
        for d in delays:
            name = proj.name if len(delays) == 1 and d == 0 else f"{proj.name}_d{int(d)}"
            for used in (name, f"{name}_delay"):
                if used in nodes:
                    raise ValueError(f"connection.{proj.name}: the node name {used!r} is taken")
            sel = syn.delay == d
            weight = np.zeros((proj.post.size, proj.pre.size))
            np.add.at(weight, (post[sel], pre[sel]), syn.weight[sel].astype(np.float64))
            nodes[name] = nir.Linear(weight=weight, metadata={"projection": proj.name, "receptor": proj.receptor})
            edges.append((proj.pre.name, name))
            if d == 0:
                edges.append((name, proj.post.name))
            else:
                nodes[f"{name}_delay"] = nir.Delay(delay=np.full(proj.post.size, float(d) * net.dt))
                edges += [(name, f"{name}_delay"), (f"{name}_delay", proj.post.name)]
    for name in outputs if outputs is not None else [p.name for p in net.populations]:
        pop = next((p for p in net.populations if p.name == name), None)
        if pop is None:
            raise ValueError(f"outputs: {name!r} is not a population of the network")
        nodes[f"{name}_output"] = nir.Output(output_type={"output": np.array([pop.size])})
        edges.append((name, f"{name}_output"))
    meta = {"source": SOURCE, "kind": "network", mapping.META_DT: float(dt), "engine_dt": float(net.dt),
            "seed": int(net.seed), "precision": net.precision, "units": "SI (s, V, A; weights in V onto LIF, A onto "
            "CubaLIF)", "reset": mapping.RESET, "reset_doc": mapping.RESET_DOC,
            "threshold": "v >= v_threshold (the engine; NIR says v > v_threshold: equal except on exact ties)",
            "discretization": mapping.DISCRETIZATION + "; tau chosen so the Euler decay equals the exact one",
            # HDF5 lists nodes by name; the engine's group and projection order is kept here
            "node_order": json.dumps(list(nodes))}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta)


def export_network(net: neurosim.Network, dt: float | None, out: pathlib.Path) -> dict:
    """Write :func:`network_to_nir` of ``net`` to ``out`` (``nir.write``, read back to check it);
    returns a JSON-able report."""
    g = network_to_nir(net, dt)
    out = pathlib.Path(out)
    write_checked(g, out)
    n_delay = sum(isinstance(n, nir.Delay) for n in g.nodes.values())
    return {"format": "nir", "file": str(out), "nir_version": nir.version, "dt": float(g.metadata["dt"]),
            "nodes": len(g.nodes), "edges": len(g.edges), "neurons": sum(p.size for p in net.populations),
            "synapses": sum(p.synapses.n_synapses for p in net.projections), "delay_nodes": n_delay,
            "node_types": {name: type(node).__name__ for name, node in g.nodes.items()}}
