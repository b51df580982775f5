"""CUDA kernels of the fused neuron scan (``numba.cuda``), one thread per neuron and batch row.

They compile the scalar math of :mod:`neurosim.train.kernels_cpu` (membrane update, spike,
surrogate, rectifier, transition derivatives) for the GPU, so both devices run the same
equations; see that module for them. Threads of a warp handle consecutive neurons, so every
load and store of a time step is coalesced. Tensors are passed through
``__cuda_array_interface__`` and the kernels run on PyTorch's current stream.

With ``NUMBA_ENABLE_CUDASIM=1`` the kernels run in numba's CUDA simulator on NumPy arrays
(:func:`launch_forward` / :func:`launch_backward`), which is how the tests check them on a
machine without a GPU.
"""

from __future__ import annotations

import functools

import torch
from numba import cuda

from neurosim.train.kernels_cpu import SCALAR_MATH, quiet

THREADS = 128
_device = cuda.jit(device=True)
_surrogate_grad, _phi, _dphi, _membrane, _drive, _transition = (_device(f) for f in SCALAR_MATH)


@functools.cache
def _forward_kernel(mpr: bool):
    @cuda.jit
    def scan_forward(x, state0, params, mode, mpr_a, mpr_c, s, u, i_last):  # pragma: no cover
        m = cuda.grid(1)
        T, M = x.shape
        if m >= M:
            return
        n = m % params.shape[1]
        b, a, th = params[0, n], params[1, n], params[2, n]
        up, i = state0[0, m], state0[1, m]
        r = _phi(up, mpr, mpr_a, mpr_c) > th
        for t in range(T):
            i = a * i + x[t, m]
            up = _membrane(up, r, i, b, th, mode)
            r = _phi(up, mpr, mpr_a, mpr_c) > th
            u[t, m] = up
            s[t, m] = 1.0 if r else 0.0
        i_last[m] = i
    return scan_forward


@functools.cache
def _backward_kernel(mpr: bool, kind: int, grads: bool):
    @cuda.jit
    def scan_backward(gs, gu, gi_last, u, state0, params, mode, detach, k, mpr_a, mpr_c,
                      gx, gstate0, gparams):  # pragma: no cover
        m = cuda.grid(1)
        T, M = u.shape
        if m >= M:
            return
        n = m % params.shape[1]
        b, al, th = params[0, n], params[1, n], params[2, n]
        s_rows, u_rows = gs.shape[0] == T, gu.shape[0] == T
        a_next, c_next, g_next = 0.0, gi_last[m], 0.0
        gb, ga, gt = 0.0, 0.0, 0.0
        for t in range(T - 1, -1, -1):
            ut = u[t, m]
            g_s = gs[t if s_rows else 0, m]
            v = _phi(ut, mpr, mpr_a, mpr_c)
            sg = _surrogate_grad(kind, k, v - th)
            ds = sg * _dphi(ut, mpr, mpr_a, mpr_c)
            jac, dbeta, dtheta = _transition(ut, v > th, ds, b, th, mode, detach, sg)
            a = jac * a_next + g_s * ds + gu[t if u_rows else 0, m]
            g = a + c_next
            if grads:
                up = u[t - 1, m] if t > 0 else state0[0, m]
                gt += a_next * dtheta - g_s * sg
                gb += a_next * dbeta
                ga += g_next * _drive(ut, up, _phi(up, mpr, mpr_a, mpr_c) > th, b, th, mode)
                g_next = g
            gx[t, m] = g
            a_next = a
            c_next = al * g
        up = state0[0, m]
        v = _phi(up, mpr, mpr_a, mpr_c)
        sg = _surrogate_grad(kind, k, v - th)
        jac, dbeta, dtheta = _transition(up, v > th, sg * _dphi(up, mpr, mpr_a, mpr_c), b, th, mode, detach, sg)
        gstate0[0, m] = jac * a_next
        gstate0[1, m] = c_next
        if grads:
            gparams[0, m] = gb + a_next * dbeta
            gparams[1, m] = ga + g_next * state0[1, m]
            gparams[2, m] = gt + a_next * dtheta
    return scan_backward


