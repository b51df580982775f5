"""The ``train`` task: surrogate-gradient training of a spiking network on a dataset.

    task = "train"
    [train]
    dataset = "digits"                 # digits | mnist | basic_motions | nmnist | shd | dvs_gesture
    split = "substitute"               # mnist: "substitute" | "standard"; data_dir = a folder of the IDX files
                                       # (absent: $NEUROSIM_DATA/mnist or the user cache; neurosim data fetch mnist)
    model = "snn"                      # snn (layers below) | l2mu ([train.l2mu])
    steps = 25                         # time steps per static sample (series run over their own length)
    dt = "1 ms"
    encoder = { type = "direct" }      # direct | rate (gain) | latency (threshold) | delta (threshold; series)
    neuron = { model = "LIF", tau_m = "10 ms" }   # simulator neuron of the spiking layers (SI fields)
    surrogate = { name = "atan", slope = 2.0 }
    detach_reset = true                # learn_beta, learn_threshold = false; mpr_alpha (rectifier, absent = off)
    threshold = 1.0                    # θ of the lif layers, in v_th - v_rest; 0.5 + mpr_alpha = the paper's MPR
    layers = [{ type = "linear", size = 256 }, { type = "lif" }, { type = "linear", size = 10 }, { type = "li" }]
    epochs = 20                        # batch_size, optimizer (adam | adamw | sgd), lr, weight_decay,
    lr = 5e-3                          # momentum, schedule (constant | cosine)
    loss = "membrane_ce"               # membrane_ce (readout = max | mean | last) | rate_ce | count_mse
    rmp_weight = 0.0                   # weight of RMP-Loss on the spiking layers' membranes
    seed = 0
    checkpoint_every = 5               # epochs; 0 = no checkpoints

Event datasets (``nmnist``, ``shd``, ``dvs_gesture``; read by Tonic, :mod:`neurosim.datasets.neuromorphic`)
become ``steps`` frames of event counts per pixel and polarity, flattened and fed as a series::

    events = { frames = "time_window", downsample = 2, denoise = "5 ms", merge_polarities = false,
               train_samples = 0, test_samples = 0 }

``frames``: ``time_window`` (frame k: events at k·dt ≤ t − t0 < (k+1)·dt, t0 the first event;
``dt`` a whole number of µs) or ``n_time_bins`` (``steps`` equal bins of each sample);
``downsample``: pixel (x, y) → (⌊x/k⌋, ⌊y/k⌋); ``denoise``: Tonic's Denoise filter time (absent:
off; not for shd); ``*_samples`` > 0: a random subset (seed 0) of that size. ``data_dir`` is
Tonic's ``save_to`` (the folder holding ``NMNIST/``, ``SHD/``, ``DVSGesture/``; absent:
``$NEUROSIM_DATA/<dataset>`` or the user cache); ``download = true`` lets Tonic fetch the files.

Layers: ``linear`` (size, bias), ``conv2d`` (channels, kernel, stride, padding, bias),
``maxpool2d`` / ``avgpool2d`` (kernel), ``flatten``, ``dropout`` (p), ``lif`` (a spiking layer of
``train.neuron``, LIF or CubaLIF; per layer ``neuron`` overrides fields, ``recurrent = true``
adds all-to-all recurrence, ``learn_*`` override) and ``li`` (leaky-integrator readout,
``tau_m``, default that of ``train.neuron``). A linear layer flattens its input. The neuron
table takes the fields of ``neurosim.LIF`` / ``neurosim.CubaLIF``; ``t_ref`` defaults to 0 and
``reset`` to "soft" here (training layers have no refractory period).

Results: per-epoch curves ``train_loss``, ``train_accuracy``, ``val_loss``, ``val_accuracy``
(when the dataset has a validation split), ``lr``, ``epoch_time_s`` against ``epoch``; scalars
``test_accuracy``, ``test_loss``, ``train_time_s``, ``n_parameters``. The trained model is
written to ``<results>.model.pt`` (:mod:`neurosim.train.model_io`) and described in the
results' ``/model`` group (attributes ``file``, ``format``, ``description`` as JSON, and the
weights in ``/model/state_dict``, so that ``neurosim export`` can read the results file). A
checkpoint ``<results>.ckpt.pt`` is written every ``checkpoint_every`` epochs; ``neurosim run
--resume`` continues an interrupted run from it (same config hash), giving the same weights as
an uninterrupted run.
"""

