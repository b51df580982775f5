"""NWB export, Neo blocks and Elephant statistics of results files (issue 18, item 1).

One results file is written by a real run of spike sources whose spike times are known: a
regular population, a population whose binned counts follow a fixed pattern, Bernoulli
("Poisson on the time grid") sources, and two LIF cells with a voltage report and a rate
monitor. Exports are read back with pynwb and neo and compared with :func:`neurosim.io.load`
bit for bit; statistics are compared with numpy computations of the same definitions and with
the theory of the Bernoulli process.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from neurosim.cli import main
from neurosim.io import ResultsWriter, load, spike_statistics, to_neo

DT = 1e-3          # s: every spike source time is a multiple of it
T = 20.0           # s simulated
BIN = 0.1          # s: the statistics' bins
P = 0.02           # spike probability per step of the Bernoulli sources (20 Hz)
N_BERNOULLI = 100
CONFIG = 'name = "known-trains"\ntask = "simulate"\n'
SEED = 7


def _pattern_times() -> list[np.ndarray]:
    """Three trains over 200 bins of 100 ms: counts 1, 3, 1, 3, ... (neurons 0 and 2, at
    different times in the bin) and 3, 1, 3, 1, ... (neuron 1). Times in ms, mid-bin."""
    one = {0: [50], 1: [50], 2: [30]}
    three = {0: [20, 40, 60], 1: [20, 40, 60], 2: [10, 35, 70]}
    trains = []
    for k in range(3):
        t = []
        for j in range(int(T / BIN)):
            odd = j % 2 == 1
            t += [100 * j + x for x in (three[k] if odd != (k == 1) else one[k])]
        trains.append(np.array(t, np.int64))
    return trains


def _known() -> dict[str, list[np.ndarray]]:
    """Spike steps (ms, integers) of every source neuron."""
    regular = [np.arange(1 + k, int(T * 1e3), 10) for k in range(3)]
    rng = np.random.default_rng(1)
    fired = rng.random((N_BERNOULLI, int(round(T / DT)))) < P
    return {"regular": regular, "pattern": _pattern_times(), "bernoulli": [np.flatnonzero(row) for row in fired]}


@pytest.fixture(scope="module")
def known() -> dict[str, list[np.ndarray]]:
    return _known()


@pytest.fixture(scope="module")
def results(tmp_path_factory, known) -> Path:
    from neurosim.connectivity import FixedProbability
    from neurosim.network import Network
    from neurosim.neurons.lif import LIF

    path = tmp_path_factory.mktemp("nwb") / "known.h5"
    net = Network(dt=DT, seed=0)
    sources = {}
    for name, trains in known.items():
        steps = np.concatenate(trains)
        ids = np.concatenate([np.full(t.size, k) for k, t in enumerate(trains)])
        sources[name] = net.spike_source(name, len(trains), times=steps * DT, indices=ids)
    cells = net.population("cells", 2, LIF(v_th="-55 mV", tau_m="10 ms", t_ref="2 ms"))
    net.connect(sources["regular"], cells, FixedProbability(1.0), weight="4 mV")
    with ResultsWriter(path, config_toml=CONFIG, root_seed=SEED, argv=["test", "run"]) as w:
        for group in (*sources.values(), cells):
            net.spike_monitor(group, sink=w.sink())
        net.state_monitor(cells, ("v",), interval="2 ms", sink=w.sink())
        net.rate_monitor(cells, sink=w.sink())
        net.run(T, backend="numpy")
        w.write_metric("rate_hz", 20.0, units="Hz")
        w.write_metric("x", np.arange(3.0))
        w.write_metric("curve", np.array([1.0, 4.0, 9.0]), x="x")
    return path


def _per_neuron(path: Path, pop: str) -> list[np.ndarray]:
    """Spike times of each neuron of ``pop`` as :func:`load` gives them, ascending."""
    res = load(path)
    t, ids = res.spikes[pop]
    return [np.sort(t[ids == k]) for k in range(res.populations[pop])]


def _export(results: Path, out: Path, *extra: str) -> int:
    return main(["export", "nwb", str(results), "--out", str(out), *extra])


# ----------------------------------------------------------------------------- NWB
def test_nwb_round_trips_spikes_reports_metrics_config_and_provenance(results, known, tmp_path):
    """Every recorded neuron is one unit whose spike times equal load()'s exactly (the export
    must not re-round them) and the known source times to 1e-12 s (the file stores ms as
    float64); the voltage report and the rate are equal to load()'s values with SI units and
    the report's sampling rate; metrics, the scenario TOML (with a sha256 computed here) and the
    provenance (seed, argv, versions) are in the file."""
    from pynwb import NWBHDF5IO

    out = tmp_path / "known.nwb"
    assert _export(results, out) == 0
    res = load(results)
    with NWBHDF5IO(str(out), "r") as io:
        nwb = io.read()
        units = nwb.units
        pops, node_ids = list(units["population"][:]), np.asarray(units["node_id"][:])
        assert len(pops) == 3 + 3 + N_BERNOULLI + 2 and units.resolution == DT
        for pop in res.spikes:
            expected = _per_neuron(results, pop)
            rows = [k for k, p in enumerate(pops) if p == pop]
            assert list(node_ids[rows]) == list(range(len(expected)))
            for row, want in zip(rows, expected):
                np.testing.assert_array_equal(np.asarray(units["spike_times"][row]), want)
            for k, steps in enumerate(known.get(pop, [])):
                np.testing.assert_allclose(expected[k], steps * DT, rtol=0, atol=1e-12)
        v, report = nwb.acquisition["cells.v"], res.reports["cells"]
        np.testing.assert_array_equal(v.data[:], report.data)
        assert v.unit == "V" and v.conversion == 1.0 and v.rate == pytest.approx(500.0, rel=1e-12)
        assert v.starting_time == report.t[0] and json.loads(v.comments)["node_ids"] == [0, 1]
        rate = nwb.processing["misc"]["rate.cells"]
        np.testing.assert_array_equal(rate.data[:], res.rates["cells"].rate)
        assert rate.unit == "Hz" and rate.rate == pytest.approx(1 / DT, rel=1e-9)
        assert nwb.scratch["metric_rate_hz"].data[()] == 20.0 and "units Hz" in nwb.scratch["metric_rate_hz"].description
        np.testing.assert_array_equal(nwb.scratch["metric_curve"].data[:], [1.0, 4.0, 9.0])
        assert "x x" in nwb.scratch["metric_curve"].description
        config = nwb.scratch["config_toml"]
        assert config.data == CONFIG and hashlib.sha256(CONFIG.encode()).hexdigest() in config.description
        notes = json.loads(nwb.notes)
        assert notes["config_sha256"] == hashlib.sha256(CONFIG.encode()).hexdigest()
        provenance = notes["neurosim_provenance"]
        assert provenance["root_seed"] == SEED and provenance["argv"] == ["test", "run"]
        assert provenance["neurosim_version"] and "numpy" in provenance["packages_json"]
        assert nwb.subject.subject_id == "known-trains"


def test_nwbinspector_finds_nothing_critical(results, tmp_path):
    """nwbinspector's Python API finds no CRITICAL problem; the only best-practice violation is
    the missing species, which a simulation does not have (documented, not invented)."""
    from nwbinspector import Importance, inspect_nwbfile

    out = tmp_path / "known.nwb"
    assert _export(results, out) == 0
    messages = list(inspect_nwbfile(nwbfile_path=str(out)))
    assert [m.check_function_name for m in messages if m.importance == Importance.CRITICAL] == []
    violations = {m.check_function_name for m in messages if m.importance == Importance.BEST_PRACTICE_VIOLATION}
    assert violations <= {"check_subject_species_exists"}


def test_with_a_species_the_export_passes_nwbinspectors_dandi_configuration(results, tmp_path):
    """DANDI's configuration makes a missing species CRITICAL; with --species (the species the
    model is of) nothing critical and no best-practice violation remains."""
    from nwbinspector import Importance, inspect_nwbfile, load_config
    from pynwb import NWBHDF5IO

    out = tmp_path / "dandi.nwb"
    assert _export(results, out, "--species", "Mus musculus") == 0
    messages = list(inspect_nwbfile(nwbfile_path=str(out), config=load_config("dandi")))
    assert not [m for m in messages if m.importance in (Importance.CRITICAL, Importance.BEST_PRACTICE_VIOLATION)]
    with NWBHDF5IO(str(out), "r") as io:
        assert io.read().subject.species == "Mus musculus"


def test_nwb_export_in_small_chunks_of_a_shuffled_file_gives_the_same_units(results, tmp_path, monkeypatch):
    """Read in chunks of 7 spikes, sorted per unit 5 spikes at a time and handed to pynwb in
    tiny buffers, a file whose spikes are in random order (as another SONATA writer may leave
    them) still gives each unit exactly its spike times, ascending."""
    from pynwb import NWBHDF5IO

    import neurosim.io.nwb as nwb_module
    import neurosim.io.summary as summary

    shuffled = tmp_path / "shuffled.h5"
    shutil.copy(results, shuffled)
    with h5py.File(shuffled, "r+") as f:
        group = f["spikes/pattern"]
        order = np.random.default_rng(0).permutation(group["node_ids"].shape[0])
        for name in ("timestamps", "node_ids"):
            group[name][...] = group[name][()][order]
        group.attrs.modify("sorting", 0)
    monkeypatch.setattr(summary, "CHUNK_ELEMENTS", 7)
    monkeypatch.setattr(nwb_module, "SORT_ELEMENTS", 5)
    monkeypatch.setattr(nwb_module, "BUFFER_GB", 1e-6)
    monkeypatch.setattr(nwb_module, "CHUNK_MB", 1e-4)
    out = tmp_path / "shuffled.nwb"
    assert _export(shuffled, out) == 0
    with NWBHDF5IO(str(out), "r") as io:
        units = io.read().units
        pops = list(units["population"][:])
        for pop in ("pattern", "regular"):
            rows = [k for k, p in enumerate(pops) if p == pop]
            for row, want in zip(rows, _per_neuron(results, pop)):
                np.testing.assert_array_equal(np.asarray(units["spike_times"][row]), want)


def test_a_failed_nwb_write_leaves_no_partial_file_and_keeps_the_old_one(results, tmp_path, monkeypatch, capsys):
    """A write that fails half way (here: reading a report fails) exits 1 naming the error and
    leaves neither a partial nor a scratch file; an existing output replaced with --force is
    kept as it was."""
    import neurosim.io.nwb as nwb_module

    real = nwb_module._chunks

    def failing(array, scale=None):
        chunks = real(array, scale)
        if scale is not None:  # the report's data
            def broken(selection):
                raise OSError("simulated read failure")
            chunks._get_data = broken
        return chunks

    monkeypatch.setattr(nwb_module, "_chunks", failing)
    out = tmp_path / "out.nwb"
    assert _export(results, out) == 1
    assert "simulated read failure" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    out.write_bytes(b"an older export")
    assert _export(results, out, "--force") == 1
    assert out.read_bytes() == b"an older export" and sorted(p.name for p in tmp_path.iterdir()) == ["out.nwb"]


def test_files_without_spikes_export_and_convert(tmp_path):
    """A results file with metrics only (a train run) exports without a units table, and a
    recorded but silent population gives units and SpikeTrains without spikes; nwbinspector
    still finds nothing critical and the statistics are undefined (None), not errors."""
    from nwbinspector import Importance, inspect_nwbfile
    from pynwb import NWBHDF5IO

    from neurosim.network import Network
    from neurosim.neurons.lif import LIF

    metrics_only, silent = tmp_path / "metrics.h5", tmp_path / "silent.h5"
    with ResultsWriter(metrics_only, config_toml=CONFIG) as w:
        w.write_metric("accuracy", 0.5)
    net = Network(dt=DT)
    cells = net.population("cells", 4, LIF())
    with ResultsWriter(silent) as w:
        net.spike_monitor(cells, sink=w.sink())
        net.run(0.5, backend="numpy")
    for path, n_units in ((metrics_only, None), (silent, 4)):
        out = path.with_suffix(".nwb")
        assert _export(path, out) == 0
        assert not any(m.importance == Importance.CRITICAL for m in inspect_nwbfile(nwbfile_path=str(out)))
        with NWBHDF5IO(str(out), "r") as io:
            units = io.read().units
            assert (units is None) if n_units is None else (len(units) == n_units and len(units["spike_times"][0]) == 0)
        trains = to_neo(path).segments[0].spiketrains
        assert len(trains) == (n_units or 0) and all(st.size == 0 for st in trains)
    stats = spike_statistics(silent)["populations"]["cells"]
    assert stats["cv"] is None and stats["fano"] is None and stats["correlation"] is None and stats["n_pairs"] == 0


def _unwritable(tmp_path: Path) -> Path:
    """A folder this process cannot write in: read-only for a user, /proc for root."""
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    if os.access(folder, os.W_OK) and Path("/proc").is_dir():
        return Path("/proc")
    if os.access(folder, os.W_OK):
        pytest.skip("no unwritable folder available")
    return folder


@pytest.mark.parametrize("case", ["missing", "text", "foreign_h5", "exists", "directory", "suffix", "under_a_file",
                                  "unwritable", "itself", "no_results"])
def test_bad_nwb_export_input_exits_2_with_one_line_naming_it(results, tmp_path, capsys, case):
    """Bad input is refused before anything is written: exit 2, one line on stderr naming the
    file or option, no traceback, nothing created, an existing output untouched."""
    out = tmp_path / "out.nwb"
    source, args = results, []
    if case == "missing":
        source, named = tmp_path / "missing.h5", "missing.h5: no such file"
    elif case == "text":
        source = tmp_path / "notes.h5"
        source.write_text("not hdf5")
        named = "notes.h5: not a neurosim results file"
    elif case == "foreign_h5":
        source = tmp_path / "other.h5"
        with h5py.File(source, "w") as f:
            f["x"] = 1
        named = "other.h5: not a neurosim results file"
    elif case == "exists":
        out.write_bytes(b"mine")
        named = "--out: " + str(out) + " exists; give --force"
    elif case == "directory":
        out.mkdir()
        named = f"{out}: is a directory"
    elif case == "suffix":
        out, named = tmp_path / "out.h5", "--out: an NWB file's name ends in .nwb"
    elif case == "under_a_file":
        (tmp_path / "file").write_text("x")
        out, named = tmp_path / "file" / "out.nwb", "file: is a file, not a folder"
    elif case == "unwritable":
        folder = _unwritable(tmp_path)
        out, named = folder / "out.nwb", f"{folder}: cannot write in this folder"
    elif case == "itself":
        source = tmp_path / "copy.nwb"
        shutil.copy(results, source)
        out, named, args = source, "is the results file itself", ["--force"]
    else:
        named = "export nwb: give the results file"
    before = sorted(p.name for p in tmp_path.iterdir())
    if case == "no_results":
        code = main(["export", "nwb", "--out", str(out)])
    else:
        code = _export(source, out, *args)
    err = capsys.readouterr().err
    assert code == 2 and named in err and err.count("\n") == 1 and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    if case == "exists":
        assert out.read_bytes() == b"mine"


def test_hardware_export_without_a_target_still_names_it(results, tmp_path, capsys):
    """``neurosim export SOURCE`` without --target (not nwb) exits 2 naming --target, and a
    second positional is refused for hardware exports."""
    assert main(["export", str(results), "--out", str(tmp_path / "m.nir")]) == 2
    assert "--target: required" in capsys.readouterr().err
    assert main(["export", str(results), "extra.h5", "--target", "nir", "--out", str(tmp_path / "m.nir")]) == 2
    assert "extra.h5: unexpected" in capsys.readouterr().err


# ----------------------------------------------------------------------------- Neo
def test_to_neo_round_trips_spike_times_exactly_with_units(results, known):
    """One SpikeTrain per recorded neuron with load()'s times to the bit, in s, spanning the run
    [0, T), annotated with population and node id; the report is an AnalogSignal equal to
    load()'s, in V, sampled every 2 ms, with a node id per channel."""
    import quantities as pq

    block = to_neo(results)
    res = load(results)
    assert len(block.segments) == 1 and block.annotations["root_seed"] == SEED
    seg = block.segments[0]
    assert len(seg.spiketrains) == 3 + 3 + N_BERNOULLI + 2
    for pop in res.spikes:
        trains = [st for st in seg.spiketrains if st.annotations["population"] == pop]
        assert [st.annotations["node_id"] for st in trains] == list(range(res.populations[pop]))
        for st, want in zip(trains, _per_neuron(results, pop)):
            assert st.units == pq.s and float(st.t_start) == 0.0 and float(st.t_stop) == pytest.approx(T, rel=1e-12)
            np.testing.assert_array_equal(st.magnitude, want)
    (signal,) = seg.analogsignals
    np.testing.assert_array_equal(signal.magnitude, res.reports["cells"].data)
    assert signal.units == pq.V and float(signal.sampling_period.rescale("s")) == pytest.approx(2e-3, rel=1e-12)
    assert list(signal.array_annotations["node_id"]) == [0, 1] and signal.annotations["population"] == "cells"


