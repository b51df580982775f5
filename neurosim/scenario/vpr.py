"""The ``vpr`` task: a modular ensemble of Diehl & Cook networks recognises places.

    [vpr]
    seed = 1
    data = "substitute"       # offline route (neurosim.datasets.traverses), "nordland", "robotcar" or a folder
    places = 1000
    places_per_module = 50
    n_exc = 100               # excitatory neurons per module
    epochs = 20
    workers = 0               # > 0: train the modules on that many local Dask worker processes

Every module learns its region's reference images; all modules then see every reference image
(hyperactive neurons and the neurons' places) and every query image. A random
``calibration`` fraction of the queries chooses the hyperactive threshold; the others are
the test. Metrics (on the test queries): ``recall_at_1`` and ``auc`` with the chosen
threshold, ``recall_at_1_unregularised`` and ``auc_unregularised`` without removal (T = 0),
``threshold``, ``hyperactive_neurons``, ``train_s`` and ``infer_s`` (wall time),
``images_per_s``; curves ``precision`` against ``recall`` (and both ``_unregularised``) and
``calibration_recall_at_1`` against ``thresholds``. The file's ``protocol`` attribute names the data.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from neurosim.datasets import nordland, robotcar, store
from neurosim.datasets.traverses import Traverses, from_folder, substitute
from neurosim.models import diehl_cook as dc
from neurosim.models import vpr
from neurosim.scenario.schema import Field, Problem, ScenarioError, list_of, table
from neurosim.scenario.tasks import TaskKind, register_task

TABLE = table({
    "seed": Field("int", default=0, minimum=0, maximum=2**63 - 1),
    "data": Field("str", default="substitute"),
    "places": Field("int", default=1000, minimum=2),
    "every": Field("int", default=0, minimum=0),  # keep every n-th place; 0: the data's own (Nordland 8, else 1)
    "places_per_module": Field("int", default=50, minimum=1),
    "n_exc": Field("int", default=100, minimum=1, maximum=100_000),
    "epochs": Field("int", default=20, minimum=1, maximum=10_000),
    "patch": Field("int", default=7, minimum=1, maximum=28),  # on the 28 x 28 image of a module's 784 inputs
    "thresholds": list_of(Field("int", minimum=0), default=list(vpr.THRESHOLDS), min_items=1),
    "calibration": Field("float", default=0.2, minimum=0.0, maximum=1.0, exclusive_minimum=True),
    "tolerance": Field("int", default=0, minimum=0),
    "workers": Field("int", default=0, minimum=0, maximum=1024),
})


SIZE = 28  # images are 28 x 28: a module has 784 inputs


@dataclass
class Prepared:
    reference: np.ndarray  # (places, size²) grey values 0-255
    query: np.ndarray
    note: str
    params: dc.Params


def _traverses(c: dict) -> Traverses:
    data = c["data"]
    if data == "substitute":
        return substitute(c["places"], c["seed"])
    if data == "nordland":
        return nordland.load(every=c["every"] or 8)
    if data == "robotcar":
        return robotcar.load(every=c["every"] or 1)
    return from_folder(Path(data), every=c["every"] or 1, size=(56, 56), name=Path(data).name)


def prepare(cfg: dict) -> Prepared:
    c = cfg["vpr"]
    try:
        route = _traverses(c)
    except (FileNotFoundError, ValueError, store.DataMissing) as exc:
        field = "vpr.places" if c["data"] == "substitute" else "vpr.data"
        raise ScenarioError([Problem(field, str(exc).removeprefix("vpr.places: "))]) from None
    n = min(len(route), c["places"])
    if n < c["places"]:
        raise ScenarioError([Problem("vpr.places", f"asks for {c['places']} places but {route.note} has {n}")])
    if c["calibration"] * n < 1 or (1 - c["calibration"]) * n < 1:
        raise ScenarioError([Problem("vpr.calibration", f"leaves no calibration or no test query of {n} places")])
    reference = vpr.preprocess(route.reference[:n], SIZE, c["patch"])
    query = vpr.preprocess(route.query[:n], SIZE, c["patch"])
    return Prepared(reference, query, route.note, dc.Params(n_exc=c["n_exc"]))


def _train(prepared: Prepared, cuts: list[tuple[int, int]], c: dict) -> list[dc.Learned]:
    args = (prepared.params, prepared.reference, cuts, c["epochs"], c["seed"])
    if not c["workers"]:
        return vpr.train_modules(*args)
    from neurosim.scenario.sweep import dask_client

    dc.build(dc.Params(n_exc=2), 0).net.warm_up()  # compiled once, into the cache the workers read
    with dask_client(c["workers"]) as client:
        return vpr.train_modules(*args, map=lambda f, *its: client.gather(client.map(f, *its, pure=False)))


def run(cfg: dict, prepared: Prepared, ctx) -> None:
    c = cfg["vpr"]
    n = prepared.reference.shape[0]
    ctx.writer.h5.attrs["protocol"] = prepared.note
    ctx.log.info(prepared.note)
    cuts = vpr.regions(n, c["places_per_module"])
    start = time.perf_counter()
    trained = _train(prepared, cuts, c)
    train_s = time.perf_counter() - start
    ctx.log.info("%d modules of %d neurons trained on %d places in %.1f s", len(cuts), c["n_exc"], n, train_s)
    start = time.perf_counter()
    ensemble = dc.ensemble(prepared.params, c["seed"] + 1, trained)
    with ctx.progress(2 * n, "reference and query") as bar:
        reference = ensemble.responses(prepared.reference, bar)
        queries = ensemble.responses(prepared.query, lambda k, m: bar(n + k, 2 * n))
    infer_s = time.perf_counter() - start
    _report(ctx, c, reference, queries, vpr.assign(reference, cuts, c["n_exc"]), len(cuts))
    w = ctx.writer
    w.write_metric("train_s", train_s, units="s")
    w.write_metric("infer_s", infer_s, units="s")
    w.write_metric("images_per_s", c["epochs"] * n / train_s, units="1/s")


def _report(ctx, c: dict, reference: np.ndarray, queries: np.ndarray, assignments: np.ndarray, modules: int) -> None:
    n = reference.shape[0]
    rng = np.random.default_rng(np.random.SeedSequence(c["seed"], spawn_key=(12,)))
    order, cut = rng.permutation(n), max(1, round(c["calibration"] * n))
    calibration, test = np.sort(order[:cut]), np.sort(order[cut:])
    e = vpr.evaluate(reference, queries, assignments, calibration, test, c["thresholds"], c["tolerance"])
    best, by_threshold = e.threshold, e.calibration_recall
    results = {best: e.regularised, 0: e.unregularised}  # best = 0: the same matches
    w = ctx.writer
    w.write_metric("recall_at_1", results[best].recall_at_1)
    w.write_metric("recall_at_1_unregularised", results[0].recall_at_1)
    w.write_metric("auc", results[best].auc)
    w.write_metric("auc_unregularised", results[0].auc)
    w.write_metric("threshold", best)
    w.write_metric("hyperactive_neurons", int(vpr.hyperactive(reference, best).sum()))
    w.write_metric("modules", modules)
    w.write_metric("places", n)
    for suffix, t in (("", best), ("_unregularised", 0)):
        precision, recall = results[t].precision_recall()
        w.write_metric(f"recall{suffix}", recall)
        w.write_metric(f"precision{suffix}", precision, x=f"recall{suffix}")
    w.write_metric("thresholds", np.array(list(by_threshold), dtype=float))
    w.write_metric("calibration_recall_at_1", np.array(list(by_threshold.values())), x="thresholds")
    ctx.log.info("recall@1 %.4f (threshold %d; without removal %.4f), AUC %.4f (%.4f)", results[best].recall_at_1,
                 best, results[0].recall_at_1, results[best].auc, results[0].auc)


VPR = register_task(TaskKind(
    name="vpr", tables={"vpr": TABLE}, required=("vpr",), prepare=prepare, run=run, seed_path=("vpr", "seed"),
    doc="place recognition by a modular ensemble of Diehl & Cook networks (Hussaini et al. 2023)",
))
