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
- storage (Ramsauer et al. 2020, Theorem 3; restated as Theorem 2.3 of Hopular, arXiv
  2206.00664): pattern x_i is *stored* when a single fixed point x_i* lies in the sphere
  S_i = {ξ : ‖ξ − x_i‖ ≤ 1/(β N M)}; a sufficient condition is the separation
      Δ_i ≥ 2/(βN) + β⁻¹ ln(2 (N − 1) N β M²).
  For N patterns drawn uniformly on the sphere of radius M = K√(d − 1), with probability 1 − p
  all of them are stored as long as N ≤ √p c^{(d−1)/4} (:func:`capacity_bound`), where
      a = 2/(d − 1) · (1 + ln(2 β K² p (d − 1))),  b = 2 K² β / 5,  c = b / W₀(exp(a + ln b)),
  provided c ≥ (2/√p)^{4/(d−1)} (i.e. the bound is >= 2). It is a lower bound obtained by union
  bounds on the separation, not an estimate of the capacity.
- what the separation condition gives for such patterns (:func:`separation_capacity_estimate`):
  every pattern passes it iff no pair has cos θ_ij > t(N) = 1 − (2/N + ln(2(N−1)NβM²))/(βM²).
  For uniform directions P(cos θ > t) = ½ I_{1−t²}((d−1)/2, ½) (t > 0, regularised incomplete
  beta), and the number of such pairs is nearly Poisson, so the median capacity solves
  N(N − 1)/2 · P(cos θ > t(N)) = ln 2.

:func:`retrieve` iterates like hflayers: until the softmax matrix of all states moves by at
most ``eps`` (Frobenius norm) or ``max_updates`` updates were made.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq
from scipy.special import betainc, lambertw


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
    """Iterate :func:`update` until the Frobenius norm of the change of the softmax matrix (all
    states together, hflayers' rule for one head and one batch entry) is at most ``eps`` or
    ``max_updates`` updates were made (None: no limit). Returns (states, updates made)."""
    if max_updates is not None and max_updates < 1:
        raise ValueError(f"max_updates: must be >= 1 or None, got {max_updates!r}")
    x, xi = _check(patterns, state, beta)
    p_old, steps = None, 0
    while True:
        p = softmax(beta * xi @ x.T)
        xi = p @ x
        steps += 1
        done = p_old is not None and np.linalg.norm(p - p_old) <= eps
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


def sphere_patterns(count: int, dim: int, radius: float, rng: np.random.Generator) -> np.ndarray:
    """``count`` patterns drawn uniformly on the sphere of ``radius`` in R^dim: (count, dim)."""
    if dim < 2:
        raise ValueError(f"dim: must be >= 2, got {dim!r}")
    x = rng.standard_normal((count, dim))
    return x * (radius / np.linalg.norm(x, axis=1, keepdims=True))


def capacity_bound(dim: float | np.ndarray, beta: float, k: float,
                   p: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ramsauer et al.'s storage capacity for patterns on the sphere of radius K√(d − 1):
    (N_bound = √p c^{(d−1)/4}, c, valid) with c = b / W₀(exp(a + ln b)) (module doc); ``valid``
    is the theorem's condition c ≥ (2/√p)^{4/(d−1)} (equivalently N_bound >= 2)."""
    d = np.asarray(dim, dtype=np.float64)
    if np.any(d < 2):
        raise ValueError(f"dim: must be >= 2, got {dim!r}")
    for name, value in (("beta", beta), ("k", k)):
        if not (np.isfinite(value) and value > 0):
            raise ValueError(f"{name}: must be finite and > 0, got {value!r}")
    if not 0 < p <= 1:
        raise ValueError(f"p: must be in (0, 1], got {p!r}")
    a = 2.0 / (d - 1.0) * (1.0 + np.log(2.0 * beta * k**2 * p * (d - 1.0)))
    b = 2.0 * k**2 * beta / 5.0
    c = b / np.real(lambertw(np.exp(a + np.log(b))))
    bound = np.sqrt(p) * c ** ((d - 1.0) / 4.0)
    return bound, c, c >= (2.0 / np.sqrt(p)) ** (4.0 / (d - 1.0))


def storage_checks(patterns: np.ndarray, beta: float, chunk: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Per pattern, for patterns of equal norm M (rows of ``patterns`` (N, d), N >= 2):
    (separated, retrieved). ``separated``: Δ_i ≥ 2/(βN) + β⁻¹ ln(2 (N − 1) N β M²), the
    theorem's sufficient condition for storage; ``retrieved``: one update from x_i lands in
    S_i, ‖f(x_i) − x_i‖ ≤ 1/(β N M). Rows are processed ``chunk`` at a time (memory N·chunk)."""
    x = np.asarray(patterns, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"patterns: need at least 2 patterns (N, d), got shape {x.shape}")
    norms2 = (x * x).sum(axis=1)
    m2 = norms2.max()
    if not np.allclose(norms2, m2, rtol=1e-9):
        raise ValueError("patterns: must all have the same norm (patterns on a sphere)")
    if not (np.isfinite(beta) and beta > 0):
        raise ValueError(f"beta: must be finite and > 0, got {beta!r}")
    n = x.shape[0]
    threshold = 2.0 / (beta * n) + np.log(2.0 * (n - 1) * n * beta * m2) / beta
    radius = 1.0 / (beta * n * np.sqrt(m2))
    separated, retrieved = np.empty(n, dtype=bool), np.empty(n, dtype=bool)
    for start in range(0, n, chunk):
        rows = slice(start, min(start + chunk, n))
        g = x[rows] @ x.T
        w = np.exp(beta * (g - m2))  # x_i·x_j <= M²: the own pattern has the largest weight, 1
        step = (w @ x) / w.sum(axis=1, keepdims=True) - x[rows]
        retrieved[rows] = np.linalg.norm(step, axis=1) <= radius
        g[np.arange(g.shape[0]), np.arange(rows.start, rows.stop)] = -np.inf
        separated[rows] = m2 - g.max(axis=1) >= threshold
    return separated, retrieved


def separation_capacity_estimate(dim: float, beta: float, k: float) -> float:
    """Median number of patterns uniform on the sphere of radius K√(d − 1) that all pass the
    separation condition, in the Poisson closest-pair approximation (module doc)."""
    if dim < 3:
        raise ValueError(f"dim: must be >= 3, got {dim!r}")
    s = beta * k**2 * (dim - 1.0)

    def excess(log_n: float) -> float:
        n = np.exp(log_n)
        t = 1.0 - (2.0 / n + np.log(2.0 * (n - 1.0) * n * s)) / s
        if t <= 0.0:
            return 1e3  # t <= 0: most pairs fail, far beyond the capacity (finite for brentq)
        return np.log(n * (n - 1.0) / 2.0 * 0.5 * betainc((dim - 1.0) / 2.0, 0.5, 1.0 - t * t)) - np.log(np.log(2.0))

    low = np.log(2.0)
    if excess(low) >= 0.0:
        return 2.0
    high = low
    while excess(high) < 0.0:
        high += 5.0
    return float(np.exp(brentq(excess, low, high, xtol=1e-10)))
