"""Surrogate gradients: a Heaviside step forward, a smooth pseudo-derivative backward.

A spike is ``s = H(x) = 1 if x > 0 else 0`` with ``x = u - θ`` (strictly above threshold, as
snnTorch and Norse). Backward, ``dH/dx`` is replaced by the surrogate ``σ'(x)`` with slope ``k``:

    atan           σ'(x) = (k/2) / (1 + (π k x / 2)^2)          snnTorch ``atan(alpha=k)``, default k = 2
    fast_sigmoid   σ'(x) = 1 / (1 + k|x|)^2                     snnTorch ``fast_sigmoid(slope=k)``, k = 25
    superspike     σ'(x) = 1 / (1 + k|x|)^2                     Zenke & Ganguli 2018 (Norse ``super``), k = 100
    sigmoid        σ'(x) = k e^{-k x} / (1 + e^{-k x})^2         snnTorch ``sigmoid(slope=k)``, k = 25
    triangle       σ'(x) = k max(0, 1 - k|x|)                   Bellec et al. 2018 (Norse ``triangle``), k = 1
    rectangular    σ'(x) = k if |x| < 1/(2k) else 0             STBP (Wu et al. 2018), k = 1

A surrogate is a small frozen dataclass; calling it on a tensor gives the spikes with that
surrogate gradient (so it can be passed to snnTorch as ``spike_grad``). ``kind`` is the number
the fused kernels use to select the same formula (see :mod:`neurosim.train.kernels_cpu`).

A user-defined subclass (its own ``grad``) is not known to the kernels: ``has_kernel`` is false
for it and the fused scans run the step-by-step PyTorch recurrence instead, so autograd uses
its ``grad`` (exact, but slower: a graph of small ops per time step instead of one fused op).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

ATAN, FAST_SIGMOID, SIGMOID, TRIANGLE, RECTANGULAR = range(5)


@dataclass(frozen=True)
class Surrogate:
    """Base class: ``slope`` k > 0; ``grad(x)`` is σ'(x); ``self(x)`` the spikes H(x)."""

    slope: float
    name: ClassVar[str] = ""
    kind: ClassVar[int] = -1

    def __post_init__(self) -> None:
        if isinstance(self.slope, bool) or not isinstance(self.slope, (int, float)) or not self.slope > 0 \
                or not math.isfinite(self.slope):
            raise ValueError(f"{type(self).__name__}.slope: must be a finite number > 0, got {self.slope!r}")
        object.__setattr__(self, "slope", float(self.slope))

    def grad(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def __call__(self, x: Tensor) -> Tensor:
        return heaviside(x, self)

    def to_dict(self) -> dict:
        return {"name": self.name, "slope": self.slope}


@dataclass(frozen=True)
class ATan(Surrogate):
    slope: float = 2.0
    name: ClassVar[str] = "atan"
    kind: ClassVar[int] = ATAN

    def grad(self, x: Tensor) -> Tensor:
        return (0.5 * self.slope) / (1 + (0.5 * math.pi * self.slope * x) ** 2)


@dataclass(frozen=True)
class FastSigmoid(Surrogate):
    slope: float = 25.0
    name: ClassVar[str] = "fast_sigmoid"
    kind: ClassVar[int] = FAST_SIGMOID

    def grad(self, x: Tensor) -> Tensor:
        return 1 / (1 + self.slope * x.abs()) ** 2


@dataclass(frozen=True)
class SuperSpike(FastSigmoid):
    """The fast-sigmoid derivative under its original name, with Norse's default slope."""

    slope: float = 100.0
    name: ClassVar[str] = "superspike"


@dataclass(frozen=True)
class Sigmoid(Surrogate):
    slope: float = 25.0
    name: ClassVar[str] = "sigmoid"
    kind: ClassVar[int] = SIGMOID

    def grad(self, x: Tensor) -> Tensor:
        e = torch.exp(-self.slope * x.abs())
        return self.slope * e / (1 + e) ** 2


@dataclass(frozen=True)
class Triangle(Surrogate):
    slope: float = 1.0
    name: ClassVar[str] = "triangle"
    kind: ClassVar[int] = TRIANGLE

    def grad(self, x: Tensor) -> Tensor:
        return self.slope * torch.clamp(1 - self.slope * x.abs(), min=0)


@dataclass(frozen=True)
class Rectangular(Surrogate):
    slope: float = 1.0
    name: ClassVar[str] = "rectangular"
    kind: ClassVar[int] = RECTANGULAR

    def grad(self, x: Tensor) -> Tensor:
        return self.slope * (x.abs() < 0.5 / self.slope).to(x.dtype)


SURROGATES: dict[str, type[Surrogate]] = {
    cls.name: cls for cls in (ATan, FastSigmoid, SuperSpike, Sigmoid, Triangle, Rectangular)
}


#: the formula the kernels compute for each ``kind``
_KERNEL_GRADS = {cls.kind: cls.grad for cls in SURROGATES.values()}


def has_kernel(sg: Surrogate) -> bool:
    """Whether the fused kernels compute ``sg``'s gradient: its ``kind`` is a built-in formula
    and its class has not overridden that formula's ``grad``."""
    return _KERNEL_GRADS.get(sg.kind) is type(sg).grad


def surrogate(spec: str | Surrogate | dict, slope: float | None = None) -> Surrogate:
    """A surrogate from a name (``"atan"``), a dict ``{"name": ..., "slope": ...}`` or an instance."""
    if isinstance(spec, Surrogate):
        return spec
    if isinstance(spec, dict):
        spec, slope = spec.get("name"), spec.get("slope", slope)
    if spec not in SURROGATES:
        raise ValueError(f"surrogate: unknown surrogate {spec!r} (known: {', '.join(SURROGATES)})")
    cls = SURROGATES[spec]
    return cls() if slope is None else cls(slope)


class _Heaviside(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, sg: Surrogate) -> Tensor:
        ctx.save_for_backward(x)
        ctx.sg = sg
        return (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:
        (x,) = ctx.saved_tensors
        return grad * ctx.sg.grad(x), None


def heaviside(x: Tensor, sg: Surrogate) -> Tensor:
    """Spikes ``H(x)`` (same dtype as ``x``) whose gradient is ``sg.grad(x)``."""
    return _Heaviside.apply(x, sg)
