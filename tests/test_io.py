"""Results files (neurosim.io): streaming, round trips through load, crash safety, overwrite."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from datetime import datetime
from pathlib import Path

import h5py
import numpy as np
import pytest

from neurosim import LIF, CubaLIF, FixedProbability, Network, Uniform
from neurosim.neurons import CobaLIF
from neurosim.io import ResultsWriter, load

ROOT = Path(__file__).resolve().parents[1]


def small_network(block_steps: int = 10_000, seed: int = 3):
    """40 neurons that fire regularly (500 pA plus Poisson input): ``exc`` (CubaLIF, weights
    in A) and ``inh`` (LIF, weights in V), connected both ways."""
    net = Network(dt="0.1 ms", seed=seed, block_steps=block_steps)
    exc = net.population("exc", 30, CubaLIF(), v_init=Uniform("-65 mV", "-55 mV"))
    inh = net.population("inh", 10, LIF())
    src = net.poisson_source("inp", 20, rate="40 Hz")
    net.current(exc, amplitudes="500 pA")
    net.connect(src, exc, FixedProbability(0.3), weight="30 pA", delay="1 ms")
    net.connect(exc, inh, FixedProbability(0.3), weight="2 mV", delay="0.5 ms")
    net.connect(inh, exc, FixedProbability(0.3), weight="-50 pA", delay="1 ms")
    return net, exc, inh


def recorded_run(path: Path, block_steps: int = 10_000, duration: str = "100 ms", progress=None, **writer_args):
    """Run the small network with every monitor twice, once in memory and once into ``path``;
    returns the in-memory monitors."""
    net, exc, inh = small_network(block_steps)
    with ResultsWriter(path, **writer_args) as w:
        mem = {
            "spikes_exc": net.spike_monitor(exc, name="m_spikes_exc"),
            "spikes_inh": net.spike_monitor(inh, indices=[1, 4, 7], name="m_spikes_inh"),
            "state_exc": net.state_monitor(exc, ("v", "i_exc", "i_inh"), indices=[0, 5, 9, 29],
                                           interval="0.3 ms", name="m_state_exc"),
            "state_inh": net.state_monitor(inh, ("v",), name="m_state_inh"),
            "rate_exc": net.rate_monitor(exc, name="m_rate_exc"),
        }
        net.spike_monitor(exc, sink=w.sink())
        net.spike_monitor(inh, indices=[1, 4, 7], sink=w.sink())
        net.state_monitor(exc, ("v", "i_exc", "i_inh"), indices=[0, 5, 9, 29], interval="0.3 ms", sink=w.sink())
        net.state_monitor(inh, ("v",), sink=w.sink())
        net.rate_monitor(exc, sink=w.sink())
        net.run(duration, progress=None if progress is None else lambda done, n: progress(w, done, n))
    mem["net"] = net
    return mem


def test_round_trip_through_load_matches_memory_monitors(tmp_path):
    path = tmp_path / "run.h5"
    mem = recorded_run(path, block_steps=100)
    res = load(path)
    assert res.complete
    assert res.populations == {"exc": 30, "inh": 10, "inp": 20}
    assert res.duration == pytest.approx(0.1)
    assert res.dt == pytest.approx(1e-4)

    for pop, mon in (("exc", mem["spikes_exc"]), ("inh", mem["spikes_inh"])):
        t, ids = res.spikes[pop]
        assert t.size == mon.t.size > 10
        np.testing.assert_allclose(t, mon.t, rtol=1e-12, atol=1e-15)
        np.testing.assert_array_equal(ids, mon.i)
        assert t.dtype == np.float64 and ids.dtype == np.int64
    assert set(res.spikes["inh"].node_ids) <= {1, 4, 7}

    assert sorted(res.reports) == ["exc", "exc.i_exc", "exc.i_inh", "inh"]
    state = mem["state_exc"]
    for name, var in (("exc", "v"), ("exc.i_exc", "i_exc"), ("exc.i_inh", "i_inh")):
        rep = res.reports[name]
        assert (rep.population, rep.variable, rep.units) == ("exc", var, "V" if var == "v" else "A")
        np.testing.assert_array_equal(rep.node_ids, [0, 5, 9, 29])
        np.testing.assert_allclose(rep.t, state.t, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(rep.data, state[var], rtol=1e-6, atol=1e-18)
    assert np.abs(res.reports["exc.i_inh"].data).max() > 0
    inh = res.reports["inh"]
    np.testing.assert_allclose(inh.data, mem["state_inh"]["v"], rtol=1e-6)
    assert inh.t.size == 1000 and inh.data.shape == (1000, 10)

    rate = res.rates["exc"]
    np.testing.assert_allclose(rate.t, mem["rate_exc"].t, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(rate.rate, mem["rate_exc"].rate)


def test_h5py_view_matches_memory_monitors(tmp_path):
    path = tmp_path / "run.h5"
    mem = recorded_run(path, block_steps=100)
    with h5py.File(path, "r") as f:
        np.testing.assert_allclose(f["spikes/exc/timestamps"][()], mem["spikes_exc"].t * 1e3, rtol=1e-12)
        np.testing.assert_array_equal(f["spikes/exc/node_ids"][()], mem["spikes_exc"].i)
        data = f["report/exc/data"]
        np.testing.assert_array_equal(data[()], (mem["state_exc"]["v"] * 1e3).astype(np.float32))
        np.testing.assert_array_equal(f["report/exc.i_exc/data"][()],
                                      (mem["state_exc"]["i_exc"] * 1e9).astype(np.float32))
        start, stop, dt = f["report/exc/mapping/time"][()]
        n = mem["state_exc"].t.size
        assert (start, dt) == pytest.approx((0.0, 0.3)) and stop == pytest.approx(n * 0.3)
        assert dict(f["report/exc.i_exc"].attrs) == {"population": "exc", "variable": "i_exc"}
        assert f["rates/exc/rate"].compression == "gzip"


def test_streaming_appends_block_by_block(tmp_path):
    path = tmp_path / "run.h5"
    sizes = []

    def progress(w, done, n):
        f = w.h5
        sizes.append((f["spikes/exc/timestamps"].shape[0], f["report/exc/data"].shape[0]))

    mem = recorded_run(path, block_steps=100, duration="50 ms", progress=progress)
    assert len(sizes) == 5
    rows = [r for _, r in sizes]
    assert rows == sorted(rows) and len(set(rows)) == 5
    spikes = [s for s, _ in sizes]
    assert spikes == sorted(spikes) and len(set(spikes)) > 1
    assert spikes[-1] == mem["spikes_exc"].t.size and rows[-1] == mem["state_exc"].t.size
    with h5py.File(path, "r") as f:
        t = f["spikes/exc/timestamps"]
        assert t.chunks is not None and t.maxshape == (None,)
        assert f["report/exc/data"].maxshape == (None, 4)
        assert np.all(np.diff(t[()]) >= 0)


def test_continued_runs_extend_the_report_grid(tmp_path):
    path = tmp_path / "run.h5"
    net, exc, _ = small_network(block_steps=70)
    with ResultsWriter(path) as w:
        mem = net.state_monitor(exc, interval="0.3 ms", name="mem")
        net.state_monitor(exc, interval="0.3 ms", sink=w.sink())
        net.run("10 ms")
        net.run("5.5 ms")
    rep = load(path).reports["exc"]
    np.testing.assert_allclose(rep.t, mem.t, atol=1e-12)
    np.testing.assert_allclose(rep.data, mem["v"], rtol=1e-6)
    assert load(path).duration == pytest.approx(0.0155)


def test_exception_in_body_leaves_no_file(tmp_path):
    path = tmp_path / "run.h5"
    net, exc, _ = small_network()
    with pytest.raises(RuntimeError, match="boom"):
        with ResultsWriter(path) as w:
            net.spike_monitor(exc, sink=w.sink())
            net.run("10 ms")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_conflicting_monitors_abort_the_file(tmp_path):
    path = tmp_path / "run.h5"
    net, exc, _ = small_network()
    with pytest.raises(ValueError, match="already writes /spikes/exc"):
        with ResultsWriter(path) as w:
            net.spike_monitor(exc, sink=w.sink())
            net.spike_monitor(exc, indices=[0], name="second", sink=w.sink())
            net.run("1 ms")
    assert list(tmp_path.iterdir()) == []


KILLED_RUN = textwrap.dedent("""
    import sys
    from test_io import small_network
    from neurosim.io import ResultsWriter

    net, exc, inh = small_network(block_steps=100)
    with ResultsWriter(sys.argv[1]) as w:
        net.spike_monitor(exc, sink=w.sink())
        net.state_monitor(exc, sink=w.sink())
        net.run("1000 s", progress=lambda done, n: print("block", done, flush=True))
