"""Projections: the synapses from one spiking group onto one neuron population (or subgroups of them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from neurosim.connectivity.connectors import TARGET_BLOCK, ConnectContext, Connector
from neurosim.connectivity.csr import CSR
from neurosim.connectivity.initializers import Constant, Initializer, as_initializer
from neurosim.engine.layout import Synapses
from neurosim.plasticity.stdp import STDP
from neurosim.population import Group, Population, SpikeSource
from neurosim.subgroup import Subgroup, parent_of
from neurosim.units import parse_array, show

RECEPTORS = ("auto", "exc", "inh")


def delays_in_steps(delay_s: np.ndarray, dt: float, field_name: str) -> np.ndarray:
    """Convert delays (s) to whole steps; they must be multiples of dt."""
    if np.any(delay_s < 0):
        raise ValueError(f"{field_name}: delays must be >= 0")
    d = delay_s / dt
    k = np.rint(d)
    if np.any(np.abs(d - k) > 1e-6 * np.maximum(1.0, d)):
        bad = delay_s[np.argmax(np.abs(d - k))]
        raise ValueError(f"{field_name}: delay {show(bad)} s is not a multiple of dt = {show(dt)} s")
    return k.astype(np.int32)


@dataclass(eq=False)
class Projection:
    """Synapses ``pre -> post`` chosen by ``connector``; :attr:`synapses` is their :class:`CSR`.

    ``weight`` is a current (A) onto ``CubaLIF`` and a voltage jump (V) onto ``LIF``.
    ``delay`` (s) must be a multiple of dt when constant; random delays are rounded to the
    step grid. ``receptor`` routes spikes onto a ``CubaLIF``: ``"exc"``, ``"inh"`` or
    ``"auto"`` (by the sign of each weight, as generated: a plastic weight that later changes
    sign keeps its receptor). ``plasticity`` (e.g. :class:`~neurosim.plasticity.STDP`) makes
    the weights learn during runs; :attr:`synapses`, read after a run, gives the learned weights.
    Everything is validated on construction; the synapses are generated block by block of
    targets (:attr:`blocks`), each from a random stream of its own, and once the network is
    built they are kept only in its layout.
    """

    name: str
    pre: Group | Subgroup
    post: Population | Subgroup
    connector: Connector
    weight: Initializer | None
    delay: Initializer
    receptor: str
    dt: float
    rng: np.random.Generator = field(repr=False)
    precision: np.dtype = np.dtype(np.float64)
    plasticity: Any = None

    def __post_init__(self):
        f = f"connection.{self.name}"
        self._seed = self.rng.bit_generator.seed_seq  # the root of the projection's streams
        self._csr: CSR | None = None
        #: where the synapses lie in the engine's layout, once it is built (they are kept only there)
        self.placed: Placed | None = None
        self._placed_positions: np.ndarray | None = None
        self._placed_rows: np.ndarray | None = None
        if self.plasticity is not None:
            if not isinstance(self.plasticity, STDP):
                raise ValueError(f"{f}.plasticity: expected a plasticity rule such as STDP(...), "
                                 f"got {self.plasticity!r}")
            self.plasticity.check(self.post.model.weight_dimension, f"{f}.plasticity")
        if not isinstance(self.connector, Connector):
            raise ValueError(f"{f}.connector: expected a connector, got {self.connector!r}")
        if self.receptor not in RECEPTORS:
            raise ValueError(f"{f}.receptor: must be one of {RECEPTORS}, got {self.receptor!r}")
        self.connector.check(self.pre.size, self.post.size, f"{f}.connector")
        explicit = self.connector.explicit_fields()
        if "weight" in explicit and self.weight is not None:
            raise ValueError(f"{f}.weight: the connector already gives per-synapse weights")
        if "weight" not in explicit:
            if self.weight is None:
                raise ValueError(f"{f}.weight: required")
            self.weight = as_initializer(self.weight)
            self.weight.sample(0, self.rng, self.post.model.weight_dimension, f"{f}.weight")
        if "delay" in explicit and self.delay is not None:
            raise ValueError(f"{f}.delay: the connector already gives per-synapse delays")
        self.delay = as_initializer(0.0 if self.delay is None else self.delay)
        self.delay.sample(0, self.rng, "time", f"{f}.delay")  # checks units and bounds, draws nothing
        if isinstance(self.delay, Constant):
            delays_in_steps(self.delay.sample(1, np.random.default_rng(0), "time", f"{f}.delay"), self.dt, f"{f}.delay")
        if self.plasticity is not None:
            self._check_plastic()

    def _check_plastic(self) -> None:
        """What can be checked before synapses exist: a spike source that drives plastic synapses
        spikes at most once per step (one pairing per step), and constant initial weights lie
        within the rule's bounds (random ones are checked when the layout is built)."""
        g, dt = parent_of(self.pre), self.dt
        if isinstance(g, SpikeSource) and g.indices.size:
            where = f"population.{g.name}.times"
            at = g.steps
            uniq, counts = np.unique(at * g.size + g.indices, return_counts=True)
            if np.any(counts > 1):
                twice = uniq[np.argmax(counts > 1)]
                raise ValueError(f"{where}: source {int(twice % g.size)} spikes more than once at "
                                 f"{int(twice // g.size) * dt!r} s; a source that drives plastic synapses "
                                 f"(connection.{self.name}) may spike at most once per step")
        if isinstance(self.weight, Constant):
            w = self.weight.sample(1, np.random.default_rng(0), self.post.model.weight_dimension,
                                   f"connection.{self.name}.weight")
            self.check_weight_bounds(np.asarray(w, self.precision))

    def check_weight_bounds(self, w: np.ndarray, what: str = "initial weights") -> None:
        """``ValueError`` unless the weights ``w`` lie within the plasticity rule's bounds."""
        rule = self.plasticity
        lo, hi = np.asarray(rule.w_min, w.dtype), np.asarray(rule.w_max, w.dtype)
        outside = (w < lo) | (w > hi)
        if np.any(outside):
            raise ValueError(f"connection.{self.name}.weight: {what} must lie within the plasticity "
                             f"bounds [w_min, w_max] = [{rule.w_min!r}, {rule.w_max!r}], got {float(w[outside][0])!r}")

    def _stream(self, key: int | None) -> np.random.Generator:
        """Block ``key``'s random stream (block 0: the projection's own), or the blocks' shared plan (None)."""
        if key == 0:
            return np.random.default_rng(self._seed)
        tail = (0,) if key is None else (key,)
        return np.random.default_rng(np.random.SeedSequence(self._seed.entropy, spawn_key=self._seed.spawn_key + tail))

    @cached_property
    def blocks(self) -> tuple[tuple[int, int, Connector], ...]:
        """``(start, stop, connector)`` of each generation block: consecutive ranges of targets of
        :data:`~neurosim.connectivity.connectors.TARGET_BLOCK` neurons, or the whole target
        population where the rule cannot be split (see :meth:`Connector.split`)."""
        n = self.post.size
        edges = np.append(np.arange(0, n, TARGET_BLOCK), n) if n > TARGET_BLOCK else np.array([0, n])
        parts = self.connector.split(self.pre.size, np.diff(edges), self._stream(None))
        if parts is None:
            return ((0, n, self.connector),)
        return tuple((int(a), int(b), c) for a, b, c in zip(edges[:-1], edges[1:], parts))

    def _context(self, b: int) -> ConnectContext:
        start, stop, _ = self.blocks[b]
        positions = self.post.positions
        return ConnectContext(
            n_pre=self.pre.size,
            n_post=stop - start,
            same_population=self.pre == self.post,  # one group, or one subgroup range
            rng=self._stream(b),
            pre_positions=getattr(self.pre, "positions", None),
            post_positions=None if positions is None else positions[start:stop],
            post_start=start,
        )

    def block_row_counts(self, b: int) -> np.ndarray:
        """Synapses of every source onto the targets of block ``b``."""
        return self.blocks[b][2].row_counts(self._context(b))

    def block_targets(self, b: int) -> CSR:
        """The pairs of block ``b`` alone (``post`` in the whole target population; no weights or delays drawn)."""
        ctx = self._context(b)
        pairs = self.blocks[b][2].pairs(ctx)
        empty = np.zeros(0)
        return CSR(self.pre.size, self.post.size, pairs.indptr, pairs.post + np.int32(ctx.post_start), empty, empty)

    def block_synapses(self, b: int) -> tuple[CSR, np.ndarray]:
        """The synapses onto block ``b``'s targets (``post`` counted in the whole target population),
        and their input channels (0 excitatory, 1 inhibitory; ``receptor = "auto"``: by the sign of
        the weight as drawn). The same every time: the block's stream starts afresh."""
        f = f"connection.{self.name}"
        ctx = self._context(b)
        pairs = self.blocks[b][2].pairs(ctx)
        n = pairs.post.size
        w = pairs.weight if pairs.weight is not None else \
            self.weight.sample(n, ctx.rng, self.post.model.weight_dimension, f"{f}.weight")
        if pairs.delay is not None:
            d = delays_in_steps(pairs.delay, self.dt, f"{f}.delay")
        else:
            d_s = self.delay.sample(n, ctx.rng, "time", f"{f}.delay")
            d = delays_in_steps(d_s, self.dt, f"{f}.delay") if isinstance(self.delay, Constant) \
                else np.maximum(np.rint(d_s / self.dt), 0).astype(np.int32)
        post = pairs.post + np.int32(ctx.post_start)
        csr = CSR(self.pre.size, self.post.size, pairs.indptr, post, np.asarray(w, dtype=self.precision), d)
        if self.receptor == "auto":
            channels = (csr.weight < 0).astype(np.int8)
        else:
            channels = np.full(n, 0 if self.receptor == "exc" else 1, np.int8)
        return csr, channels

    @property
    def synapses(self) -> CSR:
        """The synapses in CSR order (a copy): read from the layout once the network is built (with
        the weights learned so far), else generated (and kept until the layout is built)."""
        if self.placed is not None:
            return self.placed.gather()
        if self._csr is None:
            self._csr = _join_blocks([self.block_synapses(b)[0] for b in range(len(self.blocks))])
        return self._csr

    @property
    def weights(self) -> np.ndarray:
        """The weights now, in CSR order (as ``synapses.weight``; a copy), without gathering targets
        and delays: the cheap read between runs (builds the network's layout if needed)."""
        return self._placed_syn().weight[self._positions()]

    def set_weights(self, weights: Any) -> None:
        """Replace the weights (SI, in CSR order: as ``synapses.weight``) between runs, e.g. to
        normalise them; finite, and within the plasticity bounds for a plastic projection."""
        where = f"connection.{self.name}.weight"
        syn, pos = self._placed_syn(), self._positions()
        w = np.asarray(parse_array(weights, self.post.model.weight_dimension, where), dtype=self.precision)
        if w.shape != pos.shape:
            raise ValueError(f"{where}: has {w.size} values but the connection has {pos.size} synapses")
        if self.plasticity is not None:
            self.check_weight_bounds(w, "weights")
        if self.receptor == "auto" and np.any(np.signbit(w) != np.signbit(syn.weight[pos])):
            raise ValueError(f"{where}: a weight changes sign, but receptor = 'auto' routed each synapse by the sign "
                             "it was built with; connect with receptor = 'exc' or 'inh' to change signs")
        syn.weight[pos] = w
        syn.row_uniform[self._rows()] = 0  # their rows no longer deliver one shared weight

    def _placed_syn(self) -> Synapses:
        parent_of(self.post).network.layout  # noqa: B018 (builds it: the synapses then live there)
        return self.placed.syn

    def _rows(self) -> np.ndarray:
        """The merged CSR rows that hold this projection's synapses."""
        if self._placed_rows is None:
            indptr = self._placed_syn().indptr
            self._placed_rows = np.unique(np.searchsorted(indptr, self._positions(), side="right") - 1)
        return self._placed_rows

    def _positions(self) -> np.ndarray:
        if self._placed_positions is None:
            self._placed_positions = self.placed.positions()
        return self._placed_positions

    def __repr__(self) -> str:
        return f"Projection({self.name!r}, {self.pre.name} -> {self.post.name})"