from __future__ import annotations

import importlib.util
import json
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from neurosim.scenario.network_spec import _neuron_spec
from neurosim.scenario.schema import Field, Problem, ScenarioError, list_of, quantity, table, validate_table
from neurosim.scenario.spec import config_hash
from neurosim.scenario.tasks import TaskKind, register_task
from neurosim.scenario.export import EXPORT, check as check_export
from neurosim.datasets import neuromorphic
from neurosim.train.data import DATASETS, MNIST_SPLITS, shape_of

ENCODERS = ("direct", "rate", "latency", "delta")
LAYER_TYPES = ("linear", "conv2d", "maxpool2d", "avgpool2d", "flatten", "dropout", "lif", "li")
LOSSES = ("membrane_ce", "rate_ce", "count_mse")
SURROGATE_NAMES = ("atan", "fast_sigmoid", "superspike", "sigmoid", "triangle", "rectangular")
#: fields each layer type accepts besides ``type``
LAYER_FIELDS = {
    "linear": {"size", "bias"}, "conv2d": {"channels", "kernel", "stride", "padding", "bias"},
    "maxpool2d": {"kernel"}, "avgpool2d": {"kernel"}, "flatten": set(), "dropout": {"p"},
    "lif": {"neuron", "recurrent", "learn_beta", "learn_threshold", "learn_alpha"}, "li": {"tau_m", "learn_beta"},
}
REQUIRED_FIELDS = {"linear": {"size"}, "conv2d": {"channels", "kernel"}, "maxpool2d": {"kernel"},
                   "avgpool2d": {"kernel"}, "dropout": {"p"}}
NEURON_DEFAULTS = {"t_ref": 0.0, "reset": "soft"}

NEURON = table({"model": Field("str", required=True)}, open=True, check=_neuron_spec)

LAYER = table({
    "type": Field("str", required=True, choices=LAYER_TYPES),
    "size": Field("int", minimum=1, maximum=10_000_000),
    "bias": Field("bool"),
    "channels": Field("int", minimum=1, maximum=100_000),
    "kernel": Field("int", minimum=1, maximum=1000),
    "stride": Field("int", minimum=1, maximum=1000),
    "padding": Field("int", minimum=0, maximum=1000),
    "p": Field("float", minimum=0.0, maximum=0.99),
    "neuron": table({}, open=True),
    "recurrent": Field("bool"),
    "learn_beta": Field("bool"),
    "learn_threshold": Field("bool"),
    "learn_alpha": Field("bool"),
    "tau_m": quantity("time", minimum=0.0, exclusive_minimum=True),
})

L2MU_TABLE = table({  # defaults: neurosim.models.l2mu.L2MUConfig
    "order": Field("int", minimum=1, maximum=64),
    "theta": Field("float", minimum=0.0, exclusive_minimum=True),
    "memory_size": Field("int", minimum=1, maximum=100_000),
    "hidden_size": Field("int", minimum=1, maximum=100_000),
    "pop_size": Field("int", minimum=1, maximum=10_000),
    "encoding_size": Field("int", minimum=1, maximum=100_000),
    "output_size": Field("int", minimum=1, maximum=100_000),
    "neuron": Field("str", choices=("lif", "cuba")),
    "alpha": Field("float", minimum=0.0, maximum=1.0),
})

