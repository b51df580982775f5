"""Losses on spike and membrane sequences ``[T, B, C]`` (C classes) with integer targets ``[B]``.

    rate_ce(s, y)              mean over steps of the cross-entropy of the spikes as logits (snnTorch ce_rate_loss)
    count_mse(s, y, on, off)   MSE between the spike rate (count / T) and ``on`` for the target class,
                               ``off`` for the others (snnTorch mse_count_loss, in rates)
    membrane_ce(u, y, reduce)  cross-entropy of the membrane reduced over time: "max" (snnTorch
                               ce_max_membrane_loss), "mean" or "last"
    rmp_loss(us, thresholds)   RMP-Loss (Guo et al. 2023): mean over layers of mean (u - ĉ(u))², the distance of
                               the membrane to its nearest spike value ĉ(u) = 2θ·clip(round(u / 2θ), 0, 1)
                               (with θ = 1/2: clip(round(u), 0, 1)); θ one number or tensor for all
                               layers, or one per layer (per-neuron tensors broadcast against u)
    accuracy(logits, y)        fraction of correct argmax predictions of [B, C] scores

``predict(out, kind)`` turns a sequence into [B, C] scores: spike counts, or the membrane reduced as
in ``membrane_ce``.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as nnf
from torch import Tensor

REDUCTIONS = ("max", "mean", "last")


def rate_ce(spikes: Tensor, target: Tensor) -> Tensor:
    T = spikes.shape[0]
    logp = nnf.log_softmax(spikes, dim=-1)
    return nnf.nll_loss(logp.flatten(0, 1), target.repeat(T))


def count_mse(spikes: Tensor, target: Tensor, on: float = 0.8, off: float = 0.2) -> Tensor:
    rates = spikes.mean(0)
    want = torch.full_like(rates, off)
    want.scatter_(1, target.unsqueeze(1), on)
    return nnf.mse_loss(rates, want)


def reduce_membrane(u: Tensor, reduce: str = "max") -> Tensor:
    if reduce == "max":
        return u.max(0).values
    if reduce == "mean":
        return u.mean(0)
    if reduce == "last":
        return u[-1]
    raise ValueError(f"reduce: must be one of {', '.join(REDUCTIONS)}, got {reduce!r}")


def membrane_ce(u: Tensor, target: Tensor, reduce: str = "max") -> Tensor:
    return nnf.cross_entropy(reduce_membrane(u, reduce), target)


def rmp_term(u: Tensor, threshold: float | Tensor) -> Tensor:
    """Mean squared distance of ``u`` to its nearest spike value 2θ·clip(round(u / 2θ), 0, 1)."""
    spike = 2 * threshold
    return ((u - spike * torch.clamp(torch.round(u / spike), 0, 1)) ** 2).mean()


def rmp_loss(membranes: Sequence[Tensor], thresholds: float | Tensor | Sequence[float | Tensor] = 0.5) -> Tensor:
    """RMP-Loss: the mean over layers of :func:`rmp_term`; ``thresholds`` is one θ for every
    layer or one per membrane sequence."""
    if not membranes:
        raise ValueError("rmp_loss: needs at least one membrane sequence")
    if isinstance(thresholds, (int, float, Tensor)):
        thresholds = [thresholds] * len(membranes)
    if len(thresholds) != len(membranes):
        raise ValueError(f"rmp_loss: {len(thresholds)} thresholds for {len(membranes)} membrane sequences")
    return torch.stack([rmp_term(u, th) for u, th in zip(membranes, thresholds)]).mean()


def predict(out: Tensor, kind: str) -> Tensor:
    """[B, C] scores of an output sequence: ``kind`` "spikes" (counts) or a membrane reduction."""
    return out.sum(0) if kind == "spikes" else reduce_membrane(out, kind)


def accuracy(scores: Tensor, target: Tensor) -> float:
    return (scores.argmax(-1) == target).float().mean().item()
