"""``hopfield_capacity``: the storage capacity α_c of the classical Hopfield network by
finite-size scaling (:mod:`neurosim.models.hopfield.finite_size`).

At each size N of ``sizes`` and each load α of ``alphas``, ``networks`` pattern sets are drawn
and the zero-temperature asynchronous dynamics is started at ``probes`` stored patterns; a run
is retrieved when it ends with m >= ``threshold``. Probes per network scale as N / min(sizes)
(capped at K), so every size gets as many runs per network as the couplings can afford.

Metrics:
- ``retrieval_fraction_n<N>`` against ``alpha``, with its probit fit drawn over it;
- ``alpha_half`` (the fitted α where half the runs are retrieved) and its error against
  ``inv_sqrt_n`` = N^{−1/2}, with the extrapolation line α_c + a N^{−1/2} drawn over it;
- ``alpha_c`` and ``alpha_c_err``: the extrapolation to N = ∞ (AGS: 0.138);
- ``width_exponent``: slope of log(probit width) against log N (the scaling assumes −1/2);
- ``overlap`` (mean final overlap at the largest N) against ``alpha`` with the AGS
  replica-symmetric overlap drawn over it.
"""

from __future__ import annotations

import numpy as np

from neurosim.scenario.memory.common import increasing
from neurosim.scenario.schema import Field, list_of

DEFAULT_ALPHAS = [round(0.12 + 0.005 * k, 3) for k in range(15)]

FIELDS = {
    "sizes": list_of(Field("int", minimum=100, maximum=20_000), default=[500, 1000, 2000, 4000], min_items=2,
                     doc="network sizes N"),
    "alphas": list_of(Field("float", minimum=0.0, exclusive_minimum=True, maximum=1.0), default=DEFAULT_ALPHAS,
                      min_items=3),
    "networks": Field("int", default=8, minimum=1, maximum=1000, doc="pattern sets per load and size"),
    "probes": Field("int", default=10, minimum=1, maximum=1000,
                    doc="start patterns per network at the smallest size (scaled with N)"),
    "threshold": Field("float", default=0.9, minimum=0.0, maximum=1.0, exclusive_minimum=True),
    "max_sweeps": Field("int", default=500, minimum=1, maximum=100_000),
}


def check(params: dict, path: str) -> list[tuple[str, str]]:
    problems = increasing(params["sizes"], f"{path}.sizes") + increasing(params["alphas"], f"{path}.alphas")
    k_min = round(params["alphas"][0] * params["sizes"][0])
    if params["probes"] > k_min:
        problems.append((f"{path}.probes", f"must be <= K = {k_min} patterns at the smallest load and size"))
    return problems


def _probes(params: dict, n: int, alpha: float) -> int:
    return min(round(alpha * n), params["probes"] * n // params["sizes"][0])


def run(params: dict, seed: int, ctx) -> None:
    from neurosim.models.hopfield import ags, finite_size as fs

    sizes, alphas = params["sizes"], np.asarray(params["alphas"], dtype=np.float64)
    seeds = iter(np.random.SeedSequence(seed).spawn(len(sizes) * len(alphas)))
    fits, theory_alpha = [], np.linspace(alphas[0], alphas[-1], 200)
    w = ctx.writer
    with ctx.progress(len(sizes) * len(alphas), "hopfield_capacity") as bar:
        for s, n in enumerate(sizes):
            finals = [fs.final_overlaps(n, a, params["networks"], _probes(params, n, a), next(seeds), params["max_sweeps"])
                      for a in _ticking(alphas, bar, s * len(alphas), len(sizes) * len(alphas))]
            retrieved = np.array([np.sum(f >= params["threshold"]) for f in finals])
            trials = np.array([f.size for f in finals])
            fit = fs.probit_fit(alphas, retrieved, trials)
            fits.append(fit)
            ctx.log.info("N=%d: alpha_1/2 = %.4f +- %.4f, width %.4f", n, fit.alpha_half, fit.alpha_half_err, fit.width)
            w.write_metric(f"retrieval_fraction_n{n}", retrieved / trials, x="alpha", theory=[f"retrieval_fit_n{n}"])
            w.write_metric(f"retrieval_fit_n{n}", fit.curve(theory_alpha), x="theory_alpha", label="probit fit")
    mean_overlap = np.array([f.mean() for f in finals])  # the largest size
    half = np.array([f.alpha_half for f in fits])
    errors = np.array([f.alpha_half_err for f in fits])
    line = fs.extrapolate(np.array(sizes), half, errors)
    inv_sqrt_n = 1.0 / np.sqrt(np.array(sizes, dtype=np.float64))
    fit_x = np.linspace(0.0, inv_sqrt_n[0], 50)
    w.write_metric("alpha", alphas)
    w.write_metric("theory_alpha", theory_alpha)
    w.write_metric("overlap", mean_overlap, x="alpha", theory=["overlap_theory"])
    w.write_metric("overlap_theory", np.array([ags.overlap(a, 0.0) for a in theory_alpha]), x="theory_alpha",
                   label="AGS (N = ∞)")
    w.write_metric("sizes", np.array(sizes))
    w.write_metric("inv_sqrt_n", inv_sqrt_n)
    w.write_metric("alpha_half", half, x="inv_sqrt_n", theory=["alpha_half_fit"])
    w.write_metric("alpha_half_err", errors, x="inv_sqrt_n")
    w.write_metric("fit_inv_sqrt_n", fit_x)
    w.write_metric("alpha_half_fit", line.line(fit_x), x="fit_inv_sqrt_n", label="α_c + a N^(-1/2)")
    w.write_metric("alpha_c", line.alpha_c)
    w.write_metric("alpha_c_err", line.alpha_c_err)
    w.write_metric("fit_chi2_per_dof", line.chi2_per_dof)
    w.write_metric("width_exponent", fs.width_exponent(np.array(sizes), np.array([f.width for f in fits])))
    ctx.log.info("alpha_c = %.4f +- %.4f by extrapolation (AGS: %.4f), chi2/dof %.2f",
                 line.alpha_c, line.alpha_c_err, ags.ALPHA_C, line.chi2_per_dof)


def _ticking(alphas: np.ndarray, bar, done: int, total: int):
    """The loads, advancing the progress bar after each."""
    for j, alpha in enumerate(alphas):
        yield float(alpha)
        bar(done + j + 1, total)