TRAIN = table({
    "dataset": Field("str", required=True, choices=DATASETS),
    "data_dir": Field("str"),  # absent: the dataset store (neurosim.datasets.store)
    "split": Field("str", default="substitute", choices=MNIST_SPLITS),
    "download": Field("bool", default=False),
    "events": table({  # event datasets only (neurosim.datasets.neuromorphic.Framing)
        "frames": Field("str", default="time_window", choices=neuromorphic.FRAMINGS),
        "downsample": Field("int", default=1, minimum=1, maximum=128),
        "denoise": quantity("time", minimum=0.0, exclusive_minimum=True, maximum=100.0),
        "merge_polarities": Field("bool", default=False),
        "train_samples": Field("int", default=0, minimum=0, maximum=10_000_000),
        "test_samples": Field("int", default=0, minimum=0, maximum=10_000_000),
    }),
    "model": Field("str", default="snn", choices=("snn", "l2mu")),
    "layers": list_of(LAYER),
    "l2mu": L2MU_TABLE,
    "steps": Field("int", default=25, minimum=1, maximum=100_000),
    "dt": quantity("time", default=1e-3, minimum=0.0, exclusive_minimum=True, maximum=1.0),
    "encoder": table({
        "type": Field("str", default="direct", choices=ENCODERS),
        "gain": Field("float", default=1.0, minimum=0.0, exclusive_minimum=True),
        "threshold": Field("float", minimum=0.0, exclusive_minimum=True),
    }),
    "neuron": NEURON,
    "surrogate": table({"name": Field("str", default="atan", choices=SURROGATE_NAMES),
                        "slope": Field("float", minimum=0.0, exclusive_minimum=True, maximum=1e4)}),
    "detach_reset": Field("bool", default=True),
    "learn_beta": Field("bool", default=False),
    "learn_threshold": Field("bool", default=False),
    "learn_alpha": Field("bool", default=False),
    "mpr_alpha": Field("float", minimum=0.0, exclusive_minimum=True, maximum=999.0),
    "threshold": Field("float", default=1.0, minimum=0.0, exclusive_minimum=True, maximum=1e6),
    "epochs": Field("int", default=10, minimum=1, maximum=1_000_000),
    "batch_size": Field("int", default=64, minimum=1, maximum=1_000_000),
    "eval_batch_size": Field("int", default=1000, minimum=1, maximum=1_000_000),
    "optimizer": Field("str", default="adam", choices=("adam", "adamw", "sgd")),
    "lr": Field("float", default=1e-3, minimum=0.0, exclusive_minimum=True, maximum=100.0),
    "weight_decay": Field("float", default=0.0, minimum=0.0),
    "momentum": Field("float", default=0.9, minimum=0.0, maximum=1.0),
    "schedule": Field("str", default="constant", choices=("constant", "cosine")),
    "loss": Field("str", default="membrane_ce", choices=LOSSES),
    "readout": Field("str", default="max", choices=("max", "mean", "last")),
    "on_rate": Field("float", default=0.8, minimum=0.0, maximum=1.0),
    "off_rate": Field("float", default=0.2, minimum=0.0, maximum=1.0),
    "rmp_weight": Field("float", default=0.0, minimum=0.0),
    "seed": Field("int", default=0, minimum=0, maximum=2**63 - 1),
    "checkpoint_every": Field("int", default=0, minimum=0, maximum=1_000_000),
    "threads": Field("int", default=0, minimum=0, maximum=4096),
})


@dataclass
class Prepared:
    description: dict


def _fail(path: str, message: str) -> ScenarioError:
    return ScenarioError([Problem(path, message)])


def _sub(c: dict, name: str) -> dict:
    """The sub-table ``train.<name>`` with its defaults (also when it is absent)."""
    problems: list[Problem] = []
    out = validate_table(c.get(name, {}), TRAIN.fields[name], f"train.{name}", problems)
    if problems:
        raise ScenarioError(problems)
    return out


#: neuron models of the train task's fused layers
TRAINABLE = ("LIF", "CubaLIF")


