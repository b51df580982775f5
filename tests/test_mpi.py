"""A network spread over MPI ranks (``mpirun -n K``, MPICH from its wheel) records the spikes,
states and rates of one process, bit for bit; ``neurosim run`` under mpirun writes one results file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("mpi4py", reason="the [mpi] extra (mpi4py, mpich) is not installed")

HERE = Path(__file__).parent
MPIRUN = Path(sys.executable).parent / "mpirun"


def mpirun(ranks: int, *command: str) -> subprocess.CompletedProcess:
    """``command`` alone (``ranks`` 0) or under ``mpirun -n ranks``."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}
    launcher = [str(MPIRUN), "-n", str(ranks)] if ranks else []
    return subprocess.run([*launcher, *command], env=env, capture_output=True, text=True, timeout=900)


def recordings(name: str, ranks: int, tmp_path: Path) -> dict[str, np.ndarray]:
    out = tmp_path / f"{name}_{ranks}.npz"
    done = mpirun(ranks, sys.executable, str(HERE / "mpi" / "run_network.py"), name, str(out))
    assert done.returncode == 0, done.stderr[-3000:]
    with np.load(out) as data:
        return {k: data[k] for k in data.files}


@pytest.mark.parametrize("name, ranks, every", [("random", 2, 1), ("random", 4, 1), ("delayed", 2, 6),
                                                ("delayed", 3, 6), ("delayed_sources", 2, 1), ("pd14", 2, 2)])
def test_ranks_record_what_one_process_records(name, ranks, every, tmp_path):
    """Spikes exchanged every step (zero delays; delayed synapses from sources), every 6 steps
    (delays of 0.5 ms and more, with early block ends mid-interval), every 2 (PD14, delays of at
    least one step)."""
    alone, spread = recordings(name, 0, tmp_path), recordings(name, ranks, tmp_path)
    assert sorted(alone) == sorted(spread) and int(spread["every"]) == every
    assert sum(v.size for k, v in alone.items() if k.endswith("_i")) > 500  # the network is active
    for key in alone:
        assert np.array_equal(alone[key], spread[key]), key


def test_neurosim_run_under_mpirun_writes_one_file_with_one_process_spikes(tmp_path):
    """``mpirun -n 2 neurosim run``: rank 0 writes the results file (the other rank none, nor a log);
    its spikes, rates and metrics are those of a run without mpirun."""
    from neurosim.io import load

    scenario = Path(__file__).parents[1] / "scenarios" / "pd14.toml"
    sets = ["--set", "model.params.scale=0.02", "--set", 'simulation.duration="0.1 s"', "--quiet"]
    runs = {}
    for ranks in (0, 2):
        out = tmp_path / f"pd14_{ranks}.h5"
        done = mpirun(ranks, str(Path(sys.executable).parent / "neurosim"), "run", str(scenario), "--out", str(out), *sets)
        assert done.returncode == 0, done.stderr[-3000:]
        runs[ranks] = load(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pd14_0.h5", "pd14_0.log", "pd14_2.h5", "pd14_2.log"]
    alone, spread = runs[0], runs[2]
    assert spread.complete
    for pop in alone.spikes:
        for a, b in zip(alone.spikes[pop], spread.spikes[pop]):
            assert np.array_equal(a, b), pop
    assert sum(alone.spikes[p][0].size for p in alone.spikes) > 300
    for name in ("synapses", "spikes_L4E", "rate_hz_L23E", "mean_rate_hz"):
        assert alone.metrics[name] == spread.metrics[name], name
    libsonata = pytest.importorskip("libsonata")
    reader = libsonata.SpikeReader(str(tmp_path / "pd14_2.h5"))
    for pop in alone.spikes:  # the one file of two ranks, read by libsonata
        d = reader[pop].get_dict()
        np.testing.assert_array_equal(d["node_ids"], alone.spikes[pop][1])
