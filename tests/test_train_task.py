"""The ``train`` task: learning on digits, results and model file, checkpoint + resume, and
validation of malformed ``[train]`` tables."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import h5py
import numpy as np
import pytest
import tomli_w
import torch

from neurosim.cli import main
from neurosim.io import load
from neurosim.scenario.runner import RunOptions, run_point
from neurosim.scenario.spec import load as load_scenario, resolve
from neurosim.scenario import train as task
from neurosim.train import data, losses
from neurosim.train.functional import MPR
from neurosim.train.model_io import build, build_layer, load_model
from neurosim.train.modules import LIF
from neurosim.train.surrogates import SURROGATES

DIGITS = {
    "schema_version": 1, "name": "digits", "task": "train",
    "train": {
        "dataset": "digits", "steps": 8, "encoder": {"type": "direct"},
        "neuron": {"model": "LIF", "tau_m": "10 ms"},
        "layers": [{"type": "linear", "size": 128}, {"type": "lif"}, {"type": "linear", "size": 10},
                   {"type": "li", "tau_m": "20 ms"}],
        "epochs": 4, "batch_size": 32, "lr": 5e-3, "seed": 3, "threads": 1,
    },
    "output": {"overwrite": "overwrite"},
}


def write(tmp_path: Path, config: dict, name: str = "scenario.toml") -> Path:
    path = tmp_path / name
    path.write_text(tomli_w.dumps(config))
    return path


def test_digits_training_learns_and_writes_curves_and_a_loadable_model(tmp_path):
    out = tmp_path / "digits.h5"
    assert main(["run", str(write(tmp_path, DIGITS)), "--out", str(out), "--quiet"]) == 0
    res = load(out)
    assert res.metrics["test_accuracy"] >= 0.90
    assert res.metrics["val_accuracy"].shape == (4,) and res.metrics["epoch"].tolist() == [1, 2, 3, 4]
    assert res.metrics["train_loss"][-1] < res.metrics["train_loss"][0]
    with h5py.File(out) as f:
        assert f["metrics/val_accuracy"].attrs["x"] == "epoch"
        assert f.attrs["root_seed"] == 3
        group = f["model"]
        description = json.loads(group.attrs["description"])
        model_file = out.parent / group.attrs["file"]
    assert description["layers"][2]["trained"]["model"] == "LIF"
    assert description["layers"][2]["trained"]["tau_m"] == pytest.approx(0.01, rel=1e-5)
    model, stored = load_model(model_file)
    x, y = data.load_digits().test
    with torch.no_grad():
        u = model.run(torch.from_numpy(x), steps=stored["steps"]).membranes[-1]
    assert losses.accuracy(losses.reduce_membrane(u, "max"), torch.from_numpy(y)) == pytest.approx(
        res.metrics["test_accuracy"])


def test_resume_from_a_checkpoint_gives_the_weights_of_an_uninterrupted_run(tmp_path, monkeypatch):
    config = copy.deepcopy(DIGITS)
    config["train"].update(epochs=4, checkpoint_every=2)
    scenario = write(tmp_path, config)
    full, cut = tmp_path / "full.h5", tmp_path / "cut.h5"
    assert main(["run", str(scenario), "--out", str(full), "--quiet"]) == 0

    resolved = load_scenario(scenario, [f'output.path="{cut}"'])
    real_lr = task._lr

    def crash_in_third_epoch(c, epoch):
        if epoch == 2:
            raise RuntimeError("killed")
        return real_lr(c, epoch)

    monkeypatch.setattr(task, "_lr", crash_in_third_epoch)
    with pytest.raises(RuntimeError, match="killed"):
        run_point(resolved, str(cut), "overwrite", RunOptions(quiet=True))
    assert not cut.exists() and cut.with_suffix(".ckpt.pt").exists()
    monkeypatch.setattr(task, "_lr", real_lr)
    run_point(resolved, str(cut), "overwrite", RunOptions(resume=True, quiet=True))
    assert "resumed from" in cut.with_suffix(".log").read_text()
    assert "synapses layers.1: calls {'events': " in full.with_suffix(".log").read_text()  # the path taken
    a = torch.load(full.with_suffix(".model.pt"), weights_only=True)["state_dict"]
    b = torch.load(cut.with_suffix(".model.pt"), weights_only=True)["state_dict"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert np.array_equal(load(full).metrics["train_loss"], load(cut).metrics["train_loss"])


def _tiny(**train) -> dict:
    """A digits scenario small enough to train one epoch in a second: 16 LIF neurons, 4 steps."""
    config = copy.deepcopy(DIGITS)
    config["train"].update(steps=4, epochs=1, batch_size=128, eval_batch_size=400, **train)
    config["train"]["layers"][0]["size"] = 16
    return config


def test_rmp_weight_trains_through_the_task_and_adds_the_rmp_term(tmp_path):
    config = _tiny(rmp_weight=0.1, threshold=0.5)
    out = tmp_path / "rmp.h5"
    assert main(["run", str(write(tmp_path, config)), "--out", str(out), "--quiet"]) == 0
    assert np.isfinite(load(out).metrics["train_loss"]).all()

    cfg = resolve(config)
    description = task.prepare(cfg).description
    torch.manual_seed(0)
    model = build(description).double()
    with_rmp, without = task._Trainer(cfg, description, model), task._Trainer(resolve(_tiny(threshold=0.5)),
                                                                             description, model)
    x, y = (torch.from_numpy(a[:64]) for a in data.load_digits().train)
    output = with_rmp.forward(x.double(), None)
    u = output.membranes[0]  # the lif layer's membrane [T, B, 16]
    rmp = ((u - torch.where(u > 0.5, 1.0, 0.0)) ** 2).mean()  # spike values 0 and 1 around θ = 1/2
    loss_w, loss_0 = with_rmp.loss_and_scores(output, y)[0], without.loss_and_scores(output, y)[0]
    assert float(rmp) > 1e-3 and float(loss_w - loss_0) == pytest.approx(0.1 * float(rmp), rel=1e-9)
    weight = next(m for m in model.layers if isinstance(m, torch.nn.Linear)).weight
    g_w, g_0, g_rmp = (torch.autograd.grad(v, weight, retain_graph=True)[0] for v in (loss_w, loss_0, rmp))
    assert g_rmp.abs().max() > 1e-6
    assert torch.allclose(g_w - g_0, 0.1 * g_rmp, rtol=1e-8, atol=1e-12 * float(g_rmp.abs().max()))


def test_threshold_field_sets_theta_of_the_lif_layers():
    description = task.prepare(resolve(_tiny(threshold=0.5, mpr_alpha=3.0))).description
    spec = next(s for s in description["layers"] if s["type"] == "lif")
    assert spec["options"]["threshold"] == 0.5
    layer = next(m for m in build(description).layers if isinstance(m, LIF))
    assert float(layer.threshold) == 0.5 and layer.mpr == MPR(3.0)
    neuron = layer.neuron
    assert layer.to_neuron().v_th == pytest.approx(neuron.v_rest + 0.5 * (neuron.v_th - neuron.v_rest), rel=1e-7)
    beta = math.exp(-1e-3 / 0.01)
    out = layer(torch.full((3, 1, 16), 0.3))  # u: 0.3, 0.3 β + 0.3 = 0.57 > 1/2 (fires), then reset by 1/2
    assert out.out[:, 0, 0].tolist() == [0.0, 1.0, 0.0]
    assert float(out.membrane[2, 0, 0]) == pytest.approx(beta * (0.3 * beta + 0.3) + 0.3 - 0.5, rel=1e-6)
    default = task.prepare(resolve(_tiny())).description
    assert float(next(m for m in build(default).layers if isinstance(m, LIF)).threshold) == 1.0
    old = {**spec, "options": {k: v for k, v in spec["options"].items() if k != "threshold"}}  # before the field
    assert float(build_layer(old, description["dt"]).threshold) == 1.0


def test_rmp_weight_needs_a_spiking_layer(tmp_path, capsys):
    config = _tiny(rmp_weight=0.1)
    config["train"]["layers"] = [{"type": "linear", "size": 10}, {"type": "li"}]
    assert main(["validate", str(write(tmp_path, config))]) == 2
    assert "train.rmp_weight: RMP-Loss needs a spiking (lif) layer" in capsys.readouterr().err


def _set(path: str, value):
    def change(config):
        node = config
        keys = path.split(".")
        for k in keys[:-1]:
            node = node[int(k)] if isinstance(node, list) else node[k]
        if value is DELETE:
            del node[keys[-1]]
        elif isinstance(node, list):
            node[int(keys[-1])] = value
        else:
            node[keys[-1]] = value
    return change


DELETE = object()
MALFORMED = [
    ("train.lr", -1, "train.lr"),
    ("train.epochs", 0, "train.epochs"),
    ("train.optimiser", "adam", "train.optimiser"),
    ("train.dataset", "cifar", "train.dataset"),
    ("train.loss", "hinge", "train.loss"),
    ("train.layers.0.type", "dense", "train.layers.0.type"),
    ("train.layers.0.size", DELETE, "train.layers.0.size"),
    ("train.layers.1.size", 5, "train.layers.1.size"),
    ("train.layers.2.size", 7, "train.layers.3: the output has shape [7] but digits has 10 classes"),
    ("train.layers.3", {"type": "linear", "size": 10}, "train.layers.3"),
    ("train.layers.0", {"type": "conv2d", "channels": 4, "kernel": 9}, "train.layers.0.kernel"),
    ("train.neuron", {"model": "LIF", "t_ref": "2 ms"}, "train.neuron.t_ref"),
    ("train.neuron", {"model": "LIF", "v_reset": "-80 mV"}, "train.neuron.v_reset"),
    ("train.neuron", {"model": "CubaLIF", "tau_syn_exc": "5 ms", "tau_syn_inh": "10 ms"}, "train.neuron.tau_syn_inh"),
    ("train.layers.1.neuron", {"i_bias": "1 pA"}, "train.layers.1.neuron.i_bias"),
    ("train.neuron", {"model": "Izhikevich"}, "train.neuron"),
    ("train.layers.1.neuron", {"tau_mx": "5 ms"}, "train.layers.1.neuron"),
    ("train.encoder", {"type": "delta", "threshold": 0.1}, "train.encoder.type"),
    ("train.model", "l2mu", "train.model"),
    ("train.loss", "rate_ce", "train.loss"),
    ("train.surrogate", {"name": "atan", "slope": 0}, "train.surrogate.slope"),
    ("train.threshold", 0.0, "train.threshold"),
    ("train.threshold", -0.5, "train.threshold"),
    ("train.threshold", math.nan, "train.threshold"),
    ("train.threshold", math.inf, "train.threshold"),
    ("train.threshold", "half", "train.threshold"),
    ("train.rmp_weight", math.nan, "train.rmp_weight"),
    ("train.rmp_weight", math.inf, "train.rmp_weight"),
    ("train.dataset", "mnist", "train.data_dir"),
    ("train", DELETE, "train"),
]


@pytest.mark.parametrize("path,value,where", MALFORMED, ids=[m[2] + "=" + str(m[1])[:20] for m in MALFORMED])
def test_malformed_train_tables_exit_2_naming_the_field(tmp_path, capsys, path, value, where):
    config = copy.deepcopy(DIGITS)
    if path == "train.dataset" and value == "mnist":
        config["train"]["data_dir"] = str(tmp_path / "nowhere")
    _set(path, value)(config)
    assert main(["validate", str(write(tmp_path, config))]) == 2
    err = capsys.readouterr().err
    assert where in err, err


def test_schema_lists_the_known_surrogates():
    assert set(task.SURROGATE_NAMES) == set(SURROGATES)
