"""Place recognition by a modular ensemble (Hussaini et al. 2023): data, preprocessing, the
hyperactive-neuron rule, the metrics and the scenario."""

from __future__ import annotations

import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
from PIL import Image

from neurosim.cli import main
from neurosim.datasets import nordland, robotcar, store
from neurosim.datasets.traverses import from_folder, substitute
from neurosim.models import diehl_cook as dc
from neurosim.models import vpr

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "vpr.toml"


def _textured(seed: int, shape=(2, 56, 56)) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.2, 0.8, shape)


def test_patch_normalisation_removes_illumination():
    images = _textured(0)
    base = vpr.preprocess(images)
    np.testing.assert_allclose(vpr.preprocess(0.5 * images + 0.1), base, rtol=1e-9, atol=1e-9)
    assert base.shape == (2, 784) and base.min() == 0.0 and np.allclose(base.max(axis=1), 255.0)
    assert np.all(vpr.preprocess(np.full((1, 56, 56), 0.3)) == 0.0)  # nothing is brighter than its surround
    assert not np.allclose(vpr.preprocess(_textured(1)), base)


def test_regions_cover_the_route_once():
    assert vpr.regions(120, 50) == [(0, 50), (50, 100), (100, 120)]


def test_each_neuron_goes_to_the_place_of_its_own_region_it_answers_most():
    reference = np.zeros((4, 4))  # places x neurons; 2 modules of 2 neurons, regions [0, 2) and [2, 4)
    reference[1, 0] = 3
    reference[0, 1] = 2
    reference[3, 1] = 9  # neuron 1 (module 0) answers place 3 most, which is outside its region
    reference[2, 2] = 1
    reference[3, 3] = 4
    np.testing.assert_array_equal(vpr.assign(reference, [(0, 2), (2, 4)], 2), [1, 0, 2, 3])
    reference[:, 2] = 0  # neuron 2 now silent on its own region: it speaks for no place
    reference[0, 2] = 7
    np.testing.assert_array_equal(vpr.assign(reference, [(0, 2), (2, 4)], 2), [1, 0, -1, 3])
    score = vpr.scores(np.array([[0, 0, 9, 1]]), np.array([1, 0, -1, 3]), 4, np.zeros(4, bool))
    np.testing.assert_array_equal(score, [[0, 0, -1, 1]])


def _hyperactive_case():
    """Four places, one neuron each, and neuron 4 assigned to place 0 firing on every image."""
    reference = np.eye(5, dtype=int)[:4] * 5
    reference[:, 4] = 8
    queries = np.eye(5, dtype=int)[:4] * 3
    queries[:, 4] = 9
    assignments = np.array([0, 1, 2, 3, 0])
    return reference, queries, assignments


def test_silencing_a_hyperactive_neuron_restores_recall():
    reference, queries, assignments = _hyperactive_case()
    assert vpr.hyperactive(reference, 0).sum() == 0
    np.testing.assert_array_equal(vpr.hyperactive(reference, 2), [False] * 4 + [True])
    np.testing.assert_array_equal(vpr.hyperactive(reference, 5), [False] * 4 + [False])  # fires on 4 < 5 images
    truth = np.arange(4)
    spoiled = vpr.match(vpr.scores(queries, assignments, 4, vpr.hyperactive(reference, 0)), truth)
    # place 0's score is the mean of neurons 0 and 4: (3 + 9) / 2 = 6 > 3 for every query
    np.testing.assert_array_equal(spoiled.place, [0, 0, 0, 0])
    best, recall = vpr.calibrate(reference, queries, truth, assignments, thresholds=(0, 2, 5))
    assert recall == {0: 0.25, 2: 1.0, 5: 0.25} and best == 2


def test_precision_recall_and_its_area():
    matches = vpr.Matches(place=np.zeros(4, int), confidence=np.array([0.9, 0.8, 0.7, 0.1]),
                          correct=np.array([True, True, False, True]))
    precision, recall = matches.precision_recall()
    np.testing.assert_allclose(precision, [1, 1, 2 / 3, 3 / 4])
    np.testing.assert_allclose(recall, [0.25, 0.5, 0.5, 0.75])
    # trapezoids: [0, .25] at 1, [.25, .5] at 1, [.5, .5] none, [.5, .75] from 2/3 to 3/4
    assert matches.auc == pytest.approx(0.5 + 0.25 * (2 / 3 + 3 / 4) / 2)
    perfect = vpr.Matches(np.zeros(3, int), np.array([3.0, 2.0, 1.0]), np.ones(3, bool))
    assert perfect.auc == pytest.approx(1.0) and perfect.recall_at_1 == 1.0