def _grid(m: int) -> int:
    return max(1, (m + THREADS - 1) // THREADS)


def launch_forward(x, state0, params, mode, mpr, mpr_a, mpr_c, s, u, i_last, stream=0) -> None:
    """Launch the forward scan on device (or simulator) arrays: ``state0`` = [u0; i0] [2, M],
    ``params`` = [β; α; θ] [3, N]; outputs ``s``, ``u`` [T, M] and ``i_last`` [M]."""
    with quiet():
        _forward_kernel(mpr)[_grid(x.shape[1]), THREADS, stream](x, state0, params, mode, mpr_a, mpr_c, s, u, i_last)


def launch_backward(gs, gu, gi_last, u, state0, params, mode, detach, kind, k, mpr, mpr_a, mpr_c, grads,
                    gx, gstate0, gparams, stream=0) -> None:
    """Launch the backward scan; ``gs``/``gu`` are [T, M] or one row [1, M] used at every step.
    Outputs: ``gx`` [T, M], ``gstate0`` = [du0; di0] [2, M], ``gparams`` = [dβ; dα; dθ] [3, M]
    (per element, summed over time; written only if ``grads``)."""
    with quiet():
        _backward_kernel(mpr, kind, grads)[_grid(u.shape[1]), THREADS, stream](
            gs, gu, gi_last, u, state0, params, mode, detach, k, mpr_a, mpr_c, gx, gstate0, gparams)


def _stream():
    return cuda.external_stream(torch.cuda.current_stream().cuda_stream)


def _dev(t: torch.Tensor):
    """A device-array view of a CUDA tensor. ``sync=False``: the kernels run on the tensor's own
    (current) stream, so numba need not wait for that stream at every launch."""
    return cuda.from_cuda_array_interface(t.__cuda_array_interface__, owner=t, sync=False)


def _rows(g: torch.Tensor | None, zeros: torch.Tensor) -> torch.Tensor:
    if g is None:
        return zeros
    return (g[:1] if g.stride(0) == 0 else g).contiguous()


def forward(x, u0, i0, beta, alpha, theta, cfg):
    """The forward scan on CUDA tensors; returns (spikes, membrane, last i)."""
    s, u, i_last = torch.empty_like(x), torch.empty_like(x), torch.empty_like(u0)
    state0, params = torch.stack([u0.detach(), i0.detach()]), torch.stack([beta.detach(), alpha.detach(), theta.detach()])
    launch_forward(*map(_dev, (x.detach().contiguous(), state0, params)), cfg.reset, cfg.mpr, cfg.mpr_a, cfg.mpr_c,
                   *map(_dev, (s, u, i_last)), stream=_stream())
    return s, u, i_last


def backward(gs, gu, gi_last, u, u0, i0, beta, alpha, theta, cfg, grads):
    """The backward scan on CUDA tensors; see :func:`neurosim.train.kernels_cpu.backward`."""
    zeros = u.new_zeros(1, u.shape[1])
    gx, gstate0 = torch.empty_like(u), u.new_empty(2, u.shape[1])
    gparams = u.new_empty(3, u.shape[1] if grads else 1)
    gi_last = u0.new_zeros(u0.shape) if gi_last is None else gi_last.contiguous()
    state0, params = torch.stack([u0.detach(), i0.detach()]), torch.stack([beta.detach(), alpha.detach(), theta.detach()])
    launch_backward(*map(_dev, (_rows(gs, zeros), _rows(gu, zeros), gi_last, u.detach(), state0, params)), cfg.reset,
                    cfg.detach, cfg.kind, cfg.slope, cfg.mpr, cfg.mpr_a, cfg.mpr_c, grads,
                    *map(_dev, (gx, gstate0, gparams)), stream=_stream())
    return gx, gstate0[0], gstate0[1], gparams[0], gparams[1], gparams[2]
