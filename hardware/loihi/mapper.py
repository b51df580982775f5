"""Placement of a :class:`LoihiNetwork` on neuro-cores, checked against a :class:`Profile`.

Each layer gets its own cores (as Lava/netx compiles one process per layer). Neurons are
packed in order, as many per core as the limits allow:

* ``neurons_per_core``: compartments on one core;
* ``synapses_per_core``: the synapses (non-zero weights, recurrent ones included) into the
  core's neurons;
* ``fan_in_per_core``: distinct input axons into the core (the sources with a non-zero
  weight to any of its neurons);
* ``fan_out_per_core``: output axons leaving the core: one per (neuron, destination core)
  pair with at least one synapse there;

then the total (``chips`` x ``cores_per_chip``) and the number formats (``weight_bits``,
``decay_bits``, ``threshold_mantissa_bits``, ``state_bits``) are checked. A limit that cannot
be met (one neuron alone needs more synapses or inputs than a core has, or the cores run
out) raises ``ValueError`` naming it. Layers are placed from the output backwards so that
the fan-out of a core is known when it is packed. The host-driven input layer (direct
current) has no input synapses on the chip.
"""

from __future__ import annotations

import math

import numpy as np

from neurosim.hardware.loihi.quantize import LoihiNetwork, _weight_bits
from neurosim.hardware.profiles import Profile, resolve

NEEDED = ("neurons_per_core", "synapses_per_core", "fan_in_per_core", "cores_per_chip", "chips")


def _nonzero(layer) -> tuple[np.ndarray | None, np.ndarray | None]:
    w = None if layer.weight is None else layer.dense_weight() != 0
    r = None if layer.weight_rec is None else layer.weight_rec != 0
    return w, r


def _pack(name: str, mask: np.ndarray, syn: np.ndarray, limits: dict, fan_out: np.ndarray | None,
          fan_out_limit: float) -> list[tuple[int, int]]:
    """Cores [(start, stop)) of one layer; ``mask`` [N, n_sources] bool (None: no synapses),
    ``syn`` [N] synapses per neuron, ``fan_out`` [N] output axons per neuron."""
    n = syn.shape[0]
    cum_syn = np.concatenate([[0], np.cumsum(syn)])
    cum_out = None if fan_out is None else np.concatenate([[0], np.cumsum(fan_out)])
    npc, spc, fpc = limits["neurons_per_core"], limits["synapses_per_core"], limits["fan_in_per_core"]

    def fits(a: int, b: int) -> bool:
        if b - a > npc or cum_syn[b] - cum_syn[a] > spc:
            return False
        if cum_out is not None and cum_out[b] - cum_out[a] > fan_out_limit:
            return False
        if mask is not None and mask.shape[1] and np.count_nonzero(mask[a:b].any(axis=0)) > fpc:
            return False
        return True

    cores = []
    start = 0
    while start < n:
        if not fits(start, start + 1):
            # name the limit a single neuron breaks
            if syn[start] > spc:
                raise ValueError(f"{name}: neuron {start} has {int(syn[start])} synapses, above synapses_per_core "
                                 f"= {spc:g}")
            if mask is not None and np.count_nonzero(mask[start]) > fpc:
                raise ValueError(f"{name}: neuron {start} has {int(np.count_nonzero(mask[start]))} inputs, above "
                                 f"fan_in_per_core = {fpc:g}")
            raise ValueError(f"{name}: neuron {start} needs {int(fan_out[start])} output axons, above "
                             f"fan_out_per_core = {fan_out_limit:g}")
        lo, hi = start + 1, min(n, start + int(npc))
        while lo < hi:  # largest stop with fits(start, stop): every limit is monotone in stop
            mid = (lo + hi + 1) // 2
            if fits(start, mid):
                lo = mid
            else:
                hi = mid - 1
        cores.append((start, lo))
        start = lo
    return cores


def _inputs(w: np.ndarray | None, r: np.ndarray | None) -> np.ndarray | None:
    """The input mask of a layer's neurons: feed-forward and recurrent sources side by side."""
    parts = [m for m in (w, r) if m is not None]
    return np.hstack(parts) if parts else None


def _fan_out_to_next(k: int, layers, masks, placements) -> np.ndarray:
    """Output axons per neuron of layer ``k`` into the (placed) next layer: its destination cores."""
    out = np.zeros(layers[k].size, np.int64)
    if k + 1 < len(layers) and masks[k + 1][0] is not None:
        out += _dest_count(masks[k + 1][0], placements[k + 1])
    return out


def _dest_count(mask: np.ndarray, cores: list[tuple[int, int]]) -> np.ndarray:
    """Per source neuron: the number of destination cores it has a synapse to (mask [N_dst, N_src])."""
    hits = np.zeros(mask.shape[1], np.int64)
    for a, b in cores:
        hits += mask[a:b].any(axis=0)
    return hits


