"""``multitask``: Mattis overlaps m_k of the multitasking Hebbian network against the dilution
d, with Glauber dynamics at β (zero temperature at β = inf) from the cascade state, a random
state or a cue of pattern 1 alone (``start``).

``learning`` = "storage" (J = (1/N) Σ ξξᵀ of the diluted archetypes), or "supervised" /
"unsupervised" (learnt from ``examples`` examples of quality ``r`` per archetype); ``balanced``
storage patterns (:func:`~neurosim.models.multitask.balanced_archetypes`) drop the O(N^{-1/2})
cross-talk that makes the parallel amplitudes unequal at N ~ 10^4 (K = 3, d = 0.8, T = 0.1:
(0.165, 0.157, 0.130) against the mean-field 0.152; balanced (0.153, 0.152, 0.150)).
Metrics: ``dilution`` (x); ``m_{k}`` (the k-th largest |m_μ|, k = 1..K) drawn over
``m_{k}_theory_curve`` (x = ``dilution_theory``), the low-load mean-field fixed point
m_μ = E_ξ[ξ^μ tanh(β Σ_ν ξ^ν m_ν)] reached from the cascade amplitudes (sorted |m_μ|);
``m_{k}_theory`` = (1 − d) d^{k−1}, its T = 0 value below the cascade threshold;
``max_deviation_hierarchical`` (largest |m_k − (1 − d)d^{k−1}| over the dilutions where the
cascade is stable: a T = 0 check), ``max_deviation_theory`` (largest |m_k − mean-field m_k|) and
``spread_at_max_dilution`` (m_1 − m_K at the largest d: near zero only in the parallel regime,
which needs a low but finite temperature; at β = inf the amplitudes stay ordered, e.g.
(0.995, 0.905, 0.815)·(1 − d) for K = 3, d = 0.9).
"""

from __future__ import annotations

import numpy as np

from neurosim.scenario.memory.common import increasing
from neurosim.scenario.schema import Field, list_of

FIELDS = {
    "n": Field("int", default=10_000, minimum=10, maximum=10_000_000),
    "k": Field("int", default=3, minimum=1, maximum=10, doc="archetypes"),
    "dilutions": list_of(Field("float", minimum=0.0, maximum=0.99), min_items=2,
                         default=[0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.8, 0.9]),
    "beta": Field("float", default=float("inf"), minimum=0.0, exclusive_minimum=True, allow_inf=True),
    "burn_in": Field("int", default=20, minimum=0, maximum=100_000),
    "samples": Field("int", default=20, minimum=1, maximum=100_000),
    "start": Field("str", default="cascade", choices=("cascade", "random", "cue")),
    "learning": Field("str", default="storage", choices=("storage", "supervised", "unsupervised")),
    "balanced": Field("bool", default=False, doc="storage patterns without O(sqrt N) cross-talk"),
    "r": Field("float", default=0.5, minimum=0.0, exclusive_minimum=True, maximum=1.0),
    "examples": Field("int", default=50, minimum=1, maximum=32767),
    "networks": Field("int", default=2, minimum=1, maximum=1000, doc="pattern sets per dilution"),
    "theory_points": Field("int", default=100, minimum=2, maximum=10_000, doc="dilutions of the theory curves"),
}


def check(params: dict, path: str) -> list[tuple[str, str]]:
    problems = increasing(params["dilutions"], f"{path}.dilutions")
    if params["balanced"] and params["learning"] != "storage":
        problems.append((f"{path}.balanced", "applies to learning = 'storage' only"))
    return problems


def mean_field(k: int, beta: float, d: float) -> np.ndarray:
    """Sorted |m| of the mean-field fixed point reached from the cascade amplitudes."""
    from neurosim.models import multitask as mt

    return np.sort(np.abs(mt.solve_overlaps(mt.hierarchical_amplitudes(k, d), beta, d)))[::-1]


def run(params: dict, seed: int, ctx) -> None:
    from neurosim.models import dense_hebbian as dh
    from neurosim.models import multitask as mt

    k, dilutions, beta = params["k"], params["dilutions"], params["beta"]
    seqs = np.random.SeedSequence(seed).spawn(len(dilutions) * params["networks"])
    m = np.zeros((len(dilutions), k))
    with ctx.progress(len(seqs), "multitask") as bar:
        for j, d in enumerate(dilutions):
            for net in range(params["networks"]):
                data_seq, run_seq = seqs[j * params["networks"] + net].spawn(2)
                rng = np.random.default_rng(data_seq)
                energy = None
                if params["learning"] == "storage":
                    xi = (mt.balanced_archetypes(k, params["n"], d, rng) if params["balanced"]
                          else dh.archetypes(k, params["n"], rng, d))
                else:
                    data = dh.make_dataset(k, params["n"], params["examples"], params["r"], rng, d)
                    xi = data.archetypes
                    make = dh.supervised_energy if params["learning"] == "supervised" else dh.unsupervised_energy
                    energy = make(data, 2)
                overlaps = mt.parallel_retrieval(xi, beta, params["burn_in"], params["samples"], run_seq, energy,
                                                 params["start"])
                m[j] += np.sort(np.abs(overlaps))[::-1]
                bar(j * params["networks"] + net + 1, len(seqs))
            m[j] /= params["networks"]
            ctx.log.info("d=%.3f: m = %s, mean field %s", d, np.round(m[j], 4).tolist(),
                         np.round(mean_field(k, beta, d), 4).tolist())
    hierarchical = np.array([mt.hierarchical_amplitudes(k, d) for d in dilutions])
    theory = np.array([mean_field(k, beta, d) for d in dilutions])
    fine = np.linspace(0.0, dilutions[-1], params["theory_points"])
    curves = np.array([mean_field(k, beta, d) for d in fine])
    stable = np.array([mt.cascade_stable(k, d) for d in dilutions])
    w = ctx.writer
    w.write_metric("dilution", np.array(dilutions))
    w.write_metric("dilution_theory", fine)
    for q in range(k):
        w.write_metric(f"m_{q + 1}_theory_curve", curves[:, q], x="dilution_theory")
        w.write_metric(f"m_{q + 1}_theory", hierarchical[:, q], x="dilution")
        w.write_metric(f"m_{q + 1}", m[:, q], x="dilution", theory=[f"m_{q + 1}_theory_curve", f"m_{q + 1}_theory"])
    w.write_metric("max_deviation_hierarchical",
                   float(np.abs(m - hierarchical)[stable].max()) if stable.any() else np.nan)
    w.write_metric("max_deviation_theory", float(np.abs(m - theory).max()))
    w.write_metric("spread_at_max_dilution", float(m[-1, 0] - m[-1, -1]))
