"""How much memory a network will need, estimated before anything is allocated.

The estimate is the peak while the layout is built (generation of the synapses, the merged
CSR, the ring buffer, per-neuron tables and state), measured with ``tracemalloc`` on float64
networks (``tests/test_footprint.py`` checks that it bounds the measured peak):

- the merged CSR: an int32 target, a weight and a delay (1, 2 or 4 bytes: the smallest
  unsigned type that holds the longest delay in steps) per synapse;
- while the synapses are generated, about 140 B per synapse of the block being generated,
  in as many projections at once as there are construction threads (their largest blocks);
- up to 220 B per plastic synapse for the plasticity indices (triplet and same-step
  columns included);
- about 350 B per neuron (tables, state, recording buffers), plus the ring buffer beyond
  two slots, ``3 · itemsize`` bytes per neuron and slot.

Synapse counts are the connectors' expected counts (:meth:`Connector.expected_synapses`).
The network is read duck-typed (its ``projections``, ``populations``, ``groups``, ``monitors``,
``dt`` and ``precision``): the engine imports no network module.
"""

from __future__ import annotations

import math
import os
import tracemalloc
from dataclasses import dataclass
from typing import Any

import numpy as np

from neurosim.connectivity.initializers import Constant, Normal, Uniform
from neurosim.engine.layout import ring_length
from neurosim.engine.placement import construction_threads, delay_dtype
from neurosim.units import parse_quantity

#: bytes per synapse of a block while it is generated (temporaries), and per plastic synapse
BYTES_PER_GENERATED_SYNAPSE = 140
BYTES_PER_PLASTIC_SYNAPSE = 220
BYTES_PER_NEURON = 360
GIB = float(1 << 30)
#: the estimate is at most this factor above the measured peak (tested)
OVERESTIMATE = 2.0


@dataclass(frozen=True)
class Footprint:
    """Estimated peak bytes of a network's layout, with the largest projection named."""

    synapses: float
    neurons: float
    ring_buffer: float
    largest: str
    largest_synapses: float

    @property
    def total(self) -> float:
        return self.synapses + self.neurons + self.ring_buffer

    def describe(self) -> str:
        return (f"about {self.total / GIB:.3g} GiB ({self.synapses / GIB:.3g} GiB of synapses, "
                f"{self.largest_synapses:.3g} of them in the largest projection, {self.largest!r}; "
                f"{(self.neurons + self.ring_buffer) / GIB:.3g} GiB of neuron state and delay buffer)")


def max_delay_s(projection: Any) -> float:
    """The largest delay (s) a projection can draw."""
    given = getattr(projection.connector, "delay", None)
    if given is not None:
        return float(np.max(given)) if np.size(given) else 0.0
    d = projection.delay
    if isinstance(d, Constant):
        return _seconds(d.value)
    if isinstance(d, Uniform):
        return _seconds(d.high)
    if isinstance(d, Normal):
        return _seconds(d.high) if d.high is not None else _seconds(d.mean) + 6 * _seconds(d.std)
    return 0.0


def _seconds(value: object) -> float:
    return parse_quantity(value, "time", "delay")


def estimate(net: Any, threads: int = 1) -> Footprint:
    """The estimated peak memory of ``net``'s layout, built by ``threads`` threads."""
    per_projection, block = {}, []
    plastic = 0.0
    for p in net.projections:
        n = p.connector.expected_synapses(p.pre.size, p.post.size, p.pre is p.post,
                                          getattr(p.pre, "positions", None), p.post.positions)
        per_projection[p.name] = n
        block.append(n * max(b - a for a, b, _ in p.blocks) / max(p.post.size, 1))
        plastic += n if p.plasticity is not None else 0.0
    n_syn = sum(per_projection.values())
    generating = sum(sorted(block, reverse=True)[:threads])
    largest = max(per_projection, key=per_projection.get, default="")
    neurons = sum(g.size for g in net.populations)
    elements = sum(g.size for g in net.groups)
    longest = max((max_delay_s(p) for p in net.projections), default=0.0)
    slots = ring_length(round(longest / net.dt))
    itemsize = np.dtype(net.precision).itemsize
    held = 4 + itemsize + delay_dtype(round(longest / net.dt)).itemsize
    return Footprint(
        synapses=n_syn * held + generating * BYTES_PER_GENERATED_SYNAPSE + plastic * BYTES_PER_PLASTIC_SYNAPSE,
        neurons=neurons * BYTES_PER_NEURON + (elements - neurons) * 64,
        ring_buffer=max(0, slots - 2) * 3 * neurons * itemsize,
        largest=largest,
        largest_synapses=per_projection.get(largest, 0.0),
    )


