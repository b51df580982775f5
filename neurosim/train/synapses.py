"""Event-driven linear synapse: ``SparseLinear`` multiplies spike inputs event by event.

The input of a synapse layer inside a spiking network is mostly zeros (spikes at a few per
cent of the neuron-steps). ``SparseLinear`` is an ``nn.Linear`` (same parameters, state dict
and results) whose CPU forward pass, when at most ``max_density`` of the input is non-zero,
lists the input's events per row (CSR) and adds one weight row per event::

    y[r] = b + Σ_{j : x[r, j] ≠ 0} x[r, j] · Wᵀ[j]          (forward)
    dWᵀ[j] = Σ_{r : x[r, j] ≠ 0} x[r, j] · dy[r]             (weight gradient)
    dx = dy W                                                (input gradient: a dense product)

so the forward product and the weight gradient cost in proportion to the number of events
rather than to the input size. Both loops run over blocks of outputs whose slice of ``Wᵀ``
(4 MiB, transposed into a buffer) stays in the last-level cache while all rows pass, and
take a row's events four at a time, so that each pass over a block row of ``y`` (or of
``dy``) serves four events.
Autograd saves the event list instead of the input. Denser inputs, other devices and other
dtypes use ``torch.nn.functional.linear``.
"""

from __future__ import annotations

import numpy as np
import torch
from numba import njit
from torch import Tensor, nn
from torch.nn import functional as nnf

#: bytes of one column block of Wᵀ, kept in the last-level cache while all rows pass
BLOCK_BYTES = 1 << 22


@njit(cache=True, nogil=True)
def count_events(x):  # pragma: no cover
    """Non-zeros of ``x`` [R, K]."""
    R, K = x.shape
    n = 0
    for r in range(R):
        xr = x[r]
        for j in range(K):
            n += xr[j] != 0
    return n


@njit(cache=True, nogil=True)
def events(x, indptr, indices, values):  # pragma: no cover
    """The CSR event list of ``x`` [R, K] (row pointers, column indices, values)."""
    R, K = x.shape
    n = 0
    for r in range(R):
        indptr[r] = n
        xr = x[r]
        for j in range(K):
            if xr[j] != 0:
                indices[n] = j
                values[n] = xr[j]
                n += 1
    indptr[R] = n


