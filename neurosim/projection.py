"""Projections: the synapses from one spiking group onto one neuron population."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from neurosim.connectivity.connectors import ConnectContext, Connector
from neurosim.connectivity.csr import CSR
from neurosim.connectivity.initializers import Constant, as_initializer
from neurosim.population import Group, Population

RECEPTORS = ("auto", "exc", "inh")


def delays_in_steps(delay_s: np.ndarray, dt: float, field: str) -> np.ndarray:
    """Convert delays (s) to whole steps; constant delays must be exact multiples of dt."""
    if np.any(delay_s < 0):
        raise ValueError(f"{field}: delays must be >= 0")
    d = delay_s / dt
    k = np.rint(d)
    if np.any(np.abs(d - k) > 1e-6 * np.maximum(1.0, d)):
        bad = delay_s[np.argmax(np.abs(d - k))]
        raise ValueError(f"{field}: delay {bad!r} s is not a multiple of dt = {dt!r} s")
    return k.astype(np.int32)


@dataclass(eq=False)
class Projection:
    """Synapses ``pre -> post`` chosen by ``connector``, stored as :class:`CSR`.

    ``weight`` is a current (A) onto ``CubaLIF`` and a voltage jump (V) onto ``LIF``;
    ``delay`` (s) is rounded to the step grid only for random initialisers (a constant delay
    must be a multiple of dt). ``receptor`` routes spikes onto a ``CubaLIF``: ``"exc"``,
    ``"inh"`` or ``"auto"`` (by the sign of each weight).
    """

    name: str
    pre: Group
    post: Population
    connector: Connector
    synapses: CSR
    receptor: str = "auto"

    @classmethod
    def build(cls, name: str, pre: Group, post: Population, connector: Connector, weight: Any, delay: Any,
              receptor: str, dt: float, rng: np.random.Generator, precision: np.dtype) -> "Projection":
        field = f"connection.{name}"
        if not isinstance(connector, Connector):
            raise ValueError(f"{field}.connector: expected a connector, got {connector!r}")
        if receptor not in RECEPTORS:
            raise ValueError(f"{field}.receptor: must be one of {RECEPTORS}, got {receptor!r}")
        ctx = ConnectContext(
            n_pre=pre.size,
            n_post=post.size,
            same_population=pre is post,
            rng=rng,
            pre_positions=getattr(pre, "positions", None),
            post_positions=post.positions,
        )
        pairs = connector.pairs(ctx)
        n = pairs.post.size
        if pairs.weight is not None:
            if weight is not None:
                raise ValueError(f"{field}.weight: the connector already gives per-synapse weights")
            w = pairs.weight
        elif weight is None:
            raise ValueError(f"{field}.weight: required")
        else:
            w = as_initializer(weight).sample(n, rng, post.model.weight_dimension, f"{field}.weight")
        if pairs.delay is not None:
            if delay is not None:
                raise ValueError(f"{field}.delay: the connector already gives per-synapse delays")
            d = delays_in_steps(pairs.delay, dt, f"{field}.delay")
        else:
            init = as_initializer(0.0 if delay is None else delay)
            d_s = init.sample(n, rng, "time", f"{field}.delay")
            if isinstance(init, Constant):
                d = delays_in_steps(d_s, dt, f"{field}.delay")
            else:
                d = np.maximum(np.rint(d_s / dt), 0).astype(np.int32)
        csr = CSR(pre.size, post.size, pairs.indptr, pairs.post, np.asarray(w, dtype=precision), d)
        return cls(name, pre, post, connector, csr, receptor)

    def channels(self) -> np.ndarray:
        """Input channel of every synapse: 0 excitatory, 1 inhibitory."""
        if self.receptor == "auto":
            return (self.synapses.weight < 0).astype(np.int32)
        return np.full(self.synapses.n_synapses, 0 if self.receptor == "exc" else 1, dtype=np.int32)

    def __repr__(self) -> str:
        return f"Projection({self.name!r}, {self.pre.name} -> {self.post.name}, {self.synapses.n_synapses} synapses)"
