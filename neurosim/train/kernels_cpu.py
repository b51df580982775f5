"""Numba CPU kernels of the fused multi-step neuron scan, and the scalar math they share with
the CUDA kernels (:mod:`neurosim.train.kernels_cuda` compiles the same functions for the GPU).

One scan covers LIF and CubaLIF in training units, with the reset of the *previous* step
(snnTorch's ``reset_delay=True``); LIF is CubaLIF with α = 0 (then i_t = x_t exactly)::

    i_t = α i_{t-1} + x_t
    r   = H(φ(u_{t-1}) - θ)                       the previous step's spike
    u_t = β u_{t-1} + i_t - θ     if r            mode SOFT (reset by subtraction)
        = i_t                     if r            mode HARD (reset to zero)
        = β u_{t-1} + i_t         otherwise, and always in mode NONE (leaky integrator)
    s_t = H(φ(u_t) - θ)

φ is the identity, or the membrane potential rectifier (``mpr``). Arrays are ``[T, M]`` with
``M = B·N`` (batch-major); parameters have length N. The forward pass stores ``u`` (the only
tensor autograd keeps); the backward pass recomputes spikes and surrogate derivatives from
it. Both passes advance time in the outer loop over a tile of ``TILE`` neurons, with the
inner loop over the tile's neurons, which LLVM vectorises: the options that need a
transcendental function (rectifier, sigmoid surrogate) and whether parameter gradients
are accumulated are compile-time constants of the kernel (one cached specialisation
each); the reset mode and ``detach_reset`` are runtime selects.

Forward arithmetic is done in the arrays' precision and in the same order as the PyTorch
reference (``(β u + i) - θ``), so spikes agree bit for bit with it and with snnTorch.
"""

from __future__ import annotations

import contextlib
import functools
import math
import warnings
from typing import Iterator

import numpy as np
import torch
from numba.core.errors import NumbaIRAssumptionWarning

from neurosim.engine.jit_cache import njit

SOFT, HARD, NONE = 0, 1, 2
RESETS = {"soft": SOFT, "hard": HARD, "none": NONE}
#: neurons per tile; the tile's carried state stays in L1 while time advances
TILE = 512


def surrogate_grad(kind, k, x):
    """σ'(x) of :mod:`neurosim.train.surrogates` (kind: 0 atan, 1 fast sigmoid, 2 sigmoid,
    3 triangle, 4 rectangular)."""
    if kind == 0:
        y = 0.5 * math.pi * k * x
        out = 0.5 * k / (1.0 + y * y)
    elif kind == 1:
        d = 1.0 + k * abs(x)
        out = 1.0 / (d * d)
    elif kind == 2:
        e = math.exp(-k * abs(x))
        out = k * e / ((1.0 + e) * (1.0 + e))
    elif kind == 3:
        out = k * max(0.0, 1.0 - k * abs(x))
    else:
        out = k if abs(x) < 0.5 / k else 0.0
    return out


def phi(u, mpr, a, c):
    """φ(u): the identity, or the rectifier 1/2 + c tanh(a (u - 1/2)) on [0, 1] (c = 1/(2 tanh(a/2)))."""
    out = u
    if mpr and 0 <= u <= 1:
        out = 0.5 + math.tanh(a * (u - 0.5)) * c
    return out


def dphi(u, mpr, a, c):
    """φ'(u)."""
    out = 1.0
    if mpr and 0 <= u <= 1:
        th = math.tanh(a * (u - 0.5))
        out = a * (1.0 - th * th) * c
    return out


def membrane(u, r, i, beta, theta, mode):
    """u_t from u_{t-1}, the previous spike ``r`` and the drive i_t."""
    v = beta * u + i
    if r and mode == 0:
        v = v - theta
    elif r and mode == 1:
        v = i
    return v


def drive(u, up, rp, beta, theta, mode):
    """i_t recovered from u_t, u_{t-1} and the previous spike (inverse of :func:`membrane`)."""
    i = u - beta * up
    if rp and mode == 0:
        i = u - beta * up + theta
    elif rp and mode == 1:
        i = u
    return i


