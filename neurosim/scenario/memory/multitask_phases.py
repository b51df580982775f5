"""``multitask_phases``: the (d, T) phase diagram of the multitasking Hebbian network at low load,
simulated with Glauber dynamics, with the mean-field boundaries over it.

Maps over (``dilution`` x, ``temperature`` y), each with the theory boundaries drawn on top:
``m_max`` and ``m_min`` (largest and smallest sorted |m_μ| over 1 − d), ``asymmetry``
((m_1 − m_K)/m_1, NaN where the simulated phase is paramagnetic), ``phase`` (the simulated
phase: 0 paramagnetic, 1 pure, 2 parallel, 3 hierarchical, by the rough thresholds of
:func:`~neurosim.models.multitask.simulated_phase`) and ``phase_theory`` (the mean-field
equilibrium phase; the scalar ``phase_agreement`` is the fraction of cells where the two
agree). Theory boundaries (x = ``dilution_theory``): ``T_paramagnetic`` = 1 − d,
``T_pure`` (pure → hierarchical, d < 2/3), ``T_parallel_low`` and ``T_parallel_high`` (the
window where the parallel state is stable; its upper end is T_c for d > 2/3).

Boundaries measured from simulation at ``boundary_dilutions`` (x = ``boundary_dilution``):
``boundary_paramagnetic`` (m_1² extrapolated to zero) and ``boundary_ordered`` (m_2² for the
pure–hierarchical boundary at d < 2/3, (m_1 − m_K)² for the parallel–hierarchical one at
d > 2/3), each from ``scan_points`` temperatures between 0.5 and 1.25 times the theory value,
with theory curves ``boundary_paramagnetic_theory`` and ``boundary_ordered_theory``, and the
scalar ``max_boundary_error`` (largest |simulated/theory − 1|).

``balanced`` patterns (:func:`~neurosim.models.multitask.balanced_archetypes`) remove the
O(N^{-1/2}) pattern cross-talk, a quenched field that at N ~ 10^4 smears the pure–hierarchical
transition by 5–40 % (m_2 responds to it with the large susceptibility of the marginally stable
pure state). The time-averaged overlaps hop between the two orderings m_1 ≷ m_2 once N Δf is
small, so the parallel–hierarchical boundary needs N >= 10^4 at d = 0.7.
"""

from __future__ import annotations

import numpy as np

from neurosim.scenario.memory.common import increasing
from neurosim.scenario.schema import Field, list_of

FIELDS = {
    "n": Field("int", default=10_000, minimum=100, maximum=1_000_000),
    "k": Field("int", default=2, minimum=2, maximum=6, doc="archetypes"),
    "dilutions": list_of(Field("float", minimum=0.0, maximum=0.95), min_items=2,
                         default=[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]),
    "temperatures": list_of(Field("float", minimum=0.0, exclusive_minimum=True, maximum=2.0), min_items=2,
                            default=[round(0.01 + 0.04 * j, 2) for j in range(23)]),
    "burn_in": Field("int", default=150, minimum=0, maximum=100_000),
    "samples": Field("int", default=150, minimum=1, maximum=100_000),
    "start": Field("str", default="cascade", choices=("cascade", "random", "cue")),
    "networks": Field("int", default=1, minimum=1, maximum=100, doc="pattern sets per dilution"),
    "balanced": Field("bool", default=True, doc="patterns without O(sqrt N) cross-talk"),
    "boundary_dilutions": list_of(Field("float", minimum=0.05, maximum=0.95), default=[0.5, 0.7]),
    "scan_points": Field("int", default=16, minimum=4, maximum=200, doc="temperatures per boundary scan"),
    "theory_points": Field("int", default=60, minimum=5, maximum=1000, doc="dilutions of the theory curves"),
}


def check(params: dict, path: str) -> list[tuple[str, str]]:
    return (increasing(params["dilutions"], f"{path}.dilutions")
            + increasing(params["temperatures"], f"{path}.temperatures")
            + increasing(params["boundary_dilutions"], f"{path}.boundary_dilutions"))


def _theory_boundaries(k: int, dilutions: np.ndarray) -> dict[str, np.ndarray]:
    """T_c, the pure window's lower end and the parallel window, the latter kept only where the
    parallel state is the equilibrium (for K >= 3 the symmetric mixture is also metastable at
    weak dilution, like the Hopfield network's odd mixtures)."""
    from neurosim.models import multitask as mt

    pure = np.array([mt.pure_window(k, d)[0] for d in dilutions])
    par = np.array([mt.parallel_window(k, d) for d in dilutions])
    for j, (d, (low, high)) in enumerate(zip(dilutions, par)):
        middle = (np.nan_to_num(low) + high) / 2.0
        if np.isfinite(high) and mt.equilibrium_phase(k, 1.0 / middle, d) != mt.PARALLEL:
            par[j] = np.nan
    high = np.where(par[:, 1] < 1.0 - dilutions - 1e-9, par[:, 1], np.nan)  # only where it is not T_c
    return {"T_paramagnetic": 1.0 - dilutions, "T_pure": pure, "T_parallel_low": par[:, 0], "T_parallel_high": high}