def _neuron(c: dict, override: dict, path: str):
    from neurosim.train.model_io import neuron_from_dict

    fields = {**NEURON_DEFAULTS, **c.get("neuron", {"model": "LIF"}), **override}
    if fields.get("model") not in TRAINABLE:
        raise _fail(f"{path}.model" if "model" in override else "train.neuron.model", f"the train task's layers are {' or '.join(TRAINABLE)}, got {fields.get('model')!r} "
                    "(other described models train in Python with neurosim.train.described.DescribedLayer)")
    message = _neuron_spec(fields)
    if message:
        raise _fail(path, message)
    try:
        return neuron_from_dict(fields)
    except ValueError as exc:  # "LIF.tau_m: must be > 0 ..." -> train.neuron.tau_m
        head, _, message = str(exc).partition(": ")
        raise _fail(f"{path}.{head.rpartition('.')[2]}", message) from None


def _conv_out(n: int, kernel: int, stride: int, padding: int) -> int:
    return (n + 2 * padding - kernel) // stride + 1


def _resolve_layer(c: dict, k: int, layer: dict, shape: tuple[int, ...], dt: float) -> tuple[list[dict], tuple]:
    """The resolved description(s) of layer ``k`` given the per-step input ``shape``."""
    from neurosim.train.model_io import build_layer, neuron_to_dict

    path, kind = f"train.layers.{k}", layer["type"]
    extra = sorted(set(layer) - LAYER_FIELDS[kind] - {"type"})
    if extra:
        raise _fail(f"{path}.{extra[0]}", f"not a field of a {kind} layer")
    missing = sorted(REQUIRED_FIELDS.get(kind, set()) - set(layer))
    if missing:
        raise _fail(f"{path}.{missing[0]}", f"required by a {kind} layer")
    specs: list[dict] = []
    if kind == "linear":
        if len(shape) > 1:
            specs.append({"type": "flatten"})
        specs.append({"type": "linear", "in_features": math.prod(shape), "out_features": layer["size"],
                      "bias": layer.get("bias", True)})
        shape = (layer["size"],)
    elif kind in ("conv2d", "maxpool2d", "avgpool2d"):
        if len(shape) != 3:
            raise _fail(path, f"{kind} needs images [channels, height, width], got per-step shape {list(shape)}")
        kernel, stride = layer["kernel"], layer.get("stride", 1 if kind == "conv2d" else layer["kernel"])
        padding = layer.get("padding", 0)
        size = [_conv_out(n, kernel, stride, padding) for n in shape[1:]]
        if min(size) < 1:
            raise _fail(f"{path}.kernel", f"{kernel} is larger than the input {list(shape[1:])}")
        if kind == "conv2d":
            specs.append({"type": "conv2d", "in_channels": shape[0], "out_channels": layer["channels"],
                          "kernel": kernel, "stride": stride, "padding": padding, "bias": layer.get("bias", True)})
            shape = (layer["channels"], *size)
        else:
            specs.append({"type": kind, "kernel": kernel})
            shape = (shape[0], *size)
    elif kind == "flatten":
        specs.append({"type": "flatten"})
        shape = (math.prod(shape),)
    elif kind == "dropout":
        specs.append({"type": "dropout", "p": layer["p"]})
    elif kind == "li":
        tau = layer.get("tau_m", _neuron(c, {}, "train.neuron").tau_m)
        specs.append({"type": "li", "size": math.prod(shape), "tau_m": float(np.mean(tau)),
                      "learn_beta": layer.get("learn_beta", c["learn_beta"])})
    else:
        neuron = _neuron(c, layer.get("neuron", {}), f"{path}.neuron")
        recurrent = layer.get("recurrent", False)
        if recurrent and len(shape) != 1:
            raise _fail(f"{path}.recurrent", f"needs a flat input, got per-step shape {list(shape)}")
        specs.append({"type": "lif", "size": math.prod(shape), "recurrent": recurrent, "neuron": neuron_to_dict(neuron),
                      "options": {"surrogate": _sub(c, "surrogate"), "detach_reset": c["detach_reset"],
                                  "mpr_alpha": c.get("mpr_alpha"), "threshold": c["threshold"],
                                  **{key: layer.get(key, c[key]) for key in ("learn_beta", "learn_threshold",
                                                                             "learn_alpha")}}})
    for spec in specs:
        try:
            build_layer(spec, dt)
        except ValueError as exc:
            head, _, message = str(exc).partition(": ")
            field = head.rpartition(".")[2]
            if kind == "lif" and field in spec["neuron"]:  # a neuron field, named where it was given
                where = f"{path}.neuron" if field in layer.get("neuron", {}) else "train.neuron"
                raise _fail(f"{where}.{field}", message) from None
            raise _fail(path, str(exc)) from None
    return specs, shape


