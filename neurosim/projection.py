"""Projections: the synapses from one spiking group onto one neuron population (or subgroups of them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from neurosim.connectivity.connectors import ConnectContext, Connector
from neurosim.connectivity.csr import CSR
from neurosim.connectivity.initializers import Constant, Initializer, as_initializer
from neurosim.plasticity.stdp import STDP
from neurosim.population import Group, Population, SpikeSource
from neurosim.subgroup import Subgroup, parent_of
from neurosim.units import show

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
    the weights learn during runs; :attr:`synapses` then holds the learned weights after every
    run. Everything is validated on construction; the synapses are generated on first use from
    the projection's own random stream.
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
        self._channels: np.ndarray | None = None
        #: merged-CSR positions of the synapses in the engine's layout (set when it is built)
        self._layout_positions: np.ndarray | None = None
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

    def check_weight_bounds(self, w: np.ndarray) -> None:
        """``ValueError`` unless the weights ``w`` lie within the plasticity rule's bounds."""
        rule = self.plasticity
        lo, hi = np.asarray(rule.w_min, w.dtype), np.asarray(rule.w_max, w.dtype)
        outside = (w < lo) | (w > hi)
        if np.any(outside):
            raise ValueError(f"connection.{self.name}.weight: initial weights must lie within the plasticity "
                             f"bounds [w_min, w_max] = [{rule.w_min!r}, {rule.w_max!r}], got {float(w[outside][0])!r}")

    @cached_property
    def synapses(self) -> CSR:
        f = f"connection.{self.name}"
        ctx = ConnectContext(
            n_pre=self.pre.size,
            n_post=self.post.size,
            same_population=self.pre == self.post,  # one group, or one subgroup range
            rng=self.rng,
            pre_positions=getattr(self.pre, "positions", None),
            post_positions=self.post.positions,
        )
        pairs = self.connector.pairs(ctx)
        n = pairs.post.size
        w = pairs.weight if pairs.weight is not None else \
            self.weight.sample(n, self.rng, self.post.model.weight_dimension, f"{f}.weight")
        if pairs.delay is not None:
            d = delays_in_steps(pairs.delay, self.dt, f"{f}.delay")
        else:
            d_s = self.delay.sample(n, self.rng, "time", f"{f}.delay")
            d = delays_in_steps(d_s, self.dt, f"{f}.delay") if isinstance(self.delay, Constant) \
                else np.maximum(np.rint(d_s / self.dt), 0).astype(np.int32)
        return CSR(self.pre.size, self.post.size, pairs.indptr, pairs.post, np.asarray(w, dtype=self.precision), d)

    def channels(self) -> np.ndarray:
        """Input channel of every synapse: 0 excitatory, 1 inhibitory (fixed by the initial weights)."""
        if self._channels is None:
            if self.receptor == "auto":
                self._channels = (self.synapses.weight < 0).astype(np.int32)
            else:
                self._channels = np.full(self.synapses.n_synapses, 0 if self.receptor == "exc" else 1, dtype=np.int32)
        return self._channels

    def __repr__(self) -> str:
        return f"Projection({self.name!r}, {self.pre.name} -> {self.post.name})"
