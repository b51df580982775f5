"""The ``stdp_classify`` task: Diehl & Cook (2015) on MNIST (substitute protocol), end to end.

    [stdp_classify]
    seed = 1
    data = "mnist"            # $NEUROSIM_DATA/mnist or the user cache, or a folder
    n_exc = 400
    samples = [8000, 1000]    # images of the substitute train (0-7999) and test (9000-9999) parts
    epochs = 1                # passes through the training images with STDP on
    every_epoch = false       # also label and test after every epoch (curve test_accuracy_by_epoch)
    shuffle = false           # a new order of the training images in every epoch (from the seed)
    input_delay = "0 ms"      # input -> excitatory delays U(0, input_delay) (the authors' code: 10 ms)

The network and protocol are :mod:`neurosim.models.diehl_cook`'s. After training, learning
stops, θ is frozen, every neuron is labelled from one presentation of the training images, and
the test images are classified. Metrics: ``test_accuracy``, ``train_accuracy`` (the labelling
pass), ``train_s``, ``images_per_s`` (training), ``neurons_per_class``, ``silent_neurons``
(never fired while labelled: no class); the file's
``protocol`` attribute says which data the numbers come from.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from neurosim.datasets.mnist import load_idx_pair, locate, substitute_split
from neurosim.models import diehl_cook as dc
from neurosim.scenario.schema import Field, Problem, ScenarioError, list_of, quantity, table
from neurosim.scenario.tasks import TaskKind, register_task

TABLE = table({
    "seed": Field("int", default=0, minimum=0, maximum=2**63 - 1),
    "data": Field("str", default="mnist"),
    "n_exc": Field("int", default=400, minimum=1, maximum=100_000),
    "samples": list_of(Field("int", minimum=1), default=[8000, 1000], min_items=2,
                       check=lambda s: None if len(s) == 2 else "needs 2 entries: train, test"),
    "epochs": Field("int", default=1, minimum=1, maximum=1000),
    "every_epoch": Field("bool", default=False),
    "shuffle": Field("bool", default=False),
    "dt": quantity("time", default=0.5e-3, minimum=0.0, exclusive_minimum=True),
    "t_present": quantity("time", default=0.35, minimum=0.0, exclusive_minimum=True),
    "t_rest": quantity("time", default=0.15, minimum=0.0),
    "intensity": Field("float", default=2.0, minimum=0.0, exclusive_minimum=True),
    "input_delay": quantity("time", default=0.0, minimum=0.0),
})


@dataclass
class Prepared:
    train: tuple[np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray]
    note: str
    params: dc.Params


def prepare(cfg: dict) -> Prepared:
    c = cfg["stdp_classify"]
    try:
        params = dc.Params(n_exc=c["n_exc"], dt=c["dt"], t_present=c["t_present"], t_rest=c["t_rest"],
                           intensity=c["intensity"], input_delay=c["input_delay"])
    except ValueError as exc:
        where, _, message = str(exc).partition(": ")
        raise ScenarioError([Problem("stdp_classify." + where.removeprefix("diehl_cook."), message)]) from None
    try:
        images, labels = load_idx_pair(locate(c["data"]))
    except (FileNotFoundError, ValueError) as exc:
        raise ScenarioError([Problem("stdp_classify.data", str(exc))]) from None
    split = substitute_split(images.reshape(images.shape[0], -1), labels)
    for k, (part, name) in enumerate(zip((split.train, split.test), ("train", "test"))):
        if c["samples"][k] > part[0].shape[0]:
            raise ScenarioError([Problem(f"stdp_classify.samples.{k}", f"asks for {c['samples'][k]} {name} images "
                                                                       f"but the substitute protocol has {part[0].shape[0]}")])
    grey = [(x[:n] * 255.0, y[:n]) for (x, y), n in zip((split.train, split.test), c["samples"])]
    return Prepared(grey[0], grey[1], split.note, params)


def _evaluate(circuit: dc.Circuit, prepared: Prepared, seed: int, ctx) -> tuple[dict[str, float], np.ndarray]:
    """Learning off, θ frozen: label every neuron from the training images, classify the test images."""
    (x_train, y_train), (x_test, y_test) = prepared.train, prepared.test
    frozen = dc.frozen(circuit, seed)
    with ctx.progress(len(x_train) + len(x_test), "label and test") as bar:
        labelling = frozen.responses(x_train, bar)
        tested = frozen.responses(x_test, lambda k, n: bar(len(x_train) + k, len(x_train) + n))
    assignments = dc.assign(labelling, y_train)
    accuracy = {name: float(np.mean(dc.predict(r, assignments) == y))
                for name, r, y in (("train", labelling, y_train), ("test", tested, y_test))}
    return accuracy, assignments


def run(cfg: dict, prepared: Prepared, ctx) -> None:
    c = cfg["stdp_classify"]
    x_train = prepared.train[0]
    ctx.writer.h5.attrs["protocol"] = prepared.note
    ctx.log.info(prepared.note)
    circuit = dc.build(prepared.params, c["seed"])
    train_s, curve = 0.0, []
    rng = np.random.default_rng(np.random.SeedSequence(c["seed"], spawn_key=(13,)))
    for epoch in range(c["epochs"]):
        start = time.perf_counter()
        order = rng.permutation(len(x_train)) if c["shuffle"] else np.arange(len(x_train))
        with ctx.progress(len(x_train), f"train, epoch {epoch + 1}") as bar:
            circuit.responses(x_train[order], bar)
        train_s += time.perf_counter() - start
        if c["every_epoch"] and epoch < c["epochs"] - 1:
            curve.append(_evaluate(circuit, prepared, c["seed"] + 1, ctx)[0]["test"])
            ctx.log.info("epoch %d: test accuracy %.4f", epoch + 1, curve[-1])
    accuracy, assignments = _evaluate(circuit, prepared, c["seed"] + 1, ctx)
    ctx.log.info("Diehl & Cook, %d excitatory neurons: test accuracy %.4f (%s); training %.1f s", c["n_exc"],
                 accuracy["test"], prepared.note, train_s)
    w = ctx.writer
    w.write_metric("test_accuracy", accuracy["test"])
    w.write_metric("train_accuracy", accuracy["train"])
    w.write_metric("train_s", train_s, units="s")
    w.write_metric("images_per_s", c["epochs"] * len(x_train) / train_s, units="1/s")
    w.write_metric("digit", np.arange(10, dtype=float))
    w.write_metric("neurons_per_class", np.bincount(assignments[assignments >= 0], minlength=10).astype(float),
                   x="digit")
    w.write_metric("silent_neurons", int(np.sum(assignments < 0)))
    if c["every_epoch"]:
        w.write_metric("epoch", np.arange(1, c["epochs"] + 1, dtype=float))
        w.write_metric("test_accuracy_by_epoch", np.array(curve + [accuracy["test"]]), x="epoch")


STDP_CLASSIFY = register_task(TaskKind(
    name="stdp_classify", tables={"stdp_classify": TABLE}, required=("stdp_classify",), prepare=prepare, run=run,
    seed_path=("stdp_classify", "seed"),
    doc="Diehl & Cook (2015) unsupervised STDP classification on the MNIST substitute protocol",
))
