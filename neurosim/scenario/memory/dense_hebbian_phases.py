"""``dense_hebbian_phases``: phase diagrams of dense Hebbian learning (Agliari et al.) in the
(ρ, β⁻¹) plane and the (α, ρ) plane, supervised and unsupervised, for each P of ``powers``, from
the replica-symmetric theory (:mod:`neurosim.models.dense_hebbian_theory`), with Monte Carlo
maps on the (ρ, β⁻¹) plane when ``simulate`` is true (even P only: the simulated energies are
defined for even P).

Units scale with P, so the grids are reduced: ``temperatures`` in units of T_c (the highest
retrieval temperature of the storage network, M = ∞, at α = 0), ``alphas`` and ``load`` in units
of α_c (its largest retrieval load at ``beta``). The (ρ, β⁻¹) plane is at α = load·α_c, the
(α, ρ) plane at ``beta``. ρ = (1 − r²)/(M r²) at fixed quality r: the theory takes M continuous
(Gaussian example noise), the simulations M = round((1 − r²)/(ρ r²)) ≥ 1.

Metrics, for each P (suffix ``_p<P>``): axes ``rho`` (shared), ``temperature_p<P>`` (β⁻¹),
``alpha_p<P>``; scalars ``T_c_p<P>``, ``alpha_c_p<P>``; maps ``overlap_rho_T_<rule>_p<P>``
(len(temperature), len(rho)) and ``overlap_alpha_rho_<rule>_p<P>`` (len(rho), len(alpha)) of the
RS archetype overlap m (0 where no retrieval solution exists), each with both rules' boundaries
drawn on it: ``T_star_<rule>_p<P>`` (x = rho: the highest β⁻¹ with retrieval) and
``rho_star_<rule>_p<P>`` (x = alpha_p<P>: the largest ρ with retrieval); with ``simulate``,
``sim_overlap_rho_T_<rule>_p<P>`` (mean overlap of chains started at the archetypes,
K = round(α N^{P−1})).
"""

from __future__ import annotations

import numpy as np

from neurosim.scenario.memory.common import increasing
from neurosim.scenario.schema import Field, list_of

RULES = ("supervised", "unsupervised")
#: examples × archetypes × neurons stored (int8) at most in a simulation
MAX_ENTRIES = 300_000_000

FIELDS = {
    "powers": list_of(Field("int", minimum=3, maximum=12), min_items=1, default=[3, 4]),
    "r": Field("float", default=0.5, minimum=0.0, exclusive_minimum=True, maximum=1.0),
    "load": Field("float", default=0.25, minimum=0.0, exclusive_minimum=True, maximum=1.0,
                  doc="alpha / alpha_c of the (rho, 1/beta) plane"),
    "beta": Field("float", default=100.0, minimum=0.0, exclusive_minimum=True, allow_inf=True,
                  doc="inverse temperature of the (alpha, rho) plane, in the units of the energies"),
    "temperatures": list_of(Field("float", minimum=0.0, exclusive_minimum=True, maximum=2.0), min_items=2,
                            default=[0.05, 0.15, 0.25, 0.35, 0.45, 0.55, 0.65, 0.75, 0.85, 0.95, 1.05]),
    "rhos": list_of(Field("float", minimum=0.0, exclusive_minimum=True), min_items=2,
                    default=[0.01, 0.02, 0.04, 0.07, 0.1, 0.15, 0.2, 0.3, 0.5, 0.7, 1.0]),
    "alphas": list_of(Field("float", minimum=0.0, exclusive_minimum=True, maximum=2.0), min_items=2,
                      default=[0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]),
    "rtol": Field("float", default=0.01, minimum=1e-6, maximum=0.5, doc="relative precision of the boundaries"),
    "simulate": Field("bool", default=False),
    "n": Field("int", default=40, minimum=10, maximum=200),
    "networks": Field("int", default=1, minimum=1, maximum=100),
    "chains": Field("int", default=8, minimum=1, maximum=1000),
    "burn_in": Field("int", default=30, minimum=0, maximum=100_000),
    "samples": Field("int", default=20, minimum=1, maximum=100_000),
}


def _examples(r: float, rho: float) -> int:
    return max(1, round((1.0 - r * r) / (rho * r * r)))


def check(params: dict, path: str) -> list[tuple[str, str]]:
    errors = []
    for name in ("powers", "temperatures", "rhos", "alphas"):
        errors += increasing(params[name], f"{path}.{name}")
    if params["simulate"] and not any(p % 2 == 0 for p in params["powers"]):
        errors.append((f"{path}.simulate", "the simulated energies need an even power in powers"))
    return errors


