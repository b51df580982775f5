"""``clustered_noise``: the clustered (Gripon–Berrou) clique memory under erasure and insertion
noise, retrieved by iterated per-cluster winner-take-all: the robustness that Coyac, Gripon,
Langlais & Berrou (arXiv 1709.08367) find in recurrent Hebbian networks under noise.

n = χ ℓ neurons, one active unit per cluster; M messages grown into one network (the network
at M contains the one at every smaller M). Each noise condition k corrupts the first ``tests``
stored messages with ``erased[k]`` silenced clusters and ``inserted[k]`` extra units (each in
its own random cluster, possibly an erased one); retrieval is ``rule`` ("max": sum of max,
"sum": sum of sum) with memory effect γ = ``gamma``, for each count of ``iterations`` (the same
cues, each count continuing the previous: the dynamics are Markov). An error is a retrieved
state that differs from the stored message.

Metrics: ``messages_M`` (x), ``density`` and ``density_theory`` (1 − (1 − 1/ℓ²)^M),
``error_e{E}_i{I}_t{T}`` for every condition (E erased, I inserted) and iteration count T, and
``messages_at_10pct_e{E}_i{I}_t{T}`` (the M at which that error rate first reaches 0.1, linear
interpolation; NaN if it never does). Theory curves, on the finer grid ``messages_M_fine``:

- erasures only, one iteration: ``…_t1_independent_edges`` (1 − (1 − d^{c_k})^{(χ−c_k)(ℓ−1)},
  the independent-edge approximation, which underestimates the error) and ``…_t1_per_unit``
  (exact probability that one candidate is linked to all c_k known units, candidates taken as
  independent);
- one insertion, no erasure, sum of max, γ > 0: ``…_exact`` for every T (the inserted unit
  survives iff it is linked to all χ − 1 other message units; iterations change nothing).

Other conditions (iterated erasures, several insertions) have no closed form here; the sum of
max never increases the error with iterations when every cue cluster is empty or holds the
message's unit (erasures only, or insertions only).
"""

from __future__ import annotations

import numpy as np

from neurosim.scenario.memory.common import crossing, increasing
from neurosim.scenario.schema import Field, list_of

FIELDS = {
    "clusters": Field("int", default=8, minimum=2, maximum=1024, doc="χ, clusters (one active unit each)"),
    "size": Field("int", default=256, minimum=2, maximum=65_536, doc="ℓ, neurons per cluster"),
    "erased": list_of(Field("int", minimum=0), min_items=1, default=[4, 0, 0, 2],
                      doc="silenced clusters per condition"),
    "inserted": list_of(Field("int", minimum=0), min_items=1, default=[0, 1, 4, 2],
                        doc="inserted units per condition (as many entries as erased)"),
    "iterations": list_of(Field("int", minimum=1, maximum=100), min_items=1, default=[1, 4]),
    "rule": Field("str", default="max", choices=("max", "sum"), doc="sum of max or sum of sum"),
    "gamma": Field("float", default=1.0, minimum=0.0, maximum=1000.0, doc="memory effect γ (self-loop)"),
    "messages": list_of(Field("int", minimum=1, maximum=10_000_000), min_items=2,
                        default=[2500, 5000, 7500, 10000, 12500, 15000, 17500, 20000, 25000, 30000]),
    "tests": Field("int", default=500, minimum=1, maximum=100_000, doc="messages retrieved per point"),
}


def check(params: dict, path: str) -> list[tuple[str, str]]:
    problems = increasing(params["messages"], f"{path}.messages") + increasing(params["iterations"],
                                                                               f"{path}.iterations")
    erased, inserted, chi = params["erased"], params["inserted"], params["clusters"]
    if len(inserted) != len(erased):
        problems.append((f"{path}.inserted", f"must have as many entries as erased ({len(erased)})"))
    if any(e >= chi for e in erased):
        problems.append((f"{path}.erased", f"every entry must be < clusters = {chi}"))
    if any(i > chi for i in inserted):
        problems.append((f"{path}.inserted", f"every entry must be <= clusters = {chi}"))
    if len(set(zip(erased, inserted))) != len(erased):
        problems.append((f"{path}.inserted", "conditions (erased, inserted) must differ"))
    if params["tests"] > params["messages"][0]:
        problems.append((f"{path}.tests", f"must be <= the smallest message count {params['messages'][0]}"))
    return problems


