"""Binary sparse associative memories: Willshaw networks and Gripon–Berrou clique networks,
the memories that Coyac, Gripon, Langlais & Berrou (arXiv 1709.08367) find emerging from
recurrent Hebbian networks under an energy (activity) constraint and noise.

Messages are binary vectors of n neurons with c active ones: unclustered (c units drawn at
random) or clustered (n = χ ℓ: χ clusters of ℓ neurons, one active unit per cluster, c = χ).

- storage: W_ij = 1 if units i ≠ j were ever active together (each message adds a clique);
- retrieval from a cue x: scores s = Σ_j W_ij x_j + γ x_i ("sum of sum"; γ: memory effect,
  1 by default, so a cue unit counts itself) or, clustered, s = Σ_clusters max_{j ∈ cluster}
  W_ij x_j + γ x_i ("sum of max": a cluster votes at most once), then k-winners-take-all
  (every unit whose score reaches the c-th largest stays active) or, clustered, winner-take-all
  in every cluster (the units of maximal score in a cluster stay active); iterated;
- noise on the cue: erasures (active units of the message removed; whole clusters silenced in
  the clustered network) and insertions (inactive units switched on; in the clustered network
  an extra unit in a cluster).

Closed forms (erasures only, one iteration, γ > 0): the density after M messages,
d = 1 − (1 − c(c−1)/(n(n−1)))^M (unclustered), d = 1 − (1 − 1/ℓ²)^M (clustered, between two
clusters), is exact in expectation. With c_k known cue units a unit outside the message (in an
erased cluster) reaches the top score c_k only if it is linked to all c_k of them, and
retrieval succeeds iff no such unit exists.

- :func:`success_theory`, the independent-edge approximation P_ok = (1 − d^{c_k})^{K}, with
  K = n − c candidates (unclustered) or (χ − c_k)(ℓ − 1) (clustered). Exact only for a network
  whose edges are drawn independently with density d. In a stored network the links of one
  unit are positively correlated (a unit in many messages has many links), so it
  underestimates the error: n = 1024, c = 10, c_k = 5, M = 2000 gives 0.095 where simulation
  gives 0.131.
- :func:`success_per_unit`, P_ok = (1 − p)^{K} with p = :func:`linked_to_all` the exact
  probability that one candidate is linked to all known units; only the K candidates are
  still treated as independent (0.130 in the example above).

One insertion in a full cue (no erasures), clustered, sum of max, γ > 0: every message unit
keeps the top score χ − 1 + γ, no silent unit can reach it, and the inserted unit survives iff it
is linked to all χ − 1 other message units, so the error is exactly :func:`linked_to_all` with
c_k = χ − 1, at every iteration. Other insertions have no closed form here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Layout:
    """n neurons with c active per message; ``clusters`` > 0 splits them into that many
    clusters of n / clusters neurons with one active unit each (then c = clusters)."""

    n: int
    c: int
    clusters: int = 0

    def __post_init__(self):
        if self.n < 2:
            raise ValueError(f"n: must be >= 2, got {self.n!r}")
        if self.clusters:
            if self.clusters < 2 or self.n % self.clusters:
                raise ValueError(f"clusters: must be >= 2 and divide n = {self.n}, got {self.clusters!r}")
            if self.c != self.clusters:
                raise ValueError(f"c: must equal clusters ({self.clusters}) in a clustered network, got {self.c!r}")
        elif not 2 <= self.c < self.n:
            raise ValueError(f"c: must be in [2, n), got {self.c!r}")

    @property
    def size(self) -> int:
        """ℓ, neurons per cluster (n when unclustered)."""
        return self.n // self.clusters if self.clusters else self.n


def messages(layout: Layout, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` random messages: bool (count, n)."""
    if count < 1:
        raise ValueError(f"count: must be >= 1, got {count!r}")
    out = np.zeros((count, layout.n), dtype=bool)
    if layout.clusters:
        units = rng.integers(0, layout.size, size=(count, layout.clusters)) + layout.size * np.arange(layout.clusters)
    else:
        units = np.argsort(rng.random((count, layout.n)), axis=1)[:, : layout.c]
    np.put_along_axis(out, units, True, axis=1)
    return out


