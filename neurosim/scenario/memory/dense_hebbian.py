"""``dense_hebbian``: archetype overlap of P-body Hebbian networks learnt from M noisy examples
per archetype (quality r), supervised and unsupervised, against M, with the replica-symmetric
theory (:mod:`neurosim.models.dense_hebbian_theory`) on the same axes.

K archetypes (``k``, or K = round(α N^{P−1}) at high load when ``alpha`` > 0), N neurons;
``chains`` chains start at the first archetypes and run Glauber dynamics at β
(zero-temperature asynchronous dynamics at β = inf). Metrics: ``examples_M`` (x),
``overlap_supervised`` and ``overlap_unsupervised`` (mean Mattis overlap of each chain with its
archetype), ``overlap_theory`` (RS supervised overlap at the simulated M: at P = 2, α = 0,
β = inf the majority vote P(right) − P(wrong)), ``rho`` (ρ = (1 − r²)/(M r²)); theory curves
``overlap_supervised_theory`` and ``overlap_unsupervised_theory`` on a fine grid ``examples_M_fine``
drawn over the simulated points; scalars ``hopfield_overlap`` (the low-load M → ∞ value),
``threshold_M_supervised_theory``, ``threshold_M_unsupervised_theory`` (RS M*; −1 if there is
no retrieval up to the largest M) and ``threshold_M_<rule>_sim`` (first M, interpolated in
log M, at which half the chains of the rule are retained: ``retained_supervised`` and
``retained_unsupervised`` are the fractions of chains whose overlap stays ≥ ``KEPT``; −1 if never).
"""

from __future__ import annotations

import math

import numpy as np

from neurosim.scenario.memory.common import increasing
from neurosim.scenario.schema import Field, list_of

#: overlap above which a chain counts as retained in the retrieval state
KEPT = 0.7
#: examples × archetypes × neurons stored (int8) at most
MAX_ENTRIES = 300_000_000

FIELDS = {
    "n": Field("int", default=2000, minimum=10, maximum=1_000_000),
    "k": Field("int", default=3, minimum=1, maximum=10_000, doc="archetypes (low load, alpha = 0)"),
    "alpha": Field("float", default=0.0, minimum=0.0, maximum=1.0,
                   doc="load K/N^(P-1); > 0 sets K = round(alpha N^(P-1)) and the high-load theory"),
    "p": Field("int", default=2, minimum=2, maximum=12, check=lambda v: None if v % 2 == 0 else "must be even"),
    "r": Field("float", default=0.2, minimum=0.0, exclusive_minimum=True, maximum=1.0),
    "examples": list_of(Field("int", minimum=1, maximum=32767), min_items=2,
                        default=[1, 3, 5, 9, 15, 25, 41, 71, 121, 201, 401]),
    "beta": Field("float", default=float("inf"), minimum=0.0, exclusive_minimum=True, allow_inf=True),
    "burn_in": Field("int", default=20, minimum=0, maximum=100_000),
    "samples": Field("int", default=20, minimum=1, maximum=100_000),
    "networks": Field("int", default=2, minimum=1, maximum=1000, doc="datasets per M"),
    "chains": Field("int", default=8, minimum=1, maximum=10_000, doc="chains per dataset (<= K)"),
}


def archetype_count(params: dict) -> int:
    """K: ``k`` at low load, round(α N^{P−1}) (at least 1) when ``alpha`` > 0."""
    if params["alpha"] > 0:
        return max(1, round(params["alpha"] * params["n"] ** (params["p"] - 1)))
    return params["k"]


def check(params: dict, path: str) -> list[tuple[str, str]]:
    errors = increasing(params["examples"], f"{path}.examples")
    if params["alpha"] > 0 and params["p"] == 2:
        errors.append((f"{path}.alpha", "high load (alpha > 0) needs p >= 4 (Gaussian-noise theory fails at p = 2)"))
        return errors
    k = archetype_count(params)
    if k * params["examples"][-1] * params["n"] > MAX_ENTRIES:
        errors.append((f"{path}.alpha" if params["alpha"] > 0 else f"{path}.k",
                       f"K M N = {k * params['examples'][-1] * params['n']} examples entries exceed {MAX_ENTRIES}"))
    return errors