def _framing(c: dict) -> neuromorphic.Framing | None:
    """The framing of an event dataset (``None`` for the others); bad fields -> exit 2 naming them."""
    if c["dataset"] not in neuromorphic.NAMES:
        if "events" in c:
            raise _fail("train.events", f"only for the event datasets ({', '.join(neuromorphic.NAMES)}), "
                                        f"not {c['dataset']}")
        return None
    events = _sub(c, "events")
    try:
        framing = neuromorphic.Framing(steps=c["steps"], dt=c["dt"], frames=events["frames"],
                                       downsample=events["downsample"], denoise=events.get("denoise"),
                                       merge_polarities=events["merge_polarities"])
        neuromorphic.check(c["dataset"], framing)
    except ValueError as exc:  # "downsample: ..." -> train.events.downsample, "dt: ..." -> train.dt
        field, _, message = str(exc).partition(": ")
        raise _fail(f"train.{field}" if field in ("steps", "dt") else f"train.events.{field}", message) from None
    return framing


def describe(cfg: dict) -> dict:
    """The model description of a resolved config (see :mod:`neurosim.train.model_io`)."""
    c = cfg["train"]
    shape, classes, series = shape_of(c["dataset"], _framing(c))
    encoder = _sub(c, "encoder")
    if encoder["type"] == "delta" and not series:
        raise _fail("train.encoder.type", f"delta coding needs a time series; {c['dataset']} is static")
    if encoder["type"] in ("rate", "latency") and series:
        raise _fail("train.encoder.type", f"{encoder['type']} coding is for static inputs; {c['dataset']} is a series")
    if encoder["type"] == "delta" and "threshold" not in encoder:
        raise _fail("train.encoder.threshold", "required by delta coding")
    if c["rmp_weight"] > 0 and c["model"] != "snn":
        raise _fail("train.rmp_weight", "RMP-Loss is available for model = 'snn'")
    if c["rmp_weight"] > 0 and not any(layer["type"] == "lif" for layer in c.get("layers", [])):
        raise _fail("train.rmp_weight", "RMP-Loss needs a spiking (lif) layer")
    description: dict[str, Any] = {
        "model": c["model"], "dt": c["dt"], "steps": shape[-1] if series else c["steps"], "input_shape": list(shape),
        "series": series, "classes": classes, "encoder": encoder, "dataset": c["dataset"]}
    if c["model"] == "l2mu":
        from neurosim.models.l2mu import L2MUConfig

        if not series:
            raise _fail("train.model", f"l2mu needs a time series dataset; {c['dataset']} is static")
        try:
            config = L2MUConfig(channels=shape[0], classes=classes, surrogate=_sub(c, "surrogate"), dt=c["dt"],
                                **c.get("l2mu", {}))
        except ValueError as exc:
            raise _fail("train.l2mu", str(exc).removeprefix("L2MUConfig.")) from None
        return {**description, "l2mu": config.to_dict()}
    layers = c.get("layers", [])
    if not layers:
        raise _fail("train.layers", "needs at least one layer")
    step_shape = (shape[0],) if series else tuple(shape)
    specs: list[dict] = []
    for k, layer in enumerate(layers):
        more, step_shape = _resolve_layer(c, k, layer, step_shape, c["dt"])
        specs += more
    last = specs[-1]
    if last["type"] not in ("lif", "li"):
        raise _fail(f"train.layers.{len(layers) - 1}", "the last layer must be a neuron layer (lif or li)")
    if last["type"] == "li" and c["loss"] != "membrane_ce":
        raise _fail("train.loss", f"{c['loss']} needs spikes; the last layer is an li readout (use membrane_ce)")
    if step_shape != (classes,):
        raise _fail(f"train.layers.{len(layers) - 1}", f"the output has shape {list(step_shape)} but "
                                                        f"{c['dataset']} has {classes} classes")
    return {**description, "layers": specs}