def transition(u, r, ds, beta, theta, mode, detach, sg):
    """Derivatives of u_{t+1} = membrane(u_t, r_t, ...) at u_t = ``u``.

    ``r`` is the spike r_t, ``ds`` = dr_t/du_t = σ_t φ'_t and ``sg`` = σ_t (dr_t/dθ = -σ_t).
    Returns ``(∂u_{t+1}/∂u_t, ∂u_{t+1}/∂β, ∂u_{t+1}/∂θ)``, the reset path included unless ``detach``.
    """
    dr = 0.0 if detach else ds
    dsg = 0.0 if detach else sg
    jac, dbeta, dtheta = beta, u, 0.0  # NONE
    if mode == 0:
        jac = beta - theta * dr
        dtheta = theta * dsg - (1.0 if r else 0.0)
    elif mode == 1:
        keep = 0.0 if r else 1.0
        jac = beta * keep - beta * u * dr
        dbeta = keep * u
        dtheta = beta * u * dsg
    return jac, dbeta, dtheta


#: the scalar math above, as plain Python; :mod:`neurosim.train.kernels_cuda` compiles it for the GPU
SCALAR_MATH = (surrogate_grad, phi, dphi, membrane, drive, transition)
_inline = njit(inline="always")
_surrogate_grad, _phi, _dphi, _membrane, _drive, _transition = (_inline(f) for f in SCALAR_MATH)


