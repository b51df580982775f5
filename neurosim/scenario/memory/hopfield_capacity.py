"""``hopfield_capacity``: final overlap of the classical Hopfield network, started at a stored
pattern, against the load α = K/N (zero-temperature asynchronous dynamics).

Metrics: ``alpha`` (x), ``overlap`` (mean final Mattis overlap with the start pattern),
``retrieval_fraction`` (fraction of runs ending with m >= ``threshold``), ``overlap_theory``
(AGS, NaN beyond α_c), ``alpha_c`` and ``alpha_half``.

``alpha_c`` is the load at which the mean final overlap first falls below the AGS overlap at
the transition, m_c = 0.967: in the AGS theory the retrieval state has m >= m_c up to α_c and
disappears beyond, so that crossing is α_c in the large-N limit. ``alpha_half`` is where half
the runs end retrieved (m >= ``threshold``); at finite N it lies above α_c, since a start at a
stored pattern can stay retrieved past α_c (metastability that vanishes as N grows).
"""

from __future__ import annotations

import numpy as np

from neurosim.scenario.memory.common import crossing, increasing
from neurosim.scenario.schema import Field, list_of

DEFAULT_ALPHAS = [round(0.06 + 0.01 * k, 2) for k in range(13)]

FIELDS = {
    "n": Field("int", default=2000, minimum=100, maximum=20_000, doc="neurons"),
    "alphas": list_of(Field("float", minimum=0.0, exclusive_minimum=True, maximum=1.0), default=DEFAULT_ALPHAS,
                      min_items=2),
    "networks": Field("int", default=3, minimum=1, maximum=1000, doc="pattern sets per load"),
    "probes": Field("int", default=8, minimum=1, maximum=1000, doc="stored patterns used as start states"),
    "threshold": Field("float", default=0.9, minimum=0.0, maximum=1.0),
    "max_sweeps": Field("int", default=200, minimum=1, maximum=100_000),
}


def check(params: dict, path: str) -> list[tuple[str, str]]:
    problems = increasing(params["alphas"], f"{path}.alphas")
    k_min = round(params["alphas"][0] * params["n"])
    if params["probes"] > k_min:
        problems.append((f"{path}.probes", f"must be <= K = {k_min} patterns at the smallest load"))
    return problems


def run(params: dict, seed: int, ctx) -> None:
    from neurosim.models.hopfield import classical

    n, alphas = params["n"], params["alphas"]
    seeds = np.random.SeedSequence(seed).spawn(len(alphas) * params["networks"])
    loads, mean_m, retrieved = [], [], []
    with ctx.progress(len(seeds), "hopfield_capacity") as bar:
        for a, alpha in enumerate(alphas):
            k = round(alpha * n)
            final = []
            for net in range(params["networks"]):
                rng = np.random.default_rng(seeds[a * params["networks"] + net])
                xi = classical.random_patterns(k, n, rng)
                sigma = classical.asynchronous(classical.hebbian_couplings(xi), xi[: params["probes"]], params["max_sweeps"])
                final.extend(np.einsum("bi,bi->b", sigma.astype(np.float64), xi[: params["probes"]]) / n)
                bar(a * params["networks"] + net + 1, len(seeds))
            final = np.array(final)
            loads.append(k / n)
            mean_m.append(final.mean())
            retrieved.append(np.mean(final >= params["threshold"]))
            ctx.log.info("alpha=%.4f K=%d: <m>=%.4f retrieved %.3f", k / n, k, final.mean(), retrieved[-1])
    alpha_c = crossing(loads, mean_m, classical.M_C)
    alpha_half = crossing(loads, retrieved, 0.5)
    w = ctx.writer
    w.write_metric("alpha", np.array(loads))
    w.write_metric("overlap", np.array(mean_m), x="alpha")
    w.write_metric("retrieval_fraction", np.array(retrieved), x="alpha")
    w.write_metric("overlap_theory", np.array([classical.ags_overlap(a) for a in loads]), x="alpha")
    w.write_metric("alpha_c", alpha_c)
    w.write_metric("alpha_half", alpha_half)
    w.write_metric("n", n)
    ctx.log.info("alpha_c = %.4f (AGS: %.4f), alpha_half = %.4f", alpha_c, classical.ALPHA_C, alpha_half)
