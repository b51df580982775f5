"""The scenario runner through its command line: validation errors, overrides, sweeps, safety."""

from __future__ import annotations

import copy
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import tomli_w

from neurosim.cli import main
from neurosim.io import load
from neurosim.scenario.spec import parse_override, set_path

BASE = {
    "schema_version": 1,
    "name": "small",
    "simulation": {"duration": "20 ms", "dt": "0.1 ms", "seed": 3},
    "model": {
        "populations": [
            {"name": "exc", "size": 40, "neuron": {"model": "CubaLIF", "v_rest": "-49 mV", "v_th": "-50 mV",
                                                    "v_reset": "-60 mV"},
             "v_init": {"dist": "uniform", "low": "-60 mV", "high": "-50 mV"}},
        ],
        "sources": [{"name": "noise", "type": "poisson", "size": 10, "rate": "100 Hz"}],
        "connections": [
            {"pre": "exc", "post": "exc", "connector": {"type": "fixed_probability", "p": 0.1}, "weight": "20 pA",
             "delay": "1 ms"},
            {"pre": "noise", "post": "exc", "connector": {"type": "fixed_in_degree", "k": 3}, "weight": "50 pA"},
        ],
        "currents": [{"target": "exc", "amplitudes": ["0 pA", "10 pA"], "times": ["0 ms", "5 ms"]}],
    },
    "record": [{"type": "spikes"}, {"type": "state", "populations": ["exc"], "variables": ["v"], "indices": [0, 1]},
               {"type": "rate"}, {"type": "weights"}],
    "output": {"overwrite": "error"},
}


def write(tmp_path: Path, config: dict, name: str = "scenario.toml") -> Path:
    path = tmp_path / name
    path.write_text(tomli_w.dumps(config))
    return path


def edit(change) -> dict:
    config = copy.deepcopy(BASE)
    change(config)
    return config


def run_cli(*args: str) -> int:
    return main([str(a) for a in args])


def test_a_valid_scenario_runs_and_round_trips(tmp_path, capsys):
    path = write(tmp_path, BASE)
    out = tmp_path / "out.h5"
    assert run_cli("validate", path) == 0
    assert run_cli("run", path, "--out", out, "--quiet") == 0
    res = load(out)
    assert res.complete and res.populations == {"exc": 40, "noise": 10}
    t, ids = res.spikes["exc"]
    assert res.metrics["spikes_exc"] == t.size > 0
    assert res.reports["exc"].data.shape == (200, 2)
    assert (tmp_path / "out.log").read_text().count("done") == 1
    assert res.metrics["synapses"] > 0  # and the bytes held per synapse, in the metrics and the log
    # float64: 13 B per synapse (int32 target, weight, uint8 delay); the 50 rows' pointers (8 B) and tables
    # (13 B), each projection's row starts and counts (16 B per source row), the empty plasticity tables (< 1 kB)
    n = res.metrics["synapses"]
    rows = 8 * 51 + 13 * 50 + 16 * (40 + 10)
    assert 13 * n + rows <= res.metrics["bytes_per_synapse"] * n < 13 * n + rows + 1000
    assert 0 < res.metrics["bytes_per_synapse_peak"]
    assert "bytes per synapse held" in (tmp_path / "out.log").read_text()
    # the stored config is the resolved one: it has defaults and SI values, and hashes to its sha256
    import hashlib
    import tomllib
    assert hashlib.sha256(res.config_toml.encode()).hexdigest() == res.config_sha256
    stored = tomllib.loads(res.config_toml)
    assert stored["simulation"]["duration"] == pytest.approx(0.02) and stored["simulation"]["backend"] == "auto"


def t_set(path, value):
    return lambda c: set_path(c, path.split("."), value, "test")


def t_del(path):
    def change(c):
        *head, last = path.split(".")
        node = c
        for k in head:
            node = node[int(k)] if isinstance(node, list) else node[k]
        del node[last]
    return change