def store(msgs: np.ndarray, w: np.ndarray | None = None) -> np.ndarray:
    """W_ij = 1 if i ≠ j were active together in a message: bool (n, n). Given ``w`` (the
    network of earlier messages), its links are kept and the new cliques added in place."""
    x = np.asarray(msgs, dtype=bool)
    if w is None:
        w = np.zeros((x.shape[1], x.shape[1]), dtype=bool)
    counts = x.sum(axis=1)
    if x.shape[0] and np.all(counts == counts[0]):  # c units per message: set the c² pairs
        units = np.nonzero(x)[1].reshape(x.shape[0], counts[0])
        for a in range(counts[0]):
            for b in range(counts[0]):
                w[units[:, a], units[:, b]] = True
    else:
        xf = x.astype(np.float32)
        w |= (xf.T @ xf) > 0
    np.fill_diagonal(w, False)
    return w


def density(w: np.ndarray, layout: Layout) -> float:
    """Fraction of possible edges present (between distinct clusters when clustered)."""
    w = np.asarray(w, dtype=bool)
    if layout.clusters:
        same = np.arange(layout.n) // layout.size
        allowed = same[:, None] != same[None, :]
        return float(w[allowed].mean())
    return float(w.sum() / (layout.n * (layout.n - 1)))


def density_theory(layout: Layout, count: int) -> float:
    """d = 1 − (1 − c(c−1)/(n(n−1)))^M, or 1 − (1 − 1/ℓ²)^M when clustered."""
    n, c = layout.n, layout.c
    p = 1.0 / layout.size**2 if layout.clusters else c * (c - 1) / (n * (n - 1))
    return 1.0 - (1.0 - p) ** count


def corrupt(msgs: np.ndarray, layout: Layout, erased: int, inserted: int, rng: np.random.Generator) -> np.ndarray:
    """Cues: ``erased`` active units (clusters) removed and ``inserted`` inactive units switched
    on (clustered: an extra unit in ``inserted`` random clusters) per message."""
    x = np.array(msgs, dtype=bool)
    if not 0 <= erased < layout.c:
        raise ValueError(f"erased: must be in [0, c), got {erased!r}")
    limit = layout.clusters if layout.clusters else layout.n - layout.c
    if not 0 <= inserted <= limit:
        raise ValueError(f"inserted: must be in [0, {limit}], got {inserted!r}")
    for row in x:
        active = np.flatnonzero(row)
        row[rng.choice(active, size=erased, replace=False)] = False
        if layout.clusters:
            for cluster in rng.choice(layout.clusters, size=inserted, replace=False):
                block = np.arange(cluster * layout.size, (cluster + 1) * layout.size)
                free = block[~row[block] & ~np.isin(block, active)]
                if free.size:
                    row[rng.choice(free)] = True
        else:
            row[rng.choice(np.flatnonzero(~row & ~np.isin(np.arange(layout.n), active)), size=inserted,
                           replace=False)] = True
    return x


RULES = ("sum", "max")


def scores(w: np.ndarray, x: np.ndarray, layout: Layout, rule: str = "sum", memory: float = 1.0) -> np.ndarray:
    """s_i = Σ_j W_ij x_j + γ x_i ("sum") or Σ_clusters max_{j ∈ cluster} W_ij x_j + γ x_i
    ("max", clustered only): float32 (B, n)."""
    if rule not in RULES or (rule == "max" and not layout.clusters):
        raise ValueError(f"rule: must be 'sum' or, clustered, 'max', got {rule!r}")
    wf = np.asarray(w, dtype=np.float32)
    xf = np.asarray(x, dtype=np.float32)
    if rule == "sum":
        s = xf @ wf
    else:
        s = np.zeros_like(xf)
        for start in range(0, layout.n, layout.size):
            block = slice(start, start + layout.size)
            s += (xf[:, block] @ wf[block, :]) > 0  # binary W and x: max over the cluster = any link
    return s + np.float32(memory) * xf