def map_network(net: LoihiNetwork, profile: Profile) -> dict:
    """Place ``net`` on ``profile``'s cores; returns a JSON-able report or raises ``ValueError``
    naming the limit the model exceeds."""
    profile = resolve(profile, "loihi")
    missing = [k for k in NEEDED if k not in profile.limits]
    if missing:
        raise ValueError(f"profile {profile.name!r}: lacks the limits {', '.join(missing)}")
    limits = {k: profile.limits[k] for k in NEEDED}
    for key, value in limits.items():
        if value < 1:
            raise ValueError(f"profile {profile.name!r}: {key} = {value:g} leaves no room for any neuron")
    fan_out_limit = profile.limits.get("fan_out_per_core", math.inf)
    layers = net.layers
    masks = [_nonzero(layer) for layer in layers]
    placements: list[list[tuple[int, int]] | None] = [None] * len(layers)
    syn_counts = []
    for k, layer in enumerate(layers):
        w, r = masks[k]
        syn = np.zeros(layer.size, np.int64)
        if w is not None:
            syn += w.sum(axis=1)
        if r is not None:
            syn += r.sum(axis=1)
        syn_counts.append(syn)
    for k in range(len(layers) - 1, -1, -1):
        layer = layers[k]
        w, r = masks[k]
        mask = _inputs(w, r)
        fan_out = _fan_out_to_next(k, layers, masks, placements)  # the next layer is already placed
        if r is None:
            placements[k] = _pack(layer.name, mask, syn_counts[k], limits, fan_out, fan_out_limit)
        else:  # recurrent: the own cores add to the fan-out; shrink until it fits
            npc = limits["neurons_per_core"]
            while True:
                trial = _pack(layer.name, mask, syn_counts[k], {**limits, "neurons_per_core": npc}, fan_out,
                              fan_out_limit)
                total = fan_out + _dest_count(r, trial)
                outs = [int(total[a:b].sum()) for a, b in trial]
                if max(outs) <= fan_out_limit:
                    placements[k] = trial
                    break
                if npc <= 1:
                    raise ValueError(f"{layer.name}: a recurrent neuron needs more output axons than "
                                     f"fan_out_per_core = {fan_out_limit:g}")
                npc = max(1, npc // 2)
    per_layer = []
    usage = {"neurons_per_core": 0, "synapses_per_core": 0, "fan_in_per_core": 0, "fan_out_per_core": 0}
    for k, layer in enumerate(layers):
        w, r = masks[k]
        mask = _inputs(w, r)
        out_axons = _fan_out_to_next(k, layers, masks, placements)
        if r is not None:
            out_axons += _dest_count(r, placements[k])
        cores = []
        for a, b in placements[k]:
            fin = 0 if mask is None or not mask.shape[1] else int(np.count_nonzero(mask[a:b].any(axis=0)))
            cores.append({"neurons": b - a, "synapses": int(syn_counts[k][a:b].sum()), "fan_in": fin,
                          "fan_out": int(out_axons[a:b].sum())})
        for key, col in (("neurons_per_core", "neurons"), ("synapses_per_core", "synapses"),
                         ("fan_in_per_core", "fan_in"), ("fan_out_per_core", "fan_out")):
            usage[key] = max(usage[key], max(c[col] for c in cores))
        per_layer.append({"layer": layer.name, "type": layer.kind, "neurons": layer.size,
                          "synapses": int(syn_counts[k].sum()), "cores": len(cores),
                          "neurons_per_core": max(c["neurons"] for c in cores),
                          "synapses_per_core": max(c["synapses"] for c in cores),
                          "fan_in_per_core": max(c["fan_in"] for c in cores),
                          "fan_out_per_core": max(c["fan_out"] for c in cores)})
    total = sum(p["cores"] for p in per_layer)
    cores_available = limits["chips"] * limits["cores_per_chip"]
    if total > cores_available:
        raise ValueError(f"profile {profile.name!r}: the model needs {total} cores, above the limit of "
                         f"chips x cores_per_chip = {cores_available:g}")
    chips = math.ceil(total / limits["cores_per_chip"])
    bits = [_weight_bits(m, mode) for layer in layers
            for m, mode in ((layer.weight, layer.sign_mode), (layer.weight_rec, layer.sign_mode_rec))
            if m is not None and m.size]
    formats = {"weight_bits": max(bits, default=0), "decay_bits": 12, "state_bits": 24,
               "threshold_mantissa_bits": max(int(layer.vth).bit_length() for layer in layers)}
    profile.check({**usage, **formats, "chips": chips})
    return {"profile": profile.name, "cores": total, "chips": chips, "cores_available": int(cores_available),
            "layers": per_layer, "usage": {**usage, **formats}}