#: legend words of the theory curves
LABELS = {"t1_independent_edges": "independent-edge approximation", "t1_per_unit": "exact per-unit link probability",
          "exact": "exact (one insertion)"}


def _theories(ws, layout, params: dict, erased: int, inserted: int, fine: np.ndarray) -> dict[str, np.ndarray]:
    """Theory curves of one condition, name suffix -> values on ``fine``: "t1_…" for its
    one-iteration curve (erasures only), "exact" for every iteration count (one insertion)."""
    chi = layout.clusters
    if inserted == 0:
        known = chi - erased
        return {"t1_independent_edges": np.array([1 - ws.success_theory(layout, int(m), known) for m in fine]),
                "t1_per_unit": np.array([1 - ws.success_per_unit(layout, int(m), known) for m in fine])}
    if inserted == 1 and erased == 0 and params["rule"] == "max" and params["gamma"] > 0:
        return {"exact": np.array([ws.linked_to_all(layout, int(m), chi - 1) for m in fine])}
    return {}


def run(params: dict, seed: int, ctx) -> None:
    from neurosim.models import willshaw as ws

    chi, ell = params["clusters"], params["size"]
    layout = ws.Layout(chi * ell, chi, chi)
    counts, steps, tests = params["messages"], params["iterations"], params["tests"]
    conditions = list(zip(params["erased"], params["inserted"]))
    message_seq, *cue_seqs = np.random.SeedSequence(seed).spawn(1 + len(counts))
    msgs = ws.messages(layout, counts[-1], np.random.default_rng(message_seq))
    stored = msgs[:tests]
    errors = np.zeros((len(conditions), len(steps), len(counts)))
    dens = []
    w_matrix, done = None, 0
    with ctx.progress(len(counts), "clustered_noise") as bar:
        for j, (count, sq) in enumerate(zip(counts, cue_seqs)):
            w_matrix, done = ws.store(msgs[done:count], w_matrix), count
            dens.append(ws.density(w_matrix, layout))
            rng = np.random.default_rng(sq)
            for k, (erased, inserted) in enumerate(conditions):
                state, at = ws.corrupt(stored, layout, erased, inserted, rng), 0
                for t, total in enumerate(steps):
                    state, at = ws.retrieve(w_matrix, state, layout, total - at, params["gamma"], params["rule"]), total
                    errors[k, t, j] = 1.0 - np.all(state == stored, axis=1).mean()
            bar(j + 1, len(counts))
            ctx.log.info("M=%d: density %.4f (theory %.4f); errors %s", count, dens[-1],
                         ws.density_theory(layout, count),
                         ", ".join(f"e{e}i{i}: " + "/".join(f"{errors[k, t, j]:.3f}" for t in range(len(steps)))
                                   for k, (e, i) in enumerate(conditions)))
    fine = np.unique(np.linspace(counts[0], counts[-1], 60).round().astype(np.int64))
    w = ctx.writer
    w.write_metric("messages_M", np.array(counts))
    w.write_metric("density", np.array(dens), x="messages_M", theory=["density_theory"])
    w.write_metric("density_theory", np.array([ws.density_theory(layout, m) for m in counts]), x="messages_M")
    fine_written = False
    for k, (erased, inserted) in enumerate(conditions):
        tag = f"e{erased}_i{inserted}"
        theories = _theories(ws, layout, params, erased, inserted, fine)
        drawn = {total: [name for name in theories if name == "exact" or (total == 1 and name.startswith("t1_"))]
                 for total in steps}
        for name in sorted(set(sum(drawn.values(), []))):
            if not fine_written:
                w.write_metric("messages_M_fine", fine)
                fine_written = True
            w.write_metric(f"error_{tag}_{name}", theories[name], x="messages_M_fine", label=LABELS[name])
        for t, total in enumerate(steps):
            w.write_metric(f"error_{tag}_t{total}", errors[k, t], x="messages_M",
                           theory=[f"error_{tag}_{name}" for name in drawn[total]])
            w.write_metric(f"messages_at_10pct_{tag}_t{total}", crossing(counts, 1.0 - errors[k, t], 0.9))