def _forward_kernel(mpr: bool):
    @njit(cache=True, nogil=True, error_model="numpy")
    def scan_forward(x, u0, i0, beta, alpha, theta, mode, mpr_a, mpr_c, s, u, i_last):  # pragma: no cover
        T, M = x.shape
        N = beta.shape[0]
        ii = np.empty(TILE, x.dtype)
        rr = np.empty(TILE, np.bool_)
        for b in range(M // N):
            for n0 in range(0, N, TILE):
                n1 = min(N, n0 + TILE)
                w, m0, m1 = n1 - n0, b * N + n0, b * N + n1
                bt, at, tt = beta[n0:n1], alpha[n0:n1], theta[n0:n1]
                up = u0[m0:m1]
                for j in range(w):
                    ii[j] = i0[m0 + j]
                    rr[j] = _phi(up[j], mpr, mpr_a, mpr_c) > tt[j]
                for t in range(T):
                    xt, st, ut = x[t, m0:m1], s[t, m0:m1], u[t, m0:m1]
                    for j in range(w):
                        i = at[j] * ii[j] + xt[j]
                        ii[j] = i
                        un = _membrane(up[j], rr[j], i, bt[j], tt[j], mode)
                        r = _phi(un, mpr, mpr_a, mpr_c) > tt[j]
                        rr[j] = r
                        ut[j] = un
                        st[j] = 1.0 if r else 0.0
                    up = ut
                i_last[m0:m1] = ii[:w]
    return scan_forward


def _backward_kernel(mpr: bool, kind: int, grads: bool):
    @njit(cache=True, nogil=True, error_model="numpy")
    def scan_backward(gs, gu, gi_last, u, u0, i0, beta, alpha, theta, mode, detach, k, mpr_a, mpr_c,
                      gx, gu0, gi0, gbeta, galpha, gtheta):  # pragma: no cover
        T, M = u.shape
        N = beta.shape[0]
        a_next = np.empty(TILE)  # a_{t+1} = dL/du_{t+1}
        c_next = np.empty(TILE)  # α g_{t+1}, the part of dL/di_t from i_{t+1}
        g_next = np.empty(TILE)  # g_{t+1} = dL/di_{t+1} (for dL/dα)
        gb = np.empty(TILE)
        ga = np.empty(TILE)
        gt = np.empty(TILE)
        for b in range(M // N):
            for n0 in range(0, N, TILE):
                n1 = min(N, n0 + TILE)
                w, m0, m1 = n1 - n0, b * N + n0, b * N + n1
                bt, at, tt = beta[n0:n1], alpha[n0:n1], theta[n0:n1]
                for j in range(w):
                    a_next[j] = 0.0
                    c_next[j] = gi_last[m0 + j]
                    g_next[j] = 0.0
                    gb[j] = 0.0
                    ga[j] = 0.0
                    gt[j] = 0.0
                for t in range(T - 1, -1, -1):
                    ut, gxt = u[t, m0:m1], gx[t, m0:m1]
                    up = u[t - 1, m0:m1] if t > 0 else u0[m0:m1]
                    gst = gs[t if gs.shape[0] == T else 0, m0:m1]
                    gut = gu[t if gu.shape[0] == T else 0, m0:m1]
                    for j in range(w):
                        v = _phi(ut[j], mpr, mpr_a, mpr_c)
                        sg = _surrogate_grad(kind, k, v - tt[j])
                        ds = sg * _dphi(ut[j], mpr, mpr_a, mpr_c)
                        jac, dbeta, dtheta = _transition(ut[j], v > tt[j], ds, bt[j], tt[j], mode, detach, sg)
                        a = jac * a_next[j] + gst[j] * ds + gut[j]
                        g = a + c_next[j]
                        if grads:
                            gt[j] += a_next[j] * dtheta - gst[j] * sg
                            gb[j] += a_next[j] * dbeta
                            vp = _phi(up[j], mpr, mpr_a, mpr_c)
                            ga[j] += g_next[j] * _drive(ut[j], up[j], vp > tt[j], bt[j], tt[j], mode)
                            g_next[j] = g
                        gxt[j] = g
                        a_next[j] = a
                        c_next[j] = at[j] * g
                upr = u0[m0:m1]
                for j in range(w):
                    v = _phi(upr[j], mpr, mpr_a, mpr_c)
                    sg = _surrogate_grad(kind, k, v - tt[j])
                    ds = sg * _dphi(upr[j], mpr, mpr_a, mpr_c)
                    jac, dbeta, dtheta = _transition(upr[j], v > tt[j], ds, bt[j], tt[j], mode, detach, sg)
                    gu0[m0 + j] = jac * a_next[j]
                    gi0[m0 + j] = c_next[j]
                    if grads:
                        gbeta[m0 + j] = gb[j] + a_next[j] * dbeta
                        gtheta[m0 + j] = gt[j] + a_next[j] * dtheta
                        galpha[m0 + j] = ga[j] + g_next[j] * i0[m0 + j]
    return scan_backward


_forward_kernel = functools.cache(_forward_kernel)
_backward_kernel = functools.cache(_backward_kernel)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence numba's pedantic SSA notes about the inlined helpers while a kernel compiles."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NumbaIRAssumptionWarning)
        yield


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().contiguous().numpy()


def _rows(g: torch.Tensor | None, zeros: torch.Tensor) -> np.ndarray:
    """A gradient [T, M] for the kernel: zeros [1, M] if absent, one row if it is constant over
    time (e.g. the expanded gradient of a sum), else itself."""
    if g is None:
        return zeros.numpy()
    return _np(g[:1] if g.stride(0) == 0 else g)


def forward(x, u0, i0, beta, alpha, theta, cfg):
    """Run the forward scan on CPU tensors; returns (spikes, membrane, last i)."""
    s, u, i_last = torch.empty_like(x), torch.empty_like(x), torch.empty_like(u0)
    with quiet():
        _forward_kernel(cfg.mpr)(_np(x), _np(u0), _np(i0), _np(beta), _np(alpha), _np(theta), cfg.reset,
                                 cfg.mpr_a, cfg.mpr_c, s.numpy(), u.numpy(), i_last.numpy())
    return s, u, i_last


def backward(gs, gu, gi_last, u, u0, i0, beta, alpha, theta, cfg, grads):
    """Run the backward scan on CPU tensors; returns (dx, du0, di0, dβ, dα, dθ), the last three
    per element (summed over time) and only if ``grads``."""
    zeros = u.new_zeros(1, u.shape[1])
    gx, gu0, gi0 = torch.empty_like(u), torch.empty_like(u0), torch.empty_like(u0)
    gbeta, galpha, gtheta = (torch.empty_like(u0) for _ in range(3)) if grads else (u0[:0],) * 3
    gi_last = u0.new_zeros(u0.shape) if gi_last is None else gi_last
    with quiet():
        _backward_kernel(cfg.mpr, cfg.kind, grads)(
            _rows(gs, zeros), _rows(gu, zeros), _np(gi_last), _np(u), _np(u0), _np(i0),
            _np(beta), _np(alpha), _np(theta), cfg.reset, cfg.detach, cfg.slope, cfg.mpr_a, cfg.mpr_c,
            gx.numpy(), gu0.numpy(), gi0.numpy(), gbeta.numpy(), galpha.numpy(), gtheta.numpy())
    return gx, gu0, gi0, gbeta, galpha, gtheta
