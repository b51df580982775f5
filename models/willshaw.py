"""Binary sparse associative memories: Willshaw networks and Gripon–Berrou clique networks,
the memories that Coyac, Gripon, Langlais & Berrou (arXiv 1709.08367) find emerging from
recurrent Hebbian networks under an energy (activity) constraint and noise.

Messages are binary vectors of n neurons with c active ones: unclustered (c units drawn at
random) or clustered (n = χ ℓ: χ clusters of ℓ neurons, one active unit per cluster, c = χ).

- storage: W_ij = 1 if units i ≠ j were ever active together (each message adds a clique);
- retrieval from a cue x: scores s = W x + γ x (γ: memory effect, 1 by default, so a cue unit
  counts itself), then k-winners-take-all (every unit whose score reaches the c-th largest
  stays active) or, clustered, winner-take-all in every cluster (the units of maximal score in
  a cluster stay active); iterated a few times;
- noise on the cue: erasures (active units of the message removed; whole clusters silenced in
  the clustered network) and insertions (inactive units switched on; in the clustered network
  an extra unit in a cluster).

Closed forms (independent edges, erasures only, one iteration):

- density after M messages: d = 1 − (1 − c(c−1)/(n(n−1)))^M (unclustered),
  d = 1 − (1 − 1/ℓ²)^M (clustered, between two clusters);
- success with c_k known units: a unit outside the message reaches the top score c_k only if
  it is linked to all c_k of them, so P_ok = (1 − d^{c_k})^{n−c} (unclustered) and
  P_ok = (1 − d^{c_k})^{(χ−c_k)(ℓ−1)} (clustered, χ − c_k erased clusters).
Insertions lower the effective c_k: they have no closed form here.

The success formula is exact only for independent edges. In a stored network the links of one
unit are positively correlated (a unit in many messages has many links), so it underestimates
the error: n = 1024, c = 10, c_k = 5, M = 2000 gives 0.095 where simulation gives 0.13 (see
docs/memory.md for a per-unit calculation that reproduces the simulation).
"""

from __future__ import annotations

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


def store(msgs: np.ndarray) -> np.ndarray:
    """W_ij = 1 if i ≠ j were active together in a message: bool (n, n)."""
    x = np.asarray(msgs, dtype=np.float32)
    w = (x.T @ x) > 0
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


def retrieve(w: np.ndarray, cues: np.ndarray, layout: Layout, iterations: int = 1, memory: float = 1.0) -> np.ndarray:
    """Scores s = W x + γ x, then k-winners-take-all with k = c (ties kept) or, clustered,
    winner-take-all per cluster; ``iterations`` times: bool (B, n)."""
    if iterations < 1:
        raise ValueError(f"iterations: must be >= 1, got {iterations!r}")
    wf = np.asarray(w, dtype=np.float32)
    x = np.atleast_2d(np.asarray(cues, dtype=bool))
    for _ in range(iterations):
        s = x.astype(np.float32) @ wf + memory * x
        if layout.clusters:
            blocks = s.reshape(s.shape[0], layout.clusters, layout.size)
            x = (blocks == blocks.max(axis=2, keepdims=True)).reshape(s.shape)
        else:
            kth = np.partition(s, layout.n - layout.c, axis=1)[:, layout.n - layout.c]
            x = s >= kth[:, None]
    return x


def success_theory(layout: Layout, count: int, known: int) -> float:
    """P_ok = (1 − d^{c_k})^{n−c}, or (1 − d^{c_k})^{(χ−c_k)(ℓ−1)} when clustered, with
    d = :func:`density_theory` and c_k = ``known`` units of the message in the cue. Exact for
    independent edges of density d; an overestimate of the success of a stored network (module
    docstring)."""
    d = density_theory(layout, count)
    outside = (layout.clusters - known) * (layout.size - 1) if layout.clusters else layout.n - layout.c
    return (1.0 - d**known) ** outside
