"""``multitask``: Mattis overlaps m_k of the multitasking Hebbian network against the dilution
d, from the cascade state, with Glauber dynamics at β (zero temperature at β = inf).

``learning`` = "storage" (J = (1/N) Σ ξξᵀ of the diluted archetypes), or "supervised" /
"unsupervised" (learnt from ``examples`` examples of quality ``r`` per archetype).
Metrics: ``dilution`` (x), ``m_{k}`` and ``m_{k}_theory`` = (1 − d) d^{k−1} for k = 1..K,
``max_deviation_hierarchical`` (largest |m_k − (1 − d)d^{k−1}| over the dilutions where the
cascade is stable) and ``spread_at_max_dilution`` (m_1 − m_K at the largest d: near zero only
in the parallel regime, which needs a low but finite temperature; at β = inf the amplitudes stay
ordered, e.g. (0.995, 0.905, 0.815)·(1 − d) for K = 3, d = 0.9).
"""

from __future__ import annotations

import numpy as np

from neurosim.scenario.memory.common import increasing
from neurosim.scenario.schema import Field, list_of

FIELDS = {
    "n": Field("int", default=10_000, minimum=10, maximum=10_000_000),
    "k": Field("int", default=3, minimum=1, maximum=64, doc="archetypes"),
    "dilutions": list_of(Field("float", minimum=0.0, maximum=0.99), min_items=2,
                         default=[0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.8, 0.9]),
    "beta": Field("float", default=float("inf"), minimum=0.0, exclusive_minimum=True, allow_inf=True),
    "burn_in": Field("int", default=20, minimum=0, maximum=100_000),
    "samples": Field("int", default=20, minimum=1, maximum=100_000),
    "learning": Field("str", default="storage", choices=("storage", "supervised", "unsupervised")),
    "r": Field("float", default=0.5, minimum=0.0, exclusive_minimum=True, maximum=1.0),
    "examples": Field("int", default=50, minimum=1, maximum=32767),
    "networks": Field("int", default=2, minimum=1, maximum=1000, doc="pattern sets per dilution"),
}


def check(params: dict, path: str) -> list[tuple[str, str]]:
    return increasing(params["dilutions"], f"{path}.dilutions")


def run(params: dict, seed: int, ctx) -> None:
    from neurosim.models import dense_hebbian as dh
    from neurosim.models import multitask as mt

    k, dilutions = params["k"], params["dilutions"]
    seqs = np.random.SeedSequence(seed).spawn(len(dilutions) * params["networks"])
    m = np.zeros((len(dilutions), k))
    with ctx.progress(len(seqs), "multitask") as bar:
        for j, d in enumerate(dilutions):
            for net in range(params["networks"]):
                data_seq, run_seq = seqs[j * params["networks"] + net].spawn(2)
                rng = np.random.default_rng(data_seq)
                energy = None
                if params["learning"] == "storage":
                    xi = dh.archetypes(k, params["n"], rng, d)
                else:
                    data = dh.make_dataset(k, params["n"], params["examples"], params["r"], rng, d)
                    xi = data.archetypes
                    make = dh.supervised_energy if params["learning"] == "supervised" else dh.unsupervised_energy
                    energy = make(data, 2)
                m[j] += mt.parallel_retrieval(xi, params["beta"], params["burn_in"], params["samples"], run_seq, energy)
                bar(j * params["networks"] + net + 1, len(seqs))
            m[j] /= params["networks"]
            ctx.log.info("d=%.3f: m = %s, (1-d)d^(k-1) = %s", d, np.round(m[j], 4).tolist(),
                         np.round(mt.hierarchical_amplitudes(k, d), 4).tolist())
    theory = np.array([mt.hierarchical_amplitudes(k, d) for d in dilutions])
    stable = np.array([mt.cascade_stable(k, d) for d in dilutions])
    w = ctx.writer
    w.write_metric("dilution", np.array(dilutions))
    for q in range(k):
        w.write_metric(f"m_{q + 1}", m[:, q], x="dilution")
        w.write_metric(f"m_{q + 1}_theory", theory[:, q], x="dilution")
    w.write_metric("max_deviation_hierarchical", float(np.abs(m - theory)[stable].max()) if stable.any() else np.nan)
    w.write_metric("spread_at_max_dilution", float(m[-1, 0] - m[-1, -1]))
