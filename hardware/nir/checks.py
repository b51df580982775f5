"""Import checks for the traps NIR leaves open: a time step the graph does not state, and layers
that can never fire.

**Time convention.** NIR stores no time step. Without ``metadata["dt"]`` the caller's ``dt`` sets
every neuron's input gain (:mod:`neurosim.hardware.nir.mapping`: ``r·dt`` for IF, ``dt·r/τ`` for
LIF), and tools disagree on what the numbers mean: Norse and Sinabs write IF with ``r = 1`` and add
the input once per step whatever dt is (snnTorch reads IF only with ``r = 1``), while Euler tools
(neurosim, SpikingJelly) write ``r = 1/dt``; snnTorch writes LIF with ``r = τ/dt`` for its fixed
``dt = 1e-4``. :func:`dt_hint` names each node whose gain at the given dt is not 1 and the dt that
makes it 1 (IF: ``1/r``; LIF with ``r != 1``: ``τ/r``). LIF-type nodes with ``r = 1`` (Norse's
Euler form, gain ``dt/τ``) are not flagged: their dt is a free choice.

**Layers that can never fire.** A neuron starting at rest whose largest possible input per step
``D`` (every presynaptic neuron spiking in every step, positive weights and biases only) gives a
membrane bound below its threshold never spikes, whatever the input::

    leaky (β < 1):  u_t < D/(1-β)        CubaLIF: D is first divided by (1-α)
    no leak (β = 1): u_t <= t·D           (checked over a horizon of max(steps, HORIZON) steps)

The bound is sound for hard and soft reset (nothing resets before a first spike) and is applied
to a set of neurons at once (a recurrent population that has not fired gets no recurrent input).
Inputs of unknown range (the graph's Input for a LayerGraph, an engine spike source without
spikes) count as unbounded for a LayerGraph and as one spike per step for the engine. Only
layers or populations none of whose neurons can fire are reported (single dead neurons are
common in trained networks). Reports are :class:`NIRImportWarning` (a ``UserWarning``) or, with
``strict=True``, ``ValueError``.
"""

from __future__ import annotations

import warnings

import nir
import numpy as np

from neurosim.hardware.graph import Affine, Conv2d, Flatten, LayerGraph, Leaky, Spiking, SumPool2d
from neurosim.hardware.nir import mapping
from neurosim.hardware.nir.mapping import as_array, tolerance
from neurosim.network import Network
from neurosim.population import PoissonSource, Population, SpikeSource

#: steps over which a neuron without leak must be able to reach its threshold
HORIZON = 1000
#: relative margin so that rounding in a simulation cannot exceed a bound we call unreachable
MARGIN = 1e-6


class NIRImportWarning(UserWarning):
    """An imported NIR graph probably does not compute what its author meant (see :mod:`.checks`)."""


def report(message: str, strict: bool) -> None:
    """Raise ``message`` as a ``ValueError`` when ``strict``, else warn with :class:`NIRImportWarning`."""
    if strict:
        raise ValueError(message)
    warnings.warn(message, NIRImportWarning, stacklevel=4)  # report <- _check <- from_nir / to_network <- caller


def span(values: np.ndarray) -> str:
    """``values`` as one number or a range, 3 significant digits."""
    lo, hi = f"{float(np.min(values)):.3g}", f"{float(np.max(values)):.3g}"
    return lo if lo == hi else f"{lo} to {hi}"


def _uniform(values: np.ndarray, *stored) -> float | None:
    """The common value of ``values`` (equal within rounding of the ``stored`` arrays), else None."""
    values = np.asarray(values, np.float64).reshape(-1)
    ref = float(values[0])
    return ref if np.isfinite(ref) and np.all(np.abs(values - ref) <= tolerance(*stored) * abs(ref)) else None


def dt_hint(node: nir.NIRNode, dt: float, tau_scale: float = 1.0) -> str | None:
    """For a graph without ``metadata["dt"]``: what the dt passed does to ``node``'s input gain when it is
    not 1, and the dt that makes it 1 (None when the gain is 1 or dt is free: LIF-type nodes with
    r = 1, Norse's form); ``tau_scale`` converts the stored τ to seconds."""
    if isinstance(node, nir.IF):
        gain = mapping.if_gain(node.r, dt, stored=node.r)
        if np.all(gain == 1):
            return None
        r = as_array(node.r)
        fix = _uniform(1.0 / r.astype(np.float64), r)
        return (f"input gain r·dt is {span(gain)} (v += {span(gain)}·I per step), but tools that write IF with r = 1 "
                f"(Norse, Sinabs) add I once per step: for that, pass dt={'1/r' if fix is None else f'{fix:g}'}")
    if not isinstance(node, (nir.LIF, nir.LI, nir.CubaLIF)) or np.all(as_array(node.r) == 1):
        return None
    gain = mapping.lif_gain(node, dt, tau_scale)
    if np.all(gain == 1):
        return None
    tau, r = as_array(node.tau_mem if isinstance(node, nir.CubaLIF) else node.tau), as_array(node.r)
    written = _uniform(tau.astype(np.float64) * tau_scale / r.astype(np.float64), tau, r)
    if written is None:
        return f"input gain is {span(gain)}, set by the dt passed"
    return (f"input gain is {span(gain)}, but r = τ/{written:g} s is snnTorch's convention r = τ/dt for "
            f"dt = {written:g} s: for that, pass dt={written:g}")


