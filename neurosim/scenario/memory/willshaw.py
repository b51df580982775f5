"""``willshaw``: retrieval error rate of a Willshaw (or clustered Gripon–Berrou) binary sparse
memory against the number of stored messages M, beside the closed forms.

Cues are stored messages with ``erased`` active units (clusters) removed and ``inserted``
spurious units added; retrieval is ``iterations`` rounds of k-WTA (per-cluster WTA when
``clusters`` > 0) on the scores of ``rule`` (sum of sum, or sum of max) with memory effect
γ = ``gamma``. An error is a retrieved message that differs from the stored one.
Metrics: ``messages_M`` (x), ``error_rate``, ``density`` and ``density_theory`` (drawn on the
density's axes). Without insertions, two one-iteration predictions are drawn over
``error_rate``: ``error_rate_theory`` = 1 − (1 − d^{c_k})^{n−c} (clustered: (χ − c_k)(ℓ − 1) in
the exponent), the independent-edge approximation, which underestimates the error of a stored
network because the links of one unit are correlated; and ``error_rate_per_unit_theory`` (on
the finer grid ``messages_M_fine``), with the exact probability that one candidate is linked to
all c_k known units, only the candidates taken as independent. Both are one-iteration
predictions: with ``iterations`` > 1 they bound the error from above only for the sum of max.
"""

from __future__ import annotations

import numpy as np

from neurosim.scenario.memory.common import increasing
from neurosim.scenario.schema import Field, list_of

FIELDS = {
    "n": Field("int", default=1024, minimum=4, maximum=65_536, doc="neurons"),
    "c": Field("int", default=10, minimum=2, maximum=65_536, doc="active units per message"),
    "clusters": Field("int", default=0, minimum=0, maximum=65_536, doc="0: unclustered; else c = clusters"),
    "erased": Field("int", default=5, minimum=0),
    "inserted": Field("int", default=0, minimum=0),
    "iterations": Field("int", default=1, minimum=1, maximum=100),
    "rule": Field("str", default="sum", choices=("sum", "max"), doc="sum of sum, or sum of max (clustered only)"),
    "gamma": Field("float", default=1.0, minimum=0.0, maximum=1000.0, doc="memory effect γ (self-loop)"),
    "messages": list_of(Field("int", minimum=1, maximum=10_000_000), min_items=2,
                        default=[250, 500, 1000, 1500, 2000, 2500, 3000, 3500, 4000, 5000, 6000]),
    "tests": Field("int", default=400, minimum=1, maximum=100_000, doc="messages retrieved per point"),
}


def check(params: dict, path: str) -> list[tuple[str, str]]:
    from neurosim.models import willshaw as ws

    problems = increasing(params["messages"], f"{path}.messages")
    try:
        ws.Layout(params["n"], params["c"], params["clusters"])
    except ValueError as exc:
        field, message = str(exc).split(": ", 1)
        problems.append((f"{path}.{field}", message))
    if params["rule"] == "max" and not params["clusters"]:
        problems.append((f"{path}.rule", "'max' (sum of max) needs clusters > 0"))
    if params["erased"] >= params["c"]:
        problems.append((f"{path}.erased", f"must be < c = {params['c']}"))
    limit = params["clusters"] if params["clusters"] else params["n"] - params["c"]
    if params["inserted"] > limit:
        problems.append((f"{path}.inserted", f"must be <= {limit}"))
    return problems


def run(params: dict, seed: int, ctx) -> None:
    from neurosim.models import willshaw as ws

    layout = ws.Layout(params["n"], params["c"], params["clusters"])
    seqs = np.random.SeedSequence(seed).spawn(len(params["messages"]))
    errors, dens = [], []
    with ctx.progress(len(seqs), "willshaw") as bar:
        for j, (count, sq) in enumerate(zip(params["messages"], seqs)):
            rng = np.random.default_rng(sq)
            msgs = ws.messages(layout, count, rng)
            w_matrix = ws.store(msgs)
            test = msgs[: params["tests"]]
            out = ws.retrieve(w_matrix, ws.corrupt(test, layout, params["erased"], params["inserted"], rng), layout,
                              params["iterations"], params["gamma"], params["rule"])
            errors.append(1.0 - np.all(out == test, axis=1).mean())
            dens.append(ws.density(w_matrix, layout))
            bar(j + 1, len(seqs))
            known = params["c"] - params["erased"]
            ctx.log.info("M=%d: density %.4f (closed form %.4f), error rate %.4f (erasures only, one iteration: "
                         "independent edges %.4f, per unit %.4f)", count, dens[-1], ws.density_theory(layout, count),
                         errors[-1], 1.0 - ws.success_theory(layout, count, known),
                         1.0 - ws.success_per_unit(layout, count, known))
    w = ctx.writer
    counts = params["messages"]
    w.write_metric("messages_M", np.array(counts))
    theory = []
    if params["inserted"] == 0:
        known = params["c"] - params["erased"]
        fine = np.unique(np.linspace(counts[0], counts[-1], 60).round().astype(np.int64))
        w.write_metric("messages_M_fine", fine)
        w.write_metric("error_rate_theory",
                       np.array([1.0 - ws.success_theory(layout, m, known) for m in counts]), x="messages_M",
                       label="independent-edge approximation")
        w.write_metric("error_rate_per_unit_theory",
                       np.array([1.0 - ws.success_per_unit(layout, int(m), known) for m in fine]), x="messages_M_fine",
                       label="exact per-unit link probability")
        theory = ["error_rate_theory", "error_rate_per_unit_theory"]
    w.write_metric("error_rate", np.array(errors), x="messages_M", theory=theory)
    w.write_metric("density", np.array(dens), x="messages_M", theory=["density_theory"])
    w.write_metric("density_theory", np.array([ws.density_theory(layout, m) for m in counts]), x="messages_M")
