"""Export from scenarios: the ``[export]`` table of ``train`` scenarios, and ``neurosim export``
of a scenario file (:func:`export_source`).

    [export]
    targets = ["nir", "loihi", "onnx", "c"]
    dir = "results/export_digits"              # default: <results stem>.export beside the results
    profiles = { loihi = "loihi2", c = "cortex_m4" }   # per target; absent: the target's default
    evaluate = true                            # test accuracy of the exported models

After training, each target is exported into ``dir`` (``model.nir``, ``model.net`` +
``model.host.npz``, ``model.onnx`` + ``model.unrolled.onnx``, ``c/``) and its report is stored as JSON in the
results' ``/export/<target>`` attributes. With ``evaluate``, the test split is run through the
float model (metric ``accuracy_float``), the NIR file read back (``accuracy_nir``), the
bit-accurate Loihi emulator (``accuracy_loihi``), onnxruntime (``accuracy_onnx``) and the
gcc-compiled C runtime (``accuracy_c``), each read out
with the training readout rule; evaluation needs the ``direct`` encoder (the other encoders
draw random spikes that a device would not reproduce).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from neurosim.hardware import profiles
from neurosim.hardware.export import TARGETS, export, export_network, target_module
from neurosim.hardware.graph import LayerGraph, float_outputs
from neurosim.scenario.schema import Field, Problem, ScenarioError, list_of, table

EXPORT = table({
    "targets": list_of(Field("str", choices=tuple(TARGETS)), required=True),
    "dir": Field("str"),
    "profiles": table({name: Field("str") for name in TARGETS}),
    "evaluate": Field("bool", default=True),
})

#: file (or folder) each target writes into the export folder
OUTPUTS = {"nir": "model.nir", "loihi": "model.net", "onnx": "model.onnx", "c": "c"}


def check(cfg: dict) -> None:
    """Semantic checks of a resolved ``[export]`` table (profiles exist and fit their targets)."""
    e = cfg.get("export")
    if e is None:
        return
    problems = []
    for target, name in e.get("profiles", {}).items():
        try:
            profiles.resolve(name, target)
        except ValueError as exc:
            problems.append(Problem(f"export.profiles.{target}", str(exc)))
    train = cfg["train"]
    if e["evaluate"] and train.get("encoder", {}).get("type", "direct") != "direct":
        problems.append(Problem("export.evaluate", "evaluating exported models needs train.encoder type "
                                                    f"'direct', got {train['encoder']['type']!r}"))
    if train.get("model", "snn") != "snn":
        problems.append(Problem("export.targets", f"train.model {train['model']!r} does not export (snn does)"))
    if len(set(e["targets"])) != len(e["targets"]):
        problems.append(Problem("export.targets", f"lists a target twice: {e['targets']}"))
    if problems:
        raise ScenarioError(problems)


def classify(outputs: np.ndarray, readout: str) -> np.ndarray:
    """Class indices from a readout sequence [T, B, C] reduced over time (max | mean | last | spikes)."""
    if readout == "max":
        scores = outputs.max(0)
    elif readout == "mean" or readout == "spikes":
        scores = outputs.mean(0)
    else:
        scores = outputs[-1]
    return scores.argmax(-1)


def run_exports(cfg: dict, graph: LayerGraph, test: tuple[np.ndarray, np.ndarray], readout: str, ctx) -> None:
    """Export ``graph`` to every target of ``cfg["export"]``; write reports and accuracy metrics."""
    e = cfg["export"]
    folder = Path(e["dir"]) if e.get("dir") else ctx.writer.path.with_suffix(".export")
    folder.mkdir(parents=True, exist_ok=True)
    group = ctx.writer.h5.require_group("export")
    group.attrs["dir"] = str(folder)
    x, y = test
    if e["evaluate"]:
        ctx.writer.write_metric("accuracy_float", _accuracy(float_outputs(graph, x), y, readout))
    for target in e["targets"]:
        out = folder / OUTPUTS[target]
        report = export(graph, target, out, e.get("profiles", {}).get(target))
        group.attrs[target] = json.dumps(report)
        ctx.log.info("export %s -> %s: %s", target, out, report)
        if e["evaluate"]:
            acc = _accuracy(EVALUATORS[target](graph, out, x), y, readout)
            ctx.writer.write_metric(f"accuracy_{target}", acc)
            ctx.log.info("accuracy_%s = %.4f", target, acc)


def _nir_outputs(graph: LayerGraph, out: Path, x: np.ndarray) -> np.ndarray:
    """The float model of the NIR file read back (checks the round trip end to end)."""
    from neurosim.hardware.nir import from_nir

    return float_outputs(from_nir(out), x)


def _loihi_outputs(graph: LayerGraph, out: Path, x: np.ndarray) -> np.ndarray:
    """The bit-accurate Loihi emulator on the written ``.net`` and its host part."""
    from neurosim.hardware import loihi

    return loihi.predict(loihi.load(out), x)


def _onnx_outputs(graph: LayerGraph, out: Path, x: np.ndarray) -> np.ndarray:
    """onnxruntime on the unrolled graph."""
    from neurosim.hardware import onnx as edge_onnx

    return edge_onnx.predict(edge_onnx.unrolled_path_of(out), x)


def _c_outputs(graph: LayerGraph, out: Path, x: np.ndarray) -> np.ndarray:
    """The gcc-compiled C runtime of the export folder."""
    from neurosim.hardware import c

    return c.predict(out, x)


#: target -> (graph, exported path, test inputs) -> readout sequence [T, B, n]
EVALUATORS = {"nir": _nir_outputs, "loihi": _loihi_outputs, "onnx": _onnx_outputs, "c": _c_outputs}


def _accuracy(outputs: np.ndarray, y: np.ndarray, readout: str) -> float:
    return float(np.mean(classify(np.asarray(outputs), readout) == y))


def export_source(source: str | Path | LayerGraph, target: str, out: str | Path,
                  profile: str | Path | profiles.Profile | None = None) -> dict:
    """``neurosim export``: like :func:`neurosim.hardware.export.export`, and ``source`` may be a
    scenario (``.toml``): a ``train`` scenario exports the model of its results file (run first
    when the file does not exist yet); a ``simulate`` scenario's network exports to NIR."""
    if isinstance(source, LayerGraph) or Path(source).suffix != ".toml":
        return export(source, target, out, profile)
    from neurosim.scenario.runner import RunOptions, run_point
    from neurosim.scenario.spec import output_path, read_toml, resolve

    target_module(target)
    profiles.resolve(profile, target)  # a bad target or profile is refused before anything runs
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(2, "no such file", str(path))
    config = resolve(read_toml(path))
    if config["task"] == "simulate":
        from neurosim.scenario.simulate import build_network
        return export_network(build_network(config), config["simulation"]["dt"], target, out, profile)
    if config["task"] != "train":
        raise ValueError(f"{path}: task {config['task']!r} has nothing to export (train or simulate scenarios do)")
    results = output_path(config)
    if not results.is_file():
        run_point(config, str(results), config.get("output", {}).get("overwrite", "error"), RunOptions(quiet=True))
    return export(results, target, out, profile)
