"""Full-state checkpoints (``Network.save_state`` / ``restore``, ``neurosim run --checkpoint-every``).

The reference is always the same network run without interruption: a run saved at a block
boundary, restored into a new ``Network`` built by the same code and continued must give the
same spikes, state samples, rates, weights, traces and modulators bit for bit (no tolerance:
the engine is deterministic and its random numbers are counter-based, so any missing piece of
state shows as a difference).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from neurosim import STDP, CubaLIF, FixedProbability, LIF, Network, Uniform
from neurosim.checkpoint import Journal, read_meta, write_npz
from neurosim.sinks import MemorySink

BACKENDS = ("numpy", "numba")


def build(seed: int = 7, n_exc: int = 40, dt: str = "0.1 ms", precision: str = "float64") -> Network:
    """A small plastic network with everything that carries state across a split: delays of 0–2 ms
    (spikes in flight in the ring buffer, queued plastic arrivals), pair and triplet STDP with
    same-step pairing, a modulator (astrocyte-like, driven by the excitatory spikes), Poisson
    sources, a spike generator, per-target Poisson input, noise input, a current step, and spike,
    merged spike, state and rate monitors."""
    net = Network(dt=dt, seed=seed, precision=precision, block_steps=23)
    exc = net.population("exc", n_exc, CubaLIF(v_rest="-60 mV", v_th="-50 mV", v_reset="-60 mV", t_ref="1 ms"),
                         v_init=Uniform("-60 mV", "-50 mV"))
    inh = net.population("inh", 10, LIF(v_rest="-60 mV", v_th="-50 mV", v_reset="-60 mV", t_ref="0.5 ms"),
                         v_init=Uniform("-60 mV", "-50 mV"))
    noise = net.poisson_source("noise", 16, rate="400 Hz")
    stim = net.spike_source("stim", 2, times=["3 ms", "3 ms", "9.1 ms", "14 ms"], indices=[0, 1, 0, 1])
    stdp = dict(a_plus="3 pA", a_minus="3.5 pA", w_min="0 pA", w_max="150 pA")
    p_in = net.connect(noise, exc, FixedProbability(0.3), weight=Uniform("40 pA", "90 pA"),
                       delay=Uniform("0 ms", "1 ms"), plasticity=STDP(**stdp, tau_pre="10 ms"))
    net.connect(stim, exc, FixedProbability(0.5), weight="120 pA", delay="0.4 ms")
    p_ee = net.connect(exc, exc, FixedProbability(0.15), weight=Uniform("20 pA", "80 pA"),
                       delay=Uniform("0 ms", "2 ms"),
                       plasticity=STDP(**stdp, a3_plus="2 pA", a3_minus="1 pA", same_step=True, tau_post="15 ms"))
    net.connect(exc, inh, FixedProbability(0.3), weight="0.9 mV", delay="0.5 ms")
    net.connect(inh, exc, FixedProbability(0.3), weight=Uniform("-150 pA", "-60 pA"), delay="1.3 ms")
    net.modulator("astro", tau="2 ms", weight=0.02, bias=0.15, targets=[p_ee], drive=[(exc, 1.0), (noise, -1.0)],
                  initial=1.0)
    net.modulator("gain", tau="3 ms", weight=0.05, bias=0.9, targets=[p_in], drive=[exc], acts_on="potentiation")
    net.poisson_input(inh, 200, "20 Hz", "0.3 mV")
    net.noise_input(exc, "300 pA/ms**0.5", mean="40 pA/ms")
    net.current(exc[:10], ["0 pA", "60 pA"], times=["0 ms", "7 ms"])
    net.spike_monitor(exc)
    net.spike_monitor([inh, noise], name="merged")
    net.state_monitor(exc, ("v", "i_exc"), indices=[0, 3, 9], interval="0.3 ms")
    net.rate_monitor(inh)
    return net


def recorded(net: Network) -> dict[str, np.ndarray]:
    """Everything the run produced: monitors' data, weights, state, traces, modulators, counts."""
    out: dict[str, np.ndarray] = {}
    for m in net.monitors:
        for key in m.sink._blocks[0] if m.sink._blocks else ():
            out[f"{m.name}.{key}"] = m.sink.get(key, np.zeros(0))
    for p in net.projections:
        out[f"w.{p.name}"] = p.weights
    layout = net.layout
    out["vars"], out["trace"], out["mod"] = layout.state.vars, layout.plastic.trace, layout.plastic.mod_state
    out["counts"] = np.array(sorted(net.spike_counts.items()), dtype=object)[:, 1].astype(np.int64)
    out["t"] = np.array([net.t])
    return out