MALFORMED = [
    (t_del("schema_version"), r"schema_version: required but missing"),
    (t_set("schema_version", 2), r"schema_version: 2 is not one of 1"),
    (t_set("simulaton", {"duration": "1 s"}), r"simulaton: unknown key; did you mean 'simulation'\?"),
    (t_set("simulation.durration", "1 s"), r"simulation\.durration: unknown key; did you mean 'duration'\?"),
    (t_del("simulation"), r"simulation: required by task 'simulate'"),
    (t_del("model"), r"model: required by task 'simulate'"),
    (t_set("simulation.duration", "-1 s"), r"simulation\.duration: must be > 0"),
    (t_set("simulation.duration", "0 s"), r"simulation\.duration: must be > 0"),
    (t_set("simulation.duration", "1 parsec"), r"simulation\.duration: unknown unit 'parsec'"),
    (t_set("simulation.duration", "1 mV"), r"simulation\.duration: '1 mV' is a voltage but a time is expected"),
    (t_set("simulation.duration", "1.05 ms"), r"simulation\.duration: .* not a multiple of dt"),
    (t_set("simulation.dt", "0 ms"), r"simulation\.dt: must be > 0"),
    (t_set("simulation.dt", "fast"), r"simulation\.dt: cannot read 'fast'"),
    (t_set("simulation.seed", "one"), r"simulation\.seed: expected an integer"),
    (t_set("simulation.seed", -3), r"simulation\.seed: must be >= 0"),
    (t_set("simulation.backend", "gpu9000"), r"simulation\.backend: unknown backend 'gpu9000'"),
    (t_set("simulation.precision", "float16"), r"simulation\.precision: 'float16' is not one of"),
    (t_set("task", "dance"), r"task: unknown task 'dance'"),
    (t_set("model.populations", "exc"), r"model\.populations: expected a list"),
    (t_set("model.populations.0.size", 0), r"model\.populations\.0\.size: must be >= 1"),
    (t_set("model.populations.0.size", 10**12), r"model\.populations\.0\.size: must be <= 1e\+08"),
    (t_set("model.populations.0.size", 1.5), r"model\.populations\.0\.size: expected an integer"),
    (t_set("model.populations.0.neuron.model", "MorrisLecar"), r"model\.populations\.0\.neuron: model: unknown neuron model"),
    (t_set("model.populations.0.neuron.tau_mem", "20 ms"),
     r"model\.populations\.0\.neuron: tau_mem: unknown parameter of CubaLIF; did you mean 'tau_m'\?"),
    (t_set("model.populations.0.neuron.tau_m", "-20 ms"), r"model\.populations\.0\.neuron: CubaLIF\.tau_m: must be > 0"),
    (t_set("model.populations.0.neuron.v_th", "-70 mV"), r"model\.populations\.0\.neuron: CubaLIF\.v_th: threshold"),
    (t_set("model.populations.0.neuron.c_m", "200 pV"), r"CubaLIF\.c_m: '200 pV' is a voltage but a capacitance"),
    (t_set("model.connections.0.post", "exc2"), r"model\.connections\.0\.post: unknown population 'exc2'; did you mean 'exc'\?"),
    (t_set("model.connections.0.delay", "0.15 ms"), r"model\.connections\.0: .*delay .* is not a multiple of dt"),
    (t_set("model.connections.0.connector.type", "random"), r"model\.connections\.0\.connector\.type: 'random' is not one of"),
    (t_set("model.connections.0.connector.p", 1.5), r"model\.connections\.0\.connector\.p: must be <= 1"),
    (t_set("model.connections.0.connector.q", 0.5), r"model\.connections\.0\.connector\.q: unknown key"),
    (t_set("model.connections.0.weight", "1 mV"), r"model\.connections\.0: .*weight: '1 mV' is a voltage but a current"),
    (t_set("model.connections.1.connector.k", 11), r"model\.connections\.1: .*cannot choose 11 inputs out of 10"),
    (t_set("model.sources.0.type", "laser"), r"model\.sources\.0\.type"),
    (t_set("model.sources.0.rate", "-5 Hz"), r"model\.sources\.0\.rate"),
    (t_set("model.currents.0.target", "nobody"), r"model\.currents\.0\.target: unknown population 'nobody'"),
    (t_set("model.currents.0.times", ["0 ms"]), r"model\.currents\.0: .*amplitudes: has 2 values but times has 1"),
    (t_set("model.name", "cuba"), r"model: give either name .* or populations"),
    (t_set("record.0.type", "movie"), r"record\.0\.type: 'movie' is not one of"),
    (t_set("record.1.populations", ["inh"]), r"record\.1\.populations: unknown population 'inh'"),
    (t_set("record.1.variables", ["w"]), r"record\.1: .*'w' is not a state variable of CubaLIF"),
    (t_set("record.1.interval", "0.25 ms"), r"record\.1: .*interval.* not a multiple of dt"),
    (t_set("record.1.indices", [0, 99]), r"record\.1: .*indices must lie in \[0, 40\)"),
    (t_set("output.overwrite", "maybe"), r"output\.overwrite: 'maybe' is not one of"),
    (t_set("sweep", {"params": {"simulation.durration": ["1 ms"]}}), r"simulation\.durration: unknown key"),
    (t_set("sweep", {"mode": "zip", "params": {"simulation.seed": [1, 2], "simulation.dt": ["0.1 ms"]}}),
     r"sweep\.params: zip needs lists of equal length"),
    (t_set("sweep", {"params": {}}), r"sweep\.params: needs at least one parameter"),
]