def resident_synapse_bytes(net: Any) -> tuple[int, int]:
    """``(synapses, bytes)`` that the built network keeps for its synapses: the layout's merged CSR
    (targets, weights, delays, row pointers, per-row tables), its plasticity indices and traces,
    and where each projection lies in it (read from the arrays, not estimated)."""
    layout = net.layout
    syn, pl = layout.syn, layout.plastic
    held = sum(a.nbytes for a in (syn.indptr, syn.target, syn.weight, syn.delay, syn.row_delay, syn.row_weight,
                                  syn.row_uniform))
    held += sum(a.nbytes for a in pl if isinstance(a, np.ndarray))
    held += sum(p.placed.row_start.nbytes + p.placed.counts.nbytes for p in net.projections)
    return int(syn.target.size), held


def build_peak_bytes(net: Any) -> int:
    """Build ``net``'s layout and return the peak of the memory allocated meanwhile (``tracemalloc``:
    every NumPy array and Python object; the neuron tables and recording buffers included)."""
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    try:
        net.layout
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        if started:
            tracemalloc.stop()


def _read(path: str) -> str:
    with open(path, encoding="ascii") as f:
        return f.read()


def available_memory() -> float:
    """Bytes this process may still allocate: MemAvailable, capped by a cgroup v2 limit less the
    cgroup's memory in use (its reclaimable file cache not counted as used)."""
    limits = []
    try:
        meminfo = dict(line.split(":", 1) for line in _read("/proc/meminfo").splitlines() if ":" in line)
        limits.append(float(meminfo["MemAvailable"].split()[0]) * 1024)
    except (OSError, KeyError, ValueError):
        pass
    try:
        raw = _read("/sys/fs/cgroup/memory.max").strip()
        if raw != "max":
            stat = dict(line.split() for line in _read("/sys/fs/cgroup/memory.stat").splitlines())
            used = float(_read("/sys/fs/cgroup/memory.current")) - float(stat.get("inactive_file", 0))
            limits.append(float(raw) - used)
    except (OSError, ValueError):
        pass
    if not limits:
        try:
            limits.append(float(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")))
        except (ValueError, OSError):
            return math.inf
    return min(limits)


def recorded_bytes(net: Any, n_steps: int) -> float:
    """Bytes the state and rate recordings of ``n_steps`` steps will write (spikes not counted)."""
    return float(sum(m.recorded_bytes(n_steps, net.dt) for m in net.monitors))


def check_fits(net: Any, limit_bytes: float | None, override: str) -> Footprint:
    """The footprint of ``net``; ``ValueError`` if even the least it can take exceeds ``limit_bytes``
    (default: what is available). The estimate bounds the measured peak from above within a factor
    of :data:`OVERESTIMATE` (``tests/test_footprint.py``), so a network is refused only when
    ``total / OVERESTIMATE`` does not fit: no network that fits is refused."""
    fp = estimate(net, construction_threads())
    limit = available_memory() if limit_bytes is None else limit_bytes
    if fp.total / OVERESTIMATE > limit:
        raise ValueError(f"model: the network needs {fp.describe()}, but {limit / GIB:.3g} GiB are "
                         f"available; make it smaller, or set {override} to run it anyway")
    return fp
