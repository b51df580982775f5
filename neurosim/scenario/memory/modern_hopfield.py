"""``modern_hopfield``: one-step retrieval of the modern Hopfield network on random ±1
patterns of dimension d.

Against β (``patterns_for_beta`` stored patterns, queries = stored patterns with
``flips_for_beta`` bits flipped): ``log10_error`` (mean over queries of log10 ‖f(ξ) − x_i‖),
``log10_bound`` (the same for Ramsauer et al.'s bound 2(N−1) exp(−β(Δ_i − 2M‖ξ − x_i‖)) M,
capped at the trivial bound 2M)
and ``distance_to_mean`` (‖f(ξ) − mean pattern‖ / √d: → 0 as β → 0), x = ``log10_beta``.

Against the number of stored patterns N (queries with a fraction ``flip_fraction`` of bits
flipped, at ``beta``): ``retrieval_modern`` (fraction of queries whose sign(f(ξ)) is exactly
the stored pattern after one update) and ``retrieval_classical`` (the same for the classical
Hopfield network of the same patterns, asynchronous dynamics to a fixed point), x =
``log2_load``, load = N/d; ``max_load_modern`` / ``max_load_classical``: the largest load up to
which every query is retrieved.

Capacity against the dimension d (``capacity_dims``): ``capacity_draws`` sets of patterns
uniform on the sphere of radius K√(d − 1) (K = ``capacity_k``), stored at β = ``capacity_beta``;
N runs over the grid round(2^{k/2}) up to ``capacity_max_patterns``, each set's first N
patterns being stored. The capacity of a draw is the largest grid N up to which every pattern
passes a check (1 if N = 2 fails already; the grid step biases it low by up to log10 √2 = 0.15);
the median over the draws is written:

- ``log10_capacity_separated``: Ramsauer et al.'s sufficient separation condition
  Δ_i ≥ 2/(βN) + β⁻¹ ln(2(N − 1)NβM²) holds for every pattern, with
  ``log10_capacity_pairs`` drawn over it: the median of that capacity in the Poisson
  closest-pair approximation (:func:`neurosim.models.hopfield.modern.separation_capacity_estimate`);
- ``log10_capacity_retrieved``: one update from every x_i lands within 1/(βNM) of x_i (the
  theorem's sphere S_i);
- ``log10_capacity_theory`` against ``theory_dim`` (drawn over both): the theorem's lower bound
  log10(√p c^{(d−1)/4}) at failure probability p = ``capacity_p``; ``theorem_min_dim``: the
  smallest d of that grid where the theorem applies (c ≥ (2/√p)^{4/(d−1)}, i.e. a bound >= 2);
- ``capacity_slope_separated`` / ``capacity_slope_retrieved`` / ``capacity_slope_theory``:
  least-squares slopes of log10 capacity against d (an exponential law is a straight line);
- ``capacity_margin``: min over the dims where the theorem applies of log10(smallest separated
  capacity over the draws / bound) (NaN if it applies nowhere); x axis ``capacity_dim``.
"""

from __future__ import annotations

import numpy as np

from neurosim.scenario.memory.common import increasing
from neurosim.scenario.schema import Field, list_of

FIELDS = {
    "dim": Field("int", default=64, minimum=4, maximum=4096, doc="pattern dimension d"),
    "betas": list_of(Field("float", minimum=0.0, exclusive_minimum=True), min_items=2,
                     default=[1e-4, 1e-3, 0.01, 0.03, 0.1, 0.3, 0.5, 1.0, 2.0, 4.0, 8.0]),
    "patterns_for_beta": Field("int", default=256, minimum=2, maximum=1_000_000),
    "flips_for_beta": Field("int", default=1, minimum=0),
    "beta": Field("float", default=1.0, minimum=0.0, exclusive_minimum=True),
    "patterns": list_of(Field("int", minimum=2, maximum=1_000_000), min_items=2,
                        default=[4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192]),
    "flip_fraction": Field("float", default=0.1, minimum=0.0, maximum=0.5),
    "queries": Field("int", default=128, minimum=1, maximum=100_000, doc="queries per point"),
    "capacity_dims": list_of(Field("int", minimum=3, maximum=4096), min_items=2, default=[6, 8, 10, 12, 14],
                             doc="pattern dimensions d of the capacity measurement"),
    "capacity_beta": Field("float", default=1.0, minimum=0.0, exclusive_minimum=True),
    "capacity_k": Field("float", default=3.0, minimum=0.0, exclusive_minimum=True,
                        doc="patterns on the sphere of radius K sqrt(d - 1)"),
    "capacity_p": Field("float", default=0.01, minimum=0.0, exclusive_minimum=True, maximum=1.0,
                        doc="failure probability p of the capacity theorem"),
    "capacity_draws": Field("int", default=3, minimum=1, maximum=1000, doc="pattern sets per dimension"),
    "capacity_max_patterns": Field("int", default=16384, minimum=2, maximum=1_000_000),
}