def _join_blocks(parts: list[CSR]) -> CSR:
    """One CSR from the CSRs of consecutive target blocks (rows: the same sources)."""
    if len(parts) == 1:
        return parts[0]
    first = parts[0]
    pre = np.concatenate([p.pre for p in parts])
    order = np.argsort(pre, kind="stable")  # by source; blocks, hence targets, in order within a row
    indptr = np.zeros(first.n_pre + 1, np.int64)
    np.cumsum(sum(p.out_degree() for p in parts), out=indptr[1:])
    return CSR(first.n_pre, first.n_post, indptr, np.concatenate([p.post for p in parts])[order],
               np.concatenate([p.weight for p in parts])[order], np.concatenate([p.delay for p in parts])[order])


@dataclass(frozen=True)
class Placed:
    """Where a projection's synapses lie in the layout's merged CSR: those of source ``j`` onto
    part ``t`` (:class:`~neurosim.engine.layout.Parts`) from ``row_start[t, j]``, ``counts[t, j]``
    of them; parts in order give the projection's CSR order (``target`` there is the state code
    ``row · n_neurons + post_offset + post``)."""

    syn: Synapses  # the layout's live arrays
    row_start: np.ndarray  # int64 (T, n_pre)
    counts: np.ndarray  # int64 (T, n_pre)
    n_post: int
    n_neurons: int
    post_offset: int

    @property
    def indptr(self) -> np.ndarray:
        """The projection's own row pointers (int64, n_pre + 1)."""
        indptr = np.zeros(self.counts.shape[1] + 1, np.int64)
        np.cumsum(self.counts.sum(axis=0), out=indptr[1:])
        return indptr

    def positions(self) -> np.ndarray:
        """Merged positions of the synapses, in the projection's CSR order (int64)."""
        counts, starts = self.counts.T.ravel(), self.row_start.T.ravel()  # by source, then part
        first = np.cumsum(counts) - counts
        return np.repeat(starts - first, counts) + np.arange(int(counts.sum()))

    def gather(self) -> CSR:
        pos = self.positions()
        post = (self.syn.target[pos] % max(self.n_neurons, 1) - self.post_offset).astype(np.int32)
        return CSR(self.counts.shape[1], self.n_post, self.indptr, post, self.syn.weight[pos].copy(),
                   self.syn.delay[pos].astype(np.int32))