def retrieve(w: np.ndarray, cues: np.ndarray, layout: Layout, iterations: int = 1, memory: float = 1.0,
             rule: str = "sum") -> np.ndarray:
    """:func:`scores`, then k-winners-take-all with k = c (ties kept) or, clustered,
    winner-take-all per cluster (ties kept); ``iterations`` times: bool (B, n)."""
    if iterations < 1:
        raise ValueError(f"iterations: must be >= 1, got {iterations!r}")
    if not np.isfinite(memory):
        raise ValueError(f"memory: must be finite, got {memory!r}")
    x = np.atleast_2d(np.asarray(cues, dtype=bool))
    for _ in range(iterations):
        s = scores(w, x, layout, rule, memory)
        if layout.clusters:
            blocks = s.reshape(s.shape[0], layout.clusters, layout.size)
            x = (blocks == blocks.max(axis=2, keepdims=True)).reshape(s.shape)
        else:
            kth = np.partition(s, layout.n - layout.c, axis=1)[:, layout.n - layout.c]
            x = s >= kth[:, None]
    return x


def candidates(layout: Layout, known: int) -> int:
    """K: units that can win in place of the message's, one iteration from a cue of ``known``
    units (erasures only): all n − c outside units, or the ℓ − 1 of each of the χ − c_k erased
    clusters."""
    if not 1 <= known <= layout.c:
        raise ValueError(f"known: must be in [1, c], got {known!r}")
    return (layout.clusters - known) * (layout.size - 1) if layout.clusters else layout.n - layout.c


def success_theory(layout: Layout, count: int, known: int) -> float:
    """Independent-edge approximation P_ok = (1 − d^{c_k})^{K}, with d = :func:`density_theory`,
    c_k = ``known`` and K = :func:`candidates`. Exact for independent edges of density d; an
    overestimate of the success of a stored network (module docstring)."""
    d = density_theory(layout, count)
    return (1.0 - d**known) ** candidates(layout, known)


def linked_to_all(layout: Layout, count: int, known: int) -> float:
    """Exact probability that one unit u outside a stored message (in another cluster than the
    ``known`` ones when clustered) is linked to all c_k = ``known`` given units of it, the other
    M − 1 messages being random. By inclusion–exclusion over the s known units that u misses:

        p = Σ_s (−1)^s C(c_k, s) (1 − π (1 − a_s))^{M−1},

    π the probability that a message contains u (c/n, or 1/ℓ), a_s the probability that such a
    message contains none of s given units (C(n−1−s, c−1)/C(n−1, c−1), or (1 − 1/ℓ)^s)."""
    if count < 1:
        raise ValueError(f"count: must be >= 1, got {count!r}")
    if not 1 <= known <= layout.c - (1 if layout.clusters else 0):
        raise ValueError(f"known: must be in [1, {layout.c - (1 if layout.clusters else 0)}], got {known!r}")
    n, c = layout.n, layout.c
    total = 0.0
    for s in range(known + 1):
        if layout.clusters:
            pi, miss = 1.0 / layout.size, (1.0 - 1.0 / layout.size) ** s
        else:
            pi, miss = c / n, math.comb(n - 1 - s, c - 1) / math.comb(n - 1, c - 1)
        total += (-1) ** s * math.comb(known, s) * (1.0 - pi * (1.0 - miss)) ** (count - 1)
    return min(max(total, 0.0), 1.0)


def success_per_unit(layout: Layout, count: int, known: int) -> float:
    """P_ok = (1 − p)^{K}, p = :func:`linked_to_all`, K = :func:`candidates`: exact per
    candidate, the K candidates taken as independent (they share the known units)."""
    if candidates(layout, known) == 0:
        return 1.0
    return (1.0 - linked_to_all(layout, count, known)) ** candidates(layout, known)