def dt_message(hints: dict[str, str], dt: float) -> str:
    """The warning for a graph without ``metadata["dt"]`` imported at ``dt``: ``hints`` maps the nodes
    (as named in messages) to their :func:`dt_hint`; nodes with the same hint are listed together."""
    groups: dict[str, list[str]] = {}
    for where, hint in hints.items():
        groups.setdefault(hint, []).append(where)
    parts = [f"{', '.join(wheres)}: {hint}" for hint, wheres in groups.items()]
    return (f"dt: the graph has no metadata['dt'], so the dt passed ({dt:g} s) sets the input gain of its neurons, "
            f"and tools disagree on it. " + "; ".join(parts) + ". If the graph was written for this dt, set "
            "graph.metadata['dt'] to say so")


# ----------------------------------------------------------------- bounds

def never_fires(drive: np.ndarray, beta: np.ndarray, theta: np.ndarray, horizon: int) -> np.ndarray:
    """Per neuron: whether a membrane starting 0 below ``theta`` (> 0 for it to be true) and rising by at
    most ``drive`` per step, decaying by ``beta``, stays at or below it (β = 1: within ``horizon`` steps)."""
    drive, beta = np.maximum(np.asarray(drive, np.float64), 0.0), np.asarray(beta, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        bound = np.where(beta < 1, drive / (1.0 - beta), horizon * drive)
    return bound * (1.0 + MARGIN) < np.asarray(theta, np.float64)


def _conv_positive(a: np.ndarray, layer: Conv2d) -> np.ndarray:
    """Layer ``layer`` with its negative weights and biases set to 0 applied to ``a`` >= 0 (C, H, W)."""
    w = np.maximum(layer.weight, 0.0)
    (ph, pw), (sh, sw) = layer.padding, layer.stride
    xp = np.pad(a.reshape(layer.input_shape), ((0, 0), (ph, ph), (pw, pw)))
    co, ho, wo = layer.out_shape
    out = np.zeros((co, ho, wo))
    for i in range(w.shape[2]):
        for j in range(w.shape[3]):
            patch = xp[:, i:i + sh * (ho - 1) + 1:sh, j:j + sw * (wo - 1) + 1:sw]
            out += np.einsum("oc,chw->ohw", w[:, :, i, j], patch)
    bias = np.zeros(co) if layer.bias is None else np.maximum(layer.bias, 0.0)
    return (out + bias[:, None, None]).reshape(-1)


def positive_input(layer, a: np.ndarray) -> np.ndarray:
    """The largest output of synapse ``layer`` for inputs between 0 and ``a`` (flat, >= 0)."""
    if isinstance(layer, Affine):
        bias = 0.0 if layer.bias is None else np.maximum(layer.bias, 0.0)
        return np.maximum(layer.weight, 0.0) @ a + bias
    if isinstance(layer, Conv2d):
        return _conv_positive(a, layer)
    if isinstance(layer, SumPool2d):
        c, h, w = layer.input_shape
        k = layer.kernel
        x = a.reshape(c, h, w)[:, :h // k * k, :w // k * k].reshape(c, h // k, k, w // k, k)
        return x.sum(axis=(2, 4)).reshape(-1) * layer.scale
    assert isinstance(layer, Flatten)
    return a


def _synapse_gain(alpha: np.ndarray | None, size: int) -> np.ndarray:
    """Largest synaptic current per unit of input per step: 1 (LIF), 1/(1-α) (CubaLIF; inf for α = 1)."""
    if alpha is None:
        return np.ones(size)
    with np.errstate(divide="ignore"):
        return np.where(alpha < 1, 1.0 / (1.0 - alpha), np.inf)


def _silent_neurons(layer: Spiking, x: np.ndarray, horizon: int) -> np.ndarray:
    """The largest set of neurons of ``layer`` that never fire with feed-forward input at most ``x`` per
    step (neurons outside it may fire and drive the others through the recurrent weights)."""
    gain = _synapse_gain(layer.alpha, layer.size)
    rec = None if layer.recurrent is None else np.maximum(layer.recurrent, 0.0)
    silent = np.ones(layer.size, dtype=bool)
    while True:
        total = x if rec is None else x + rec @ (~silent).astype(np.float64)
        with np.errstate(invalid="ignore"):
            now = silent & never_fires(total * gain, layer.beta, layer.threshold, horizon)
        if np.array_equal(now, silent):
            return now
        silent = now


def silent_layer(graph: LayerGraph, horizon: int) -> tuple[int, float] | None:
    """(index of the first spiking layer none of whose neurons can fire, its largest input per step), or
    None. The layers before the first spiking layer get the graph's input (unknown range): not checked."""
    a: np.ndarray | None = None
    for index, layer in enumerate(graph.layers):
        if isinstance(layer, Spiking):
            if a is not None:
                silent = _silent_neurons(layer, a, horizon)
                if np.all(silent):
                    return index, float(np.max(a))
                a = (~silent).astype(np.float64)
            else:
                a = np.ones(layer.size)
        elif isinstance(layer, Leaky):
            a = None
        elif a is not None:
            a = positive_input(layer, a)
    return None


# ----------------------------------------------------------------- engine networks

def _source_rate(group) -> np.ndarray:
    """Most spikes per step of each source neuron (one per step when a spike source has no spikes yet)."""
    if isinstance(group, PoissonSource):
        return np.broadcast_to(np.asarray(group.rate, np.float64) > 0, (group.size,)).astype(np.float64)
    if isinstance(group, SpikeSource) and group.indices.size:
        keys, counts = np.unique(group.steps.astype(np.int64) * group.size + group.indices, return_counts=True)
        most = np.zeros(group.size)
        np.maximum.at(most, keys % group.size, counts.astype(np.float64))
        return most
    return np.ones(group.size)


def _table(model, n: int, dt: float, name: str) -> dict[str, np.ndarray]:
    """The exact propagators of a LIF / CubaLIF population (from its compiled rows), with v_th,
    v_rest and i_bias: ``v' - v_rest = p_vv (v - v_rest) + p_ve i_e + p_vi i_i + p_vI i``."""
    rows, _ = model.kernel_rows(n, dt, name)
    p = model.per_neuron(n, name)
    zero = np.zeros(n)
    return {"p_vv": rows["_P_v_v"], "p_vI": rows["_H_v"], "p_ve": rows.get("_P_v_i_exc", zero),
            "p_vi": rows.get("_P_v_i_inh", zero), "d_e": rows.get("_P_i_exc_i_exc", zero),
            "d_i": rows.get("_P_i_inh_i_inh", zero), "v_th": p["v_th"], "v_rest": p["v_rest"], "i_bias": p["i_bias"]}


def _jump(model, table: dict) -> np.ndarray:
    """Largest rise of v - v_rest per unit of positive weight arriving in one step (V per V or per A)."""
    if model.weight_dimension == "voltage":
        return table["p_vv"]
    with np.errstate(divide="ignore"):
        return np.maximum(table["p_ve"] / (1.0 - table["d_e"]), table["p_vi"] / (1.0 - table["d_i"]))


def _incoming(net: Network, rate: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per population: the sum of positive weights times the presynaptic spikes per step."""
    total = {p.name: np.zeros(p.size) for p in net.populations}
    for proj in net.projections:
        syn = proj.synapses
        if proj.plasticity is not None:
            total[proj.post.name][:] = np.inf
            continue
        weight = np.maximum(np.asarray(syn.weight, np.float64), 0.0) * rate[proj.pre.name][syn.pre]
        total[proj.post.name] += np.bincount(syn.post, weights=weight, minlength=proj.post.size)
    return total


def silent_populations(net: Network, horizon: int) -> dict[str, tuple[float, float]]:
    """Populations of ``net`` none of whose neurons can reach v_th from rest (without leak: within
    ``horizon`` steps): {name: (largest depolarisation per step, smallest v_th - v_rest)}. Populations
    with injected currents or initial potentials are not checked."""
    pops = net.populations
    tables = {p.name: _table(p.model, p.size, net.dt, p.name) for p in pops}
    free = {c.target.name for c in net.currents} | {p.name for p in pops if p.v_init is not None}
    silent = {p.name: np.full(p.size, p.name not in free) for p in pops}
    sources = {g.name: _source_rate(g) for g in net.groups if not isinstance(g, Population)}
    drive: dict[str, np.ndarray] = {}
    while True:
        rate = {**sources, **{name: (~s).astype(np.float64) for name, s in silent.items()}}
        incoming = _incoming(net, rate)
        changed = False
        for p in pops:
            t = tables[p.name]
            with np.errstate(invalid="ignore"):
                drive[p.name] = _jump(p.model, t) * incoming[p.name] + t["p_vI"] * t["i_bias"]
                now = silent[p.name] & never_fires(drive[p.name], t["p_vv"], t["v_th"] - t["v_rest"], horizon)
            changed |= not np.array_equal(now, silent[p.name])
            silent[p.name] = now
        if not changed:
            break
    return {p.name: (float(np.max(drive[p.name])), float(np.min(tables[p.name]["v_th"] - tables[p.name]["v_rest"])))
            for p in pops if p.size and np.all(silent[p.name])}