def assert_bitwise(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert a[key].dtype == b[key].dtype and a[key].shape == b[key].shape, key
        assert a[key].tobytes() == b[key].tobytes(), f"{key} differs"


@pytest.fixture(scope="module")
def uninterrupted() -> dict[str, dict[str, np.ndarray]]:
    out = {}
    for backend in BACKENDS:
        net = build()
        net.run("30 ms", backend=backend)
        out[backend] = recorded(net)
    return out


@pytest.mark.parametrize("backend", BACKENDS)
def test_split_runs_resume_bitwise(tmp_path, backend, uninterrupted):
    """A 30 ms run split at 3.7, 3.8, 11.1 and 21.9 ms (steps 37, 38, 111, 219: block ends, a
    split one step after another, splits while delayed spikes and queued plastic arrivals are in
    flight), each part continued in a new Network built by the same code after restore, equals
    the uninterrupted run bit for bit: spikes, state samples, rates, weights, traces, modulators."""
    in_flight = []
    net = build()
    done = 0
    for stop in (37, 38, 111, 219, 300):
        net.run((stop - done) * net.dt, backend=backend)
        done = stop
        if stop == 300:
            break
        in_flight.append(bool(np.any(net.layout.syn.buf != 0)) and bool(net.layout.plastic.pend_n.any()))
        path = tmp_path / f"s{stop}.ckpt"
        net.save_state(path)
        net = build()
        net.restore(path)
        assert net.t == pytest.approx(stop * 1e-4)
    assert any(in_flight), "no split had spikes in flight: the test would not exercise the ring buffer"
    assert_bitwise(recorded(net), uninterrupted[backend])


def test_restore_into_same_network_rewinds(tmp_path, uninterrupted):
    """Restoring a network's own earlier checkpoint rewinds it: running on from there repeats
    the uninterrupted run exactly (numba)."""
    net = build()
    net.run("12 ms", backend="numba")
    net.save_state(tmp_path / "a.ckpt")
    net.run("5 ms", backend="numba")
    net.restore(tmp_path / "a.ckpt")
    net.run("18 ms", backend="numba")
    assert_bitwise(recorded(net), uninterrupted["numba"])


def test_every_piece_of_state_matters(tmp_path, uninterrupted):
    """Sensitivity check of the tests above: at a split at 11.1 ms, a checkpoint with any one of
    its live arrays cleared (or set to ones where it is all zeros) gives a different continuation,
    so bitwise equality there means each was saved and put back. Two are exempt because clearing
    them changes nothing by design: ``row_uniform`` (0 only turns off the shared-weight fast path)
    and ``hit`` (same-step marks, read only when a spike arrives in the very step of a
    postsynaptic spike)."""
    net = build()
    net.run("11.1 ms", backend="numba")
    path = tmp_path / "c.ckpt"
    net.save_state(path)
    with np.load(path) as data:
        saved = dict(data)
    live = [k for k in saved if k.startswith("live.") and saved[k].size
            and k not in ("live.syn.row_uniform", "live.plastic.hit")]
    assert len(live) == 17
    for key in live:
        broken = np.zeros_like(saved[key]) if saved[key].any() else np.ones_like(saved[key])
        write_npz(tmp_path / "broken.ckpt", {**saved, key: broken})
        other = build()
        other.restore(tmp_path / "broken.ckpt")
        other.run("18.9 ms", backend="numba")
        got = recorded(other)
        assert any(got[k].tobytes() != v.tobytes() for k, v in uninterrupted["numba"].items()), key


def test_cross_backend_restore(tmp_path):
    """The layout is the backends' common state: a checkpoint written after a numba run restores
    into a network that continues on numpy, and the continuation equals numba's own (numpy and
    numba give the same bits, as the engine's tests require)."""
    a = build()
    a.run("8 ms", backend="numba")
    a.save_state(tmp_path / "x.ckpt")
    b = build()
    b.restore(tmp_path / "x.ckpt")
    a.run("4 ms", backend="numba")
    b.run("4 ms", backend="numpy")
    assert_bitwise(recorded(a), recorded(b))


def test_static_network_without_inputs(tmp_path):
    """The plain kernel (no plasticity, no per-target inputs or noise: empty tables) resumes bit
    for bit too; a state monitor sampling every 2.5 ms with blocks of 23 steps hands out empty
    blocks, which the checkpoint keeps as they are."""
    def make() -> Network:
        net = Network(dt="0.1 ms", seed=5, block_steps=23)
        e = net.population("e", 30, LIF(v_rest="-60 mV", v_th="-50 mV", v_reset="-60 mV", t_ref="2 ms"),
                           v_init=Uniform("-60 mV", "-50 mV"))
        s = net.poisson_source("s", 20, rate="900 Hz")
        net.connect(s, e, FixedProbability(0.3), weight="2 mV", delay=Uniform("0.1 ms", "1.5 ms"))
        net.connect(e, e, FixedProbability(0.2), weight="1 mV", delay="1.1 ms")
        net.spike_monitor(e)
        net.state_monitor(e, "v", indices=[1, 2], interval="5 ms")
        return net
    whole = make()
    whole.run("20 ms", backend="numba")
    net = make()
    net.run("7.3 ms", backend="numba")
    net.save_state(tmp_path / "s.ckpt")
    net = make()
    net.restore(tmp_path / "s.ckpt")
    net.run("12.7 ms", backend="numba")
    assert whole.spike_counts["e"] > 20
    assert_bitwise(recorded(net), recorded(whole))


def test_journal_replays_what_was_synced(tmp_path):
    """The recording journal of a checkpointed run: blocks appended after the last sync (what a
    killed run wrote after its checkpoint) are cut off, and the synced rows come back in order,
    with their dtypes and widths, empty blocks included, in blocks of at most REPLAY_ROWS."""
    journal = Journal(tmp_path / "j")
    journal.start()
    rng = np.random.default_rng(0)
    blocks = [{"t": rng.random(n), "v": rng.random((n, 3)).astype(np.float32)} for n in (5, 0, 7)]
    for b in blocks:
        journal.append(0, b)
    journal.append(1, {"t": np.zeros(0), "i": np.zeros(0, np.int64)})
    saved = journal.sync()
    journal.append(0, {"t": rng.random(4), "v": rng.random((4, 3)).astype(np.float32)})  # after the checkpoint
    journal.sync()
    sinks, resumed = [MemorySink(), MemorySink()], Journal(tmp_path / "j")
    resumed.REPLAY_ROWS = 5
    resumed.replay(saved, [None, None], sinks)
    assert [b["t"].size for b in sinks[0]._blocks] == [5, 5, 2]
    assert sinks[0].get("v", None).dtype == np.float32
    for key in ("t", "v"):
        assert np.array_equal(sinks[0].get(key, None), np.concatenate([b[key] for b in blocks]))
    assert len(sinks[1]._blocks) == 1 and sinks[1].get("i", None).dtype == np.int64


@pytest.mark.parametrize("change, named", [
    (dict(n_exc=41), "population exc"),
    (dict(seed=8), "seed"),
    (dict(dt="0.05 ms"), "dt"),
    (dict(precision="float32"), "precision"),
])
def test_structure_mismatch_is_named(tmp_path, change, named):
    """Restoring into a network of another structure raises ValueError naming what differs
    (size, seed — whose connectivity also differs —, time step, precision)."""
    net = build()
    net.run("1 ms", backend="numpy")
    net.save_state(tmp_path / "m.ckpt")
    with pytest.raises(ValueError, match=named):
        build(**change).restore(tmp_path / "m.ckpt")


def test_extra_projection_is_named(tmp_path):
    """A connection the checkpoint does not know is named in the error."""
    net = build()
    net.save_state(tmp_path / "p.ckpt")
    other = build()
    other.connect(other.groups[1], other.groups[1], FixedProbability(0.1), weight="0.1 mV", name="extra")
    with pytest.raises(ValueError, match="connection extra: absent in the checkpoint"):
        other.restore(tmp_path / "p.ckpt")


def test_save_is_atomic(tmp_path, monkeypatch):
    """A save that fails midway leaves the previous checkpoint intact and no temporary file."""
    net = build()
    path = tmp_path / "a.ckpt"
    net.save_state(path)
    before = path.read_bytes()
    net.run("1 ms", backend="numpy")

    def boom(*args, **kwargs):
        raise OSError("disk gone")
    monkeypatch.setattr(np, "savez", boom)
    with pytest.raises(OSError, match="disk gone"):
        net.save_state(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["a.ckpt"]
    assert read_meta(path)["step"] == 0


def test_other_backends_refused(tmp_path):
    """CUDA and Brian2 keep state of their own: saving after such a run, or running such a backend
    after a restore, raises NotImplementedError naming the backend."""
    net = build()
    net._ran_on = "brian2"  # as Network.run records it
    with pytest.raises(NotImplementedError, match="brian2"):
        net.save_state(tmp_path / "b.ckpt")
    net._ran_on = None
    net.save_state(tmp_path / "b.ckpt")
    other = build()
    other.restore(tmp_path / "b.ckpt")
    with pytest.raises(NotImplementedError, match="'brian2'"):
        other.run("1 ms", backend="brian2")


# --------------------------------------------------------------------------- neurosim run --checkpoint-every
#: a plastic network with delays, Poisson sources and inputs, noise and a modulator, on the numpy
#: backend (slow enough, about 1 ms per step, for a kill to land mid-run)
SCENARIO = {
    "schema_version": 1, "name": "ckpt",
    "simulation": {"duration": "150 ms", "dt": "0.1 ms", "seed": 3, "backend": "numpy"},
    "model": {
        "populations": [
            {"name": "exc", "size": 40, "neuron": {"model": "CubaLIF", "v_rest": "-60 mV", "v_th": "-50 mV",
                                                   "v_reset": "-60 mV", "t_ref": "1 ms"},
             "v_init": {"dist": "uniform", "low": "-60 mV", "high": "-50 mV"}},
            {"name": "inh", "size": 10, "neuron": {"model": "LIF", "v_rest": "-60 mV", "v_th": "-50 mV",
                                                   "v_reset": "-60 mV", "t_ref": "0.5 ms"}}],
        "sources": [{"name": "noise", "type": "poisson", "size": 16, "rate": "300 Hz"}],
        "connections": [
            {"name": "in", "pre": "noise", "post": "exc", "connector": {"type": "fixed_probability", "p": 0.3},
             "weight": {"dist": "uniform", "low": "40 pA", "high": "90 pA"},
             "delay": {"dist": "uniform", "low": "0 ms", "high": "1 ms"},
             "plasticity": {"rule": "stdp", "a_plus": "3 pA", "a_minus": "3.5 pA", "w_max": "150 pA"}},
            {"name": "ee", "pre": "exc", "post": "exc", "connector": {"type": "fixed_probability", "p": 0.15},
             "weight": {"dist": "uniform", "low": "20 pA", "high": "80 pA"},
             "delay": {"dist": "uniform", "low": "0 ms", "high": "2 ms"},
             "plasticity": {"rule": "stdp", "a_plus": "3 pA", "a_minus": "3.5 pA", "w_max": "150 pA"}},
            {"name": "ei", "pre": "exc", "post": "inh", "connector": {"type": "fixed_probability", "p": 0.3},
             "weight": "0.9 mV", "delay": "0.5 ms"},
            {"name": "ie", "pre": "inh", "post": "exc", "connector": {"type": "fixed_probability", "p": 0.3},
             "weight": "-100 pA", "delay": "1.3 ms"}],
        "inputs": [{"target": "inh", "n": 200, "rate": "20 Hz", "weight": "0.3 mV"}],
        "noise": [{"target": "exc", "sigma": "300 pA/ms**0.5", "mean": "20 pA/ms"}],
        "modulators": [{"name": "astro", "tau": "2 ms", "weight": 0.02, "bias": 0.5, "targets": ["ee"],
                        "drive": [{"population": "exc"}]}]},
    "record": [{"type": "spikes"}, {"type": "state", "populations": ["exc"], "variables": ["v", "i_exc"],
                                    "indices": [0, 5, 7], "interval": "0.2 ms"},
               {"type": "rate"}, {"type": "weights"}],
}


def _cli(*args: object) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "neurosim.cli", "run", *map(str, args), "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _datasets(path: Path) -> dict[str, np.ndarray]:
    """Every dataset of a results file except the metrics that measure the machine: wall-clock
    times and the build's peak memory (tracemalloc)."""
    out = {}
    with h5py.File(path) as f:
        f.visititems(lambda name, obj: out.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return {k: v for k, v in out.items() if k.split("/")[-1] not in ("build_s", "sim_wall_s", "realtime_factor",
                                                                               "bytes_per_synapse_peak")}


def test_killed_run_resumes_from_its_checkpoint(tmp_path):
    """``neurosim run --checkpoint-every 10ms`` killed by SIGKILL after its first checkpoints, then
    run again with the same command, resumes from the last checkpoint (it does not start over:
    its log says so) and writes results whose every dataset (spikes, state reports, rates,
    learned weights, spike-count metrics) equals bit for bit those of an uninterrupted run; the
    checkpoint and its journal are removed once the results are in place."""
    import tomli_w

    toml = tmp_path / "ckpt.toml"
    toml.write_text(tomli_w.dumps(SCENARIO))
    out = tmp_path / "killed.h5"
    proc = _cli(toml, "--out", out, "--checkpoint-every", "10ms")
    ckpt = out.with_name(out.name + ".ckpt")
    deadline = time.time() + 60
    while not (ckpt.is_file() and read_meta(ckpt)["step"] >= 200):  # a checkpoint after the first
        assert proc.poll() is None and time.time() < deadline, proc.communicate()
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    step = read_meta(ckpt)["step"]
    assert not out.exists() and 200 <= step < 1500
    reference = _cli(toml, "--out", tmp_path / "whole.h5")
    again = _cli(toml, "--out", out, "--checkpoint-every", "10ms")
    for p in (reference, again):
        assert p.wait(timeout=120) == 0, p.communicate()
    assert "resumed from the checkpoint" in out.with_suffix(".log").read_text()
    assert not ckpt.exists() and not out.with_name(out.name + ".ckpt.d").exists()
    got, want = _datasets(out), _datasets(tmp_path / "whole.h5")
    assert got.keys() == want.keys() and "spikes/exc/timestamps" in got and "report/exc/data" in got
    for key in want:
        assert np.asarray(got[key]).tobytes() == np.asarray(want[key]).tobytes(), key


@pytest.mark.parametrize("value", ["-1 s", "nan", "0", "abc", "5 mV"])
def test_bad_checkpoint_every_exits_2(tmp_path, capsys, value):
    """A checkpoint interval that is not a positive time exits 2 naming ``--checkpoint-every``."""
    from neurosim.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["run", "scenarios/quickstart.toml", "--out", str(tmp_path / "q.h5"), f"--checkpoint-every={value}"])
    assert exc.value.code == 2
    assert "argument --checkpoint-every" in capsys.readouterr().err


def test_checkpoint_every_applies_to_simulate_only(tmp_path, capsys):
    """``--checkpoint-every`` on a task other than ``simulate`` exits 2 naming it, before running."""
    from neurosim.cli import main

    assert main(["run", "scenarios/hopfield_capacity.toml", "--out", str(tmp_path / "h.h5"),
                 "--checkpoint-every", "1 s"]) == 2
    assert "--checkpoint-every: applies to the simulate task" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_interrupted_run_resumes_and_stale_checkpoints_are_not_used(tmp_path, monkeypatch, capsys):
    """In one process (cheap): a run stopped by Ctrl-C right after its second checkpoint exits 130
    and keeps the checkpoint; the same command resumes from it and gives the uninterrupted run's
    datasets bit for bit. A checkpoint whose journal was deleted, or one of another config (seed),
    is not used: the run starts from t = 0, says why in its log, and still gives the right results."""
    import tomli_w

    from neurosim import checkpoint
    from neurosim.cli import main

    toml = tmp_path / "ckpt.toml"
    toml.write_text(tomli_w.dumps({**SCENARIO, "simulation": {**SCENARIO["simulation"], "duration": "30 ms"}}))
    assert main(["run", str(toml), "--out", str(tmp_path / "whole.h5"), "--quiet"]) == 0
    want = _datasets(tmp_path / "whole.h5")
    out = tmp_path / "cut.h5"
    save, calls = checkpoint.save, []

    def save_then_stop(*args, **kwargs):
        save(*args, **kwargs)
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt

    def stop_after_two_checkpoints() -> None:
        calls.clear()
        monkeypatch.setattr(checkpoint, "save", save_then_stop)
        assert main(["run", str(toml), "--out", str(out), "--quiet", "--checkpoint-every", "5 ms"]) == 130
        monkeypatch.setattr(checkpoint, "save", save)
        assert read_meta(out.with_name("cut.h5.ckpt"))["step"] == 100 and not out.exists()

    def finish(*extra: str) -> str:
        log = out.with_suffix(".log")
        log.unlink(missing_ok=True)
        assert main(["run", str(toml), "--out", str(out), "--quiet", "--checkpoint-every", "5 ms", *extra]) == 0
        assert not out.with_name("cut.h5.ckpt").exists()
        return log.read_text()

    stop_after_two_checkpoints()
    assert "resumed from the checkpoint" in finish()
    got = _datasets(out)
    assert got.keys() == want.keys() and all(got[k].tobytes() == want[k].tobytes() for k in want)
    out.unlink()
    stop_after_two_checkpoints()
    for f in out.with_name("cut.h5.ckpt.d").iterdir():
        f.unlink()
    assert "cannot resume from the checkpoint" in finish()
    got = _datasets(out)
    assert all(got[k].tobytes() == want[k].tobytes() for k in want)
    out.unlink()
    stop_after_two_checkpoints()
    assert "is of another config" in finish("--set", "simulation.seed=4")
    assert _datasets(out)["spikes/exc/timestamps"].tobytes() != want["spikes/exc/timestamps"].tobytes()
    capsys.readouterr()
