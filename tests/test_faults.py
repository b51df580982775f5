"""Faults (issue 12, item 4): full disks, interrupted and concurrent runs, outputs that cannot
work, malformed input and damaged results files. Every case checks the exit status, a message
naming the field or path, and that nothing is left behind (no partial file, no lock, no stray log)."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
import weakref
from pathlib import Path

import h5py
import numpy as np
import pytest
import tomli_w

from neurosim import cli, signals
from neurosim.cli import main
from neurosim.io import ResultsWriter, load
from neurosim.io.lock import OutputLock

TINY = {
    "schema_version": 1,
    "name": "tiny",
    "simulation": {"duration": "5 ms", "dt": "0.1 ms", "seed": 1},
    "model": {"populations": [{"name": "exc", "size": 5, "neuron": {
        "model": "CubaLIF", "v_rest": "-49 mV", "v_th": "-50 mV", "v_reset": "-60 mV"}}]},
    "record": [{"type": "spikes"}],
}
#: fires every few steps: 1000 neurons fill megabytes with spikes in a simulated second
SPIKY = {**TINY, "name": "spiky", "simulation": {"duration": "600 s", "dt": "0.1 ms", "seed": 1},
         "model": {"populations": [{"name": "exc", "size": 1000, "neuron": {
             "model": "CubaLIF", "v_rest": "0 mV", "v_th": "-50 mV", "v_reset": "-60 mV"}}]}}
#: runs for hours unless stopped, writing next to nothing: for the tests that stop a run
LONG = {**SPIKY, "name": "long", "simulation": {"duration": "100000 s", "dt": "0.1 ms", "seed": 1},
        "model": {"populations": [{"name": "exc", "size": 1000, "neuron": {"model": "CubaLIF"}}]}}


def scenario(folder: Path, config: dict = TINY, name: str = "scenario.toml", **changes) -> Path:
    path = folder / name
    path.write_text(tomli_w.dumps({**config, **changes}))
    return path


def run(*args) -> int:
    """``neurosim ARGS`` in this process; argparse's refusals return their status too."""
    try:
        return main([str(a) for a in args])
    except SystemExit as exc:
        return int(exc.code)


