"""``dense_hebbian``: archetype overlap of P-body Hebbian networks learnt from M noisy examples
per archetype (quality r), supervised and unsupervised, against M.

K archetypes, N neurons; each chain starts at an archetype and runs Glauber dynamics at β
(zero-temperature asynchronous dynamics at β = inf). Metrics: ``examples_M`` (x),
``overlap_supervised`` and ``overlap_unsupervised`` (mean Mattis overlap of each chain with
its archetype), ``overlap_theory`` (the zero-temperature supervised minimum for K = 1,
P(majority right) − P(wrong), at β = inf; the Hopfield overlap otherwise), ``rho`` (dataset
entropy ρ = (1 − r²)/(M r²)), ``hopfield_overlap`` (the M → ∞ value).
"""

from __future__ import annotations

import numpy as np

from neurosim.scenario.memory.common import increasing
from neurosim.scenario.schema import Field, list_of

FIELDS = {
    "n": Field("int", default=2000, minimum=10, maximum=1_000_000),
    "k": Field("int", default=3, minimum=1, maximum=10_000, doc="archetypes"),
    "p": Field("int", default=2, minimum=2, maximum=12, check=lambda v: None if v % 2 == 0 else "must be even"),
    "r": Field("float", default=0.2, minimum=0.0, exclusive_minimum=True, maximum=1.0),
    "examples": list_of(Field("int", minimum=1, maximum=32767), min_items=2,
                        default=[1, 3, 5, 9, 15, 25, 41, 71, 121, 201, 401]),
    "beta": Field("float", default=float("inf"), minimum=0.0, exclusive_minimum=True, allow_inf=True),
    "burn_in": Field("int", default=20, minimum=0, maximum=100_000),
    "samples": Field("int", default=20, minimum=1, maximum=100_000),
    "networks": Field("int", default=2, minimum=1, maximum=1000, doc="datasets per M"),
}


def check(params: dict, path: str) -> list[tuple[str, str]]:
    return increasing(params["examples"], f"{path}.examples")


def run(params: dict, seed: int, ctx) -> None:
    from neurosim.models import dense_hebbian as dh

    examples, beta = params["examples"], params["beta"]
    seqs = np.random.SeedSequence(seed).spawn(len(examples) * params["networks"])
    sup, uns = [], []
    with ctx.progress(len(seqs), "dense_hebbian") as bar:
        for j, m in enumerate(examples):
            values = {"supervised": [], "unsupervised": []}
            for net in range(params["networks"]):
                data_seq, sup_seq, uns_seq = seqs[j * params["networks"] + net].spawn(3)
                data = dh.make_dataset(params["k"], params["n"], m, params["r"], np.random.default_rng(data_seq))
                for rule, energy, sq in (("supervised", dh.supervised_energy(data, params["p"]), sup_seq),
                                         ("unsupervised", dh.unsupervised_energy(data, params["p"]), uns_seq)):
                    overlaps, _ = dh.glauber_overlaps(energy, data.archetypes, data.archetypes, beta, params["burn_in"],
                                                      params["samples"], sq)
                    values[rule].extend(np.diag(overlaps))
                bar(j * params["networks"] + net + 1, len(seqs))
            sup.append(np.mean(values["supervised"]))
            uns.append(np.mean(values["unsupervised"]))
            ctx.log.info("M=%d rho=%.4g: supervised %.4f, unsupervised %.4f", m, dh.dataset_entropy(params["r"], m),
                         sup[-1], uns[-1])
    hopfield = dh.hopfield_overlap(beta, params["p"])
    theory = [dh.supervised_overlap_zero_t(params["r"], m) if beta == np.inf else hopfield for m in examples]
    w = ctx.writer
    w.write_metric("examples_M", np.array(examples))
    w.write_metric("overlap_supervised", np.array(sup), x="examples_M")
    w.write_metric("overlap_unsupervised", np.array(uns), x="examples_M")
    w.write_metric("overlap_theory", np.array(theory), x="examples_M")
    w.write_metric("rho", np.array([dh.dataset_entropy(params["r"], m) for m in examples]), x="examples_M")
    w.write_metric("hopfield_overlap", hopfield)