def prepare(cfg: dict) -> Prepared:
    c = cfg["train"]
    if c["dataset"] == "mnist" and not c["download"]:
        from neurosim.datasets import mnist

        try:
            mnist.locate(c.get("data_dir"), ("t10k",) if c["split"] == "substitute" else ("train", "t10k"))
        except FileNotFoundError as exc:
            raise _fail("train.data_dir", f"{exc} (or set download = true)") from None
    if c["on_rate"] <= c["off_rate"] and c["loss"] == "count_mse":
        raise _fail("train.on_rate", f"must exceed off_rate ({c['off_rate']}), got {c['on_rate']}")
    check_export(cfg)
    description = describe(cfg)
    if c["dataset"] in neuromorphic.NAMES and importlib.util.find_spec("tonic") is None:
        raise _fail("train.dataset", f"{c['dataset']} is read by Tonic, which is not installed (pip install tonic)")
    if c["dataset"] in neuromorphic.NAMES and not c["download"]:
        try:
            neuromorphic.locate(c["dataset"], c.get("data_dir"))
        except FileNotFoundError as exc:
            raise _fail("train.data_dir", str(exc)) from None
    return Prepared(description)


# --------------------------------------------------------------------------------------- run
def _encode(x, description: dict, generator):
    """(model input, steps or None) of a batch ``x`` [B, ...] (series [B, C, L])."""
    from neurosim.train import encoders

    enc, steps = description["encoder"], description["steps"]
    if description["series"]:
        seq = x.permute(2, 0, 1)
        return (encoders.delta(seq, enc["threshold"]) if enc["type"] == "delta" else seq), None
    if enc["type"] == "rate":
        return encoders.rate(x, steps, enc["gain"], generator), None
    if enc["type"] == "latency":
        return encoders.latency(x, steps, enc.get("threshold", 0.01)), None
    return x, steps


class _Trainer:
    def __init__(self, cfg: dict, description: dict, model):
        import torch

        from neurosim.train import losses
        from neurosim.train.modules import NeuronLayer, Neurons

        self.c, self.description, self.model, self.losses = cfg["train"], description, model, losses
        self.torch = torch
        self.spiking: list[tuple[int, Any]] = []  # (index among the membranes, layer) of the spiking layers
        if description["model"] == "snn":
            neurons = [m for m in model.layers if isinstance(m, Neurons)]
            self.spiking = [(k, m) for k, m in enumerate(neurons) if isinstance(m, NeuronLayer)]

    def forward(self, x, generator):
        inputs, steps = _encode(x, self.description, generator)
        return self.model(inputs) if self.description["model"] == "l2mu" else self.model.run(inputs, steps=steps)

    def loss_and_scores(self, output, y):
        c, L = self.c, self.losses
        if c["loss"] == "membrane_ce":
            loss, scores = L.membrane_ce(output.membranes[-1], y, c["readout"]), L.predict(output.membranes[-1],
                                                                                            c["readout"])
        else:
            loss = L.rate_ce(output.out, y) if c["loss"] == "rate_ce" else L.count_mse(
                output.out, y, c["on_rate"], c["off_rate"])
            scores = L.predict(output.out, "spikes")
        if c["rmp_weight"] > 0:
            loss = loss + c["rmp_weight"] * self.rmp(output)
        return loss, scores

    def rmp(self, output):
        """RMP-Loss on the spiking layers' membranes, each against its layer's θ (not trained by it)."""
        return self.losses.rmp_loss([output.membranes[k] for k, _ in self.spiking],
                                    [m.threshold.detach() for _, m in self.spiking])

    def evaluate(self, split, seed: int) -> tuple[float, float]:
        torch = self.torch
        x, y = split
        generator = torch.Generator().manual_seed(seed)
        self.model.eval()
        total, correct = 0.0, 0
        with torch.no_grad():
            for start in range(0, len(y), self.c["eval_batch_size"]):
                xb = torch.from_numpy(x[start:start + self.c["eval_batch_size"]])
                yb = torch.from_numpy(y[start:start + self.c["eval_batch_size"]])
                loss, scores = self.loss_and_scores(self.forward(xb, generator), yb)
                total += loss.item() * len(yb)
                correct += int((scores.argmax(-1) == yb).sum())
        return total / len(y), correct / len(y)


