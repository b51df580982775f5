"""The ``lsm`` task: a liquid state machine on MNIST (substitute protocol), end to end.

    [lsm]
    variant = "nalsm"            # nalsm | stdp | static
    seed = 1
    data = "mnist"               # the dataset ($NEUROSIM_DATA/mnist or the user cache), or a folder
    samples = [8000, 1000, 1000] # images used from the substitute train / validation / test parts
    weights = [3.0]              # initial weight magnitudes; several = a scan, the best on validation wins
    carry_traces = true          # STDP traces carried from one initialisation sample to the next
                                 # (the authors' code never resets them); phase 2 then starts from them

Phase 1 presents ``init_samples`` training images for ``init_steps`` ms each with plasticity
on; phase 2 runs every image for ``steps`` ms from the initialised weights (in parallel) and
counts liquid spikes; a readout is trained on the counts. Metrics: ``test_accuracy``,
``val_accuracy``, ``branching_factor`` (and curves against the scanned weight or readout pass).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from neurosim.datasets.mnist import load_idx_pair, locate, substitute_split
from neurosim.models.lsm.branching import branching_factor
from neurosim.models.lsm.encoding import ENCODINGS, nalsm_peak, nalsm_probabilities, rate_probabilities
from neurosim.models.lsm.model import LiquidStateMachine
from neurosim.models.lsm.params import VARIANTS, LiquidParams, NeuronParams, PlasticityParams
from neurosim.models.lsm.readout import normalise, train_adadelta, train_logistic
from neurosim.scenario.schema import Field, Problem, ScenarioError, list_of, quantity, table
from neurosim.scenario.tasks import TaskKind, register_task

LSM_TABLE = table({
    "variant": Field("str", default="nalsm", choices=VARIANTS),
    "seed": Field("int", default=0, minimum=0, maximum=2**63 - 1),
    "data": Field("str", default="mnist"),
    "samples": list_of(Field("int", minimum=1), default=[8000, 1000, 1000], min_items=3,
                       check=lambda s: None if len(s) == 3 else "needs 3 entries: train, validation, test"),
    "encoding": Field("str", default="bernoulli", choices=("bernoulli", "poisson")),
    "max_rate": quantity("frequency", default=100.0, minimum=0.0, exclusive_minimum=True),
    "shape": list_of(Field("int", minimum=1, maximum=100), default=[10, 10, 10], min_items=3,
                     check=lambda s: None if len(s) == 3 else "needs 3 entries"),
    "weights": list_of(Field("float", minimum=0.0, maximum=3.0), default=[3.0], min_items=1),
    "w_astro": Field("float", default=0.015, minimum=0.0),
    "astro_fraction": Field("float", default=1.0, minimum=0.0, maximum=1.0),
    "carry_traces": Field("bool", default=True),
    "init_samples": Field("int", default=8000, minimum=0),
    "init_steps": Field("int", default=20, minimum=1, maximum=10_000),
    "steps": Field("int", default=250, minimum=1, maximum=100_000),
    "bins": Field("int", default=1, minimum=1),
    "readout": Field("str", default="logistic", choices=("nalsm", "logistic")),
    "readout_epochs": Field("int", default=300, minimum=1),
    "branching_samples": Field("int", default=20, minimum=0),
})


@dataclass
class Prepared:
    split: Any
    liquid: LiquidParams
    plasticity: PlasticityParams


def prepare(cfg: dict) -> Prepared:
    c = cfg["lsm"]
    try:
        images, labels = load_idx_pair(locate(c["data"]))
    except (FileNotFoundError, ValueError) as exc:
        raise ScenarioError([Problem("lsm.data", str(exc))]) from None
    split = substitute_split(images.reshape(images.shape[0], -1), labels)
    for k, (part, name) in enumerate(zip((split.train, split.val, split.test), ("train", "validation", "test"))):
        if c["samples"][k] > part[0].shape[0]:
            raise ScenarioError([Problem(f"lsm.samples.{k}", f"asks for {c['samples'][k]} {name} images but "
                                                             f"the substitute protocol has {part[0].shape[0]}")])
    if c["init_samples"] > c["samples"][0] and c["variant"] != "static":
        raise ScenarioError([Problem("lsm.init_samples", f"{c['init_samples']} exceeds the {c['samples'][0]} training images")])
    if c["bins"] > c["steps"]:
        raise ScenarioError([Problem("lsm.bins", f"{c['bins']} bins do not fit in {c['steps']} steps")])
    try:
        liquid = LiquidParams(shape=tuple(c["shape"]))
        plasticity = PlasticityParams(c["variant"], w_astro=c["w_astro"], astro_fraction=c["astro_fraction"],
                                      carry_traces=c["carry_traces"])
    except ValueError as exc:
        raise ScenarioError(str(exc)) from None
    return Prepared(split, liquid, plasticity)


def _drive(images: np.ndarray, cfg: dict, peak: float) -> np.ndarray:
    """Images -> drive. NALSM's encoding divides by the largest p = img/Σimg: here the training
    part's, for every part. (The authors divide each of their 50k/10k/10k sets by its own, the
    extreme of a large sample and so about the same for all; on the substitute's small parts
    the per-part maxima differ by 2x (0.045 train, 0.022 validation, 0.028 test), which would
    drive validation and test images twice as hard as training images.)"""
    if cfg["encoding"] == "bernoulli":
        return nalsm_probabilities(images, peak)
    return rate_probabilities(images, cfg["max_rate"])


def _evaluate(lsm: LiquidStateMachine, parts: list[tuple[np.ndarray, np.ndarray]], cfg: dict, ctx) -> dict:
    """Features of every part, the readout and the branching factor of one liquid."""
    mode = ENCODINGS[cfg["encoding"]]
    peak = nalsm_peak(parts[0][0])
    start = time.perf_counter()
    if lsm.plastic and cfg["init_samples"]:
        rng = np.random.default_rng(np.random.SeedSequence(cfg["seed"], spawn_key=(3,)))
        order = rng.permutation(parts[0][0].shape[0])[: cfg["init_samples"]]
        with ctx.progress(cfg["init_samples"], "initialise") as bar:
            lsm.initialise(_drive(parts[0][0], cfg, peak)[order], mode, cfg["init_steps"], progress=bar)
    init_s = time.perf_counter() - start
    ctx.log.info("initialised on %d images in %.1f s", cfg["init_samples"] if lsm.plastic else 0, init_s)
    feats, offset, n_features = [], 0, 0
    start = time.perf_counter()
    rasters = None
    with ctx.progress(sum(p[0].shape[0] for p in parts), "features") as bar:
        for k, (x, _) in enumerate(parts):
            record = np.arange(min(cfg["branching_samples"], x.shape[0])) if k == 0 else None
            counts, r = lsm.features(_drive(x, cfg, peak), mode, np.arange(x.shape[0]) + offset, cfg["steps"], cfg["bins"],
                                     record)
            rasters = r if k == 0 else rasters
            feats.append(normalise(counts))
            offset += x.shape[0]
            n_features += x.shape[0]
            bar(n_features, n_features)
    feature_s = time.perf_counter() - start
    ctx.log.info("features of %d images in %.1f s (%.1f samples/s)", n_features, feature_s, n_features / feature_s)
    data = [(f, p[1]) for f, p in zip(feats, parts)]
    readout = train_adadelta(*data, epochs=cfg["readout_epochs"]) if cfg["readout"] == "nalsm" else train_logistic(*data)
    bf = branching_factor(rasters, lsm.liquid.adjacency()) if rasters is not None and rasters.shape[0] else float("nan")
    ctx.log.info("liquid: val %.4f test %.4f bf %.3f init %.1f s features %.1f s", readout.val_accuracy,
                 readout.test_accuracy, bf, init_s, feature_s)
    return {"val_accuracy": readout.val_accuracy, "test_accuracy": readout.test_accuracy, "branching_factor": bf,
            "init_s": init_s, "feature_s": feature_s, "samples_per_s": n_features / feature_s,
            "readout_curve": readout.val_curve}


def run(cfg: dict, prepared: Prepared, ctx) -> None:
    c = cfg["lsm"]
    split = prepared.split
    parts = [(p[0][:n], p[1][:n]) for p, n in zip((split.train, split.val, split.test), c["samples"])]
    ctx.writer.h5.attrs["protocol"] = split.note
    ctx.log.info(split.note)
    results = []
    for w in c["weights"]:
        liquid = replace(prepared.liquid, w_init=w)
        lsm = LiquidStateMachine.build(liquid, NeuronParams(), prepared.plasticity, c["seed"])
        results.append(_evaluate(lsm, parts, c, ctx))
    best = max(range(len(results)), key=lambda k: results[k]["val_accuracy"])
    units = {"init_s": "s", "feature_s": "s", "samples_per_s": "1/s"}
    for name in ("test_accuracy", "val_accuracy", "branching_factor", "init_s", "feature_s", "samples_per_s"):
        ctx.writer.write_metric(name, results[best][name], units=units.get(name))
    ctx.writer.write_metric("best_weight", c["weights"][best])
    if len(results) > 1:
        ctx.writer.write_metric("weight", np.array(c["weights"], dtype=float))
        for name in ("val_accuracy", "test_accuracy", "branching_factor"):
            ctx.writer.write_metric(f"{name}_by_weight", np.array([r[name] for r in results]), x="weight")
    if c["readout"] == "nalsm":
        curve = results[best]["readout_curve"]
        ctx.writer.write_metric("readout_pass", np.arange(1, curve.size + 1, dtype=float))
        ctx.writer.write_metric("readout_val_accuracy", curve, x="readout_pass")


LSM = register_task(TaskKind(
    name="lsm", tables={"lsm": LSM_TABLE}, required=("lsm",), prepare=prepare, run=run, seed_path=("lsm", "seed"),
    doc="liquid state machines (static, STDP, NALSM) on the MNIST substitute protocol",
))
