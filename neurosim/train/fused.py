"""Multi-step neurons as one fused autograd op over the whole sequence.

``lif_scan``, ``cuba_lif_scan`` and ``li_scan`` take inputs ``[T, B, ...]`` and run the
recurrence of :mod:`neurosim.train.functional` over all T steps in one kernel call: Numba on
CPU (:mod:`neurosim.train.kernels_cpu`), ``numba.cuda`` on a GPU
(:mod:`neurosim.train.kernels_cuda`). Autograd saves only the membrane sequence ``u``
(4 bytes per neuron-step in float32, and ``u`` is an output anyway); the backward kernel
recomputes spikes and surrogate derivatives from it. Gradients flow to the input, the
initial state and, when they require grad, to β, α and θ (the sums over time of
``a_t ∂u_t/∂β`` etc., reduced over the batch here).

Results equal the step-by-step reference ``functional.unroll`` (forward bit for bit on
CPU; gradients to rounding). A surrogate the kernels do not compile (a user-defined
:class:`~neurosim.train.surrogates.Surrogate`, see ``surrogates.has_kernel``) runs that
reference instead, so its gradient is its own ``grad``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from neurosim.train import functional as F
from neurosim.train.functional import CubaLIFParameters, CubaLIFState, LIFParameters, LIFState
from neurosim.train.kernels_cpu import RESETS
from neurosim.train.surrogates import has_kernel


@dataclass(frozen=True)
class ScanConfig:
    """The static part of a scan: kind of neuron, reset, surrogate and rectifier."""

    cuba: bool
    reset: int
    detach: bool
    kind: int
    slope: float
    mpr: bool
    mpr_a: float
    mpr_c: float

    @staticmethod
    def of(p: LIFParameters, cuba: bool) -> "ScanConfig":
        if not has_kernel(p.surrogate):
            raise ValueError(f"fused neuron scan: no kernel for the surrogate {p.surrogate!r}")
        mpr_a, mpr_c = (p.mpr.alpha, p.mpr.scale) if p.mpr is not None else (0.0, 0.0)
        return ScanConfig(cuba, RESETS[p.reset], p.detach_reset, p.surrogate.kind, p.surrogate.slope,
                          p.mpr is not None, mpr_a, mpr_c)


def _kernels(device: torch.device):
    if device.type == "cuda":
        from neurosim.train import kernels_cuda
        return kernels_cuda
    if device.type != "cpu":
        raise NotImplementedError(f"fused neuron scan: no kernel for device {device.type!r}")
    from neurosim.train import kernels_cpu
    return kernels_cpu


class _Scan(torch.autograd.Function):
    """x [T, M], u0/i0 [M], beta/alpha/theta [N] -> spikes [T, M], u [T, M], last i [M]."""

    @staticmethod
    def forward(ctx, x, u0, i0, beta, alpha, theta, cfg: ScanConfig):
        s, u, i_last = _kernels(x.device).forward(x, u0, i0, beta, alpha, theta, cfg)
        ctx.save_for_backward(u, u0, i0, beta, alpha, theta)
        ctx.cfg = cfg
        ctx.set_materialize_grads(False)
        return s, u, i_last

    @staticmethod
    def backward(ctx, gs, gu, gi_last):
        u, u0, i0, beta, alpha, theta = ctx.saved_tensors
        cfg = ctx.cfg
        if gs is None and gu is None and gi_last is None:
            return None, None, None, None, None, None, None
        need = ctx.needs_input_grad
        gx, gu0, gi0, gbeta, galpha, gtheta = _kernels(u.device).backward(
            gs, gu, gi_last, u, u0, i0, beta, alpha, theta, cfg, any(need[3:6]))
        n = beta.shape[0]

        def reduce(g: Tensor, wanted: bool) -> Tensor | None:
            return g.view(-1, n).sum(0) if wanted else None

        return (gx, gu0 if need[1] else None, gi0 if cfg.cuba and need[2] else None, reduce(gbeta, need[3]),
                reduce(galpha, cfg.cuba and need[4]), reduce(gtheta, need[5]), None)


def _vector(value: Tensor | float, features: torch.Size, like: Tensor) -> Tensor:
    """A per-neuron parameter as a contiguous vector over the flattened feature shape."""
    v = torch.as_tensor(value, dtype=like.dtype, device=like.device)
    return v.expand(features).reshape(-1)


def _check(x: Tensor) -> None:
    if x.dim() < 2:
        raise ValueError(f"neuron scan: input must be [T, B, ...], got shape {tuple(x.shape)}")
    if x.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"neuron scan: input must be float32 or float64, got {x.dtype}")


def _unrolled(x: Tensor, u0: Tensor | None, i0: Tensor | None, p: LIFParameters, cuba: bool):
    """The scan as the step-by-step PyTorch recurrence (autograd through the surrogate's ``grad``)."""
    zeros = torch.zeros_like(x[0])
    u0 = zeros if u0 is None else u0.to(x.dtype)
    if not cuba:
        s, u, _ = F.unroll(F.lif_step, x, LIFState(u0), p)
        return s, u, None
    i0 = zeros if i0 is None else i0.to(x.dtype)
    s, u, last = F.unroll(F.cuba_lif_step, x, CubaLIFState(i0, u0), p)
    return s, u, last.i.reshape(-1)


def _scan(x: Tensor, u0: Tensor | None, i0: Tensor | None, p: LIFParameters, cuba: bool):
    _check(x)
    if not has_kernel(p.surrogate):
        return _unrolled(x, u0, i0, p, cuba)
    T, features = x.shape[0], x.shape[2:]
    flat = x.reshape(T, -1).contiguous()
    zeros = x.new_zeros(flat.shape[1])
    u0 = zeros if u0 is None else u0.reshape(-1).to(x.dtype)
    i0 = zeros if i0 is None else i0.reshape(-1).to(x.dtype)
    alpha = _vector(p.alpha, features, x) if cuba else x.new_zeros(features.numel())
    s, u, i_last = _Scan.apply(flat, u0, i0, _vector(p.beta, features, x), alpha,
                               _vector(p.threshold, features, x), ScanConfig.of(p, cuba))
    return s.view(x.shape), u.view(x.shape), i_last


def lif_scan(x: Tensor, state: LIFState | None, p: LIFParameters) -> tuple[Tensor, Tensor, LIFState]:
    """LIF over a sequence ``x`` [T, B, ...]: (spikes, membrane [T, B, ...], final state)."""
    s, u, _ = _scan(x, None if state is None else state.u, None, p, cuba=False)
    return s, u, LIFState(u[-1])


def cuba_lif_scan(x: Tensor, state: CubaLIFState | None, p: CubaLIFParameters
                  ) -> tuple[Tensor, Tensor, CubaLIFState]:
    """CubaLIF over a sequence ``x`` [T, B, ...]: (spikes, membrane, final state)."""
    u0, i0 = (None, None) if state is None else (state.u, state.i)
    s, u, i_last = _scan(x, u0, i0, p, cuba=True)
    return s, u, CubaLIFState(i_last.view(x.shape[1:]), u[-1])


def li_scan(x: Tensor, state: LIFState | None, beta: Tensor | float) -> tuple[Tensor, LIFState]:
    """Leaky integrator over a sequence ``x`` [T, B, ...]: (membrane, final state)."""
    _, u, _ = _scan(x, None if state is None else state.u, None, LIFParameters(beta=beta, reset="none"), cuba=False)
    return u, LIFState(u[-1])