def _measure(k: int, d: float, params: dict, seq: np.random.SeedSequence) -> tuple[float, float, float, float]:
    """(T_c simulated, T_c theory, ordered boundary simulated, its theory) at dilution d."""
    from neurosim.models import multitask as mt

    pure_low, par_low = mt.pure_window(k, d)[0], mt.parallel_window(k, d)[0]
    rel = np.linspace(0.5, 1.25, params["scan_points"])
    para_seq, ordered_seq = seq.spawn(2)
    common = (params["burn_in"], params["samples"])

    def scan(t_theory: float, s: np.random.SeedSequence) -> tuple[np.ndarray, np.ndarray]:
        temps = t_theory * rel
        return temps, mt.simulated_amplitudes(k, params["n"], d, temps, *common, s, params["start"], params["networks"],
                                             params["balanced"])

    t_c = mt.paramagnetic_temperature(d)
    temps, amp = scan(t_c, para_seq)
    t_c_sim = mt.extrapolated_onset(temps, amp[:, 0] ** 2)
    t_ord = pure_low if np.isfinite(pure_low) else par_low
    if not np.isfinite(t_ord):
        return t_c_sim, t_c, float("nan"), float("nan")
    temps, amp = scan(t_ord, ordered_seq)
    order = amp[:, 1] if np.isfinite(pure_low) else amp[:, 0] - amp[:, -1]
    return t_c_sim, t_c, mt.extrapolated_onset(temps, order**2), t_ord


def run(params: dict, seed: int, ctx) -> None:
    from neurosim.models import multitask as mt

    k, n = params["k"], params["n"]
    dilutions, temps = np.array(params["dilutions"]), np.array(params["temperatures"])
    map_seq, boundary_seq = np.random.SeedSequence(seed).spawn(2)
    amps = np.zeros((temps.size, dilutions.size, k))
    theory_phase = np.zeros((temps.size, dilutions.size))
    scans = params["boundary_dilutions"]
    total = dilutions.size + len(scans)
    with ctx.progress(total, "multitask_phases") as bar:
        for j, (d, s) in enumerate(zip(dilutions, map_seq.spawn(dilutions.size))):
            amps[:, j] = mt.simulated_amplitudes(k, n, d, temps, params["burn_in"], params["samples"], s,
                                                 params["start"], params["networks"], params["balanced"])
            theory_phase[:, j] = [mt.equilibrium_phase(k, 1.0 / t, d) for t in temps]
            bar(j + 1, total)
        measured = []
        for j, (d, s) in enumerate(zip(scans, boundary_seq.spawn(len(scans)))):
            measured.append(_measure(k, d, params, s))
            ctx.log.info("d=%.3f: T_c %.4f (theory %.4f), ordered boundary %.4f (theory %.4f)", d, *measured[-1])
            bar(dilutions.size + j + 1, total)
    a = 1.0 - dilutions
    fine = np.linspace(0.0, max(0.95, dilutions[-1]), params["theory_points"])
    boundaries = _theory_boundaries(k, fine)
    w = ctx.writer
    w.write_metric("dilution", dilutions)
    w.write_metric("temperature", temps)
    w.write_metric("dilution_theory", fine)
    for name, values in boundaries.items():
        w.write_metric(name, values, x="dilution_theory")
    names = list(boundaries)
    phase = np.array([[mt.simulated_phase(amps[i, j], d) for j, d in enumerate(dilutions)] for i in range(temps.size)])
    asym = np.where(phase == mt.PARAMAGNETIC, np.nan, (amps[..., 0] - amps[..., -1]) / np.maximum(amps[..., 0], 1e-12))
    for name, z in (("m_max", amps[..., 0] / a), ("m_min", amps[..., -1] / a), ("asymmetry", asym),
                    ("phase", phase), ("phase_theory", theory_phase)):
        w.write_metric(name, z, x="dilution", y="temperature", theory=names)
    measured = np.array(measured, dtype=np.float64).reshape(-1, 4)
    w.write_metric("boundary_dilution", np.array(params["boundary_dilutions"], dtype=np.float64))
    for col, name in ((0, "boundary_paramagnetic"), (2, "boundary_ordered")):
        w.write_metric(f"{name}_theory", measured[:, col + 1], x="boundary_dilution")
        w.write_metric(name, measured[:, col], x="boundary_dilution", theory=[f"{name}_theory"])
    w.write_metric("phase_agreement", float(np.mean(phase == theory_phase)))
    errors = np.abs(measured[:, [0, 2]] / measured[:, [1, 3]] - 1.0)
    w.write_metric("max_boundary_error", float(np.nanmax(errors)) if np.isfinite(errors).any() else float("nan"))
