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
}


def check(params: dict, path: str) -> list[tuple[str, str]]:
    problems = increasing(params["betas"], f"{path}.betas") + increasing(params["patterns"], f"{path}.patterns")
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


def run(params: dict, seed: int, ctx) -> None:
    from neurosim.models.hopfield import classical, modern

    d = params["dim"]
    beta_seq, pattern_seq = np.random.SeedSequence(seed).spawn(2)
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