def test_queries_of_equal_confidence_are_accepted_together():
    """Only thresholds make operating points: the curve cannot depend on the order of ties."""
    confidence = np.array([2.0, 2.0, 2.0, 1.0])
    curves = []
    for correct in ([True, False, False, True], [False, False, True, True]):
        m = vpr.Matches(np.zeros(4, int), confidence, np.array(correct))
        curves.append((*m.precision_recall(), m.auc))
    for a, b in zip(curves[0], curves[1]):
        np.testing.assert_allclose(a, b)
    np.testing.assert_allclose(curves[0][0], [1 / 3, 1 / 2])
    np.testing.assert_allclose(curves[0][1], [1 / 4, 1 / 2])


def test_match_counts_places_within_the_tolerance():
    score = np.array([[0, 1, 5, 0], [9, 0, 0, 0]], float)
    assert vpr.match(score, np.array([1, 0])).recall_at_1 == 0.5
    assert vpr.match(score, np.array([1, 0]), tolerance=1).recall_at_1 == 1.0


def test_the_substitute_route_is_reproducible_and_its_query_is_the_same_places_changed():
    a, b = substitute(30, seed=3), substitute(30, seed=3)
    np.testing.assert_array_equal(a.query, b.query)
    assert a.reference.shape == (30, 96, 96) and "substitute" in a.note and "not Nordland" in a.note
    c = substitute(30, seed=4)
    np.testing.assert_array_equal(a.reference, c.reference)
    assert not np.array_equal(a.query, c.query)
    # place i of the query traverse is more like place i of the reference than like any other
    ref, qry = vpr.preprocess(a.reference), vpr.preprocess(a.query)
    z = lambda x: (x - x.mean(1, keepdims=True)) / np.linalg.norm(x - x.mean(1, keepdims=True), axis=1, keepdims=True)  # noqa: E731
    similarity = z(qry) @ z(ref).T
    assert np.mean(np.argmax(similarity, axis=1) == np.arange(30)) > 0.5  # chance: 1/30
    with pytest.raises(ValueError, match=r"vpr.places: the substitute route has \d+ places"):
        substitute(10**6, seed=0)


def _write_route(root: Path, n_ref: int, n_query: int, ref_name: str = "reference") -> None:
    for side, n in ((ref_name, n_ref), ("query", n_query)):
        (root / side).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(np.full((8, 10), 20 * i + (side == "query"), np.uint8)).save(root / side / f"{i:03d}.png")


def test_a_folder_route_reads_matched_images_in_name_order(tmp_path):
    _write_route(tmp_path, 6, 6, ref_name="ref")
    route = from_folder(tmp_path, every=2)
    assert len(route) == 3 and route.reference.shape == (3, 8, 10)
    np.testing.assert_allclose(route.reference[:, 0, 0], np.array([0, 40, 80]) / 255)
    np.testing.assert_allclose(route.query[:, 0, 0], np.array([1, 41, 81]) / 255)
    bad = tmp_path / "bad"
    _write_route(bad, 3, 2)
    with pytest.raises(ValueError, match="3 reference and 2 query images"):
        from_folder(bad)


def test_nordland_download_unpacks_an_archive_into_the_store(tmp_path):
    staged = tmp_path / "staged" / "nordland_vprbench"
    _write_route(staged, 4, 4, ref_name="ref")
    archive = tmp_path / "nordland.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for f in staged.rglob("*.png"):
            z.write(f, f.relative_to(staged.parent))
    target = tmp_path / "data" / "nordland"
    assert nordland.download(target, url=archive.as_uri()) == target
    assert len(nordland.load(target, every=1, size=None)) == 4
    assert [p.name for p in target.parent.iterdir()] == ["nordland"]  # no scratch left behind