@pytest.mark.parametrize("change, message", MALFORMED, ids=[m for _, m in MALFORMED])
def test_malformed_scenarios_exit_2_naming_the_field(tmp_path, capsys, change, message):
    path = write(tmp_path, edit(change))
    code = run_cli("run", path, "--out", tmp_path / "out.h5", "--quiet")
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err
    import re
    assert re.search(message, " ".join(err.split())), err
    assert not (tmp_path / "out.h5").exists()


@pytest.mark.parametrize("text, message", [("", "empty"), ("   \n# only a comment\n", "empty"),
                                           ("schema_version = [1,\n", "not valid TOML"),
                                           ("\x00\x01binary", "not valid TOML")])
def test_files_that_are_not_scenarios(tmp_path, capsys, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    assert run_cli("validate", path) == 2
    assert message in capsys.readouterr().err


def test_missing_scenario_file(tmp_path, capsys):
    assert run_cli("run", tmp_path / "nope.toml") == 2
    assert "no such scenario file" in capsys.readouterr().err


def test_named_model_errors(tmp_path, capsys):
    config = {"schema_version": 1, "model": {"name": "cubaa"}, "simulation": {"duration": "1 ms"}}
    assert run_cli("validate", write(tmp_path, config)) == 2
    assert "model.name: unknown model 'cubaa'" in capsys.readouterr().err
    config["model"] = {"name": "cuba", "params": {"nn": 10}}
    assert run_cli("validate", write(tmp_path, config)) == 2
    assert "model.params.nn: unknown parameter of model 'cuba'; did you mean 'n'?" in capsys.readouterr().err


def test_existing_output_is_protected(tmp_path, capsys):
    path = write(tmp_path, BASE)
    out = tmp_path / "out.h5"
    assert run_cli("run", path, "--out", out, "--quiet") == 0
    before = out.stat().st_mtime_ns
    assert run_cli("run", path, "--out", out, "--quiet") == 2
    assert "output.path" in capsys.readouterr().err and out.stat().st_mtime_ns == before
    assert run_cli("run", path, "--out", out, "--quiet", "--set", 'output.overwrite="overwrite"') == 0


@pytest.mark.parametrize("text, value", [("a=1", 1), ("a=0.5", 0.5), ('a="x"', "x"), ("a=[1,2]", [1, 2]),
                                         ("a=word", "word"), ("a=true", True), ('a="20 ms"', "20 ms"),
                                         ("a={p = 0.1}", {"p": 0.1})])
def test_set_values_are_typed_as_toml(text, value):
    keys, parsed = parse_override(text)
    assert keys == ["a"] and parsed == value and type(parsed) is type(value)


def test_set_reaches_list_entries_and_is_recorded(tmp_path):
    path = write(tmp_path, BASE)
    out = tmp_path / "out.h5"
    code = run_cli("run", path, "--out", out, "--quiet", "--set", 'model.connections.0.weight="35 pA"',
                   "--set", "model.populations.0.size=30", "--set", 'simulation.duration="10 ms"')
    assert code == 0
    res = load(out)
    assert res.populations["exc"] == 30 and res.duration == pytest.approx(0.01)
    assert np.allclose(res.weights["exc_to_exc"].weight, 35e-12)
    assert '"35 pA"' in res.config_toml


def test_bad_set_paths(tmp_path, capsys):
    path = write(tmp_path, BASE)
    assert run_cli("validate", path, "--set", "model.connections.9.weight=1") == 2
    assert "model.connections.9 is not an index" in capsys.readouterr().err
    assert run_cli("validate", path, "--set", "nonsense") == 2


SWEEP = edit(lambda c: c.update(sweep={"mode": "grid", "repeats": 2, "params": {"model.sources.0.rate": ["50 Hz", "150 Hz"]}}))


def sweep_spikes(index: Path) -> list:
    with h5py.File(index) as f:
        paths = [index.parent / p.decode() for p in f["table/path"][()]]
    return [load(p).spikes["exc"] for p in paths]


def test_sweep_on_dask_workers_equals_the_sequential_sweep(tmp_path):
    path = write(tmp_path, SWEEP)
    seq, par = tmp_path / "seq.h5", tmp_path / "par.h5"
    assert run_cli("run", path, "--out", seq, "--quiet") == 0
    assert run_cli("run", path, "--out", par, "--quiet", "--workers", "2") == 0
    a, b = sweep_spikes(seq), sweep_spikes(par)
    assert len(a) == 4
    for (ta, ia), (tb, ib) in zip(a, b):
        assert np.array_equal(ta, tb) and np.array_equal(ia, ib)
    # repeats differ (own seeds), and the index tabulates parameters against metrics
    assert not np.array_equal(a[0][0], a[1][0])
    with h5py.File(seq) as f:
        rates = f["table/metrics/rate_hz_noise"][()]
        assert f["table/params/model.sources.0.rate"].asstr()[()].tolist() == ["50 Hz"] * 2 + ["150 Hz"] * 2
        assert len(set(f["table/seed"][()].tolist())) == 4
        assert f["points/0000/spikes/exc/timestamps"].shape[0] == a[0][0].size
    assert rates[2:].mean() > 2 * rates[:2].mean()


def test_sweep_on_an_existing_dask_scheduler(tmp_path):
    from dask.distributed import LocalCluster

    path = write(tmp_path, edit(lambda c: c.update(sweep={"mode": "zip", "params": {"simulation.seed": [5, 6]}})))
    seq, remote = tmp_path / "seq.h5", tmp_path / "remote.h5"
    assert run_cli("run", path, "--out", seq, "--quiet") == 0
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        assert run_cli("run", path, "--out", remote, "--quiet", "--scheduler", cluster.scheduler_address) == 0
    for (ta, ia), (tb, ib) in zip(sweep_spikes(seq), sweep_spikes(remote)):
        assert np.array_equal(ta, tb) and np.array_equal(ia, ib)
    with h5py.File(seq) as f:
        assert f["table/seed"][()].tolist() == [5, 6]  # a swept seed is used as given


def test_random_sweep_draws_reproducible_points(tmp_path):
    sweep = {"mode": "random", "samples": 3, "params": {"model.sources.0.rate": {"low": 20.0, "high": 200.0},
                                                         "model.connections.0.connector.p": [0.05, 0.2]}}
    path = write(tmp_path, edit(lambda c: c.update(sweep=sweep)))
    tables = []
    for name in ("a.h5", "b.h5"):
        assert run_cli("run", path, "--out", tmp_path / name, "--quiet") == 0
        with h5py.File(tmp_path / name) as f:
            tables.append((f["table/params/model.sources.0.rate"][()], f["table/params/model.connections.0.connector.p"][()]))
    rates, probs = tables[0]
    assert rates.shape == (3,) and np.all((rates >= 20) & (rates < 200)) and set(probs) <= {0.05, 0.2}
    assert np.array_equal(tables[0][0], tables[1][0]) and np.array_equal(tables[0][1], tables[1][1])
    bad = write(tmp_path, edit(lambda c: c.update(sweep={"mode": "random", "params": {"simulation.seed": [1]}})), "bad.toml")
    assert run_cli("validate", bad) == 2


def test_resume_skips_points_with_the_same_config(tmp_path, capsys):
    path = write(tmp_path, SWEEP)
    out = tmp_path / "sweep.h5"
    assert run_cli("run", path, "--out", out, "--quiet") == 0
    point = tmp_path / "sweep" / "point_0001.h5"
    stamp = point.stat().st_mtime_ns
    capsys.readouterr()
    assert run_cli("run", path, "--out", out, "--quiet", "--resume") == 0
    assert "4 resumed" in capsys.readouterr().out and point.stat().st_mtime_ns == stamp
    # another config: --resume obeys output.overwrite ("error" refuses before anything runs)
    assert run_cli("run", path, "--out", out, "--quiet", "--resume", "--set", 'simulation.duration="10 ms"') == 2
    assert "exists with other results" in capsys.readouterr().err and point.stat().st_mtime_ns == stamp
    assert run_cli("run", path, "--out", out, "--quiet", "--resume", "--set", 'simulation.duration="10 ms"',
                   "--set", 'output.overwrite="overwrite"') == 0
    assert "0 resumed" in capsys.readouterr().out and point.stat().st_mtime_ns != stamp


def test_an_existing_sweep_index_obeys_overwrite(tmp_path, capsys):
    path = write(tmp_path, SWEEP)
    out = tmp_path / "sweep.h5"
    assert run_cli("run", path, "--out", out, "--quiet") == 0
    shutil.rmtree(tmp_path / "sweep")  # the points are gone, the index is not
    stamp = out.stat().st_mtime_ns
    capsys.readouterr()
    assert run_cli("run", path, "--out", out, "--quiet") == 2
    assert f"output.path: {out} exists" in capsys.readouterr().err and out.stat().st_mtime_ns == stamp
    assert run_cli("run", path, "--out", out, "--quiet", "--resume") == 0  # the same sweep: continued


def test_a_killed_run_leaves_no_complete_looking_file(tmp_path):
    long = edit(lambda c: (c["simulation"].update(duration="600 s"), c["model"]["populations"][0].update(size=2000)))
    path = write(tmp_path, long)
    out = tmp_path / "killed.h5"
    proc = subprocess.Popen([sys.executable, "-m", "neurosim.cli", "run", str(path), "--out", str(out), "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while not list(tmp_path.glob(".killed.h5.partial-*")) and time.time() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not out.exists()
    assert list(tmp_path.glob(".killed.h5.partial-*"))  # the partial file does not look complete
    assert run_cli("run", write(tmp_path, BASE, "short.toml"), "--out", out, "--quiet") == 0
    assert load(out).complete


def test_info_and_version(capsys):
    assert run_cli("info") == 0
    out = capsys.readouterr().out
    assert "numba" in out and "auto backend:" in out and "CUDA:" in out
    assert "loihi1       loihi: Intel Loihi 1" in out and "cortex_m4    c:" in out
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0 and "neurosim" in capsys.readouterr().out


def test_console_script_is_installed(tmp_path):
    result = subprocess.run(["neurosim", "validate", str(write(tmp_path, BASE))], capture_output=True, text=True,
                            env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"})
    assert result.returncode == 0 and "valid" in result.stdout