def check(params: dict, path: str) -> list[tuple[str, str]]:
    problems = (increasing(params["betas"], f"{path}.betas") + increasing(params["patterns"], f"{path}.patterns")
                + increasing(params["capacity_dims"], f"{path}.capacity_dims"))
    if params["flips_for_beta"] > params["dim"]:
        problems.append((f"{path}.flips_for_beta", f"must be <= dim = {params['dim']}"))
    return problems


def _queries(xi: np.ndarray, count: int, flips: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(targets, queries): ``count`` stored patterns with ``flips`` random bits flipped."""
    targets = rng.choice(xi.shape[0], size=min(count, xi.shape[0]), replace=False)
    q = xi[targets].astype(np.float64)
    for row in q:
        row[rng.choice(xi.shape[1], size=flips, replace=False)] *= -1
    return targets, q


def _last_full(loads: np.ndarray, retrieved: list[float]) -> float:
    """The largest load up to which every query was retrieved (0 if the first one fails)."""
    last = 0.0
    for load, fraction in zip(loads, retrieved):
        if fraction < 1.0:
            break
        last = float(load)
    return last


def _capacity(x: np.ndarray, beta: float, grid: np.ndarray) -> tuple[int, int]:
    """(separated, retrieved) capacities of one pattern set: the largest N of ``grid`` up to
    which every one of the first N patterns passes the check (1 if the first N fails)."""
    from neurosim.models.hopfield import modern

    best = [1, 1]
    alive = [True, True]
    for n in grid:
        for j, passed in enumerate(modern.storage_checks(x[:n], beta)):
            alive[j] = alive[j] and bool(passed.all())
            best[j] = int(n) if alive[j] else best[j]
        if not any(alive):
            break
    return best[0], best[1]


def _slope(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.polyfit(x, y, 1)[0])


def _capacity_against_dim(params: dict, seq: np.random.SeedSequence, ctx) -> None:
    """The capacity measurement against d and the theorem's bound (module doc)."""
    from neurosim.models.hopfield import modern

    dims = np.array(params["capacity_dims"])
    beta, k, p = params["capacity_beta"], params["capacity_k"], params["capacity_p"]
    top = params["capacity_max_patterns"]
    grid = np.unique(np.round(2.0 ** (np.arange(2, int(2 * np.log2(top)) + 1) / 2.0)).astype(int))
    caps, lowest = np.zeros((len(dims), 2)), np.zeros(len(dims))
    seqs = seq.spawn(len(dims))
    with ctx.progress(len(dims), "modern_hopfield capacity") as bar:
        for j, (d, sq) in enumerate(zip(dims, seqs)):
            draws = [_capacity(modern.sphere_patterns(int(grid[-1]), int(d), k * np.sqrt(d - 1.0),
                                                      np.random.default_rng(s)), beta, grid)
                     for s in sq.spawn(params["capacity_draws"])]
            caps[j], lowest[j] = np.median(draws, axis=0), np.min(draws, axis=0)[0]
            if caps[j].max() >= grid[-1]:
                ctx.log.warning("d = %d: every pattern still stored at N = %d: the capacity is only a lower "
                                "limit (raise capacity_max_patterns)", d, grid[-1])
            bar(j + 1, len(dims))
    log_caps = np.log10(caps)
    fine = np.linspace(dims[0], dims[-1], 200)
    bound, _, valid = modern.capacity_bound(fine, beta, k, p)
    at_dims, _, valid_dims = modern.capacity_bound(dims, beta, k, p)
    w = ctx.writer
    w.write_metric("capacity_dim", dims.astype(np.float64))
    w.write_metric("theory_dim", fine)
    w.write_metric("log10_capacity_theory", np.log10(bound), x="theory_dim")
    w.write_metric("log10_capacity_pairs", np.log10([modern.separation_capacity_estimate(d, beta, k) for d in fine]),
                   x="theory_dim")
    for col, name in enumerate(("separated", "retrieved")):
        theory = ["log10_capacity_theory", "log10_capacity_pairs"][: 2 - col]
        w.write_metric(f"log10_capacity_{name}", log_caps[:, col], x="capacity_dim", theory=theory)
        w.write_metric(f"capacity_slope_{name}", _slope(dims, log_caps[:, col]))
    w.write_metric("capacity_slope_theory", _slope(dims, np.log10(at_dims)))
    w.write_metric("theorem_min_dim", float(fine[valid][0]) if valid.any() else float("nan"))
    margin = np.log10(lowest[valid_dims] / at_dims[valid_dims])
    w.write_metric("capacity_margin", float(margin.min()) if margin.size else float("nan"))
    ctx.log.info("capacity against d %s (median of draws): separated %s, retrieved %s, theorem bound %s",
                 dims.tolist(), caps[:, 0].tolist(), caps[:, 1].tolist(), np.round(at_dims, 2).tolist())


def run(params: dict, seed: int, ctx) -> None:
    from neurosim.models.hopfield import classical, modern

    d = params["dim"]
    beta_seq, pattern_seq, capacity_seq = np.random.SeedSequence(seed).spawn(3)
    rng = np.random.default_rng(beta_seq)
    xi = classical.random_patterns(params["patterns_for_beta"], d, rng).astype(np.float64)
    targets, q = _queries(xi, params["queries"], params["flips_for_beta"], rng)
    cap = 2.0 * np.sqrt(d)
    err, bound, to_mean = [], [], []
    for beta in params["betas"]:
        out = modern.update(xi, q, beta)
        err.append(np.log10(np.maximum(modern.retrieval_error(xi, q, targets, beta), 1e-300)).mean())
        bound.append(np.log10(np.minimum(modern.retrieval_error_bound(xi, q, targets, beta), cap)).mean())
        to_mean.append(np.linalg.norm(out - xi.mean(axis=0), axis=1).mean() / np.sqrt(d))
    w = ctx.writer
    w.write_metric("log10_beta", np.log10(params["betas"]))
    w.write_metric("log10_error", np.array(err), x="log10_beta")
    w.write_metric("log10_bound", np.array(bound), x="log10_beta")
    w.write_metric("distance_to_mean", np.array(to_mean), x="log10_beta")
    ctx.log.info("mean log10 error against beta: %s; bound: %s", np.round(err, 2).tolist(), np.round(bound, 2).tolist())

    seqs = pattern_seq.spawn(len(params["patterns"]))
    flips = round(params["flip_fraction"] * d)
    modern_ok, classical_ok = [], []
    with ctx.progress(len(seqs), "modern_hopfield") as bar:
        for j, (count, sq) in enumerate(zip(params["patterns"], seqs)):
            rng = np.random.default_rng(sq)
            xi = classical.random_patterns(count, d, rng)
            targets, q = _queries(xi, params["queries"], flips, rng)
            out = np.sign(modern.update(xi.astype(np.float64), q, params["beta"]))
            modern_ok.append(np.all(out == xi[targets], axis=1).mean())
            fixed = classical.asynchronous(classical.hebbian_couplings(xi), q.astype(np.int8))
            classical_ok.append(np.all(fixed == xi[targets], axis=1).mean())
            bar(j + 1, len(seqs))
    loads = np.array(params["patterns"]) / d
    w.write_metric("log2_load", np.log2(loads))
    w.write_metric("retrieval_modern", np.array(modern_ok), x="log2_load")
    w.write_metric("retrieval_classical", np.array(classical_ok), x="log2_load")
    w.write_metric("max_load_modern", _last_full(loads, modern_ok))
    w.write_metric("max_load_classical", _last_full(loads, classical_ok))
    ctx.log.info("retrieval against N/d %s: modern %s, classical %s", loads.tolist(), [float(r) for r in modern_ok],
                 [float(r) for r in classical_ok])
    _capacity_against_dim(params, capacity_seq, ctx)
