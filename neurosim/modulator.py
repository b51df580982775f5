"""Modulators: network elements that set the learning rates of plastic projections every step.

A modulator is a leaky integrator of population spike counts, updated inside the engine's
compiled loop once per step ``t``, after that step's STDP updates:

    A <- A + (weight * sum_g c_g n_g(t) + bias - A) / (tau / dt)

where ``n_g(t)`` is the number of spikes of group ``g`` at ``t`` and ``c_g`` its coefficient
in ``drive``. ``A`` then is the learning-rate factor (``eta_+`` or ``eta_-`` in
:mod:`neurosim.plasticity.stdp`) of every target: the next step's updates use it. Before the
first step the factor is ``initial`` (default ``bias``).

With ``drive=[(liquid, +1), (inputs, -1)]``, ``tau = 100 ms``, ``bias = 0.15`` and
``acts_on="depression"`` this is the astrocyte of NALSM (Ivanov & Michmizos 2021, eq. 7),
which scales the depression of liquid synapses by the excess of liquid over input activity.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from neurosim.population import Group
from neurosim.projection import Projection
from neurosim.units import parse_quantity, show

ACTS_ON = ("potentiation", "depression")


def _finite(value: Any, name: str) -> float:
    return parse_quantity(value, "dimensionless", name)


def _single(value: Any, cls: type) -> bool:
    """``value`` is one item (an instance of ``cls`` or a pair starting with one), not a list of them."""
    return isinstance(value, cls) or (isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], cls))


@dataclass(eq=False)
class Modulator:
    """Learning-rate modulator (see the module docstring); create it with ``Network.modulator``.

    ``targets``: plastic projections, or ``(projection, "potentiation" | "depression")`` pairs
    (a bare projection takes ``acts_on``); ``drive``: groups, or ``(group, coefficient)`` pairs
    (a bare group counts +1); ``tau``: time constant (s or unit string, >= dt).
    """

    network: Any = field(repr=False)  # the owning Network
    name: str
    tau: Any
    weight: Any
    bias: Any
    targets: Any
    drive: Any = ()
    acts_on: str = "depression"
    initial: Any = None
    #: position among the network's modulators (its state is ``layout.plastic.mod_state[index]``)
    index: int = field(default=-1, init=False)

    def __post_init__(self):
        f = f"modulator.{self.name}"
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise ValueError(f"modulator.name: must be an identifier-like string, got {self.name!r}")
        if self.acts_on not in ACTS_ON:
            raise ValueError(f"{f}.acts_on: must be one of {ACTS_ON}, got {self.acts_on!r}")
        self.tau = parse_quantity(self.tau, "time", f"{f}.tau")
        if not self.tau >= self.network.dt * (1 - 1e-9):
            raise ValueError(f"{f}.tau: must be >= dt = {show(self.network.dt)} s, got {show(self.tau)}")
        self.weight = _finite(self.weight, f"{f}.weight")
        self.bias = _finite(self.bias, f"{f}.bias")
        self.initial = self.bias if self.initial is None else _finite(self.initial, f"{f}.initial")
        targets = [self.targets] if _single(self.targets, Projection) else list(self.targets)
        if not targets:
            raise ValueError(f"{f}.targets: needs at least one plastic connection")
        resolved: list[tuple[Projection, str]] = []
        for k, t in enumerate(targets):
            proj, kind = t if isinstance(t, tuple) else (t, self.acts_on)
            if not isinstance(proj, Projection) or proj.pre.network is not self.network:
                raise ValueError(f"{f}.targets.{k}: expected a connection of this network, got {proj!r}")
            if proj.plasticity is None:
                raise ValueError(f"{f}.targets.{k}: connection {proj.name!r} is not plastic")
            if kind not in ACTS_ON:
                raise ValueError(f"{f}.targets.{k}: must act on one of {ACTS_ON}, got {kind!r}")
            if (proj, kind) in resolved:
                raise ValueError(f"{f}.targets.{k}: {proj.name!r} ({kind}) is listed twice")
            resolved.append((proj, kind))
        self.targets = resolved
        drive = [self.drive] if _single(self.drive, Group) else list(self.drive)
        groups: list[tuple[Group, float]] = []
        for k, d in enumerate(drive):
            group, coef = d if isinstance(d, tuple) else (d, 1.0)
            if not isinstance(group, Group) or group.network is not self.network:
                raise ValueError(f"{f}.drive.{k}: expected a population of this network, got {group!r}")
            groups.append((group, _finite(coef, f"{f}.drive.{k}")))
        self.drive = groups

    @property
    def value(self) -> float:
        """The current factor ``A`` (``initial`` before the first run)."""
        layout = self.network._layout
        if layout is None or self.index < 0:
            return float(self.initial)
        return float(layout.plastic.mod_state[self.index])

    def __repr__(self) -> str:
        return f"Modulator({self.name!r}, targets={[f'{p.name}.{k}' for p, k in self.targets]})"

