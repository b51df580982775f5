"""Event-driven linear synapse: ``SparseLinear`` multiplies spike inputs event by event where that is faster.

The input of a synapse layer inside a spiking network is mostly zeros (spikes at a few per
cent of the neuron-steps). ``SparseLinear`` is an ``nn.Linear`` (same parameters, state dict
and results to rounding) whose CPU forward pass can list the input's events per row (CSR) and
add one weight row per event::

    y[r] = b + Σ_{j : x[r, j] ≠ 0} x[r, j] · Wᵀ[j]          (forward)
    dWᵀ[j] = Σ_{r : x[r, j] ≠ 0} x[r, j] · dy[r]             (weight gradient)
    dx = dy W                                                (input gradient: a dense product)

so the forward product and the weight gradient cost in proportion to the number of events
rather than to the input size. Both loops run over blocks of outputs whose slice of ``Wᵀ``
(transposed into a buffer of half the per-core L2 cache, at least 64 outputs wide) stays in
cache while all rows pass, and take a row's events four at a time, so that each pass over a
block row of ``y`` (or of ``dy``) serves four events. Autograd saves the event list instead of
the input.

Whether the event path beats the dense products (BLAS) depends on the input density, on the
layer's shape and on the machine (BLAS speed, cache sizes): at 10 % input density it has been
measured faster than the dense products on one machine and slower on another. So by default
(``max_density="auto"``) each call measures its input density ``d`` and compares it with a
crossover density calibrated once per process for the layer's shape, dtype and torch thread
count (:func:`calibrate`): a few timed runs of both paths on random spikes (private random
generator: the global RNG states are untouched), fitted to::

    dense  = K·N·c_dense_block + R·K·N·c_dense
    events = K·N·c_block + R·K·c_scan + d·R·K·N·c_event

(``R`` rows, ``K`` inputs, ``N`` outputs; forward and weight-gradient costs summed when the
weight needs a gradient, the forward alone otherwise; ``c_block``, ``c_dense_block`` the
per-call costs of transposing ``W`` and writing the weight gradient). The event path runs
when ``d`` is at or below the crossover. The calibration is logged (logger
``neurosim.train.synapses``, INFO), every choice at DEBUG; ``SparseLinear.last_choice``
and ``path_counts`` (also in the module's ``repr``) show what a layer did. Both paths compute
the same sums in a different order, so the choice changes results only by float rounding.
For runs that must not depend on timings, give a fixed ``max_density`` (a float: the event
path at or below that density; 0 = always dense) or set the environment variable
``NEUROSIM_SPARSE_MAX_DENSITY`` (a float used in place of every ``"auto"``).
Other devices and dtypes use ``torch.nn.functional.linear``.
"""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from numba import njit
from torch import Tensor, nn
from torch.nn import functional as nnf

log = logging.getLogger(__name__)


def _l2_bytes() -> int:
    """The per-core L2 cache size from Linux's sysfs; 2 MiB if it cannot be read."""
    try:
        for index in sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
            if (index / "level").read_text().strip() == "2" and (index / "type").read_text().strip() != "Instruction":
                text = (index / "size").read_text().strip().upper()
                scale = {"K": 1 << 10, "M": 1 << 20}.get(text[-1:], 1)
                return int(text.rstrip("KM")) * scale
    except (OSError, ValueError):
        pass
    return 1 << 21