def _optimizer(c: dict, params):
    import torch

    if c["optimizer"] == "sgd":
        return torch.optim.SGD(params, lr=c["lr"], momentum=c["momentum"], weight_decay=c["weight_decay"])
    cls = torch.optim.AdamW if c["optimizer"] == "adamw" else torch.optim.Adam
    return cls(params, lr=c["lr"], weight_decay=c["weight_decay"])


def _lr(c: dict, epoch: int) -> float:
    if c["schedule"] == "cosine":
        return 0.5 * c["lr"] * (1 + math.cos(math.pi * epoch / c["epochs"]))
    return c["lr"]


CURVES = ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr", "epoch_time_s")


def run(cfg: dict, prepared: Prepared, ctx) -> None:
    import torch

    from neurosim.train import data
    from neurosim.train.model_io import build, save_model

    c, description = cfg["train"], prepared.description
    threads = torch.get_num_threads()
    if c["threads"]:
        torch.set_num_threads(c["threads"])
    try:
        events = _sub(c, "events")
        dataset = data.load(c["dataset"], c.get("data_dir"), c["split"], c["download"], _framing(c),
                            events["train_samples"], events["test_samples"])
        if dataset.note:
            ctx.log.info("%s", dataset.note)
            ctx.writer.h5.attrs["dataset_note"] = dataset.note
        torch.manual_seed(c["seed"])
        model = build(description)
        optimizer = _optimizer(c, model.parameters())
        trainer = _Trainer(cfg, description, model)
        history: dict[str, list[float]] = {name: [] for name in CURVES}
        checkpoint = ctx.writer.path.with_suffix(".ckpt.pt")
        digest, start, elapsed = config_hash(cfg), 0, 0.0
        if ctx.resume and checkpoint.is_file():
            state = torch.load(checkpoint, map_location="cpu", weights_only=True)
            if state["config_sha256"] == digest:
                model.load_state_dict(state["model"])
                optimizer.load_state_dict(state["optimizer"])
                history, start, elapsed = state["history"], state["epoch"], state["elapsed"]
                ctx.log.info("resumed from %s after epoch %d", checkpoint, start)
            else:
                ctx.log.info("ignoring %s: it belongs to another configuration", checkpoint)
        x_train, y_train = dataset.train
        n, batch = len(y_train), c["batch_size"]
        batches = math.ceil(n / batch)
        with ctx.progress(c["epochs"] * batches, "train") as progress:
            progress(start * batches, c["epochs"] * batches)
            for epoch in range(start, c["epochs"]):
                t0 = time.perf_counter()
                lr = _lr(c, epoch)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                generator = torch.Generator().manual_seed(c["seed"] * 1_000_003 + epoch)
                torch.manual_seed(c["seed"] * 1_000_003 + epoch)
                order = torch.randperm(n, generator=generator)
                model.train()
                total, correct = 0.0, 0
                for b in range(batches):
                    idx = order[b * batch:(b + 1) * batch].numpy()
                    xb, yb = torch.from_numpy(x_train[idx]), torch.from_numpy(y_train[idx])
                    loss, scores = trainer.loss_and_scores(trainer.forward(xb, generator), yb)
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    total += loss.item() * len(idx)
                    correct += int((scores.argmax(-1) == yb).sum())
                    progress((epoch * batches) + b + 1, c["epochs"] * batches)
                val_loss, val_acc = trainer.evaluate(dataset.val, c["seed"] + 1) if dataset.val else (math.nan,) * 2
                dt = time.perf_counter() - t0
                elapsed += dt
                for name, value in zip(CURVES, (total / n, correct / n, val_loss, val_acc, lr, dt)):
                    history[name].append(value)
                ctx.log.info("epoch %d: loss %.4f, train accuracy %.4f%s (%.2f s)", epoch + 1, total / n, correct / n,
                             "" if dataset.val is None else f", validation accuracy {val_acc:.4f}", dt)
                if c["checkpoint_every"] and (epoch + 1) % c["checkpoint_every"] == 0:
                    tmp = checkpoint.with_name(f".{checkpoint.name}.partial")
                    torch.save({"config_sha256": digest, "epoch": epoch + 1, "model": model.state_dict(),
                                "optimizer": optimizer.state_dict(), "history": history, "elapsed": elapsed}, tmp)
                    tmp.replace(checkpoint)
        test_loss, test_acc = trainer.evaluate(dataset.test, c["seed"] + 2)
    finally:
        torch.set_num_threads(threads)
    w = ctx.writer
    w.write_metric("epoch", np.arange(1, c["epochs"] + 1))
    for name in CURVES:
        if not (name.startswith("val") and dataset.val is None):
            w.write_metric(name, np.asarray(history[name]), x="epoch", units="s" if name.endswith("_s") else None)
    w.write_metric("test_accuracy", test_acc)
    w.write_metric("test_loss", test_loss)
    w.write_metric("train_time_s", elapsed, units="s")
    w.write_metric("n_parameters", sum(p.numel() for p in model.parameters()))
    if dataset.val is not None:
        w.write_metric("best_val_accuracy", float(np.max(history["val_accuracy"])))
    path = save_model(w.path.with_suffix(".model.pt"), model, description)
    from neurosim.train.model_io import FORMAT, file_description

    group = w.h5.require_group("model")
    group.attrs["file"] = path.name
    group.attrs["format"] = FORMAT
    group.attrs["description"] = json.dumps(file_description(model, description))
    weights = group.require_group("state_dict")  # the results file holds the model itself, too
    for key, tensor in model.state_dict().items():
        weights.create_dataset(key, data=tensor.detach().cpu().numpy())
    ctx.log.info("test accuracy %.4f after %d epochs (%.1f s training); model -> %s", test_acc, c["epochs"], elapsed,
                 path)
    _log_synapse_paths(model, ctx.log)
    if "export" in cfg:
        from neurosim.hardware.graph import from_model
        from neurosim.scenario.export import run_exports

        run_exports(cfg, from_model(model.eval(), description), dataset.test,
                    c["readout"] if c["loss"] == "membrane_ce" else "spikes", ctx)


def _log_synapse_paths(model: Any, log: Any) -> None:
    """Which path (events or dense products) each event-driven synapse layer took, and how often."""
    from neurosim.train.synapses import SparseLinear

    for name, layer in model.named_modules():
        if isinstance(layer, SparseLinear) and layer.last_choice is not None:
            path, density, limit = layer.last_choice
            log.info("synapses %s: calls %s; last %s (input density %.3f, threshold %.3f)", name,
                     layer.path_counts, path, density, limit)


TRAIN_TASK = register_task(TaskKind(
    name="train", tables={"train": TRAIN, "export": EXPORT}, required=("train",), prepare=prepare, run=run, seed_path=("train", "seed"),
    doc="train a spiking network with surrogate gradients (fused multi-step neurons) and save the model",
))