def hidden(folder: Path) -> list[str]:
    """Partial and lock files in ``folder`` (and below)."""
    return sorted(p.name for p in folder.rglob(".*") if ".partial-" in p.name or p.name.endswith(".lock"))


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def start(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "neurosim.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def wait_for(pattern: str, folder: Path, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while not list(folder.glob(pattern)):
        assert proc.poll() is None and time.time() < deadline, proc.communicate()
        time.sleep(0.05)


# ------------------------------------------------------------------------------------- full disk
@pytest.fixture
def small_disk(tmp_path):
    """A 3 MiB tmpfs, where this sandbox lets us mount one."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(disk)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (test_full_disk_injected covers the writer)")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


def test_full_disk_on_a_small_tmpfs(small_disk, tmp_path):
    """A real ENOSPC from HDF5, in a child process: a segfault there must not crash the tests."""
    old, new = small_disk / "old.h5", small_disk / "new.h5"
    assert run("run", scenario(tmp_path), "--out", old, "--quiet") == 0
    before = load(old).metrics
    proc = subprocess.run([sys.executable, "-m", "neurosim.cli", "run", str(scenario(tmp_path, SPIKY, "spiky.toml")),
                           "--out", str(new), "--quiet", "--set", 'simulation.duration="20 s"'],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert one_line(proc.stderr) == f"neurosim: no space left on device: {new}"
    assert not new.exists() and hidden(small_disk) == []
    assert load(old).complete and load(old).metrics == before


@pytest.mark.parametrize("where", ["append", "flush"])
def test_full_disk_injected(tmp_path, capsys, monkeypatch, where):
    """ENOSPC while streaming (append) or finalising (flush): earlier results stay, even with
    output.overwrite = "overwrite"."""
    path, out = scenario(tmp_path), tmp_path / "out.h5"
    assert run("run", path, "--out", out, "--quiet") == 0
    before = load(out).metrics
    capsys.readouterr()
    hdf5_error = RuntimeError("Can't decrement id ref count (file write failed: errno = 28, error message = "
                              "'No space left on device')")

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device") if where == "append" else hdf5_error
    monkeypatch.setattr("neurosim.io.writer.append" if where == "append" else "h5py.File.flush", full)
    assert run("run", path, "--out", out, "--quiet", "--set", 'output.overwrite="overwrite"') == 1
    assert one_line(capsys.readouterr().err) == f"neurosim: no space left on device: {out}"
    assert hidden(tmp_path) == [] and load(out).metrics == before


# ------------------------------------------------------------------------------------- resume
def test_resume_skips_only_identical_results_and_obeys_overwrite(tmp_path, capsys):
    path, out = scenario(tmp_path), tmp_path / "out.h5"
    assert run("run", path, "--out", out, "--quiet") == 0
    stamp, log = out.stat().st_mtime_ns, out.with_suffix(".log").read_text()
    assert run("run", path, "--out", out, "--quiet", "--resume") == 0
    assert out.stat().st_mtime_ns == stamp
    capsys.readouterr()
    other = ("--set", 'simulation.duration="3 ms"')
    assert run("run", path, "--out", out, "--quiet", "--resume", *other) == 2
    line = one_line(capsys.readouterr().err)
    assert line.startswith(f"neurosim: output.path: {out} exists with other results") and line.count("exists") == 1
    assert out.stat().st_mtime_ns == stamp and out.with_suffix(".log").read_text() == log  # refused: no log
    assert run("run", path, "--out", out, "--quiet", "--resume", *other, "--set", 'output.overwrite="overwrite"') == 0
    assert load(out).duration == pytest.approx(0.003) and hidden(tmp_path) == []


def test_exists_is_said_once(tmp_path, capsys):
    path, out = scenario(tmp_path), tmp_path / "out.h5"
    assert run("run", path, "--out", out, "--quiet") == 0
    capsys.readouterr()
    assert run("run", path, "--out", out, "--quiet") == 2
    line = one_line(capsys.readouterr().err)
    assert line == (f'neurosim: output.path: {out} exists; set output.overwrite = "overwrite", choose another '
                    "--out, or use --resume")


# ------------------------------------------------------------------------------------- signals, locks
def test_sigterm_cleans_up_like_ctrl_c_and_a_second_run_is_refused(tmp_path, capsys):
    out = tmp_path / "out.h5"
    proc = start("run", str(scenario(tmp_path, LONG)), "--out", str(out), "--quiet")
    try:
        wait_for(".out.h5.partial-*", tmp_path, proc)
        # a second run of the same output, even with overwrite, is refused before it writes anything
        assert run("run", scenario(tmp_path, name="other.toml"), "--out", out, "--quiet",
                   "--set", 'output.overwrite="overwrite"') == 2
        assert one_line(capsys.readouterr().err) == (
            f"neurosim: output.path: {out} is being written by another run (pid {proc.pid}); wait for it to "
            "finish or choose another --out")
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM
    assert one_line(err) == "neurosim: interrupted (SIGTERM); the partial results were discarded"
    assert not out.exists() and hidden(tmp_path) == []
    log = out.with_suffix(".log").read_text()
    assert log.count(" INFO scenario ") == 1 and "interrupted (SIGTERM)" in log  # one run's log only


def test_a_lock_held_elsewhere_refuses_the_run(tmp_path, capsys):
    """The lock as another thread (or process) holds it: refused, nothing written, lock kept."""
    import threading

    out = tmp_path / "out.h5"
    lock, held, done = OutputLock(out), threading.Event(), threading.Event()

    def hold():
        with lock:
            held.set()
            done.wait(30)
    holder = threading.Thread(target=hold)
    holder.start()
    try:
        held.wait(30)
        assert run("run", scenario(tmp_path), "--out", out, "--quiet") == 2
        assert f"{out} is being written by another run (pid {os.getpid()})" in one_line(capsys.readouterr().err)
        assert sorted(p.name for p in tmp_path.iterdir()) == [".out.h5.lock", "scenario.toml"]
    finally:
        done.set()
        holder.join()
    assert hidden(tmp_path) == []


def test_a_file_that_appears_during_the_run_is_not_replaced(tmp_path):
    """The final move cannot clobber (hard link): the results are kept under a visible name."""
    out = tmp_path / "run.h5"
    writer = ResultsWriter(out)
    writer.write_metric("x", 1.0)
    out.write_text("written meanwhile by something else")
    with pytest.raises(FileExistsError) as info:
        writer.close()
    kept = tmp_path / f"run.{os.getpid()}.h5"
    assert info.value.filename == str(out) and str(kept) in info.value.strerror
    assert out.read_text() == "written meanwhile by something else" and load(kept).metrics == {"x": 1.0}
    assert hidden(tmp_path) == []


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_stale_partial_and_lock_files_are_removed_by_the_next_run(tmp_path):
    out, gone = tmp_path / "out.h5", dead_pid()
    (tmp_path / f".out.h5.partial-{gone}").write_bytes(b"half a file")
    (tmp_path / ".out.h5.lock").write_text(f"{gone} {os.uname().nodename}\n")
    alive = tmp_path / ".out.h5.partial-1"  # pid 1 is alive: not ours to remove
    alive.write_bytes(b"someone else's")
    assert run("run", scenario(tmp_path), "--out", out, "--quiet") == 0
    assert load(out).complete and hidden(tmp_path) == [alive.name]


def test_ctrl_c_in_a_sweep_keeps_the_finished_points(tmp_path):
    durations = {"mode": "zip", "params": {"simulation.duration": ["5 ms", "5 ms", "100000 s"]}}
    out, folder = tmp_path / "sweep.h5", tmp_path / "sweep"
    proc = start("run", str(scenario(tmp_path, LONG, sweep=durations)), "--out", str(out), "--quiet")
    try:
        wait_for(".point_0002.h5.partial-*", folder, proc)
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGINT
    line = one_line(err)
    assert "after 2 of 3 sweep points" in line and "--resume" in line and "partial results were discarded" not in line
    assert [load(folder / f"point_{i:04d}.h5").complete for i in (0, 1)] == [True, True]
    assert not (folder / "point_0002.h5").exists() and not out.exists() and hidden(tmp_path) == []


class _Referent:
    pass


def _raise_in_weakref_callback(exc: BaseException) -> None:
    def callback(_: weakref.ref) -> None:
        raise exc
    referent = _Referent()
    ref = weakref.ref(referent, callback)
    del referent  # Python calls the callback now and cannot propagate what it raises
    assert ref() is None


@pytest.mark.parametrize("signalled", [True, False], ids=["after a signal", "no signal"])
def test_an_interrupt_swallowed_by_a_callback_is_not_printed(monkeypatch, signalled):
    """Ctrl-C can land in a weakref callback; the run stops at the next block without Python's
    'Exception ignored' report, while unrelated unraisable exceptions are still reported."""
    reported = []
    recorder = lambda info: reported.append(type(info.exc_value))  # noqa: E731
    monkeypatch.setattr(sys, "unraisablehook", recorder)
    restore = cli._catch_signals()
    try:
        if signalled:
            signals.received.append(signal.SIGINT)
        _raise_in_weakref_callback(KeyboardInterrupt())
        _raise_in_weakref_callback(ValueError("not ours"))
    finally:
        restore()
        signals.received.clear()
    assert reported == ([ValueError] if signalled else [KeyboardInterrupt, ValueError])
    assert sys.unraisablehook is recorder


def test_ctrl_c_in_a_dask_sweep_stops_the_workers_and_cleans_up(tmp_path):
    """Ctrl-C at a terminal signals the whole process group, Dask's workers too."""
    durations = {"mode": "zip", "params": {"simulation.duration": ["5 ms", "5 ms", "100000 s", "100000 s"]}}
    out, folder = tmp_path / "sweep.h5", tmp_path / "sweep"
    proc = subprocess.Popen([sys.executable, "-m", "neurosim.cli", "run", str(scenario(tmp_path, LONG, sweep=durations)),
                             "--out", str(out), "--quiet", "--workers", "2"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        wait_for("point_0001.h5", folder, proc, timeout=120)
        wait_for(".point_0003.h5.partial-*", folder, proc, timeout=120)
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGINT
    assert "after 2 of 4 sweep points" in one_line(err)
    assert [load(folder / f"point_{i:04d}.h5").complete for i in (0, 1)] == [True, True]
    assert not out.exists() and hidden(tmp_path) == []


# ------------------------------------------------------------------------------------- checked up front
OUTPUTS = [
    ("folder", lambda t: t, "output.path: {t} is a directory"),
    ("log", lambda t: t / "run.log", "output.path: {t}/run.log ends in .log"),
    ("inside a file", lambda t: t / "scenario.toml" / "run.h5", "output.path: {t}/scenario.toml is not a directory"),
    ("sweep without suffix", lambda t: t / "sweep", "output.path: {t}/sweep: a sweep's index file needs a suffix"),
]


@pytest.mark.parametrize("name, out, message", OUTPUTS, ids=[o[0] for o in OUTPUTS])
def test_outputs_that_cannot_work_are_refused_before_running(tmp_path, capsys, name, out, message):
    sweep = {"params": {"simulation.seed": [1, 2]}} if "sweep" in name else None
    path = scenario(tmp_path, **({"sweep": sweep} if sweep else {}))
    assert run("run", path, "--out", out(tmp_path), "--quiet") == 2
    assert message.format(t=tmp_path) in one_line(capsys.readouterr().err)
    assert run("validate", path, "--set", f"output.path={json.dumps(str(out(tmp_path)))}") == 2
    assert message.format(t=tmp_path) in one_line(capsys.readouterr().err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scenario.toml"]  # no log, lock, folder


@pytest.mark.parametrize("option, value, message", [
    ("--workers", "-1", "argument --workers: must be at least 1, got -1"),
    ("--workers", "0", "argument --workers: must be at least 1, got 0"),
    ("--workers", "two", "argument --workers: expected a number of workers, got 'two'"),
    ("--scheduler", "garbage", "argument --scheduler: 'garbage' is not a Dask scheduler address"),
    ("--scheduler", "tcp://host:99999", "argument --scheduler: 'tcp://host:99999' is not a Dask scheduler address"),
])
def test_bad_workers_and_scheduler_exit_2(tmp_path, capsys, option, value, message):
    assert run("run", scenario(tmp_path), "--out", tmp_path / "out.h5", option, value) == 2
    assert message in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scenario.toml"]


def test_scheduler_addresses():
    for good in ("tcp://127.0.0.1:8786", "localhost:8786", "tls://[::1]:8786", "tcp://scheduler.cluster.local:1"):
        assert cli._address(good) == good
    for bad in ("garbage", "tcp://host", "tcp://host:0", "http://host:8786", "tcp://:8786"):
        with pytest.raises(Exception, match="not a Dask scheduler address"):
            cli._address(bad)


# ------------------------------------------------------------------------------------- malformed input
def test_deeply_nested_toml_and_set_through_a_value(tmp_path, capsys):
    for depth, text in ((2000, "x = " + "[" * 2000 + "]" * 2000), (500, "x = " + "{a = " * 500 + "1" + "}" * 500),
                        (40, "x = " + "[" * 40 + "]" * 40)):
        path = tmp_path / f"deep{depth}.toml"
        path.write_text(f"schema_version = 1\n{text}\n")
        assert run("run", path, "--out", tmp_path / "out.h5") == 2, depth
        assert f"{path}: nested more than 32 levels deep" in one_line(capsys.readouterr().err)
    path = scenario(tmp_path)
    assert run("run", path, "--out", tmp_path / "out.h5", "--set", "simulation.duration.x.y=1") == 2
    assert ("--set simulation.duration.x.y=1: simulation.duration is a string ('5 ms'), not a table or list"
            in one_line(capsys.readouterr().err))
    assert run("validate", path, "--set", "model.x=" + "[" * 50 + "]" * 50) == 2
    assert "--set model.x: the value is nested more than 32 levels deep" in one_line(capsys.readouterr().err)
    assert not list(tmp_path.glob("out*")) and hidden(tmp_path) == []


# ------------------------------------------------------------------------------------- unreadable results
@pytest.fixture
def results(tmp_path) -> Path:
    out = tmp_path / "run.h5"
    assert run("run", scenario(tmp_path), "--out", out, "--quiet") == 0
    return out


def damage(results: Path, kind: str) -> Path:
    path = results.with_name(f"{kind}.h5")
    if kind == "truncated":
        data = results.read_bytes()
        path.write_bytes(data[:len(data) // 2])
    elif kind == "text":
        path.write_text("name,value\nx,1\n")
    else:
        with h5py.File(path, "w") as f:
            f["x"] = np.arange(3)
    return path


@pytest.mark.parametrize("kind, reason", [("truncated", "truncated"), ("text", "not an HDF5 file"),
                                          ("foreign", "not a neurosim results file")])
@pytest.mark.parametrize("command", ["inspect", "plot", "export"])
def test_damaged_and_foreign_files_exit_2_with_one_line(results, capsys, kind, reason, command):
    path = damage(results, kind)
    extra = ["--target", "nir", "--out", results.parent / "m.nir"] if command == "export" else []
    assert run(command, path, *extra) == 2
    line = one_line(capsys.readouterr().err)
    assert line.startswith(f"neurosim: {path}: ")
    assert (reason if command != "export" or kind != "foreign" else "without a trained model") in line
    assert not (results.parent / "m.nir").exists() and not list(results.parent.glob("*_plots"))


@pytest.mark.skipif(os.environ.get("HDF5_USE_FILE_LOCKING", "").upper() == "FALSE", reason="HDF5 locking is off")
@pytest.mark.parametrize("command", ["inspect", "plot", "export"])
def test_a_file_locked_by_its_writer_exits_2(results, capsys, command):
    fd = os.open(results, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)  # as HDF5 does for a process writing the file
    try:
        extra = ["--target", "nir", "--out", results.parent / "m.nir"] if command == "export" else []
        assert run(command, results, *extra) == 2
    finally:
        os.close(fd)
    assert one_line(capsys.readouterr().err) == (f"neurosim: {results}: locked by another process (a run still "
                                                 "writing it?); try again when it has finished")


def test_plot_into_a_file_names_its_own_option(results, capsys):
    assert run("plot", results, "--out", results) == 2
    line = one_line(capsys.readouterr().err)
    assert line == f"neurosim: --out: {results} is a file, not a folder; give a folder"
    assert "--resume" not in line and "overwrite" not in line


def test_inspect_into_a_closed_pipe_exits_quietly(results):
    proc = subprocess.Popen([sys.executable, "-m", "neurosim.cli", "inspect", str(results)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.close()  # `| head` that has gone away before inspect writes
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGPIPE and err == b""


# ------------------------------------------------------------------------------------- integrity
def test_inspect_reports_corrupt_spikes(results, capsys):
    assert run("inspect", results) == 0
    with h5py.File(results, "a") as f:
        group = f["spikes/exc"]
        for name, values in (("timestamps", [1.0, 0.5, 99.0]), ("node_ids", [0, 1, 77])):
            group[name].resize((3,))
            group[name][:] = values
    capsys.readouterr()
    assert run("inspect", results) == 2
    captured = capsys.readouterr()
    corrupt = [line for line in captured.out.splitlines() if line.startswith("CORRUPT: ")]
    assert corrupt == ["CORRUPT: /spikes/exc/timestamps: not sorted by time (from index 1)",
                       "CORRUPT: /spikes/exc/timestamps: a spike time outside the run's [0, 5] ms (index 2)",
                       "CORRUPT: /spikes/exc/node_ids: node id 77 at index 2 is outside the population of 5 neurons"]
    assert one_line(captured.err) == (f"neurosim: {results}: corrupt: /spikes/exc/timestamps: not sorted by time "
                                      "(from index 1) (and 2 more problems)")
    assert run("inspect", results, "--json") == 2
    assert '"problems": ["/spikes/exc/timestamps: not sorted' in capsys.readouterr().out


# ------------------------------------------------------------------------------------- messages
def test_writer_messages_show_plain_numbers(tmp_path):
    with pytest.raises(ValueError) as info:
        ResultsWriter(tmp_path / "a.h5", root_seed=np.int64(-3))
    assert str(info.value) == "root_seed: must be an integer in [0, 2**64), got -3"
    with ResultsWriter(tmp_path / "b.h5") as w:
        with pytest.raises(ValueError, match="^metric x: must be numeric, got str$"):
            w.write_metric("x", "high")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.h5"]


# ------------------------------------------------------------------------------------- nothing of the user's is replaced
def test_run_never_replaces_a_file_that_is_not_its_results(tmp_path, capsys):
    path = scenario(tmp_path)
    original = path.read_bytes()
    for target in (path, tmp_path / "notes.txt"):
        target.write_bytes(original)
        assert run("run", path, "--out", target, "--quiet", "--set", 'output.overwrite="overwrite"') == 2
        assert f"output.path: {target} exists and is not a neurosim results file" in one_line(capsys.readouterr().err)
        assert target.read_bytes() == original
    out = tmp_path / "out.h5"
    assert run("run", path, "--out", out, "--quiet") == 0  # its own results it replaces when asked
    assert run("run", path, "--out", out, "--quiet", "--set", 'output.overwrite="overwrite"') == 0


def test_a_signal_whose_exception_was_swallowed_still_stops_the_run(tmp_path, capsys, monkeypatch):
    """Python drops an exception raised in a weakref callback; the run checks between blocks."""
    from neurosim import signals
    from neurosim.network import Network

    warm_up = Network.warm_up

    def swallowed(self, backend="auto"):
        warm_up(self, backend)
        signals.received.append(signal.SIGINT)  # the handler ran, its KeyboardInterrupt was lost

    monkeypatch.setattr(Network, "warm_up", swallowed)
    out = tmp_path / "out.h5"
    assert run("run", scenario(tmp_path, LONG), "--out", out, "--quiet") == 130
    assert one_line(capsys.readouterr().err) == "neurosim: interrupted (SIGINT); the partial results were discarded"
    assert not out.exists() and hidden(tmp_path) == []


def test_a_file_system_without_flock_falls_back_to_an_exclusive_lock_file(tmp_path, capsys, monkeypatch):
    import fcntl

    def no_flock(fd, op):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_flock)
    out = tmp_path / "out.h5"
    assert run("run", scenario(tmp_path), "--out", out, "--quiet") == 0
    assert out.is_file() and hidden(tmp_path) == []


def test_a_source_without_end_may_say_stop_inf(tmp_path, capsys):
    config = {**TINY, "model": {**TINY["model"], "sources": [
        {"name": "noise", "type": "poisson", "size": 3, "rate": "10 Hz", "stop": float("inf")}]}}
    assert run("validate", scenario(tmp_path, config)) == 0