""")


def test_killed_run_leaves_no_file_and_a_rerun_succeeds(tmp_path):
    path = tmp_path / "run.h5"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), str(ROOT)])}
    proc = subprocess.Popen([sys.executable, "-c", KILLED_RUN, str(path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        line = proc.stdout.readline()
        assert line.startswith("block"), proc.stderr.read()
        time.sleep(0.5)
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not path.exists()
    # the partial file does not look complete; the lock file is no longer locked
    assert sorted(p.name for p in tmp_path.iterdir()) == [".run.h5.lock", f".run.h5.partial-{proc.pid}"]

    recorded_run(path, duration="5 ms")  # takes the lock over and removes the stale partial file
    assert load(path).complete
    assert [p.name for p in tmp_path.iterdir()] == ["run.h5"]


def test_overwrite_policy(tmp_path):
    path = tmp_path / "run.h5"
    with ResultsWriter(path) as w:
        w.write_metric("x", 1.0)
    with pytest.raises(FileExistsError, match=re.escape(str(path))):
        ResultsWriter(path)
    with pytest.raises(FileExistsError):
        ResultsWriter(path, overwrite="error")
    assert load(path).metrics == {"x": 1.0}
    with ResultsWriter(path, overwrite="overwrite") as w:
        w.write_metric("x", 2.0)
    assert load(path).metrics == {"x": 2.0}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.h5"]
    with pytest.raises(ValueError, match="overwrite"):
        ResultsWriter(tmp_path / "other.h5", overwrite="skip")


def test_conductance_weights_are_written_in_siemens(tmp_path):
    net = Network(seed=1)
    cells = net.population("cells", 10, CobaLIF())
    net.connect(cells, cells, FixedProbability(0.5), weight="3 nS", receptor="inh")
    with ResultsWriter(tmp_path / "run.h5", config_toml="", root_seed=0, argv=[]) as w:
        w.write_weights(net.projections[0])
    wts = load(tmp_path / "run.h5").weights["cells_to_cells"]
    assert wts.units == "S" and wts.weight == pytest.approx(np.full(wts.weight.size, 3e-9))

def test_metrics_weights_config_and_provenance_round_trip(tmp_path):
    path = tmp_path / "sub" / "run.h5"
    toml = 'name = "demo"\n\n[simulation]\nduration = 100.0\n'
    net, exc, inh = small_network()
    with ResultsWriter(path, config_toml=toml, root_seed=12345, argv=["neurosim", "run", "demo.toml"],
                       attrs={"run_id": "demo/0"}) as w:
        net.spike_monitor(exc, sink=w.sink())
        net.run("20 ms")
        w.write_metric("test_accuracy", 0.97)
        w.write_metric("n_spikes", 42)
        w.write_metric("epoch", np.arange(4))
        w.write_metric("loss", [1.0, 0.5, 0.3, 0.2], x="epoch", units="nats")
        w.write_weights(net.projections[0])
        w.write_weights(net.projections[1])
        w.write_weights(net.projections[1], name="exc_to_inh.copy")
        with pytest.raises(ValueError, match="written already"):
            w.write_metric("loss", 0.0)
        with pytest.raises(ValueError, match="numeric"):
            w.write_metric("label", "abc")
        with pytest.raises(ValueError, match="'/'"):
            w.write_metric("a/b", 1.0)

    res = load(path)
    assert res.metrics["test_accuracy"] == 0.97 and res.metrics["n_spikes"] == 42
    np.testing.assert_array_equal(res.metrics["loss"], [1.0, 0.5, 0.3, 0.2])
    assert res.metric_attrs["loss"] == {"x": "epoch", "units": "nats"}

    assert sorted(res.weights) == ["exc_to_inh", "exc_to_inh.copy", "inp_to_exc"]
    for proj, units in ((net.projections[0], "A"), (net.projections[1], "V")):
        wts = res.weights[proj.name]
        csr = proj.synapses
        assert (wts.pre_population, wts.post_population, wts.units) == (proj.pre.name, proj.post.name, units)
        np.testing.assert_array_equal(wts.pre, csr.pre)
        np.testing.assert_array_equal(wts.post, csr.post)
        np.testing.assert_array_equal(wts.weight, csr.weight)
        np.testing.assert_allclose(wts.delay, csr.delay * net.dt)
    assert res.weights["inp_to_exc"].delay[0] == pytest.approx(1e-3)

    assert res.config_toml == toml
    assert res.config_sha256 == hashlib.sha256(res.config_toml.encode()).hexdigest()

    prov = res.provenance
    assert prov["magic"] == 0x0A7A and prov["version"] == [0, 1]
    assert prov["neurosim_version"] and isinstance(prov["git_commit"], str) and isinstance(prov["git_dirty"], bool)
    assert prov["root_seed"] == 12345 and prov["run_id"] == "demo/0"
    assert json.loads(prov["argv"]) == ["neurosim", "run", "demo.toml"]
    packages = json.loads(prov["packages_json"])
    assert packages["numpy"] == np.__version__ and packages["h5py"] == h5py.__version__ and "numba" in packages
    assert prov["python"].startswith(sys.version.split()[0]) and prov["platform"] and prov["hostname"]
    start = datetime.fromisoformat(prov["start_time_utc"])
    assert start.utcoffset().total_seconds() == 0
    assert datetime.fromisoformat(prov["end_time_utc"]) >= start
    assert prov["complete"] is True


def test_results_without_a_network(tmp_path):
    path = tmp_path / "metrics_only.h5"
    with ResultsWriter(path) as w:
        w.write_metric("score", 1.5)
    res = load(path)
    assert res.complete and res.duration is None and res.populations == {}
    assert dict(res.spikes) == {} and "score" in res.metrics and res.config_toml is None
    with pytest.raises(RuntimeError, match="closed"):
        w.write_metric("late", 1.0)


def test_two_networks_cannot_share_a_file(tmp_path):
    net1, exc1, _ = small_network()
    net2 = Network()
    other = net2.population("other", 2, LIF())
    with pytest.raises(ValueError, match="two different networks"):
        with ResultsWriter(tmp_path / "run.h5") as w:
            net1.spike_monitor(exc1, sink=w.sink())
            net2.spike_monitor(other, sink=w.sink())
            net1.run("1 ms")
            net2.run("1 ms")
    assert list(tmp_path.iterdir()) == []
