"""`neurosim inspect` and `neurosim plot`: summaries (neurosim.io.summary) and figures
(neurosim.plotting) of results files and sweep index files."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import h5py
import matplotlib.image
import numpy as np
import pytest

from neurosim import plotting
from neurosim.cli import main
from neurosim.io import ResultsWriter, load
from neurosim.io.summary import format_summary, summarize
from neurosim.plotting import plot_results
from test_io import small_network

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
RESULT_KEYS = {"path", "kind", "complete", "duration_s", "dt_s", "config_sha256", "populations", "reports",
               "weights", "metrics", "metric_attrs", "provenance"}

SWEEP_TOML = textwrap.dedent("""
    schema_version = 1
    name = "tiny_sweep"

    [model]
    name = "cuba"
    params = { n = 100, k = 10.0 }

    [simulation]
    duration = "50 ms"
    dt = "0.1 ms"
    seed = 5

    [[record]]
    type = "spikes"

    [sweep]
    mode = "grid"
    repeats = 2

    [sweep.params]
    "model.params.weight_scale" = [0.8, 1.2]
""")


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    """A results file with spikes (not of ``inp``), two reports, a rate, weights, scalar
    metrics and curves (``overlap`` against ``alpha``; ``loss`` with a NaN)."""
    path = tmp_path_factory.mktemp("results") / "run.h5"
    net, exc, inh = small_network()
    with ResultsWriter(path, config_toml='name = "small"\n', root_seed=4, argv=["neurosim", "run", "x"]) as w:
        net.spike_monitor(exc, sink=w.sink())
        net.spike_monitor(inh, sink=w.sink())
        net.state_monitor(exc, ("v", "i_exc"), indices=[0, 3, 7], interval="0.5 ms", sink=w.sink())
        net.rate_monitor(exc, sink=w.sink())
        net.run("200 ms")
        for projection in net.projections:
            w.write_weights(projection)
        w.write_metric("mean_rate_hz", 12.5, units="Hz")
        w.write_metric("n_patterns", 7)
        alpha = np.linspace(0.05, 0.5, 10)
        w.write_metric("alpha", alpha)
        w.write_metric("overlap", 1 - alpha, x="alpha")
        w.write_metric("loss", np.array([2.0, 1.0, np.nan]))
    return path


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> Path:
    """The index file of a 4-point sweep (2 weight scales x 2 repeats) run by the CLI."""
    folder = tmp_path_factory.mktemp("sweep")
    (folder / "tiny_sweep.toml").write_text(SWEEP_TOML)
    index = folder / "sweep.h5"
    assert main(["run", str(folder / "tiny_sweep.toml"), "--quiet", "--out", str(index)]) == 0
    return index


def strict_json(text: str) -> dict:
    """``json.loads`` that rejects NaN and infinities."""
    def reject(name):
        raise AssertionError(f"{name} in JSON output")
    return json.loads(text, parse_constant=reject)


def assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 1000
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    assert np.ptp(image) > 0


# ------------------------------------------------------------------------------- summarize
def test_summary_matches_load(results):
    s = summarize(results)
    res = load(results)
    assert RESULT_KEYS <= set(s)
    assert s["kind"] == "results" and s["complete"] is True and s["path"] == str(results)
    assert s["duration_s"] == pytest.approx(0.2) and s["dt_s"] == pytest.approx(1e-4)
    assert s["config_sha256"] == res.config_sha256

    assert set(s["populations"]) == {"exc", "inh", "inp"}
    for pop in ("exc", "inh"):
        t, _ = res.spikes[pop]
        assert t.size > 0
        assert s["populations"][pop] == {"size": res.populations[pop], "spikes": t.size,
                                         "rate_hz": pytest.approx(t.size / res.populations[pop] / 0.2)}
    assert s["populations"]["inp"] == {"size": 20, "spikes": None, "rate_hz": None}

    assert set(s["reports"]) == set(res.reports) == {"exc", "exc.i_exc"}
    for name, info in s["reports"].items():
        report = res.reports[name]
        assert info == {"population": "exc", "variable": report.variable, "units": report.units,
                        "n_nodes": 3, "n_samples": report.data.shape[0], "dt_s": pytest.approx(5e-4)}
    assert s["reports"]["exc"]["units"] == "V" and s["reports"]["exc.i_exc"]["units"] == "A"

    assert set(s["weights"]) == set(res.weights)
    for name, info in s["weights"].items():
        w = res.weights[name]
        assert info == {"pre": w.pre_population, "post": w.post_population, "n_synapses": w.weight.size,
                        "mean": pytest.approx(w.weight.mean()), "units": w.units}

    metrics = s["metrics"]
    assert metrics["mean_rate_hz"] == 12.5 and metrics["n_patterns"] == 7
    assert metrics["overlap"] == pytest.approx(list(1 - np.linspace(0.05, 0.5, 10)))
    assert metrics["loss"] == [2.0, 1.0, None]
    assert s["metric_attrs"]["overlap"] == {"x": "alpha"}
    assert s["metric_attrs"]["mean_rate_hz"] == {"units": "Hz"}

    prov = s["provenance"]
    assert prov["argv"] == ["neurosim", "run", "x"]
    assert isinstance(prov["packages"], dict) and "numpy" in prov["packages"] and "packages_json" not in prov
    assert prov["root_seed"] == 4 and prov["version"] == [0, 1]


def test_format_summary_is_readable(results):
    text = format_summary(summarize(results))
    lines = text.splitlines()
    assert lines[0].startswith(f"{results}: complete results") and "200 ms simulated" in lines[0]
    res = load(results)
    for pop in ("exc", "inh"):
        assert any(line.split()[:3] == [pop, str(res.populations[pop]), str(res.spikes[pop].t.size)]
                   for line in lines)
    assert any(line.split()[:2] == ["inp", "20"] and "not recorded" in line for line in lines)
    assert any(line.split()[:2] == ["mean_rate_hz", "12.5"] for line in lines)
    assert any(line.split()[:1] == ["overlap"] and "against alpha" in line for line in lines)
    assert "exc.i_exc" in text and "exc_to_inh" in text


def test_incomplete_file(tmp_path):
    """A partial file of a killed run: complete is False, duration and rates unknown."""
    net, exc, _ = small_network()
    w = ResultsWriter(tmp_path / "run.h5")
    net.spike_monitor(exc, sink=w.sink())
    net.run("50 ms")
    w.flush()
    shutil.copy(w.temp_path, tmp_path / "partial.h5")
    w.abort()
    s = summarize(tmp_path / "partial.h5")
    assert s["complete"] is False and s["duration_s"] is None
    assert s["populations"]["exc"]["spikes"] == load(tmp_path / "partial.h5").spikes["exc"].t.size > 0
    assert s["populations"]["exc"]["rate_hz"] is None
    assert "INCOMPLETE" in format_summary(s)
    paths = plot_results(tmp_path / "partial.h5")
    assert [p.name for p in paths] == ["raster.png"]
    assert_png(paths[0])


# ------------------------------------------------------------------------------- CLI inspect
def test_inspect_json(results, capsys):
    assert main(["inspect", str(results), "--json"]) == 0
    out = strict_json(capsys.readouterr().out)
    assert {"metrics", "populations", "provenance"} <= set(out)
    assert out == strict_json(json.dumps(summarize(results)))


def test_inspect_text(results, capsys):
    assert main(["inspect", str(results)]) == 0
    assert capsys.readouterr().out.strip() == format_summary(summarize(results))


# ------------------------------------------------------------------------------- plots
def test_plot_writes_valid_pngs(results, tmp_path, capsys):
    out = tmp_path / "figures"
    assert main(["plot", str(results), "--out", str(out)]) == 0
    printed = capsys.readouterr().out.split()
    names = ["raster.png", "traces.png", "weights.png", "metrics.png"]
    assert printed == [str(out / n) for n in names]
    for name in names:
        assert_png(out / name)


def test_plot_subsamples_big_data(results, tmp_path, monkeypatch):
    """Strided reads when spikes, weights and samples exceed the limits."""
    monkeypatch.setattr(plotting, "MAX_RASTER_SPIKES", 50)
    monkeypatch.setattr(plotting, "MAX_HISTOGRAM_VALUES", 20)
    monkeypatch.setattr(plotting, "MAX_TRACE_SAMPLES", 30)
    paths = plot_results(results, tmp_path)
    assert len(paths) == 4
    for path in paths:
        assert_png(path)


def test_plot_only_figures_with_data_in_default_folder(sweep):
    """A point file has spikes and scalar metrics only: a raster, beside the file."""
    point = Path(summarize(sweep)["sweep"]["paths"][0])
    paths = plot_results(point)
    assert paths == [point.with_name(f"{point.stem}_plots") / "raster.png"]
    assert_png(paths[0])


# ------------------------------------------------------------------------------- sweeps
def test_sweep_summary_lists_every_point(sweep, capsys):
    s = summarize(sweep)
    assert s["kind"] == "sweep" and s["complete"] is True
    info = s["sweep"]
    assert info["n_points"] == 4 and info["complete"] == [True] * 4
    assert info["params"] == {"model.params.weight_scale": [0.8, 0.8, 1.2, 1.2]}
    assert len(set(info["seeds"])) == 4
    assert info["paths"] == [str(sweep.parent / "sweep" / f"point_{i:04d}.h5") for i in range(4)]
    for k, path in enumerate(info["paths"]):
        point = load(path)
        assert info["metrics"]["rate_hz_exc"][k] == pytest.approx(point.metrics["rate_hz_exc"])
        assert info["metrics"]["spikes_exc"][k] == point.spikes["exc"].t.size
    text = format_summary(s)
    assert text.startswith(f"{sweep}: sweep of 4 points, 4 complete")
    assert all(path in text for path in info["paths"])

    assert main(["inspect", str(sweep), "--json"]) == 0
    assert strict_json(capsys.readouterr().out) == strict_json(json.dumps(s))


def test_sweep_with_missing_points(sweep, tmp_path):
    shutil.copy(sweep, tmp_path / "sweep.h5")
    (tmp_path / "sweep").mkdir()
    shutil.copy(sweep.parent / "sweep" / "point_0002.h5", tmp_path / "sweep")
    s = summarize(tmp_path / "sweep.h5")
    assert s["complete"] is False and s["sweep"]["complete"] == [False, False, True, False]
    assert "MISSING" in format_summary(s)


def test_plot_sweep(sweep, tmp_path):
    paths = plot_results(sweep, tmp_path)
    assert paths == [tmp_path / "sweep.png"]
    assert_png(paths[0])


# ------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("action", [summarize, plot_results])
def test_missing_file(tmp_path, action):
    with pytest.raises(FileNotFoundError) as info:
        action(tmp_path / "nope.h5")
    assert info.value.filename == str(tmp_path / "nope.h5")


@pytest.mark.parametrize("command", ["inspect", "plot"])
def test_cli_missing_file(tmp_path, capsys, command):
    assert main([command, str(tmp_path / "nope.h5")]) == 2
    assert f"{tmp_path / 'nope.h5'}: no such file" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["text", "hdf5", "directory"])
@pytest.mark.parametrize("action", [summarize, plot_results])
def test_not_a_results_file(tmp_path, kind, action):
    path = tmp_path / "thing.h5"
    if kind == "text":
        path.write_text("not hdf5")
    elif kind == "hdf5":
        with h5py.File(path, "w") as f:
            f["x"] = np.arange(3)
    else:
        path.mkdir()
    with pytest.raises(ValueError, match=f"^{path}: not a neurosim results file"):
        action(path)
    assert not (tmp_path / "thing_plots").exists()


def test_cli_not_a_results_file(tmp_path, capsys):
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    for command in ("inspect", "plot"):
        assert main([command, str(path)]) == 2
        assert f"{path}: not a neurosim results file" in capsys.readouterr().err


def test_theory_curves_share_their_metric_axes_and_maps_carry_boundaries(tmp_path):
    """A metric's ``theory`` curves are drawn on its axes (not as panels of their own), each at
    its own x; a 2-D metric with x and y is a colour map with its boundary curves over it."""
    path = tmp_path / "theory.h5"
    with ResultsWriter(path) as w:
        w.write_metric("alpha", np.array([0.1, 0.2, 0.3]))
        w.write_metric("fine_alpha", np.linspace(0.1, 0.3, 50))
        w.write_metric("overlap", np.array([1.0, 0.9, 0.2]), x="alpha", theory=["overlap_theory"])
        w.write_metric("overlap_theory", np.linspace(1.0, 0.0, 50), x="fine_alpha", label="RS theory")
        w.write_metric("temperature", np.array([0.5, 1.0]))
        w.write_metric("phase", np.arange(6.0).reshape(3, 2), x="temperature", y="alpha", theory=["boundary"])
        w.write_metric("boundary", np.array([0.25, 0.1]), x="temperature")
        with pytest.raises(ValueError, match="y applies to 2-D maps"):
            w.write_metric("bad", np.ones(3), x="alpha", y="temperature")
        with pytest.raises(ValueError, match="x applies to 1-D curves"):
            w.write_metric("bad2", np.ones((3, 2)), x="alpha")
    res = load(path)
    assert res.metric_attrs["phase"]["y"] == "alpha" and res.metric_attrs["overlap"]["theory"] == "overlap_theory"
    fig = plotting._metrics(res, "t")
    panels = [ax for ax in fig.axes if ax.get_visible() and ax.get_title()]
    assert [ax.get_title() for ax in panels] == ["overlap", "phase"]
    curve, phase = panels
    assert [line.get_label() for line in curve.get_lines()] == ["overlap", "RS theory"]
    np.testing.assert_array_equal(curve.get_lines()[1].get_xdata(), np.linspace(0.1, 0.3, 50))
    assert len(phase.collections) == 1 and [line.get_label() for line in phase.get_lines()] == ["boundary"]
    np.testing.assert_array_equal(phase.get_lines()[0].get_ydata(), [0.25, 0.1])