def _critical(p: int, beta: float, rtol: float) -> tuple[float, float]:
    """T_c (α = 0) and α_c (at β) of the storage network (M = ∞)."""
    from neurosim.models import dense_hebbian_theory as th

    return (th.threshold_temperature(p, 0.0, 1.0, np.inf, t_max=10.0, rtol=rtol),
            th.threshold_load(p, beta, 1.0, np.inf, alpha_max=10.0, rtol=rtol))


def _simulate(params: dict, p: int, alpha: float, temps: np.ndarray, seed: int, ctx) -> dict[str, np.ndarray]:
    from neurosim.models import dense_hebbian as dh

    r, n, rhos = params["r"], params["n"], params["rhos"]
    k = max(1, round(alpha * n ** (p - 1)))
    maps = {rule: np.zeros((len(temps), len(rhos))) for rule in RULES}
    seqs = np.random.SeedSequence([seed, p]).spawn(len(rhos))
    with ctx.progress(len(rhos), f"dense_hebbian_phases P={p}") as bar:
        for j, rho in enumerate(rhos):
            m = _examples(r, rho)
            if k * m * n > MAX_ENTRIES:
                raise ValueError(f"rhos: rho = {rho} needs K M N = {k * m * n} example entries (> {MAX_ENTRIES})")
            for net_seq in seqs[j].spawn(params["networks"]):
                data_seq, chain_seq = net_seq.spawn(2)
                data = dh.make_dataset(k, n, m, r, np.random.default_rng(data_seq))
                start = data.archetypes[:min(params["chains"], k)]
                energies = {"supervised": dh.supervised_energy(data, p),
                            "unsupervised": dh.unsupervised_energy(data, p)}
                chain_seqs = chain_seq.spawn(len(temps) * len(RULES))
                for i, t in enumerate(temps):
                    for c, rule in enumerate(RULES):
                        overlaps, _ = dh.glauber_overlaps(energies[rule], start, start, 1.0 / t, params["burn_in"],
                                                          params["samples"], chain_seqs[i * len(RULES) + c])
                        maps[rule][i, j] += np.mean(np.diag(overlaps)) / params["networks"]
            bar(j + 1, len(rhos))
    return maps


def _power(params: dict, p: int, seed: int, ctx) -> None:
    from neurosim.models import dense_hebbian_theory as th

    r, beta, rtol = params["r"], params["beta"], params["rtol"]
    t_c, alpha_c = _critical(p, beta, rtol)
    temps = t_c * np.array(params["temperatures"])
    alphas = alpha_c * np.array(params["alphas"])
    alpha = params["load"] * alpha_c
    rhos = np.array(params["rhos"], dtype=np.float64)
    m_of = [th.continuous_examples(r, rho) for rho in rhos]
    w, s = ctx.writer, f"_p{p}"
    w.write_metric(f"T_c{s}", t_c)
    w.write_metric(f"alpha_c{s}", alpha_c)
    w.write_metric(f"temperature{s}", temps)
    w.write_metric(f"alpha{s}", alphas)
    for rule in RULES:
        t_star = [th.threshold_temperature(p, alpha, r, m, rule, t_max=2 * temps[-1], rtol=rtol) for m in m_of]
        rho_star = [th.threshold_entropy(p, beta, a, r, rule, rho_max=2 * rhos[-1], rtol=rtol) for a in alphas]
        w.write_metric(f"T_star_{rule}{s}", np.array(t_star), x="rho")
        w.write_metric(f"rho_star_{rule}{s}", np.array(rho_star), x=f"alpha{s}")
        ctx.log.info("P=%d %s: T*(rho) %s; rho*(alpha) %s", p, rule, np.round(t_star, 5), np.round(rho_star, 4))
    t_lines = [f"T_star_{rule}{s}" for rule in RULES]
    rho_lines = [f"rho_star_{rule}{s}" for rule in RULES]
    for rule in RULES:
        rho_t = np.array([[th.retrieval_overlap(p, 1.0 / t, alpha, r, m, rule) for m in m_of] for t in temps])
        alpha_rho = np.array([[th.retrieval_overlap(p, beta, a, r, m, rule) for a in alphas] for m in m_of])
        w.write_metric(f"overlap_rho_T_{rule}{s}", rho_t, x="rho", y=f"temperature{s}", theory=t_lines)
        w.write_metric(f"overlap_alpha_rho_{rule}{s}", alpha_rho, x=f"alpha{s}", y="rho", theory=rho_lines)
    if params["simulate"] and p % 2 == 0:
        for rule, sim in _simulate(params, p, alpha, temps, seed, ctx).items():
            w.write_metric(f"sim_overlap_rho_T_{rule}{s}", sim, x="rho", y=f"temperature{s}", theory=t_lines)


def run(params: dict, seed: int, ctx) -> None:
    ctx.writer.write_metric("rho", np.array(params["rhos"], dtype=np.float64))
    for p in params["powers"]:
        _power(params, p, seed, ctx)
