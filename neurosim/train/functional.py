"""Pure functional neuron steps in training units (the reference for the fused scan).

Training units are dimensionless: a membrane potential ``u`` of 1 is the distance between
rest and threshold of the neuron it was built from (see :mod:`neurosim.train.modules` for
the mapping to ``neurosim.LIF`` / ``neurosim.CubaLIF``). One step of each neuron:

LIF (``lif_step``; snnTorch ``Leaky`` with ``reset_delay=True``)::

    r    = H(φ(u) - θ)                  spike of the previous step (detached if detach_reset)
    u'   = β u + x - θ r                reset "soft" (by subtraction)
         = β (1 - r) u + x              reset "hard" (to zero)
         = β u + x                      reset "none"
    s    = H(φ(u') - θ)                 with the surrogate gradient σ'(φ(u') - θ) φ'(u')

CubaLIF (``cuba_lif_step``; snnTorch ``Synaptic``): ``i' = α i + x`` then the LIF update
with drive ``i'``. Leaky integrator readout (``li_step``): ``u' = β u + x``, no spikes.

φ is the identity, or the Membrane Potential Rectifier (:class:`MPR`, Guo et al. 2022)::

    φ(u) = u                                          for u < 0 or u > 1
    φ(u) = 1/2 + tanh(a (u - 1/2)) / (2 tanh(a/2))     for 0 <= u <= 1

which pushes u towards the spike values 0 and 1 before firing (φ(0)=0, φ(1/2)=1/2,
φ(1)=1); use it with θ = 1/2.

Parameters are used as given (modules clamp learnable β and α into [0, 1], as snnTorch does).

Why these steps are not derived from the neuron descriptions: they are the discrete-time
training formulation (dimensionless ``u``, β, α and θ learnable per neuron, the reset taken
from the previous step's spike as snnTorch's ``reset_delay``), which the fused CPU and CUDA
scans (``kernels_cpu.py``, ``kernels_cuda.py``) implement with hand-derived backward passes;
``from_neuron`` / ``to_neuron`` map it to and from ``LIF`` / ``CubaLIF``. Any described model,
in SI and with the engine's own step, trains through
:class:`neurosim.train.described.DescribedLayer`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, NamedTuple

import torch
from torch import Tensor

from neurosim.train.surrogates import ATan, Surrogate, heaviside

RESETS = ("soft", "hard", "none")


class LIFState(NamedTuple):
    """State of a LIF layer: membrane ``u`` [B, ...]."""

    u: Tensor


class CubaLIFState(NamedTuple):
    """State of a CubaLIF layer: synaptic current ``i`` and membrane ``u`` [B, ...]."""

    i: Tensor
    u: Tensor


@dataclass(frozen=True)
class MPR:
    """Membrane potential rectifier with sharpness ``alpha`` > 0 (see the module docstring)."""

    alpha: float = 3.0

    def __post_init__(self) -> None:
        if isinstance(self.alpha, bool) or not isinstance(self.alpha, (int, float)) or not 0 < self.alpha < 1e3:
            raise ValueError(f"MPR.alpha: must be a number in (0, 1000), got {self.alpha!r}")
        object.__setattr__(self, "alpha", float(self.alpha))

    @property
    def scale(self) -> float:
        """1 / (2 tanh(alpha/2))."""
        return 0.5 / math.tanh(0.5 * self.alpha)

    def phi(self, u: Tensor) -> Tensor:
        inside = (u >= 0) & (u <= 1)
        return torch.where(inside, 0.5 + torch.tanh(self.alpha * (u - 0.5)) * self.scale, u)


def _check_number(owner: str, name: str, value: object, low: float, high: float, low_open: bool) -> None:
    if isinstance(value, Tensor):
        return
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) \
        and (value > low if low_open else value >= low) and value <= high
    if not ok:
        bound = f"{'(' if low_open else '['}{low:g}, {high:g}]"
        raise ValueError(f"{owner}.{name}: must be a number in {bound}, got {value!r}")


@dataclass(frozen=True)
class LIFParameters:
    """Parameters of a LIF layer in training units.

    ``beta`` (decay per step, in [0, 1]) and ``threshold`` θ (> 0) are numbers or tensors
    broadcastable to the layer's feature shape; ``reset`` is "soft", "hard" or "none";
    ``detach_reset`` stops the gradient through the reset; ``mpr`` adds the rectifier.
    """

    beta: Tensor | float = 0.9
    threshold: Tensor | float = 1.0
    reset: str = "soft"
    detach_reset: bool = True
    surrogate: Surrogate = field(default_factory=ATan)
    mpr: MPR | None = None

    def __post_init__(self) -> None:
        owner = type(self).__name__
        _check_number(owner, "beta", self.beta, 0.0, 1.0, False)
        _check_number(owner, "threshold", self.threshold, 0.0, math.inf, True)
        if self.reset not in RESETS:
            raise ValueError(f"{owner}.reset: must be one of {', '.join(RESETS)}, got {self.reset!r}")
        if not isinstance(self.detach_reset, bool):
            raise ValueError(f"{owner}.detach_reset: must be true or false, got {self.detach_reset!r}")
        if not isinstance(self.surrogate, Surrogate):
            raise ValueError(f"{owner}.surrogate: must be a Surrogate, got {self.surrogate!r}")
        if self.mpr is not None and not isinstance(self.mpr, MPR):
            raise ValueError(f"{owner}.mpr: must be an MPR or None, got {self.mpr!r}")


@dataclass(frozen=True)
class CubaLIFParameters(LIFParameters):
    """:class:`LIFParameters` plus ``alpha``, the decay per step of the synaptic current."""

    alpha: Tensor | float = 0.8

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_number(type(self).__name__, "alpha", self.alpha, 0.0, 1.0, False)


def fire(u: Tensor, p: LIFParameters) -> Tensor:
    """Spikes ``H(φ(u) - θ)`` with the surrogate gradient of ``p``."""
    v = p.mpr.phi(u) if p.mpr is not None else u
    return heaviside(v - p.threshold, p.surrogate)


def _update(u: Tensor, drive: Tensor, p: LIFParameters) -> Tensor:
    if p.reset == "none":
        return p.beta * u + drive
    r = fire(u, p)
    if p.detach_reset:
        r = r.detach()
    if p.reset == "soft":
        return p.beta * u + drive - r * p.threshold
    return p.beta * ((1 - r) * u) + drive


def lif_step(x: Tensor, state: LIFState, p: LIFParameters) -> tuple[Tensor, LIFState]:
    """One LIF step: input current ``x`` [B, ...] -> (spikes, new state)."""
    u = _update(state.u, x, p)
    return fire(u, p), LIFState(u)


def cuba_lif_step(x: Tensor, state: CubaLIFState, p: CubaLIFParameters) -> tuple[Tensor, CubaLIFState]:
    """One CubaLIF step: ``i' = α i + x``, then the LIF update driven by ``i'``."""
    i = p.alpha * state.i + x
    u = _update(state.u, i, p)
    return fire(u, p), CubaLIFState(i, u)


def li_step(x: Tensor, state: LIFState, beta: Tensor | float) -> tuple[Tensor, LIFState]:
    """One leaky-integrator step ``u' = β u + x``; returns (u', state)."""
    u = beta * state.u + x
    return u, LIFState(u)


Step = Callable[[Tensor, NamedTuple, object], tuple[Tensor, NamedTuple]]


def unroll(step: Step, x: Tensor, state: NamedTuple, p: object) -> tuple[Tensor, Tensor, NamedTuple]:
    """Run ``step`` over the time axis of ``x`` [T, B, ...] step by step (the PyTorch reference
    of the fused scan). Returns (outputs [T, ...], membranes [T, ...], final state). Time steps
    are taken with ``unbind`` so the backward pass stays linear in T."""
    outs, membranes = [], []
    for x_t in x.unbind(0):
        out, state = step(x_t, state, p)
        outs.append(out)
        membranes.append(state.u)
    return torch.stack(outs), torch.stack(membranes), state