def test_missing_routes_say_how_to_get_them(tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROSIM_DATA", str(tmp_path))
    with pytest.raises(store.DataMissing, match="neurosim data fetch nordland"):
        nordland.load()
    monkeypatch.delenv("NEUROSIM_ROBOTCAR_USER", raising=False)
    with pytest.raises(store.DataMissing, match="NEUROSIM_ROBOTCAR_USER and NEUROSIM_ROBOTCAR_PASSWORD"):
        robotcar.download(tmp_path / "robotcar")
    assert not (tmp_path / "robotcar").exists()


def test_a_bayer_frame_becomes_grey_by_summing_each_cell():
    raw = np.array([[10, 20, 30, 40], [50, 60, 70, 80]], np.uint8)  # two GBRG cells
    np.testing.assert_array_equal(robotcar._grey_from_bayer(raw), [[35, 55]])


def test_modules_trained_on_dask_workers_equal_those_trained_in_process():
    """Each module's seed is its own, so where and in which order modules train changes nothing."""
    from neurosim.scenario.sweep import dask_client

    images = vpr.preprocess(substitute(6, seed=0).reference)
    p = dc.Params(n_exc=4)
    serial = vpr.train_modules(p, images, vpr.regions(6, 3), epochs=1, seed=9)
    with dask_client(2) as client:
        parallel = vpr.train_modules(p, images, vpr.regions(6, 3), epochs=1, seed=9,
                                     map=lambda f, *its: client.gather(client.map(f, *its, pure=False)))
    for a, b in zip(serial, parallel):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)
    assert not np.array_equal(serial[0].weights, serial[1].weights)


def test_the_scenario_reports_both_recalls_on_the_substitute_route(tmp_path):
    out = tmp_path / "vpr.h5"
    code = main(["run", str(SCENARIO), "--quiet", "--out", str(out), "--set", "vpr.places=40",
                 "--set", "vpr.places_per_module=20", "--set", "vpr.n_exc=20", "--set", "vpr.epochs=3",
                 "--set", "vpr.workers=2"])
    assert code == 0
    with h5py.File(out) as f:
        assert "substitute" in f.attrs["protocol"]
        m = f["metrics"]
        for name in ("recall_at_1", "recall_at_1_unregularised", "auc", "auc_unregularised"):
            assert 0.0 <= m[name][()] <= 1.0
        assert m["modules"][()] == 2 and m["places"][()] == 40
        assert m["precision_unregularised"].attrs["x"] == "recall_unregularised"
        assert m["recall_at_1"][()] >= 0.1  # chance is 1/40


@pytest.mark.parametrize("setting, field", [
    ("vpr.places=100000", "vpr.places"),
    ("vpr.calibration=1.0", "vpr.calibration"),
    ("vpr.data='/no/such/folder'", "vpr.data"),
])
def test_bad_settings_exit_2_naming_the_field(tmp_path, capsys, setting, field):
    code = main(["run", str(SCENARIO), "--quiet", "--out", str(tmp_path / "x.h5"), "--set", setting])
    assert code == 2 and field in capsys.readouterr().err
    assert not (tmp_path / "x.h5").exists()


def test_robotcar_places_pair_frames_by_position_not_by_order():
    """A day run at 1 m/s and a night run at 2 m/s along the same road, 1 m apart: places every
    10 m of the day run, each with the night frame nearest in position."""
    ins = "timestamp,ins_status,latitude,longitude,altitude,northing,easting,down\n" + "\n".join(
        f"{int(t * 1e6)},INS_SOLUTION_GOOD,0,0,0,{t * 1.0:.3f},0.0,0" for t in np.arange(0, 60, 0.1))
    night = "timestamp,northing,easting\n" + "\n".join(
        f"{int(t * 1e6)},{t * 2.0:.3f},1.0" for t in np.arange(0, 30, 0.1))
    day_frames = (np.arange(0, 59, 0.5) * 1e6).astype(np.int64)
    night_frames = (np.arange(0, 29, 0.25) * 1e6).astype(np.int64)
    pairs = robotcar.pair_by_position(day_frames, robotcar.track(ins), night_frames, robotcar.track(night))
    day = np.array([p[0] for p in pairs]) * 0.5  # metres along the road
    night_m = np.array([p[1] for p in pairs]) * 0.25 * 2.0
    np.testing.assert_allclose(day, np.arange(0, 58.6, 10.0))
    np.testing.assert_allclose(night_m, day)  # the same stretch of road, at another frame index
    far = "timestamp,northing,easting\n" + "\n".join(f"{int(t * 1e6)},{t:.3f},50.0" for t in np.arange(0, 60, 0.1))
    assert robotcar.pair_by_position(day_frames, robotcar.track(ins), day_frames, robotcar.track(far)) == []
