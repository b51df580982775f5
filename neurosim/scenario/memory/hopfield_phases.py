"""``hopfield_phases``: the (T, α) phase diagram of the Hopfield network, simulated and
replica-symmetric (:mod:`neurosim.models.hopfield.ags`).

At each load α of ``alphas`` and temperature T of ``temperatures``, Glauber dynamics is started
at stored patterns (``networks`` pattern sets, ``probes`` starts each) and the overlap with the
start pattern is averaged over the last ``average_sweeps`` of ``sweeps`` sweeps.

Metrics: ``overlap`` (map, x = ``temperature``, y = ``alpha``) with the theory's boundaries
drawn over it — ``alpha_retrieval_theory`` (retrieval states exist below it: 0.138 at T = 0,
0 at T = 1), ``alpha_stable_theory`` (they are the global minima below it: 0.051 at T → 0) and
``alpha_glass_theory`` (T_g = 1 + √α: the paramagnet above it); ``overlap_theory`` (the RS
retrieval overlap on the same grid, NaN where none exists); ``phase_agreement``: the fraction
of cells at least ``margin`` in α away from the retrieval line where the simulation (m > 0.5)
and the theory (a retrieval state exists) agree; ``max_overlap_deviation``: the largest
|m_sim − m_RS| over the cells at least ``margin`` inside the retrieval region.
"""

from __future__ import annotations

import numpy as np

from neurosim.scenario.memory.common import increasing
from neurosim.scenario.schema import Field, list_of

FIELDS = {
    "n": Field("int", default=800, minimum=100, maximum=20_000, doc="neurons"),
    "alphas": list_of(Field("float", minimum=0.0, exclusive_minimum=True, maximum=0.5), min_items=2,
                      default=[0.01, 0.03, 0.05, 0.07, 0.09, 0.11, 0.13, 0.15, 0.17]),
    "temperatures": list_of(Field("float", minimum=0.01, maximum=3.0), min_items=2,
                            default=[0.05, 0.15, 0.25, 0.35, 0.45, 0.55, 0.65, 0.75, 0.85, 0.95, 1.05, 1.15]),
    "networks": Field("int", default=2, minimum=1, maximum=1000, doc="pattern sets per cell"),
    "probes": Field("int", default=4, minimum=1, maximum=1000, doc="stored patterns used as start states"),
    "sweeps": Field("int", default=60, minimum=1, maximum=100_000),
    "average_sweeps": Field("int", default=20, minimum=1, maximum=100_000, doc="final sweeps m is averaged over"),
    "margin": Field("float", default=0.02, minimum=0.0, maximum=0.5, doc="distance in α from the retrieval line"),
    "theory_points": Field("int", default=40, minimum=5, maximum=1000, doc="temperatures of the theory lines"),
}


def check(params: dict, path: str) -> list[tuple[str, str]]:
    problems = increasing(params["alphas"], f"{path}.alphas") + increasing(params["temperatures"], f"{path}.temperatures")
    k_min = round(params["alphas"][0] * params["n"])
    if params["probes"] > k_min:
        problems.append((f"{path}.probes", f"must be <= K = {k_min} patterns at the smallest load"))
    if params["average_sweeps"] > params["sweeps"]:
        problems.append((f"{path}.average_sweeps", "must be <= sweeps"))
    return problems


def _mean_overlap(params: dict, alpha: float, temperature: float, seed: np.random.SeedSequence) -> float:
    from neurosim.models.chain_rng import streams
    from neurosim.models.hopfield import classical

    n, probes, total = params["n"], params["probes"], 0.0
    for child in seed.spawn(params["networks"]):
        pattern_seed, chain_seed = child.spawn(2)
        xi = classical.random_patterns(round(alpha * n), n, np.random.default_rng(pattern_seed))
        j, start = classical.hebbian_couplings(xi), xi[:probes].astype(np.float64)
        sigma, state, _ = classical.glauber(j, xi[:probes], streams(chain_seed, probes), 1.0 / temperature,
                                            params["sweeps"] - params["average_sweeps"])
        for _ in range(params["average_sweeps"]):
            sigma, state, _ = classical.glauber(j, sigma, state, 1.0 / temperature, 1)
            total += float(np.einsum("bi,bi->", sigma.astype(np.float64), start)) / n
    return total / (params["networks"] * probes * params["average_sweeps"])


def run(params: dict, seed: int, ctx) -> None:
    from neurosim.models.hopfield import ags

    alphas, temps = np.asarray(params["alphas"]), np.asarray(params["temperatures"])
    seeds = iter(np.random.SeedSequence(seed).spawn(alphas.size * temps.size))
    simulated = np.empty((alphas.size, temps.size))
    with ctx.progress(simulated.size, "hopfield_phases") as bar:
        for a, alpha in enumerate(alphas):
            for t, temperature in enumerate(temps):
                simulated[a, t] = _mean_overlap(params, float(alpha), float(temperature), next(seeds))
                bar(a * temps.size + t + 1, simulated.size)
    theory = np.array([[ags.overlap(float(a), float(t)) for t in temps] for a in alphas])
    line_t = np.linspace(max(0.02, temps[0]), temps[-1], params["theory_points"])
    retrieval_line = np.array([ags.retrieval_load(float(t)) for t in line_t])
    w = ctx.writer
    w.write_metric("alpha", alphas)
    w.write_metric("temperature", temps)
    w.write_metric("theory_temperature", line_t)
    w.write_metric("overlap", simulated, x="temperature", y="alpha",
                   theory=["alpha_retrieval_theory", "alpha_stable_theory", "alpha_glass_theory"])
    w.write_metric("overlap_theory", np.nan_to_num(theory, nan=0.0), x="temperature", y="alpha",
                   theory=["alpha_retrieval_theory"])
    w.write_metric("alpha_retrieval_theory", retrieval_line, x="theory_temperature", label="T_M: retrieval states exist")
    w.write_metric("alpha_stable_theory", np.array([ags.stable_retrieval_load(float(t)) for t in line_t]),
                   x="theory_temperature", label="T_c: retrieval is the global minimum")
    w.write_metric("alpha_glass_theory", np.where(line_t >= 1.0, (line_t - 1.0) ** 2, np.nan), x="theory_temperature",
                   label="T_g: spin glass below")
    agreement, deviation = _compare(params, alphas, temps, simulated, theory)
    w.write_metric("phase_agreement", agreement)
    w.write_metric("max_overlap_deviation", deviation)
    ctx.log.info("phase agreement %.3f away from the retrieval line; max |m_sim - m_RS| inside it %.4f",
                 agreement, deviation)


def _compare(params: dict, alphas: np.ndarray, temps: np.ndarray, simulated: np.ndarray,
             theory: np.ndarray) -> tuple[float, float]:
    """(fraction of cells away from the retrieval line whose phase agrees, largest overlap
    deviation well inside the retrieval region); NaN where no cell qualifies."""
    from neurosim.models.hopfield import ags

    line = np.array([ags.retrieval_load(float(t)) for t in temps])[None, :]
    distance = np.abs(alphas[:, None] - line)
    away = distance >= params["margin"]
    agree = (simulated > 0.5) == np.isfinite(theory)
    inside = away & (alphas[:, None] < line)
    agreement = float(agree[away].mean()) if away.any() else float("nan")
    deviation = float(np.max(np.abs(simulated - theory)[inside])) if inside.any() else float("nan")
    return agreement, deviation