def _theory_alpha(params: dict, k: int) -> float:
    """The load of the theory: K/N^{P−1} at high load, 0 (low load) otherwise."""
    return k / params["n"] ** (params["p"] - 1) if params["alpha"] > 0 else 0.0


def _simulate(params: dict, k: int, seed: int, ctx) -> dict[str, list[np.ndarray]]:
    """Per M, the overlaps of every chain with its archetype, for each rule."""
    from neurosim.models import dense_hebbian as dh

    examples, beta, chains = params["examples"], params["beta"], min(params["chains"], k)
    seqs = np.random.SeedSequence(seed).spawn(len(examples) * params["networks"])
    out = {"supervised": [], "unsupervised": []}
    with ctx.progress(len(seqs), "dense_hebbian") as bar:
        for j, m in enumerate(examples):
            values = {"supervised": [], "unsupervised": []}
            for net in range(params["networks"]):
                data_seq, sup_seq, uns_seq = seqs[j * params["networks"] + net].spawn(3)
                data = dh.make_dataset(k, params["n"], m, params["r"], np.random.default_rng(data_seq))
                start = data.archetypes[:chains]
                for rule, energy, sq in (("supervised", dh.supervised_energy(data, params["p"]), sup_seq),
                                         ("unsupervised", dh.unsupervised_energy(data, params["p"]), uns_seq)):
                    overlaps, _ = dh.glauber_overlaps(energy, start, start, beta, params["burn_in"],
                                                      params["samples"], sq)
                    values[rule].extend(np.diag(overlaps))
                bar(j * params["networks"] + net + 1, len(seqs))
            for rule in out:
                out[rule].append(np.array(values[rule]))
            ctx.log.info("M=%d rho=%.4g: supervised %.4f, unsupervised %.4f", m, dh.dataset_entropy(params["r"], m),
                         np.mean(values["supervised"]), np.mean(values["unsupervised"]))
    return out


def rising_crossing(x: np.ndarray, y: np.ndarray, level: float) -> float:
    """First x (interpolated in log x) at which y reaches ``level``; −1 if never."""
    for j in range(len(x)):
        if y[j] >= level:
            if j == 0:
                return float(x[0])
            f = (level - y[j - 1]) / (y[j] - y[j - 1])
            return float(math.exp(math.log(x[j - 1]) + f * (math.log(x[j]) - math.log(x[j - 1]))))
    return -1.0


def run(params: dict, seed: int, ctx) -> None:
    from neurosim.models import dense_hebbian as dh
    from neurosim.models import dense_hebbian_theory as th

    examples, beta, p, r = params["examples"], params["beta"], params["p"], params["r"]
    k = archetype_count(params)
    alpha = _theory_alpha(params, k)
    sims = _simulate(params, k, seed, ctx)
    fine = np.unique(np.round(np.geomspace(examples[0], examples[-1], 60)).astype(int))
    curves = {rule: np.array([th.retrieval_overlap(p, beta, alpha, r, int(m), rule) for m in fine])
              for rule in th.RULES}
    stars = {rule: th.threshold_examples(p, beta, alpha, r, rule, m_max=examples[-1]) for rule in th.RULES}
    w = ctx.writer
    w.write_metric("examples_M", np.array(examples))
    w.write_metric("examples_M_fine", fine)
    for rule, sim in sims.items():
        w.write_metric(f"overlap_{rule}_theory", curves[rule], x="examples_M_fine")
        w.write_metric(f"overlap_{rule}", np.array([v.mean() for v in sim]), x="examples_M",
                       theory=[f"overlap_{rule}_theory"])
        w.write_metric(f"retained_{rule}", np.array([np.mean(v >= KEPT) for v in sim]), x="examples_M")
        w.write_metric(f"threshold_M_{rule}_theory", stars[rule] if np.isfinite(stars[rule]) else -1.0)
    w.write_metric("overlap_theory", np.array([th.solve(p, beta, alpha, r, m, "supervised").m for m in examples]),
                   x="examples_M")
    w.write_metric("rho", np.array([dh.dataset_entropy(r, m) for m in examples]), x="examples_M")
    w.write_metric("hopfield_overlap", dh.hopfield_overlap(beta, p))
    for rule, sim in sims.items():
        retained = np.array([np.mean(v >= KEPT) for v in sim])
        w.write_metric(f"threshold_M_{rule}_sim", rising_crossing(np.array(examples), retained, 0.5))