def _block(k: int, n: int) -> int:
    return max(16, min(n, BLOCK_BYTES // (4 * k) // 16 * 16))


@njit(cache=True, nogil=True, error_model="numpy")
def event_matmul(indptr, indices, values, w, block, y):  # pragma: no cover
    """``y[r] += Σ_e values[e] · W[:, indices[e]]`` over the events e of row r (``y`` holds the bias);
    ``W`` [N, K] is transposed one block of ``block`` outputs at a time."""
    R = indptr.shape[0] - 1
    N, K = w.shape
    wt = np.empty((K, block), w.dtype)
    for n0 in range(0, N, block):
        nb = min(N, n0 + block) - n0
        for n in range(nb):
            for k in range(K):
                wt[k, n] = w[n0 + n, k]
        for r in range(R):
            yr = y[r, n0:n0 + nb]
            e, end = indptr[r], indptr[r + 1]
            while e + 4 <= end:  # four events per pass over yr: one load and store of yr per 4 rows of Wᵀ
                v0, v1, v2, v3 = values[e], values[e + 1], values[e + 2], values[e + 3]
                r0, r1, r2, r3 = wt[indices[e]], wt[indices[e + 1]], wt[indices[e + 2]], wt[indices[e + 3]]
                for j in range(nb):
                    yr[j] += (v0 * r0[j] + v1 * r1[j]) + (v2 * r2[j] + v3 * r3[j])
                e += 4
            for e in range(e, end):
                v = values[e]
                row = wt[indices[e]]
                for j in range(nb):
                    yr[j] += v * row[j]


@njit(cache=True, nogil=True, error_model="numpy")
def event_outer(indptr, indices, values, g, block, dw):  # pragma: no cover
    """``dW[:, indices[e]] += values[e] · g[r]`` over the events e of every row r, one block of
    ``block`` outputs at a time (accumulated transposed, then written into ``dw`` [N, K])."""
    R = indptr.shape[0] - 1
    N, K = dw.shape
    acc = np.empty((K, block), dw.dtype)
    for n0 in range(0, N, block):
        nb = min(N, n0 + block) - n0
        acc[:, :nb] = 0.0
        for r in range(R):
            gr = g[r, n0:n0 + nb]
            e, end = indptr[r], indptr[r + 1]
            while e + 4 <= end:  # four events per pass over gr (distinct columns: no aliasing)
                v0, v1, v2, v3 = values[e], values[e + 1], values[e + 2], values[e + 3]
                a0, a1, a2, a3 = acc[indices[e]], acc[indices[e + 1]], acc[indices[e + 2]], acc[indices[e + 3]]
                for j in range(nb):
                    gj = gr[j]
                    a0[j] += v0 * gj
                    a1[j] += v1 * gj
                    a2[j] += v2 * gj
                    a3[j] += v3 * gj
                e += 4
            for e in range(e, end):
                v = values[e]
                row = acc[indices[e]]
                for j in range(nb):
                    row[j] += v * gr[j]
        for n in range(nb):
            for k in range(K):
                dw[n0 + n, k] = acc[k, n]


class _EventLinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Tensor | None, csr: tuple[np.ndarray, ...]) -> Tensor:
        indptr, indices, values = csr
        out_features, in_features = weight.shape
        y = bias.detach().expand(x.shape[0], out_features).contiguous() if bias is not None else \
            x.new_zeros(x.shape[0], out_features)
        event_matmul(indptr, indices, values, weight.detach().contiguous().numpy(), _block(in_features, out_features),
                     y.numpy())
        ctx.csr, ctx.shape = csr, weight.shape
        ctx.has_bias = bias is not None
        ctx.save_for_backward(weight if ctx.needs_input_grad[0] else None)  # W only for dx
        return y

    @staticmethod
    def backward(ctx, gy: Tensor):
        (weight,) = ctx.saved_tensors
        need_x, need_w, need_b, _ = ctx.needs_input_grad
        gx = gy @ weight if need_x else None
        gw = None
        if need_w:
            out_features, in_features = ctx.shape
            gw = gy.new_empty(out_features, in_features)
            event_outer(*ctx.csr, gy.detach().contiguous().numpy(), _block(in_features, out_features), gw.numpy())
        gb = gy.sum(0) if need_b and ctx.has_bias else None
        return gx, gw, gb, None


class SparseLinear(nn.Linear):
    """``nn.Linear`` that runs event by event on sparse CPU inputs (see the module docstring).

    ``max_density``: the largest fraction of non-zero inputs for which the event path is used.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, max_density: float = 0.25,
                 device=None, dtype=None):
        super().__init__(in_features, out_features, bias=bias, device=device, dtype=dtype)
        if not 0 <= max_density <= 1:
            raise ValueError(f"SparseLinear.max_density: must be in [0, 1], got {max_density!r}")
        self.max_density = max_density

    def forward(self, x: Tensor) -> Tensor:
        if x.device.type != "cpu" or x.dtype not in (torch.float32, torch.float64) or x.dtype != self.weight.dtype \
                or x.dim() < 2 or x.shape[-1] == 0:
            return nnf.linear(x, self.weight, self.bias)
        flat = x.detach().reshape(-1, x.shape[-1]).contiguous().numpy()
        n = count_events(flat)
        if n > self.max_density * flat.size:
            return nnf.linear(x, self.weight, self.bias)
        csr = (np.empty(flat.shape[0] + 1, np.int64), np.empty(n, np.int32), np.empty(n, flat.dtype))
        events(flat, *csr)
        y = _EventLinear.apply(x.reshape(-1, x.shape[-1]), self.weight, self.bias, csr)
        return y.view(*x.shape[:-1], self.out_features)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, max_density={self.max_density}"