def test_to_neo_refuses_what_is_not_results(tmp_path):
    """A missing file is FileNotFoundError, a text file a ValueError naming it."""
    with pytest.raises(FileNotFoundError):
        to_neo(tmp_path / "missing.h5")
    (tmp_path / "t.h5").write_text("x")
    with pytest.raises(ValueError, match="t.h5: not a neurosim results file"):
        to_neo(tmp_path / "t.h5")


# ----------------------------------------------------------------------------- Elephant statistics
def _cv(t: np.ndarray) -> float:
    isi = np.diff(t)
    return float(isi.std() / isi.mean())


def _counts(steps: np.ndarray) -> np.ndarray:
    """Spikes per bin of a train given as integer time steps (exact: no float edges)."""
    per_bin = int(round(BIN / DT))
    return np.bincount(steps // per_bin, minlength=int(round(T / BIN)))


def test_statistics_of_regular_and_patterned_trains_match_hand_values(results):
    """Regular trains: CV 0 and Fano 0 (10 spikes in every bin) up to float rounding of the
    times, and no defined correlation (constant counts). Patterned counts 1,3,1,3 / 3,1,3,1 /
    1,3,1,3: Fano = Var/mean = 1/2 and correlations -1, +1, -1 (mean -1/3) exactly up to
    rounding; their CV equals numpy's std/mean of the intervals."""
    stats = spike_statistics(results, bin_s=BIN)
    assert stats["n_bins"] == 200 and stats["t_stop_s"] == pytest.approx(T, rel=1e-12)
    regular = stats["populations"]["regular"]
    assert regular["cv"] == pytest.approx(0.0, abs=1e-9) and regular["n_cv"] == 3
    assert regular["fano"] == pytest.approx(0.0, abs=1e-12) and regular["n_fano"] == 3
    assert regular["correlation"] is None and regular["n_pairs"] == 0
    pattern = stats["populations"]["pattern"]
    assert pattern["fano"] == pytest.approx(0.5, rel=1e-12)
    assert pattern["correlation"] == pytest.approx(-1 / 3, rel=1e-9) and pattern["n_pairs"] == 3
    assert pattern["cv"] == pytest.approx(np.mean([_cv(t) for t in _per_neuron(results, "pattern")]), rel=1e-12)


def test_statistics_of_bernoulli_trains_match_numpy_and_theory(results, known):
    """Bernoulli sources (spike probability p per 1 ms step) have geometric intervals with
    CV = sqrt(1 - p), binomial bin counts with Fano = 1 - p, and no correlation. Against
    numpy's direct computation of the same definitions the values agree to rounding. Against
    theory: with ~400 intervals per train the CV of one train has sd ~ 1/sqrt(400) = 0.05, so
    the mean of 100 has sd 0.005 (tolerance 0.025 = 5 sd); the Fano factor of 200 bins has
    sd ~ sqrt(2/200) = 0.1 per train, 0.01 for the mean, and a ddof-0 bias of -F/200
    (tolerance 0.05); the mean of 4950 pairwise coefficients of 200 bins has sd ~
    sqrt(2)/(sqrt(200) * 100) = 0.001 (tolerance 0.01)."""
    stats = spike_statistics(results, bin_s=BIN)["populations"]["bernoulli"]
    trains = _per_neuron(results, "bernoulli")
    counts = np.array([_counts(steps) for steps in known["bernoulli"]])
    corr = np.corrcoef(counts)[np.triu_indices(N_BERNOULLI, k=1)]
    assert stats["sampled"] == N_BERNOULLI and stats["n_pairs"] == corr.size
    assert stats["cv"] == pytest.approx(np.mean([_cv(t) for t in trains]), rel=1e-12)
    assert stats["fano"] == pytest.approx(np.mean(counts.var(axis=1) / counts.mean(axis=1)), rel=1e-12)
    assert stats["correlation"] == pytest.approx(corr.mean(), abs=1e-12)
    assert stats["cv"] == pytest.approx(math.sqrt(1 - P), abs=0.025)
    assert stats["fano"] == pytest.approx(1 - P, abs=0.05)
    assert stats["correlation"] == pytest.approx(0.0, abs=0.01)


def test_statistics_sample_at_most_max_neurons_reproducibly(results):
    """A cap of 10 neurons samples 10 of the 100 Bernoulli sources (at most 45 pairs), the
    same 10 each time; bad parameters are ValueErrors naming them."""
    a = spike_statistics(results, max_neurons=10)["populations"]["bernoulli"]
    b = spike_statistics(results, max_neurons=10)["populations"]["bernoulli"]
    assert a == b and a["sampled"] == 10 and a["n_cv"] <= 10 and a["n_pairs"] <= 45
    with pytest.raises(ValueError, match="bin_s"):
        spike_statistics(results, bin_s=0.0)
    with pytest.raises(ValueError, match="max_neurons"):
        spike_statistics(results, max_neurons=1)


def test_inspect_stats_prints_text_and_json_and_refuses_bad_options(results, capsys):
    """``inspect --stats`` adds the statistics to the summary (text table, or a ``stats`` key in
    --json, equal to spike_statistics()); --bin is read as a duration; a bad --bin, or --bin
    without --stats, exits 2 naming --bin."""
    assert main(["inspect", "--stats", "--json", "--bin", "200 ms", str(results)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["stats"] == json.loads(json.dumps(spike_statistics(results, bin_s=0.2)))
    assert main(["inspect", "--stats", str(results)]) == 0
    text = capsys.readouterr().out
    assert "spike statistics (Elephant)" in text and "bernoulli" in text and "ISI CV" in text
    for args in (["--stats", "--bin", "3 mV"], ["--stats", "--bin", "0 s"], ["--bin", "10 ms"]):
        assert main(["inspect", *args, str(results)]) == 2
        err = capsys.readouterr().err
        assert "--bin" in err and err.count("\n") == 1
