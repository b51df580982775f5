"""Per-target Poisson drive: every neuron of a target receives Poisson input of its own.

The counterpart of Brian2's ``PoissonInput`` and of NEST's ``poisson_generator`` connected to
every neuron: ``n`` virtual synapses per neuron, none of them stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from neurosim.population import Population
from neurosim.projection import RECEPTORS
from neurosim.subgroup import Subgroup, parent_of
from neurosim.units import active_window, parse_quantity, show, window_steps


@dataclass(eq=False)
class PoissonInput:
    """``n`` independent Poisson trains of ``rate`` (Hz) into every neuron of ``target`` (a
    population or a slice of one),
    each spike adding ``weight`` (the target model's weight unit) to the receptor variable.

    In every step of length dt, neuron i receives ``k_i ~ Binomial(n, rate·dt)`` spikes: what
    ``n`` Poisson sources of ``rate`` (each spiking with probability ``rate·dt`` per step)
    connected to it alone would give. ``k_i·weight`` is added at the start of the step, before
    the neuron update, as the spikes of a source with delay 0 are (Brian2's ``PoissonInput``
    adds in the same step; NEST's ``poisson_generator`` arrives one minimum delay later). The
    counts come from the counter-based generator keyed by (seed, input, step, neuron), so a
    run is reproducible whatever the backend or thread count. ``rate·dt`` is at most 1.
    ``receptor``: ``"exc"``, ``"inh"`` or ``"auto"`` (by the weight's sign). Active in
    [start, stop).
    """

    name: str
    target: Population | Subgroup
    n: int
    rate: Any
    weight: Any
    dt: float
    receptor: str = "auto"
    start: Any = 0.0
    stop: Any = None

    def __post_init__(self):
        f = f"input.{self.name}"
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise ValueError(f"input.name: must be an identifier-like string, got {show(self.name)}")
        if not isinstance(parent_of(self.target), Population):
            raise ValueError(f"{f}.target: {getattr(self.target, 'name', self.target)!r} is not a neuron population")
        if isinstance(self.n, bool) or not isinstance(self.n, int) or self.n <= 0:
            raise ValueError(f"{f}.n: the number of input synapses per neuron must be a positive integer, "
                             f"got {show(self.n)}")
        self.rate = parse_quantity(self.rate, "frequency", f"{f}.rate")
        if self.rate < 0:
            raise ValueError(f"{f}.rate: must be >= 0, got {show(self.rate)} Hz")
        if self.rate * self.dt > 1.0:
            raise ValueError(f"{f}.rate: {show(self.rate)} Hz asks for {show(self.rate * self.dt)} spikes per step "
                             f"of dt = {show(self.dt)} s on each input synapse, which spikes at most once per step "
                             f"(rate·dt <= 1); raise n and lower the rate, or use a smaller dt")
        self.weight = parse_quantity(self.weight, self.target.model.weight_dimension, f"{f}.weight")
        if self.receptor not in RECEPTORS:
            raise ValueError(f"{f}.receptor: must be one of {', '.join(RECEPTORS)}, got {show(self.receptor)}")
        self.start, self.stop = active_window(self.start, self.stop, f)

    @property
    def channel(self) -> int:
        """The receptor the spikes go to: 0 excitatory, 1 inhibitory."""
        if self.receptor == "auto":
            return int(self.weight < 0)
        return RECEPTORS.index(self.receptor) - 1

    def steps(self) -> tuple[int, int]:
        """First step with input, first step without (``2**62`` for an open end)."""
        return window_steps(self.start, self.stop, self.dt)
