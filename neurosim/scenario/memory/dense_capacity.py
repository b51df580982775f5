"""``dense_capacity``: capacity of the Krotov–Hopfield dense associative memory against N
for several powers n of F(x) = xⁿ (or max(x, 0)ⁿ).

The capacity K_c(N) is the number of stored patterns at which a fraction ``error`` of the
bits of stored patterns are unstable under one asynchronous update
(:func:`neurosim.models.dense_memory.measure_capacity`); the exponent is the slope of
log K_c against log N, expected n − 1.

Metrics per power n, in log10 so that the slope is the exponent: ``log10_N_n{n}`` (x),
``log10_capacity_n{n}``, ``log10_capacity_theory_n{n}`` (N^{n−1} / ((2n−3)!! z²), polynomial
F, z = Q⁻¹(error)); ``capacity_exponent_n{n}`` (the values themselves are in the log).
"""

from __future__ import annotations

import numpy as np

from neurosim.scenario.memory.common import increasing
from neurosim.scenario.schema import Field, list_of

FIELDS = {
    "powers": list_of(Field("int", minimum=2, maximum=8), default=[2, 3, 4], min_items=1),
    "sizes": list_of(list_of(Field("int", minimum=8, maximum=100_000), min_items=2),
                     default=[[100, 200, 400, 800], [40, 60, 90, 135], [24, 34, 48, 68]], min_items=1,
                     doc="one list of N per power"),
    "error": Field("float", default=0.01, minimum=0.0, exclusive_minimum=True, maximum=0.5),
    "test_patterns": Field("int", default=32, minimum=1, maximum=10_000),
    "draws": Field("int", default=4, minimum=1, maximum=1000, doc="independent pattern sets per N"),
    "rectified": Field("bool", default=False),
}


def check(params: dict, path: str) -> list[tuple[str, str]]:
    problems = []
    if len(params["sizes"]) != len(params["powers"]):
        problems.append((f"{path}.sizes", f"needs one list per power ({len(params['powers'])}), got {len(params['sizes'])}"))
    if len(set(params["powers"])) != len(params["powers"]):
        problems.append((f"{path}.powers", "must not repeat a power"))
    for j, sizes in enumerate(params["sizes"]):
        problems += increasing(sizes, f"{path}.sizes.{j}")
    return problems


def run(params: dict, seed: int, ctx) -> None:
    from neurosim.models import dense_memory

    seqs = np.random.SeedSequence(seed).spawn(len(params["powers"]))
    total = sum(len(s) for s in params["sizes"])
    done = 0
    w = ctx.writer
    with ctx.progress(total, "dense_capacity") as bar:
        for power, sizes, sq in zip(params["powers"], params["sizes"], seqs):
            rng = np.random.default_rng(sq)
            caps = []
            for n in sizes:
                caps.append(dense_memory.measure_capacity(n, power, params["error"], rng, params["rectified"],
                                                          params["test_patterns"], params["draws"]))
                done += 1
                bar(done, total)
            exponent = dense_memory.fit_exponent(np.array(sizes), np.array(caps))
            theory = [dense_memory.capacity_theory(n, power, params["error"]) for n in sizes]
            x = f"log10_N_n{power}"
            w.write_metric(x, np.log10(sizes))
            w.write_metric(f"log10_capacity_n{power}", np.log10(caps), x=x, theory=[f"log10_capacity_theory_n{power}"])
            w.write_metric(f"log10_capacity_theory_n{power}", np.log10(theory), x=x)
            w.write_metric(f"capacity_exponent_n{power}", exponent)
            ctx.log.info("n=%d: N %s -> K_c %s (theory %s), exponent %.3f (expected %d)", power, sizes,
                         np.round(caps, 1).tolist(), np.round(theory, 1).tolist(), exponent, power - 1)