#: bytes of one column block of Wᵀ, kept in cache while all rows pass: half the per-core L2
BLOCK_BYTES = max(1 << 18, _l2_bytes() // 2)
#: the narrowest block (outputs): shorter inner loops cost more than the cache misses they save
MIN_BLOCK = 64


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


def _block(k: int, n: int, itemsize: int = 4) -> int:
    """Outputs per block of Wᵀ (``k`` inputs, ``n`` outputs): ``BLOCK_BYTES`` of it, at least ``MIN_BLOCK``."""
    return max(16, min(n, max(MIN_BLOCK, BLOCK_BYTES // (itemsize * k)) // 16 * 16))


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
        event_matmul(indptr, indices, values, weight.detach().contiguous().numpy(),
                     _block(in_features, out_features, weight.element_size()), y.numpy())
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
            event_outer(*ctx.csr, gy.detach().contiguous().numpy(),
                        _block(in_features, out_features, gy.element_size()), gw.numpy())
        gb = gy.sum(0) if need_b and ctx.has_bias else None
        return gx, gw, gb, None


# ----------------------------------------------------------------------------------- calibration
#: rows, input density and repeats of the calibration
CALIBRATION_ROWS, CALIBRATION_DENSITY, CALIBRATION_REPEATS = 512, 0.1, 5
#: multiply-adds of one calibration product (about 20-50 ms of BLAS on one core): a large layer is
#: calibrated on a slice of its outputs (at least 256), since both paths' costs per multiply-add
#: depend on the inputs K (the event path's block width, BLAS's inner dimension) and little on N
CALIBRATION_MACS = 1 << 30
ENV_MAX_DENSITY = "NEUROSIM_SPARSE_MAX_DENSITY"


@dataclass(frozen=True)
class Calibration:
    """Measured costs (seconds) of both paths for one layer shape, dtype and torch thread count.

    ``dense_*`` per multiply-add of the dense product (R·K·N of them), ``dense_block_wgrad``
    per call and weight (K·N: writing the dense weight gradient), ``event_*`` per event and
    output (d·R·K·N), ``block_*`` per call and weight (K·N: transposing W, writing dW),
    ``scan`` per input element (R·K: building the event list, which only the event path does);
    ``*_fwd`` the forward product, ``*_wgrad`` the weight gradient."""

    in_features: int
    out_features: int
    dtype: str
    threads: int
    dense_fwd: float
    dense_wgrad: float
    dense_block_wgrad: float
    event_fwd: float
    event_wgrad: float
    block_fwd: float
    block_wgrad: float
    scan: float
    seconds: float  # the calibration's own time

    def crossover(self, rows: int, weight_grad: bool) -> float:
        """The input density below which the event path is faster for ``rows`` rows (0: never, 1: always)."""
        dense, event, block = self.dense_fwd, self.event_fwd, self.block_fwd
        if weight_grad:
            dense, event = dense + self.dense_wgrad, event + self.event_wgrad
            block += self.block_wgrad - self.dense_block_wgrad
        d = (dense - block / max(rows, 1) - self.scan / self.out_features) / event
        return min(1.0, max(0.0, d))


_CALIBRATIONS: dict[tuple[int, int, torch.dtype, int], Calibration] = {}


def _seconds(fn, clock) -> float:
    t0 = clock()
    fn()
    return clock() - t0


def _warm_up(np_dtype) -> None:
    """One call of every kernel on a tiny input: numba loads (or compiles) them."""
    x = np.eye(2, 8, dtype=np_dtype)
    csr = (np.empty(3, np.int64), np.empty(2, np.int32), np.empty(2, np_dtype))
    count_events(x)
    events(x, *csr)
    event_matmul(*csr, np.ones((4, 8), np_dtype), 16, np.zeros((2, 4), np_dtype))
    event_outer(*csr, np.ones((2, 4), np_dtype), 16, np.empty((4, 8), np_dtype))


def calibrate(in_features: int, out_features: int, dtype: torch.dtype = torch.float32,
              rows: int = CALIBRATION_ROWS, repeats: int = CALIBRATION_REPEATS, force: bool = False) -> Calibration:
    """Time both paths of a ``in_features -> out_features`` layer on this machine (cached per process).

    Random spikes at ``CALIBRATION_DENSITY`` over ``rows`` rows and ``out_features`` outputs
    (at most ``CALIBRATION_MACS / (rows · in_features)`` of them, at least 256), from a private
    generator (the global torch and numpy random states are untouched); each cost is the fastest
    of ``repeats`` runs, the runs of the two paths interleaved; with one torch thread the times
    are the process's CPU time (all kernels then run on one thread), so that other processes'
    load inflates them less. About 0.3 s for 1024 x 1024 and 0.5-2 s for 4096 x 4096 on one core."""
    key = (in_features, out_features, dtype, torch.get_num_threads())
    if key in _CALIBRATIONS and not force:
        return _CALIBRATIONS[key]
    t_start = time.perf_counter()
    k = in_features
    n = min(out_features, max(256, CALIBRATION_MACS // (rows * k)))  # outputs timed
    np_dtype = np.float32 if dtype == torch.float32 else np.float64
    rng = np.random.default_rng(0)
    x = (rng.random((rows, k), np.float32) < CALIBRATION_DENSITY).astype(np_dtype)
    w = rng.random((n, k), np.float32).astype(np_dtype) - np_dtype(0.5)
    g = rng.random((rows, n), np.float32).astype(np_dtype) - np_dtype(0.5)
    xt, wt, gt = torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(g)
    nnz = count_events(x)
    csr = (np.empty(rows + 1, np.int64), np.empty(nnz, np.int32), np.empty(nnz, np_dtype))
    events(x, *csr)
    empty = (np.zeros(1, np.int64), np.empty(0, np.int32), np.empty(0, np_dtype))
    y, gw = np.zeros((rows, n), np_dtype), np.empty((n, k), np_dtype)
    block = _block(k, n, np.dtype(np_dtype).itemsize)
    runs = {
        "dense_fwd": lambda: nnf.linear(xt, wt),
        "dense_wgrad": lambda: gt.T @ xt,
        "dense_block_wgrad": lambda: gt[:0].T @ xt[:0],  # the N x K result alone (zeros)
        "event_fwd": lambda: event_matmul(*csr, w, block, y),
        "event_wgrad": lambda: event_outer(*csr, g, block, gw),
        "block_fwd": lambda: event_matmul(*empty, w, block, y[:0]),
        "block_wgrad": lambda: event_outer(*empty, g[:0], block, gw),
        "scan": lambda: events(x, *csr),  # count_events runs on both paths (the density decides)
    }
    _warm_up(np_dtype)
    # one torch thread: the process's CPU time (what other processes' load does not inflate); else wall time
    clock = time.process_time if key[3] == 1 else time.perf_counter
    with torch.no_grad():
        best = dict.fromkeys(runs, math.inf)
        for _ in range(repeats):
            for name, fn in runs.items():
                best[name] = min(best[name], _seconds(fn, clock))
    kn = k * n
    tiny = 1e-15
    cal = Calibration(
        in_features=k, out_features=out_features, dtype=str(dtype).removeprefix("torch."), threads=key[3],
        dense_fwd=best["dense_fwd"] / (rows * kn),
        dense_wgrad=max(tiny, best["dense_wgrad"] - best["dense_block_wgrad"]) / (rows * kn),
        dense_block_wgrad=best["dense_block_wgrad"] / kn,
        event_fwd=max(tiny, best["event_fwd"] - best["block_fwd"]) / max(1, nnz * n),
        event_wgrad=max(tiny, best["event_wgrad"] - best["block_wgrad"]) / max(1, nnz * n),
        block_fwd=best["block_fwd"] / kn, block_wgrad=best["block_wgrad"] / kn,
        scan=best["scan"] / (rows * k), seconds=time.perf_counter() - t_start,
    )
    _CALIBRATIONS[key] = cal
    log.info("SparseLinear %d -> %d (%s, %d torch thread%s): event path below %.1f %% input density with the weight "
             "gradient, %.1f %% forward only (at 1000 rows; calibration %.2f s: dense %.3g ns per multiply-add, "
             "events %.3g ns per event and output)", k, out_features, cal.dtype, cal.threads,
             "" if cal.threads == 1 else "s",
             100 * cal.crossover(1000, True), 100 * cal.crossover(1000, False), cal.seconds,
             1e9 * (cal.dense_fwd + cal.dense_wgrad) / 2, 1e9 * (cal.event_fwd + cal.event_wgrad) / 2)
    return cal


def _env_max_density() -> float | None:
    text = os.environ.get(ENV_MAX_DENSITY, "").strip()
    if not text or text == "auto":
        return None
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{ENV_MAX_DENSITY}: must be a number in [0, 1] or 'auto', got {text!r}") from None
    if not 0 <= value <= 1:
        raise ValueError(f"{ENV_MAX_DENSITY}: must be in [0, 1], got {value!r}")
    return value


class SparseLinear(nn.Linear):
    """``nn.Linear`` that runs event by event on sparse CPU inputs where that is faster (see the module docstring).

    ``max_density``: ``"auto"`` (default): the event path below the crossover density calibrated
    on this machine for this shape; a float in [0, 1]: the event path when at most that fraction
    of the input is non-zero (0: always dense, 1: always events).
    After a call, ``last_choice`` is ``(path, density, threshold)`` and ``path_counts`` counts the
    calls per path.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, max_density: float | str = "auto",
                 device=None, dtype=None):
        super().__init__(in_features, out_features, bias=bias, device=device, dtype=dtype)
        if max_density != "auto" and not (isinstance(max_density, (int, float)) and 0 <= max_density <= 1):
            raise ValueError(f"SparseLinear.max_density: must be 'auto' or in [0, 1], got {max_density!r}")
        self.max_density = max_density
        self.last_choice: tuple[str, float, float] | None = None
        self.path_counts = {"events": 0, "dense": 0}

    def threshold(self, rows: int, weight_grad: bool, dtype: torch.dtype) -> float:
        """The density at or below which a call with ``rows`` rows takes the event path."""
        if self.max_density != "auto":
            return float(self.max_density)
        fixed = _env_max_density()
        if fixed is not None:
            return fixed
        return calibrate(self.in_features, self.out_features, dtype).crossover(rows, weight_grad)

    def forward(self, x: Tensor) -> Tensor:
        if x.device.type != "cpu" or x.dtype not in (torch.float32, torch.float64) or x.dtype != self.weight.dtype \
                or x.dim() < 2 or x.shape[-1] == 0 or self.max_density == 0:
            return nnf.linear(x, self.weight, self.bias)
        flat = x.detach().reshape(-1, x.shape[-1]).contiguous().numpy()
        n = count_events(flat)
        density = n / flat.size if flat.size else 0.0
        weight_grad = torch.is_grad_enabled() and self.weight.requires_grad
        limit = self.threshold(flat.shape[0], weight_grad, x.dtype)
        path = "events" if limit > 0 and density <= limit else "dense"
        self.last_choice = (path, density, limit)
        self.path_counts[path] += 1
        log.debug("SparseLinear %d -> %d: %s path, input density %.4f, threshold %.4f (%d rows)",
                  self.in_features, self.out_features, path, density, limit, flat.shape[0])
        if path == "dense":
            return nnf.linear(x, self.weight, self.bias)
        csr = (np.empty(flat.shape[0] + 1, np.int64), np.empty(n, np.int32), np.empty(n, flat.dtype))
        events(flat, *csr)
        y = _EventLinear.apply(x.reshape(-1, x.shape[-1]), self.weight, self.bias, csr)
        return y.view(*x.shape[:-1], self.out_features)

    def extra_repr(self) -> str:
        text = f"{super().extra_repr()}, max_density={self.max_density!r}"
        if self.last_choice is not None:
            path, density, limit = self.last_choice
            text += (f", last: {path} (density {density:.3f}, threshold {limit:.3f}), calls: "
                     f"events {self.path_counts['events']}, dense {self.path_counts['dense']}")
        return text
