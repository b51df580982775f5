"""Modern continuous Hopfield network (Ramsauer et al. 2020, "Hopfield Networks is All You
Need"), in NumPy.

Stored patterns are the rows of ``patterns`` (N, d) (the paper's X ∈ R^{d×N} is its
transpose); states ξ are rows of ``state`` (B, d), so every function is batched.

- update:   ξ ← X softmax(β Xᵀ ξ)                       (one step: :func:`update`)
- energy:   E(ξ) = −lse(β, Xᵀξ) + ½ ξᵀξ + β⁻¹ ln N + ½ M²,  lse(β, z) = β⁻¹ ln Σ_i exp(β z_i),
            M = max_i ‖x_i‖. E is the sum of a concave and a convex term and the update is its
            CCCP step, so E never increases along the iteration.
- separation of pattern i: Δ_i = x_iᵀx_i − max_{j≠i} x_iᵀx_j.
- one-step retrieval error: with p = softmax(β Xᵀξ), f(ξ) − x_i = Σ_{j≠i} p_j (x_j − x_i), so
  ‖f(ξ) − x_i‖ ≤ 2M (1 − p_i) ≤ 2M Σ_{j≠i} exp(β (x_j − x_i)ᵀξ), and
  (x_j − x_i)ᵀξ ≤ −Δ_i + 2M ‖ξ − x_i‖, which gives the paper's bound
      ‖f(ξ) − x_i‖ ≤ 2 (N − 1) exp(−β (Δ_i − 2 M ‖ξ − x_i‖)) M
  (the paper writes max{‖ξ − x_i‖, ‖x_i* − x_i‖} in place of ‖ξ − x_i‖, a weaker bound).
- β → 0: softmax becomes uniform and one update returns the mean pattern.

:func:`retrieve` iterates like hflayers: until the softmax weights of every state move by at
most ``eps`` (Euclidean norm) or ``max_updates`` updates were made.
"""

from __future__ import annotations

import numpy as np


def _check(patterns: np.ndarray, state: np.ndarray, beta: float) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(patterns, dtype=np.float64)
    xi = np.atleast_2d(np.asarray(state, dtype=np.float64))
    if x.ndim != 2 or x.shape[0] < 1:
        raise ValueError(f"patterns: must be a non-empty 2-D array (N, d), got shape {x.shape}")
    if xi.ndim != 2 or xi.shape[1] != x.shape[1]:
        raise ValueError(f"state: expected shape (B, {x.shape[1]}) or ({x.shape[1]},), got {np.shape(state)}")
    if not (np.isfinite(beta) and beta > 0):
        raise ValueError(f"beta: must be finite and > 0, got {beta!r}")
    return x, xi


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax, stable for large arguments."""
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def lse(beta: float, z: np.ndarray) -> np.ndarray:
    """lse(β, z) = β⁻¹ ln Σ_i exp(β z_i), row-wise."""
    top = z.max(axis=-1)
    return top + np.log(np.exp(beta * (z - top[..., None])).sum(axis=-1)) / beta


def association(patterns: np.ndarray, state: np.ndarray, beta: float) -> np.ndarray:
    """Softmax weights p = softmax(β Xᵀξ) of every state: (B, N)."""
    x, xi = _check(patterns, state, beta)
    return softmax(beta * xi @ x.T)


def update(patterns: np.ndarray, state: np.ndarray, beta: float) -> np.ndarray:
    """One update ξ ← X softmax(β Xᵀξ) of every state: (B, d)."""
    return association(patterns, state, beta) @ np.asarray(patterns, dtype=np.float64)


def retrieve(patterns: np.ndarray, state: np.ndarray, beta: float, max_updates: int | None = 1,
             eps: float = 1e-4) -> tuple[np.ndarray, int]:
    """Iterate :func:`update` until the softmax weights move by at most ``eps`` for every state
    or ``max_updates`` updates were made (None: no limit). Returns (states, updates made)."""
    if max_updates is not None and max_updates < 1:
        raise ValueError(f"max_updates: must be >= 1 or None, got {max_updates!r}")
    x, xi = _check(patterns, state, beta)
    p_old, steps = None, 0
    while True:
        p = softmax(beta * xi @ x.T)
        xi = p @ x
        steps += 1
        done = p_old is not None and np.linalg.norm(p - p_old, axis=1).max() <= eps
        if done or (max_updates is not None and steps >= max_updates):
            return xi, steps
        p_old = p


def energy(patterns: np.ndarray, state: np.ndarray, beta: float) -> np.ndarray:
    """E(ξ) = −lse(β, Xᵀξ) + ½ξᵀξ + β⁻¹ ln N + ½M² of every state: (B,)."""
    x, xi = _check(patterns, state, beta)
    big_m = np.linalg.norm(x, axis=1).max()
    return -lse(beta, xi @ x.T) + 0.5 * (xi * xi).sum(axis=1) + np.log(x.shape[0]) / beta + 0.5 * big_m**2


def separation(patterns: np.ndarray) -> np.ndarray:
    """Δ_i = x_iᵀx_i − max_{j≠i} x_iᵀx_j for every pattern: (N,) (needs N >= 2)."""
    x = np.asarray(patterns, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"patterns: need at least 2 patterns (N, d), got shape {x.shape}")
    g = x @ x.T
    own = np.diag(g).copy()
    np.fill_diagonal(g, -np.inf)
    return own - g.max(axis=1)


def retrieval_error(patterns: np.ndarray, state: np.ndarray, index: np.ndarray, beta: float) -> np.ndarray:
    """‖f(ξ) − x_i‖ after one update of every state ξ towards its target pattern ``index[b]``,
    computed as ‖Σ_j p_j (x_j − x_i)‖ (no cancellation when the error is tiny; the norm is
    taken of the vector scaled by its largest entry, so errors below 1e-154 do not underflow
    to 0 when squared): (B,)."""
    x, xi = _check(patterns, state, beta)
    idx = np.broadcast_to(np.asarray(index), (xi.shape[0],))
    p = softmax(beta * xi @ x.T)
    out = np.zeros(xi.shape[0])
    for b, i in enumerate(idx):
        v = p[b] @ (x - x[i])
        scale = np.abs(v).max()
        out[b] = scale * np.linalg.norm(v / scale) if scale > 0 else 0.0
    return out


def retrieval_error_bound(patterns: np.ndarray, state: np.ndarray, index: np.ndarray, beta: float) -> np.ndarray:
    """2 (N − 1) exp(−β (Δ_i − 2 M ‖ξ − x_i‖)) M for every state ξ and its target pattern
    ``index[b]`` (see the module doc): (B,)."""
    x, xi = _check(patterns, state, beta)
    idx = np.broadcast_to(np.asarray(index), (xi.shape[0],))
    big_m = np.linalg.norm(x, axis=1).max()
    dist = np.linalg.norm(xi - x[idx], axis=1)
    return 2.0 * (x.shape[0] - 1) * np.exp(-beta * (separation(x)[idx] - 2.0 * big_m * dist)) * big_m
