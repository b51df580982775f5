"""Connectors: rules that choose which (pre, post) pairs are connected.

Every connector returns the pairs in CSR order (sorted by presynaptic, then postsynaptic
index) as :class:`Pairs`. Random connectors cost O(number of synapses), never O(N^2), except
:class:`DistanceDependent`, whose probability differs for every pair (it is evaluated in
bounded-memory chunks). Autapses (i -> i within one population) are off unless asked for.

A projection generates its synapses block by block of targets (:data:`TARGET_BLOCK`
neurons), each block from a random stream of its own, so that any block can be generated
(again) alone: :meth:`Connector.split` gives the connector of every block, and ``pairs``
connects all sources to the block's targets ``post_start .. post_start + n_post``.
A rule that cannot be split (:class:`FixedOutDegree`, :class:`FromArrays`) is one block.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from neurosim.connectivity.csr import csr_from_pairs
from neurosim.units import check_finite, finite_array, show


@dataclass
class Pairs:
    """Connected pairs in CSR order; explicit connectors may also carry weights and delays (SI)."""

    indptr: np.ndarray
    post: np.ndarray
    weight: np.ndarray | None = None
    delay: np.ndarray | None = None


@dataclass(frozen=True)
class ConnectContext:
    """What a connector may need to know about the two populations."""

    n_pre: int
    n_post: int
    same_population: bool
    rng: np.random.Generator
    pre_positions: np.ndarray | None = None
    post_positions: np.ndarray | None = None
    #: the block's first target in the target population; its targets are ``post_start + post``
    post_start: int = 0


#: targets per generation block
TARGET_BLOCK = 256


class Connector:
    """Base class of connection rules."""

    def pairs(self, ctx: ConnectContext) -> Pairs:
        raise NotImplementedError

    def row_counts(self, ctx: ConnectContext) -> np.ndarray:
        """The number of synapses of every source (what :meth:`pairs` gives, perhaps cheaper)."""
        return np.diff(self.pairs(ctx).indptr)

    def split(self, n_pre: int, block_sizes: np.ndarray, rng: np.random.Generator) -> list[Connector] | None:
        """The connectors of consecutive blocks of targets of these sizes, each generating its block
        alone (``rng`` draws what the blocks share, such as their synapse counts); ``None`` if the
        rule connects the whole target population at once."""
        return None

    def check(self, n_pre: int, n_post: int, field: str) -> None:
        """Raise ``ValueError`` if the rule cannot connect populations of these sizes."""

    def explicit_fields(self) -> set[str]:
        """Synapse properties the connector gives itself (``weight``, ``delay``)."""
        return set()

    def expected_synapses(self, n_pre: int, n_post: int, same: bool, pre_positions: np.ndarray | None,
                          post_positions: np.ndarray | None) -> float:
        """The expected number of synapses, without generating them (for memory estimates)."""
        return float(n_pre) * n_post


class Blockwise(Connector):
    """A rule whose blocks of targets are connected independently, each with the rule itself."""

    def split(self, n_pre, block_sizes, rng):
        return [self] * len(block_sizes)


def _from_unsorted(pre: np.ndarray, post: np.ndarray, ctx: ConnectContext) -> Pairs:
    indptr, post_sorted, _ = csr_from_pairs(pre, post, ctx.n_pre, ctx.n_post)
    return Pairs(indptr, post_sorted)


def _check_probability(p: float, field: str) -> float:
    p = check_finite(float(p), field)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{field}: probability must be in [0, 1], got {show(p)}")
    return p


@dataclass(frozen=True)
class OneToOne(Blockwise):
    """Neuron i of the source to neuron i of the target (sizes must match)."""

    def check(self, n_pre, n_post, field):
        if n_pre != n_post:
            raise ValueError(f"{field}: one_to_one needs equal sizes, got {n_pre} and {n_post}")

    def pairs(self, ctx):
        indptr = np.clip(np.arange(ctx.n_pre + 1, dtype=np.int64) - ctx.post_start, 0, ctx.n_post)
        return Pairs(indptr, np.arange(ctx.n_post, dtype=np.int32))

    def expected_synapses(self, n_pre, n_post, same, pre_positions, post_positions):
        return float(n_pre)


@dataclass(frozen=True)
class AllToAll(Blockwise):
    """Every source neuron to every target neuron."""

    allow_autapses: bool = False

    def expected_synapses(self, n_pre, n_post, same, pre_positions, post_positions):
        return float(n_pre) * n_post - (n_pre if same and not self.allow_autapses else 0)

    def pairs(self, ctx):
        pre, post = np.divmod(np.arange(ctx.n_pre * ctx.n_post, dtype=np.int64), ctx.n_post)
        if ctx.same_population and not self.allow_autapses:
            keep = pre != post + ctx.post_start
            pre, post = pre[keep], post[keep]
        return _from_unsorted(pre, post, ctx)


@dataclass(frozen=True)
class FixedProbability(Blockwise):
    """Each pair independently with probability ``p`` (Bernoulli), in O(N·K).

    Connected pairs are found by geometric skipping over the flattened pair index, which
    draws one random number per synapse instead of one per pair.
    """

    p: float
    allow_autapses: bool = False

    def __post_init__(self):
        _check_probability(self.p, "connector.p")

    def expected_synapses(self, n_pre, n_post, same, pre_positions, post_positions):
        return self.p * n_pre * n_post

    def pairs(self, ctx):
        total = ctx.n_pre * ctx.n_post
        chosen = []
        if self.p > 0 and total > 0:
            last = -1
            while last < total:
                chunk = int(min(max(1024, 1.05 * (total - last) * self.p + 64), 1 << 24))
                positions = last + np.cumsum(ctx.rng.geometric(self.p, size=chunk), dtype=np.int64)
                last = int(positions[-1])
                chosen.append(positions[positions < total])
        flat = np.concatenate(chosen) if chosen else np.zeros(0, np.int64)
        pre, post = np.divmod(flat, ctx.n_post)
        if ctx.same_population and not self.allow_autapses:
            keep = pre != post + ctx.post_start
            pre, post = pre[keep], post[keep]
        counts = np.bincount(pre, minlength=ctx.n_pre)
        indptr = np.zeros(ctx.n_pre + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        return Pairs(indptr, post.astype(np.int32))


def _distinct_rows(n_rows: int, n_values: int, k: int, rng: np.random.Generator,
                   exclude_self: bool, field: str, first_row: int = 0) -> np.ndarray:
    """``(n_rows, k)`` array; row r holds k distinct values of ``range(n_values)`` (without
    ``first_row + r``)."""
    n_eff = n_values - 1 if exclude_self else n_values
    if k < 0 or k > n_eff:
        raise ValueError(f"{field}: cannot choose {k} distinct partners out of {n_eff}")
    if k == 0 or n_rows == 0:
        return np.zeros((n_rows, k), dtype=np.int64)
    if 4 * k > n_eff:  # dense: partial sort of random keys, O(rows * n_eff) <= 4 * rows * k
        keys = rng.random((n_rows, n_eff))
        out = np.argpartition(keys, k - 1, axis=1)[:, :k].astype(np.int64)
    else:  # sparse: draw with replacement, then redraw the repeated values until none is left
        out = rng.integers(0, n_eff, size=(n_rows, k))
        todo = np.arange(n_rows)
        while todo.size:  # each pass keeps a uniform subset of distinct values and adds uniform draws
            rows = np.sort(out[todo], axis=1)
            again = np.zeros(rows.shape, bool)
            again[:, 1:] = rows[:, 1:] == rows[:, :-1]
            dup = again.any(axis=1)
            todo, rows, again = todo[dup], rows[dup], again[dup]
            rows[again] = rng.integers(0, n_eff, size=int(again.sum()))
            out[todo] = rows
    if exclude_self:
        out += out >= np.arange(first_row, first_row + n_rows)[:, None]
    return out


@dataclass(frozen=True)
class FixedInDegree(Blockwise):
    """Each target neuron receives exactly ``k`` inputs from distinct source neurons."""

    k: int
    allow_autapses: bool = False

    def check(self, n_pre, n_post, field):
        if not 0 <= int(self.k) <= n_pre:
            raise ValueError(f"{field}.k: cannot choose {self.k} inputs out of {n_pre} neurons")

    def expected_synapses(self, n_pre, n_post, same, pre_positions, post_positions):
        return float(self.k) * n_post

    def pairs(self, ctx):
        exclude = ctx.same_population and not self.allow_autapses
        pre = _distinct_rows(ctx.n_post, ctx.n_pre, int(self.k), ctx.rng, exclude, "connector.k", ctx.post_start)
        post = np.repeat(np.arange(ctx.n_post), pre.shape[1])
        return _from_unsorted(pre.ravel(), post, ctx)


@dataclass(frozen=True)
class FixedOutDegree(Connector):
    """Each source neuron projects to exactly ``k`` distinct target neurons."""

    k: int
    allow_autapses: bool = False

    def check(self, n_pre, n_post, field):
        if not 0 <= int(self.k) <= n_post:
            raise ValueError(f"{field}.k: cannot choose {self.k} targets out of {n_post} neurons")

    def expected_synapses(self, n_pre, n_post, same, pre_positions, post_positions):
        return float(self.k) * n_pre

    def pairs(self, ctx):
        exclude = ctx.same_population and not self.allow_autapses
        post = np.sort(_distinct_rows(ctx.n_pre, ctx.n_post, int(self.k), ctx.rng, exclude, "connector.k"), axis=1)
        indptr = np.arange(ctx.n_pre + 1, dtype=np.int64) * post.shape[1]
        return Pairs(indptr, post.ravel().astype(np.int32))


@dataclass(frozen=True)
class DistanceDependent(Blockwise):
    """P(connect) = c · exp(-(D/lam)^2), D the Euclidean distance between neuron positions.

    Positions come from the populations (``positions=`` or ``grid=``); ``lam`` is in the
    same units as the positions (grid spacings for a grid).
    """

    c: float
    lam: float
    allow_autapses: bool = False
    chunk_pairs: int = 1 << 22

    def __post_init__(self):
        _check_probability(self.c, "connector.c")
        if not check_finite(float(self.lam), "connector.lam") > 0:
            raise ValueError(f"connector.lam: must be > 0, got {show(self.lam)}")

    def expected_synapses(self, n_pre, n_post, same, pre_positions, post_positions, samples: int = 4096):
        """c · n_pre · n_post times the mean of exp(-(D/lam)^2) over random pairs (a fixed sample)."""
        if pre_positions is None or post_positions is None:
            return self.c * n_pre * n_post
        rng = np.random.default_rng(0)
        d = pre_positions[rng.integers(n_pre, size=samples)] - post_positions[rng.integers(n_post, size=samples)]
        return self.c * n_pre * n_post * float(np.mean(np.exp(-np.einsum("ij,ij->i", d, d) / self.lam**2)))

    def pairs(self, ctx):
        if ctx.pre_positions is None or ctx.post_positions is None:
            raise ValueError("connector.distance: both populations need positions (set grid= or positions=)")
        rows = max(1, self.chunk_pairs // max(1, ctx.n_post))
        pre_all, post_all = [], []
        for start in range(0, ctx.n_pre, rows):
            stop = min(ctx.n_pre, start + rows)
            d = ctx.pre_positions[start:stop, None, :] - ctx.post_positions[None, :, :]
            prob = self.c * np.exp(-np.einsum("ijk,ijk->ij", d, d) / self.lam**2)
            if ctx.same_population and not self.allow_autapses:  # pairs pre == post_start + post
                own = np.arange(max(start, ctx.post_start), min(stop, ctx.post_start + ctx.n_post))
                prob[own - start, own - ctx.post_start] = 0.0
            pre, post = np.nonzero(ctx.rng.random(prob.shape) < prob)
            pre_all.append(pre + start)
            post_all.append(post)
        return _from_unsorted(np.concatenate(pre_all), np.concatenate(post_all), ctx)


@dataclass(frozen=True)
class FromArrays(Connector):
    """Explicit synapses: ``pre[k] -> post[k]`` with optional per-synapse weights and delays (SI)."""

    pre: Any
    post: Any
    weight: Any = None
    delay: Any = None

    def __post_init__(self):
        pre = np.asarray(self.pre, dtype=np.int64).ravel()
        post = np.asarray(self.post, dtype=np.int64).ravel()
        if pre.shape != post.shape:
            raise ValueError(f"connector.post: has {post.size} entries but pre has {pre.size}")
        object.__setattr__(self, "pre", pre)
        object.__setattr__(self, "post", post)
        for name in ("weight", "delay"):
            value = getattr(self, name)
            if value is None:
                continue
            arr = finite_array(value, f"connector.{name}")
            arr = np.full(pre.shape, float(arr)) if arr.ndim == 0 else arr.ravel()
            if arr.shape != pre.shape:
                raise ValueError(f"connector.{name}: has {arr.size} entries but pre has {pre.size}")
            object.__setattr__(self, name, arr)

    def check(self, n_pre, n_post, field):
        for name, arr, n in (("pre", self.pre, n_pre), ("post", self.post, n_post)):
            if arr.size and (arr.min() < 0 or arr.max() >= n):
                raise ValueError(f"{field}.{name}: indices must lie in [0, {n})")

    def explicit_fields(self):
        return {name for name in ("weight", "delay") if getattr(self, name) is not None}

    def expected_synapses(self, n_pre, n_post, same, pre_positions, post_positions):
        return float(self.pre.size)

    def pairs(self, ctx):
        indptr, post_sorted, order = csr_from_pairs(self.pre, self.post, ctx.n_pre, ctx.n_post)
        weight = None if self.weight is None else self.weight[order]
        delay = None if self.delay is None else self.delay[order]
        return Pairs(indptr, post_sorted, weight, delay)


@dataclass(frozen=True)
class FixedTotalNumber(Connector):
    """Exactly ``n`` synapses, each from a uniformly random source to a uniformly random target
    (multapses and autapses allowed: NEST's ``fixed_total_number``)."""

    n: int

    def check(self, n_pre, n_post, field):
        if isinstance(self.n, bool) or not isinstance(self.n, (int, np.integer)) or self.n < 0:
            raise ValueError(f"{field}.n: must be a non-negative integer, got {show(self.n)}")

    def expected_synapses(self, n_pre, n_post, same, pre_positions, post_positions):
        return float(self.n)

    def split(self, n_pre, block_sizes, rng):
        """A block of ``m`` of the ``N`` targets gets a Binomial share of the ``n`` synapses (one
        multinomial draw over the blocks, in proportion to their sizes)."""
        if len(block_sizes) == 1:
            return [self]
        counts = rng.multinomial(int(self.n), np.asarray(block_sizes, np.float64) / float(np.sum(block_sizes)))
        return [FixedTotalNumber(int(c)) for c in counts]

    def row_counts(self, ctx: ConnectContext) -> np.ndarray:
        flat = ctx.rng.integers(0, ctx.n_pre * ctx.n_post, size=int(self.n), dtype=np.int64)
        return np.bincount(flat // max(ctx.n_post, 1), minlength=ctx.n_pre)

    def pairs(self, ctx: ConnectContext) -> Pairs:
        """Draw ``n`` flat pair indices pre·n_post + post with replacement; sorting them gives CSR order."""
        flat = ctx.rng.integers(0, ctx.n_pre * ctx.n_post, size=int(self.n), dtype=np.int64)
        flat.sort()
        indptr = np.searchsorted(flat, np.arange(ctx.n_pre + 1, dtype=np.int64) * ctx.n_post)
        return Pairs(indptr.astype(np.int64), (flat % ctx.n_post).astype(np.int32))


def from_sparse(matrix: Any) -> FromArrays:
    """Explicit synapses from a ``(n_pre, n_post)`` scipy.sparse (or dense) weight matrix (SI)."""
    if hasattr(matrix, "tocoo"):
        coo = matrix.tocoo()
        return FromArrays(coo.row, coo.col, coo.data)
    dense = np.asarray(matrix, dtype=np.float64)
    if dense.ndim != 2:
        raise ValueError(f"connector.matrix: expected a 2-D matrix, got shape {dense.shape}")
    pre, post = np.nonzero(dense)
    return FromArrays(pre, post, dense[pre, post])


def grid_positions(shape: tuple[int, int, int]) -> np.ndarray:
    """Integer coordinates of a 3-D grid, C order: ``(prod(shape), 3)`` float64."""
    axes = [np.arange(s, dtype=np.float64) for s in shape]
    return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
