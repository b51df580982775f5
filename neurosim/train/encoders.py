"""Input encoders: static data ``[B, ...]`` or sequences ``[T, B, ...]`` to spike trains ``[T, B, ...]``.

    rate(x, T)      Bernoulli spikes with probability clamp(gain·x, 0, 1) per step (Poisson-like rate code)
    latency(x, T)   one spike per input at step round((1 - x)(T - 1)) (larger inputs fire earlier);
                    inputs below ``threshold`` stay silent
    delta(x)        +1 / -1 where a sequence rises / falls by at least ``threshold`` since the last event
                    value (send-on-delta; ``signed=False`` keeps only the magnitude 1)
    direct(x, T)    the values themselves as a constant input current (a view, no copy)

Random encoders take a ``torch.Generator`` so that training runs are reproducible.
"""

from __future__ import annotations

import torch
from torch import Tensor


def _steps(steps: int) -> int:
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps: must be an integer >= 1, got {steps!r}")
    return steps


def rate(x: Tensor, steps: int, gain: float = 1.0, generator: torch.Generator | None = None) -> Tensor:
    """Spikes with per-step probability ``clamp(gain x, 0, 1)``; mean over time -> that probability."""
    p = (gain * x).clamp(0, 1)
    shape = (_steps(steps), *x.shape)
    return (torch.rand(shape, generator=generator, dtype=x.dtype, device=x.device) < p).to(x.dtype)


def latency(x: Tensor, steps: int, threshold: float = 0.01) -> Tensor:
    """One spike per input at step ``round((1 - x)(T - 1))`` for x in [0, 1] (x >= ``threshold``)."""
    T = _steps(steps)
    t = torch.round((1 - x.clamp(0, 1)) * (T - 1)).long()
    t = torch.where(x >= threshold, t, torch.full_like(t, T))  # T = never
    out = torch.zeros((T + 1, *x.shape), dtype=x.dtype, device=x.device)
    out.scatter_(0, t.unsqueeze(0), 1.0)
    return out[:T]


def delta(x: Tensor, threshold: float, signed: bool = True) -> Tensor:
    """Send-on-delta events of a sequence ``x`` [T, B, ...]: +1 when x exceeds the last event value by
    ``threshold``, -1 when it falls as far below it (the reference moves by ``threshold`` per event);
    the first step compares with ``x[0]``, so it is silent."""
    if not threshold > 0:
        raise ValueError(f"delta.threshold: must be > 0, got {threshold!r}")
    ref = x[0].clone()
    out = []
    for x_t in x.unbind(0):
        up = (x_t - ref >= threshold).to(x.dtype)
        down = (ref - x_t >= threshold).to(x.dtype)
        ref = ref + threshold * (up - down)
        out.append(up - down if signed else up + down)
    return torch.stack(out)


def direct(x: Tensor, steps: int) -> Tensor:
    """The input repeated over ``steps`` (a constant current; an expanded view)."""
    return x.unsqueeze(0).expand(_steps(steps), *x.shape)
