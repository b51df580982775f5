"""Model descriptions (JSON-able layer lists) -> modules, and the trained-model file.

A description is what the ``train`` task stores and what ``neurosim export`` reads::

    {"format": "neurosim.train.model", "version": 1, "model": "snn" | "l2mu", "dt": 0.001 (s),
     "steps": 25, "input_shape": [1, 8, 8], "series": false, "classes": 10,
     "encoder": {"type": "direct", ...}, "dataset": "digits",
     "layers": [...]              (model "snn", in order)
     "l2mu": {...}                (model "l2mu": neurosim.models.l2mu.L2MUConfig fields)}

Layers (sizes resolved, neuron parameters in SI)::

    {"type": "linear", "in_features": 64, "out_features": 256, "bias": true}
    {"type": "conv2d", "in_channels": 1, "out_channels": 12, "kernel": 5, "stride": 1, "padding": 0, "bias": true}
    {"type": "maxpool2d" | "avgpool2d", "kernel": 2}
    {"type": "flatten"}     {"type": "dropout", "p": 0.2}
    {"type": "lif", "size": 256, "recurrent": false,
     "neuron": {"model": "LIF" | "CubaLIF", "tau_m": 0.02, ...},     (the neuron the layer was built from)
     "trained": {...},                                                 (to_neuron() after training)
     "options": {"surrogate": {...}, "detach_reset": true, "mpr_alpha": null, "threshold": 1.0,
                 "learn_beta": false, ...}}                          (threshold: θ at construction, 1 if absent)
    {"type": "li", "size": 10, "tau_m": 0.02, "trained_tau_m": 0.0197, "learn_beta": false}

The model file (``<results>.model.pt``, ``torch.save``) holds ``{"description", "state_dict"}``;
``load_model`` rebuilds the modules from the description (from "neuron", so that the state dict's
trained β and θ apply to the same units) and loads the weights. A ``train`` results file holds
the same in its ``/model`` group, and ``load_model`` reads either.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

import neurosim
from neurosim.train.functional import MPR
from neurosim.train.modules import LI, LIF, SNN, CubaLIF, NeuronLayer, RCubaLIF, RLIF
from neurosim.train.synapses import SparseLinear

FORMAT, VERSION = "neurosim.train.model", 1
NEURON_CLASSES = {"LIF": neurosim.LIF, "CubaLIF": neurosim.CubaLIF}


def neuron_to_dict(neuron: neurosim.LIF) -> dict:
    """A neuron dataclass as JSON-able SI values (arrays as lists)."""
    out: dict[str, Any] = {"model": type(neuron).__name__}
    for f in dataclasses.fields(neuron):
        value = getattr(neuron, f.name)
        out[f.name] = value if isinstance(value, str) else np.asarray(value, dtype=np.float64).tolist()
    return out


def neuron_from_dict(d: dict) -> neurosim.LIF:
    if d.get("model") not in NEURON_CLASSES:
        raise ValueError(f"neuron.model: must be one of {', '.join(NEURON_CLASSES)}, got {d.get('model')!r}")
    fields = {k: (np.asarray(v) if isinstance(v, list) else v) for k, v in d.items() if k != "model"}
    return NEURON_CLASSES[d["model"]](**fields)


def build_layer(spec: dict, dt: float) -> nn.Module:
    """The module of one resolved layer description."""
    kind = spec["type"]
    if kind == "linear":  # an nn.Linear that runs event by event where measured faster (max_density="auto")
        return SparseLinear(spec["in_features"], spec["out_features"], bias=spec["bias"])
    if kind == "conv2d":
        return nn.Conv2d(spec["in_channels"], spec["out_channels"], spec["kernel"], stride=spec["stride"],
                         padding=spec["padding"], bias=spec["bias"])
    if kind == "maxpool2d":
        return nn.MaxPool2d(spec["kernel"])
    if kind == "avgpool2d":
        return nn.AvgPool2d(spec["kernel"])
    if kind == "flatten":
        return nn.Flatten()
    if kind == "dropout":
        return nn.Dropout(spec["p"])
    if kind == "li":
        return LI.from_tau(spec["tau_m"], dt, learn_beta=spec.get("learn_beta", False))
    if kind == "lif":
        neuron = neuron_from_dict(spec["neuron"])
        opts = dict(spec.get("options", {}))
        mpr_alpha = opts.pop("mpr_alpha", None)
        opts["mpr"] = None if mpr_alpha is None else MPR(mpr_alpha)
        cuba = isinstance(neuron, neurosim.CubaLIF)
        if not cuba:
            opts.pop("learn_alpha", None)
        if spec.get("recurrent", False):
            cls = RCubaLIF if cuba else RLIF
            return cls.from_neuron(neuron, dt, spec["size"], **opts)
        return (CubaLIF if cuba else LIF).from_neuron(neuron, dt, **opts)
    raise ValueError(f"layer type: unknown {kind!r}")


def build(description: dict) -> nn.Module:
    """The (untrained) model of a description."""
    if description["model"] == "l2mu":
        from neurosim.models.l2mu import L2MU, L2MUConfig
        return L2MU(L2MUConfig(**description["l2mu"]))
    return SNN(*(build_layer(spec, description["dt"]) for spec in description["layers"]))


def trained_description(model: nn.Module, description: dict) -> dict:
    """The description with the trained neuron parameters added ("trained", "trained_tau_m")."""
    if description["model"] != "snn":
        return description
    layers = []
    for spec, module in zip(description["layers"], model.layers):
        spec = dict(spec)
        if isinstance(module, NeuronLayer):
            spec["trained"] = neuron_to_dict(module.to_neuron())
        elif isinstance(module, LI):
            tau = module.tau_m
            spec["trained_tau_m"] = tau if isinstance(tau, float) else tau.tolist()
        layers.append(spec)
    return {**description, "layers": layers}


def file_description(model: nn.Module, description: dict) -> dict:
    """The description stored with a trained model: format, version and the trained parameters."""
    return {"format": FORMAT, "version": VERSION, **trained_description(model, description)}


def save_model(path: str | Path, model: nn.Module, description: dict) -> Path:
    """Write the model file atomically; returns its path."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    torch.save({"description": file_description(model, description), "state_dict": model.state_dict()}, tmp)
    os.replace(tmp, path)
    return path


def _read_results(path: Path) -> dict:
    """{"description", "state_dict"} of a ``train`` results file (its ``/model`` group)."""
    import json

    import h5py

    with h5py.File(path, "r") as f:
        if "model" not in f or "state_dict" not in f["model"]:
            raise ValueError(f"{path}: a results file without a trained model (/model/state_dict)")
        group = f["model"]
        return {"description": json.loads(group.attrs["description"]),
                "state_dict": {k: torch.from_numpy(np.asarray(v[()])) for k, v in group["state_dict"].items()}}


def load_model(path: str | Path) -> tuple[nn.Module, dict]:
    """(model with its trained weights, description) of a model file or of a ``train`` results file (.h5)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(2, "no such file", str(path))
    if path.suffix in (".h5", ".hdf5"):
        data = _read_results(path)
    else:
        data = torch.load(path, map_location="cpu", weights_only=True)
    description = data["description"]
    if description.get("format") != FORMAT or description.get("version") != VERSION:
        raise ValueError(f"{path}: not a {FORMAT} file of version {VERSION}")
    model = build(description)
    model.load_state_dict(data["state_dict"])
    return model, description
