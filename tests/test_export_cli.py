"""``neurosim export`` and the ``[export]`` table: sources, profiles, and bad input naming the field."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
import tomli_w

from neurosim.cli import main

TRAIN = {
    "schema_version": 1, "name": "tiny", "task": "train",
    "train": {
        "dataset": "digits", "steps": 6, "encoder": {"type": "direct"},
        "neuron": {"model": "LIF", "tau_m": "10 ms", "reset": "hard"},
        "layers": [{"type": "linear", "size": 32}, {"type": "lif"}, {"type": "linear", "size": 10},
                   {"type": "li", "tau_m": "20 ms"}],
        "epochs": 1, "batch_size": 64, "lr": 5e-3, "seed": 0, "threads": 1,
    },
    "output": {"overwrite": "overwrite"},
}


def _write(path: Path, config: dict) -> Path:
    path.write_text(tomli_w.dumps(config))
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("trained")
    scenario = _write(folder / "tiny.toml", {**TRAIN, "output": {"path": str(folder / "tiny.h5")}})
    assert main(["run", str(scenario), "--quiet"]) == 0
    return folder


def test_export_reads_a_model_file_a_results_file_and_a_scenario(trained, tmp_path, capsys):
    for source in ("tiny.model.pt", "tiny.h5", "tiny.toml"):
        out = tmp_path / f"{source}.nir"
        assert main(["export", str(trained / source), "--target", "nir", "--out", str(out), "--json"]) == 0
        report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert report["target"] == "nir" and out.is_file()
    assert (tmp_path / "tiny.model.pt.nir").read_bytes() != b""


@pytest.mark.parametrize("args, message", [
    (["--target", "fpga"], "target: must be one of nir, loihi, onnx, c"),
    (["--target", "c", "--profile", "loihi1"], "profile: 'loihi1' is a loihi profile, not for target 'c'"),
    (["--target", "loihi", "--profile", "loihi9"], "profile: unknown 'loihi9'"),
])
def test_export_bad_arguments_exit_2_naming_the_field(trained, tmp_path, capsys, args, message):
    out = tmp_path / "x"
    assert main(["export", str(trained / "tiny.model.pt"), "--out", str(out), *args]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_export_of_a_file_without_a_model_exits_2(tmp_path, capsys):
    assert main(["export", str(tmp_path / "missing.pt"), "--target", "nir", "--out", str(tmp_path / "m")]) == 2
    assert "missing.pt: no such file" in capsys.readouterr().err
    quick = tmp_path / "q.h5"
    import h5py
    with h5py.File(quick, "w") as f:
        f.attrs["task"] = "simulate"
    assert main(["export", str(quick), "--target", "nir", "--out", str(tmp_path / "m")]) == 2
    assert "without a trained model" in capsys.readouterr().err


@pytest.mark.parametrize("export, path", [
    ({"targets": ["nir", "fpga"]}, "export.targets.1"),
    ({"targets": ["c"], "profiles": {"c": "loihi2"}}, "export.profiles.c"),
    ({"targets": ["nir", "nir"]}, "export.targets"),
    ({"targets": ["nir"], "evaluate": "yes"}, "export.evaluate"),
    ({"targets": ["nir"], "dir": 3}, "export.dir"),
    ({"target": ["nir"]}, "export.target"),
])
def test_export_table_problems_name_the_field(tmp_path, capsys, export, path):
    scenario = _write(tmp_path / "s.toml", {**copy.deepcopy(TRAIN), "export": export})
    assert main(["validate", str(scenario)]) == 2
    assert path in capsys.readouterr().err


def test_export_evaluation_needs_direct_coding(tmp_path, capsys):
    config = copy.deepcopy(TRAIN)
    config["train"]["encoder"] = {"type": "rate"}
    scenario = _write(tmp_path / "s.toml", {**config, "export": {"targets": ["nir"]}})
    assert main(["validate", str(scenario)]) == 2
    assert "export.evaluate: evaluating exported models needs train.encoder type 'direct'" in capsys.readouterr().err


SIMULATE = {
    "schema_version": 1, "name": "net", "simulation": {"duration": "10 ms", "dt": "0.1 ms", "seed": 1},
    "model": {
        "populations": [{"name": "exc", "size": 20, "neuron": {
            "model": "CubaLIF", "tau_m": "20 ms", "c_m": "200 pF", "v_rest": "-60 mV", "v_th": "-50 mV",
            "v_reset": "-60 mV", "t_ref": "0 ms", "tau_syn_exc": "5 ms", "tau_syn_inh": "5 ms"}}],
        "sources": [{"name": "noise", "type": "poisson", "size": 10, "rate": "20 Hz"}],
        "connections": [
            {"pre": "noise", "post": "exc", "connector": {"type": "fixed_in_degree", "k": 3}, "weight": "60 pA",
             "delay": "1 ms"},
            {"pre": "exc", "post": "exc", "connector": {"type": "fixed_probability", "p": 0.2}, "weight": "30 pA",
             "delay": "1.5 ms"}],
    },
}


def test_a_simulate_scenario_exports_its_network_to_nir_only(tmp_path, capsys):
    import nir

    scenario = _write(tmp_path / "net.toml", SIMULATE)
    out = tmp_path / "net.nir"
    assert main(["export", str(scenario), "--target", "nir", "--out", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    graph = nir.read(out)
    assert report["neurons"] == 20 and type(graph.nodes["exc"]).__name__ == "CubaLIF"
    assert sorted({type(n).__name__ for n in graph.nodes.values()}) == ["CubaLIF", "Delay", "Input", "Linear", "Output"]
    assert main(["export", str(scenario), "--target", "c", "--out", str(tmp_path / "c")]) == 2
    assert "a simulate scenario's network exports to nir only" in capsys.readouterr().err
    nir_profile = tmp_path / "nirp.toml"
    nir_profile.write_text('name = "nirp"\ntarget = "nir"\n[limits]\nneurons = 10\n')
    assert main(["export", str(scenario), "--target", "nir", "--profile", str(nir_profile), "--out",
                 str(tmp_path / "p.nir")]) == 2
    assert "profile: an engine network's NIR export checks no profile" in capsys.readouterr().err
    refractory = copy.deepcopy(SIMULATE)
    refractory["model"]["populations"][0]["neuron"]["t_ref"] = "2 ms"
    _write(scenario, refractory)
    assert main(["export", str(scenario), "--target", "nir", "--out", str(tmp_path / "r.nir")]) == 2
    assert "population.exc.t_ref" in capsys.readouterr().err


def test_export_digits_scenario_exports_every_target_and_measures_it(tmp_path):
    """The shipped scenario: quantisation to Loihi costs at most 1 point, C at most 2, NIR and ONNX none."""
    import h5py

    from neurosim.io import load

    out = tmp_path / "export_digits.h5"
    assert main(["run", "scenarios/export_digits.toml", "--out", str(out), "--quiet"]) == 0
    m = load(out).metrics
    acc = {k: float(m[f"accuracy_{k}"]) for k in ("float", "nir", "loihi", "onnx", "c")}
    assert acc["float"] == pytest.approx(float(m["test_accuracy"])) and acc["float"] >= 0.94
    assert acc["nir"] == acc["float"] and abs(acc["onnx"] - acc["float"]) <= 1 / 360
    assert acc["loihi"] >= acc["float"] - 0.01
    assert acc["c"] >= acc["float"] - 0.02
    folder = tmp_path / "export_digits.export"
    for name in ("model.nir", "model.net", "model.host.npz", "model.onnx", "model.unrolled.onnx", "c/model.h",
                 "c/neurosim_snn.c", "c/neurosim_snn.h"):
        assert (folder / name).is_file(), name
    with h5py.File(out) as f:
        reports = {k: json.loads(v) for k, v in f["export"].attrs.items() if k != "dir"}
    assert set(reports) == {"nir", "loihi", "onnx", "c"}
    assert reports["loihi"]["profile"] == "loihi2" and reports["c"]["profile"] == "cortex_m4"


@pytest.mark.parametrize("target", ["nir", "onnx", "loihi"])
def test_file_exports_never_replace_a_folder_or_a_foreign_file(trained, tmp_path, capsys, target):
    folder = tmp_path / "results"
    folder.mkdir()
    (folder / "keep.h5").write_bytes(b"precious")
    assert main(["export", str(trained / "tiny.model.pt"), "--target", target, "--out", str(folder)]) == 2
    assert "out: " in capsys.readouterr().err
    assert (folder / "keep.h5").read_bytes() == b"precious" and sorted(p.name for p in tmp_path.iterdir()) == ["results"]
    notes = tmp_path / "notes.txt"  # a file of another kind is refused by its suffix
    notes.write_bytes(b"mine")
    assert main(["export", str(trained / "tiny.model.pt"), "--target", target, "--out", str(notes)]) == 2
    assert re.search(r"out: the \w+ export writes a (netx )?\.\w+ file", capsys.readouterr().err)
    assert notes.read_bytes() == b"mine"


def test_c_export_into_a_folder_keeps_the_files_it_does_not_write(trained, tmp_path, capsys):
    out = tmp_path / "c"
    out.mkdir()
    (out / "Makefile").write_text("all: model\n")
    args = ["export", str(trained / "tiny.model.pt"), "--target", "c", "--out", str(out)]
    assert main(args) == 0
    written = sorted(p.name for p in out.iterdir())
    assert "Makefile" in written and "model.h" in written
    (out / "model.h").write_text("stale")
    assert main(args) == 0  # its own files are replaced, each whole; the Makefile stays
    assert sorted(p.name for p in out.iterdir()) == written and (out / "model.h").read_text() != "stale"
    assert (out / "Makefile").read_text() == "all: model\n" and not list(tmp_path.glob(".*partial*"))
    (tmp_path / "file").write_text("mine")
    assert main([*args[:-1], str(tmp_path / "file")]) == 2
    assert "out: " in capsys.readouterr().err and (tmp_path / "file").read_text() == "mine"
