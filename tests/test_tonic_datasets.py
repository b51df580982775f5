"""N-MNIST, SHD and DVS Gesture through Tonic in the ``train`` task: the event → frame pipeline
against frames counted by hand from the events, Tonic's own classes reading tiny files written
here in each dataset's on-disk format (no network), the ``[train.events]`` schema, a missing
dataset, and a tiny end-to-end training run.

All frame comparisons are exact (integer event counts): any misplaced event fails them.
"""

from __future__ import annotations

import copy
from pathlib import Path

import h5py
import numpy as np
import pytest
import tomli_w

from neurosim.cli import main
from neurosim.datasets import neuromorphic as nm
from neurosim.datasets.store import DataMissing
from neurosim.io import load as load_results
from neurosim.scenario.spec import load as load_scenario
from neurosim.train import data

REPO = Path(__file__).resolve().parents[1]
XYTP = np.dtype([("x", int), ("y", int), ("t", int), ("p", int)])  # Tonic's N-MNIST events


# ------------------------------------------------------------------ the datasets' on-disk formats
def write_nmnist_bin(path: Path, x, y, t, p) -> None:
    """An N-MNIST ``.bin`` file (Orchard et al. 2015): 40 bits per event, big-endian: x (8), y (8),
    polarity (1), time stamp in µs (23)."""
    t = np.asarray(t, np.int64)
    assert t.max() < 2**23
    raw = np.stack([x, y, (np.asarray(p) << 7) | (t >> 16), (t >> 8) & 255, t & 255], axis=1).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(raw.tobytes())


def write_shd(path: Path, times: list, units: list, labels: list) -> None:
    """An SHD file (Cramer et al. 2020): ragged ``spikes/times`` [s] and ``spikes/units``, ``labels``,
    ``extra/keys`` and ``extra/speaker``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        for key, rows, dtype in (("spikes/times", times, np.float64), ("spikes/units", units, np.uint16)):
            ragged = f.create_dataset(key, (len(rows),), dtype=h5py.vlen_dtype(dtype))
            for i, row in enumerate(rows):
                ragged[i] = np.asarray(row, dtype)
        f["labels"] = np.asarray(labels, np.uint16)
        f["extra/keys"] = np.array([f"digit {k}".encode() for k in range(20)])
        f["extra/speaker"] = np.zeros(len(labels), np.uint16)


def write_dvs_gesture(path: Path, x, y, p, t_ms) -> None:
    """A DVS Gesture sample of Tonic's preprocessed set: ``<user>_<lighting>/<label>.npy``, rows
    (x, y, p, t [ms])."""
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, np.stack([x, y, p, t_ms], axis=1).astype(np.float64))


# ------------------------------------------------------------------ references counted by hand
def count_frames(x, y, p, t, bin_width: int, steps: int, sensor: tuple[int, int, int], k: int = 1) -> np.ndarray:
    """[P·H·W, T] counts: event i adds 1 at polarity p, pixel (⌊y/k⌋, ⌊x/k⌋), frame ⌊(t − t0)/w⌋ < T."""
    w, h, n_p = sensor
    frames = np.zeros((steps, n_p, h, w), np.float32)
    t0 = min(t)
    for xi, yi, pi, ti in zip(x, y, p, t):
        b = (ti - t0) // bin_width
        if b < steps:
            frames[b, pi, yi // k, xi // k] += 1
    return frames.reshape(steps, -1).T


def random_events(rng, n: int, sensor=(34, 34, 2), t_max: int = 50_000):
    x, y = rng.integers(0, sensor[0], n), rng.integers(0, sensor[1], n)
    t, p = np.sort(rng.integers(0, t_max, n)), rng.integers(0, sensor[2], n)
    return x, y, t, p


def as_events(x, y, t, p) -> np.ndarray:
    ev = np.zeros(len(x), XYTP)
    ev["x"], ev["y"], ev["t"], ev["p"] = x, y, t, p
    return ev


# ------------------------------------------------------------------ the pipeline
def test_time_window_frames_put_every_event_in_its_frame_and_pixel():
    """ToFrame with time_window = dt from the first event: frame k counts k·dt ≤ t − t0 < (k+1)·dt,
    polarity-major flattening; events after T·dt are dropped. Exact, counts are integers."""
    rng = np.random.default_rng(1)
    x, y, t, p = random_events(rng, 3000, t_max=60_000)
    t = t + 12_345  # the first event is the time origin, not t = 0
    framing = nm.Framing(steps=10, dt=5e-3)
    frames = nm.pipeline("nmnist", framing)(as_events(x, y, t, p))
    assert frames.shape == (2 * 34 * 34, 10) and frames.dtype == np.float32
    assert np.array_equal(frames, count_frames(x, y, p, t, 5000, 10, (34, 34, 2)))
    assert frames.sum() == np.sum(t - t.min() < 50_000) < 3000  # 10 frames of 5 ms hold the first 50 ms
    one = nm.pipeline("nmnist", framing)(as_events([5, 6], [7, 7], [100, 100 + 12_500], [1, 0]))
    assert one.sum() == 2
    assert one[1 * 34 * 34 + 7 * 34 + 5, 0] == 1  # p = 1, y = 7, x = 5 in the first frame
    assert one[0 * 34 * 34 + 7 * 34 + 6, 2] == 1  # 12.5 ms later: frame 2 of 5 ms


def test_a_whole_sample_in_time_window_frames_keeps_every_event():
    """With T·dt beyond the last event each event is counted once: the frames sum to the event count."""
    x, y, t, p = random_events(np.random.default_rng(2), 500, t_max=9_999)
    frames = nm.pipeline("nmnist", nm.Framing(steps=10, dt=1e-3))(as_events(x, y, t, p))
    assert frames.sum() == 500
    assert np.array_equal(frames.sum(axis=1), np.bincount(p * 34 * 34 + y * 34 + x, minlength=2312))


@pytest.mark.parametrize("k", [2, 3, 5])
def test_downsample_maps_pixels_to_floor_x_over_k_on_a_ceil_w_over_k_sensor(k):
    """Downsample(1/k): (x, y) → (⌊x/k⌋, ⌊y/k⌋); N-MNIST's 34 x 34 becomes ⌈34/k⌉², corners included."""
    rng = np.random.default_rng(k)
    x, y, t, p = random_events(rng, 2000)
    x[:2], y[:2] = [0, 33], [33, 0]
    framing = nm.Framing(steps=5, dt=10e-3, downsample=k)
    side = -(-34 // k)
    assert framing.sensor_size((34, 34, 2)) == (side, side, 2)
    frames = nm.pipeline("nmnist", framing)(as_events(x, y, t, p))
    assert frames.shape == (2 * side * side, 5) and frames.sum() == 2000
    assert np.array_equal(frames, count_frames(x, y, p, t, 10_000, 5, (side, side, 2), k))


def test_n_time_bins_follow_tonics_rule_and_drop_the_tail():
    """n_time_bins = T: bins of w = ⌊(t_last − t0)/T⌋ µs from t0; events at t − t0 ≥ T·w (always the
    last one) are not counted, so the sum is the number of events before T·w."""
    x, y, t, p = random_events(np.random.default_rng(3), 1000, t_max=33_337)
    frames = nm.pipeline("nmnist", nm.Framing(steps=7, dt=1e-3, frames="n_time_bins"))(as_events(x, y, t, p))
    w = (t.max() - t.min()) // 7
    assert np.array_equal(frames, count_frames(x, y, p, t, w, 7, (34, 34, 2)))
    assert frames.sum() == np.sum(t - t.min() < 7 * w) <= 999


def test_merged_polarities_are_the_sum_of_both_channels():
    """MergePolarities: one channel holding the counts of both polarities."""
    x, y, t, p = random_events(np.random.default_rng(4), 800)
    ev = as_events(x, y, t, p)
    split = nm.pipeline("nmnist", nm.Framing(steps=4, dt=10e-3))(ev)
    merged = nm.pipeline("nmnist", nm.Framing(steps=4, dt=10e-3, merge_polarities=True))(ev)
    assert merged.shape == (34 * 34, 4)
    assert np.array_equal(merged, split[:34 * 34] + split[34 * 34:])


def test_denoise_keeps_exactly_the_events_with_a_recent_neighbour():
    """Denoise(filter_time): event i is kept iff an earlier event j at a 4-neighbour pixel has
    t_i − t_j < filter_time (brute force over all pairs here). Times start after filter_time, where
    Tonic's filter memory is no longer in its initial state."""
    rng = np.random.default_rng(5)
    n, filter_us = 400, 3000
    x, y = rng.integers(0, 8, n), rng.integers(0, 8, n)
    t = filter_us + np.sort(rng.choice(200_000, n, replace=False))
    p = rng.integers(0, 2, n)
    keep = [any(abs(x[i] - x[j]) + abs(y[i] - y[j]) == 1 and t[i] - t[j] < filter_us for j in range(i))
            for i in range(n)]
    assert 0 < sum(keep) < n
    kx, ky, kt, kp = (a[np.array(keep)] for a in (x, y, t, p))
    framing = nm.Framing(steps=250, dt=1e-3, denoise=filter_us * 1e-6)
    frames = nm.pipeline("nmnist", framing)(as_events(x, y, t, p))
    # TimeAlignment runs after Denoise: frames start at the first kept event
    assert np.array_equal(frames, count_frames(kx, ky, kp, kt, 1000, 250, (34, 34, 2)))
    assert frames.sum() == sum(keep)


def test_an_empty_sample_gives_empty_frames():
    """A sample Denoise empties (one isolated event) yields all-zero frames of the documented shape."""
    frames = nm.pipeline("nmnist", nm.Framing(steps=3, dt=1e-3, denoise=1e-3))(as_events([4], [4], [5000], [1]))
    assert frames.shape == (2312, 3) and not frames.any()


@pytest.mark.parametrize("fields,message", [
    ({"frames": "event_count"}, "frames: must be one of"),
    ({"downsample": 0}, "downsample: must be >= 1"),
    ({"denoise": 0.0}, "denoise: must be > 0"),
    ({"dt": 1.5e-6}, "dt: must be a positive whole number of microseconds"),
])
def test_bad_framings_raise_naming_the_parameter(fields, message):
    """Framing rejects values that have no meaning, naming the parameter first."""
    with pytest.raises(ValueError, match=f"^{message}"):
        nm.Framing(**{"steps": 5, "dt": 1e-3, **fields})


# ------------------------------------------------------------------ Tonic's classes on files written here
def nmnist_fixture(root: Path, per_class: int = 1, test_per_class: int = 1, seed: int = 0) -> dict:
    """NMNIST/Train/<d>/*.bin and NMNIST/Test/<d>/*.bin: digit d's events lie on row 3d+1 (and noise)."""
    rng = np.random.default_rng(seed)
    written: dict = {"train": [], "test": []}
    for split, folder, count in (("train", "Train", per_class), ("test", "Test", test_per_class)):
        for d in range(10):
            for j in range(count):
                n = 60
                x = rng.integers(0, 34, n)
                y = np.where(rng.random(n) < 0.8, 3 * d + 1, rng.integers(0, 34, n))
                t, p = np.sort(rng.integers(0, 40_000, n)), rng.integers(0, 2, n)
                write_nmnist_bin(root / "NMNIST" / folder / str(d) / f"{j:05d}.bin", x, y, t, p)
                written[split].append((d, x, y, t, p))
    return written


def test_nmnist_files_are_read_by_tonic_and_framed(tmp_path):
    """Tonic's NMNIST reads the .bin files written here (no download: the data are there); the
    frames equal those counted from the written events, labels are the folders' digits."""
    written = nmnist_fixture(tmp_path, per_class=2)
    framing = nm.Framing(steps=4, dt=10e-3, downsample=2)
    (x_train, y_train), (x_test, y_test) = nm.load("nmnist", framing, tmp_path)
    assert x_train.shape == (20, 2 * 17 * 17, 4) and x_test.shape == (10, 578, 4)
    assert y_train.tolist() == [d for d in range(10) for _ in range(2)]
    for k, (d, x, y, t, p) in enumerate(written["train"]):
        assert np.array_equal(x_train[k], count_frames(x, y, p, t, 10_000, 4, (17, 17, 2), 2)), k
    (sub_x, sub_y), _ = nm.load("nmnist", framing, tmp_path, train_samples=5)
    again, _ = nm.load("nmnist", framing, tmp_path, train_samples=5)
    assert sub_x.shape[0] == 5 and np.array_equal(sub_y, again[1]) and len(set(sub_y.tolist())) > 1
    subset = data.load("nmnist", tmp_path, framing=framing, train_samples=5)
    assert subset.val is None and "5 training and 10 test samples, random subsets" in subset.note
    assert data.load("nmnist", tmp_path, framing=framing).note == ""


def test_shd_file_is_read_by_tonic_with_one_polarity_and_700_channels(tmp_path):
    """Tonic's SHD reads spikes/times [s] → µs (⌊t·10⁶⌋) and units as x; the frames are [⌈700/k⌉, T]
    counts per channel group; times are multiples of 1/64 s, exact in binary."""
    times = [[1 / 64, 2 / 64, 2 / 64, 9 / 64], [5 / 64]]
    units = [[0, 699, 698, 350], [7]]
    write_shd(tmp_path / "SHD" / "shd_train.h5", times, units, [3, 19])
    write_shd(tmp_path / "SHD" / "shd_test.h5", [[3 / 64]], [[1]], [12])
    framing = nm.Framing(steps=8, dt=15_625e-6, downsample=5)
    assert data.shape_of("shd", framing) == ((140, 8), 20, True)
    (x, y), (xt, yt) = nm.load("shd", framing, tmp_path)
    assert x.shape == (2, 140, 8) and y.tolist() == [3, 19] and yt.tolist() == [12]
    expected = np.zeros((140, 8))
    expected[0, 0] = 1  # t − t0 = 0, channel 0
    expected[139, 1] = 2  # channels 699 and 698 both in group ⌊/5⌋ = 139, one frame (15.625 ms) later
    # 9/64 s is 8 frames after the first spike: beyond T = 8 frames, dropped
    assert np.array_equal(x[0], expected)
    assert x[1, 7 // 5, 0] == 1 and x[1].sum() == 1


def test_dvs_gesture_files_are_read_by_tonic_with_ms_times(tmp_path):
    """Tonic's DVSGesture reads <user>_<lighting>/<label>.npy (t in ms → µs); labels from file names."""
    g = tmp_path / "DVSGesture"
    write_dvs_gesture(g / "ibmGestureTrain" / "user01_led" / "4.npy", [127, 0, 64], [3, 127, 64], [1, 0, 1],
                      [100, 101, 130])
    write_dvs_gesture(g / "ibmGestureTrain" / "user02_natural" / "10.npy", [1], [2], [0], [7])
    write_dvs_gesture(g / "ibmGestureTest" / "user24_led" / "0.npy", [5], [5], [1], [0])
    framing = nm.Framing(steps=3, dt=10e-3, downsample=4)
    (x, y), (xt, yt) = nm.load("dvs_gesture", framing, tmp_path)
    assert x.shape == (2, 2 * 32 * 32, 3) and sorted(y.tolist()) == [4, 10] and yt.tolist() == [0]
    k = y.tolist().index(4)
    assert np.array_equal(x[k], count_frames([127, 0, 64], [3, 127, 64], [1, 0, 1], [100_000, 101_000, 130_000],
                                             10_000, 3, (32, 32, 2), 4))
    assert x[k].sum() == 2  # 130 ms is 30 ms after the first event: beyond 3 frames of 10 ms


def test_a_missing_dataset_raises_data_missing_naming_it_and_its_folder(tmp_path):
    """Without download nothing is fetched: DataMissing names the dataset, the folder and the fix."""
    with pytest.raises(DataMissing, match=rf"nmnist: no NMNIST/Train.*in {tmp_path}.*download = true"):
        nm.load("nmnist", nm.Framing(steps=2, dt=1e-3), tmp_path)


def test_download_goes_through_tonics_own_class(tmp_path, monkeypatch):
    """With download = true the unmodified Tonic class runs its check and its download (replaced here
    by one writing the files, so that no network is used)."""
    import tonic.datasets

    calls = []

    def fake_download(self):
        calls.append((type(self) is tonic.datasets.NMNIST, self.filename))
        for d in range(10):
            write_nmnist_bin(Path(self.location_on_system) / self.folder_name / str(d) / "0.bin", [d], [1], [0], [0])

    monkeypatch.setattr(tonic.datasets.NMNIST, "download", fake_download)
    (x, y), (xt, yt) = nm.load("nmnist", nm.Framing(steps=2, dt=1e-3), tmp_path / "new", download=True)
    assert calls == [(True, "train.zip"), (True, "test.zip")]
    assert x.shape == xt.shape == (10, 2312, 2) and y.tolist() == list(range(10))
    assert [np.flatnonzero(x[d])[0] for d in range(10)] == [(34 + d) * 2 for d in range(10)]  # p 0, y 1, x d, frame 0


# ------------------------------------------------------------------ the train task
TINY = {
    "schema_version": 1, "name": "tiny_nmnist", "task": "train",
    "train": {
        "dataset": "nmnist", "steps": 4, "dt": "10 ms", "events": {"downsample": 2},
        "neuron": {"model": "LIF", "tau_m": "20 ms"},
        "layers": [{"type": "linear", "size": 32}, {"type": "lif"}, {"type": "linear", "size": 10},
                   {"type": "li", "tau_m": "50 ms"}],
        "epochs": 12, "batch_size": 10, "lr": 1e-2, "seed": 1, "threads": 1,
    },
    "output": {"overwrite": "overwrite"},
}


def write(tmp_path: Path, config: dict) -> Path:
    path = tmp_path / "scenario.toml"
    path.write_text(tomli_w.dumps(config))
    return path


def test_train_task_learns_the_fixture_and_writes_its_metrics(tmp_path, monkeypatch):
    """End to end on 30 + 10 N-MNIST files in NEUROSIM_DATA/nmnist: digit d's events lie mostly on row
    3d+1, so the classes are linearly separable; a 578-32-10 network must reach ≥ 90 % on the unseen
    test files (chance is 10 %) and write its curves, scalars and model description."""
    nmnist_fixture(tmp_path / "data" / "nmnist", per_class=3, seed=7)
    monkeypatch.setenv("NEUROSIM_DATA", str(tmp_path / "data"))
    out = tmp_path / "tiny.h5"
    assert main(["run", str(write(tmp_path, TINY)), "--out", str(out), "--quiet"]) == 0
    res = load_results(out)
    assert res.metrics["train_loss"].shape == (12,) and res.metrics["train_loss"][-1] < res.metrics["train_loss"][0]
    assert "val_accuracy" not in res.metrics
    assert res.metrics["n_parameters"] == 578 * 32 + 32 + 32 * 10 + 10
    assert res.metrics["test_accuracy"] >= 0.9


def _set(config: dict, path: str, value) -> dict:
    config = copy.deepcopy(config)
    *heads, last = path.split(".")
    table = config
    for head in heads:
        table = table.setdefault(head, {})
    table[last] = value
    return config


MALFORMED = [
    ("train.events.frames", "event_count", "train.events.frames"),
    ("train.events.downsample", 0, "train.events.downsample"),
    ("train.events.downsample", 40, "train.events.downsample"),  # beyond the 34 x 34 sensor
    ("train.events.denoise", "-1 ms", "train.events.denoise"),
    ("train.events.denoise", "1 V", "train.events.denoise"),
    ("train.events.train_samples", -1, "train.events.train_samples"),
    ("train.events.colour", True, "train.events.colour"),
    ("train.dt", "2.5 us", "train.dt"),  # not whole µs: no time_window in Tonic's time stamps
    ("train.encoder", {"type": "rate"}, "train.encoder.type"),  # frames are a series
    ("train.layers", [{"type": "linear", "size": 20}, {"type": "li"}], "train.layers.1"),  # 10 classes
]


@pytest.mark.parametrize("path,value,where", MALFORMED, ids=[f"{m[2]}={m[1]}"[:40] for m in MALFORMED])
def test_malformed_event_fields_exit_2_naming_the_field(tmp_path, capsys, monkeypatch, path, value, where):
    """Each bad value is refused by ``neurosim validate`` with exit 2 and the field's dotted path."""
    nmnist_fixture(tmp_path / "data" / "nmnist")
    monkeypatch.setenv("NEUROSIM_DATA", str(tmp_path / "data"))
    assert main(["validate", str(write(tmp_path, TINY))]) == 0
    assert main(["validate", str(write(tmp_path, _set(TINY, path, value)))]) == 2
    assert where in capsys.readouterr().err


@pytest.mark.parametrize("config,where", [
    (_set(_set(TINY, "train.dataset", "shd"), "train.events.denoise", "5 ms"), "train.events.denoise"),
    (_set(_set(TINY, "train.dataset", "digits"), "train.events", {"downsample": 2}), "train.events"),
])
def test_fields_that_do_not_fit_the_dataset_exit_2(tmp_path, capsys, monkeypatch, config, where):
    """SHD has no y for Denoise; ``events`` belongs to event datasets only."""
    monkeypatch.setenv("NEUROSIM_DATA", str(tmp_path))
    assert main(["validate", str(write(tmp_path, config))]) == 2
    assert f"{where}: " in capsys.readouterr().err


@pytest.mark.parametrize("dataset,tonic_folder", [("nmnist", "NMNIST"), ("shd", "SHD"), ("dvs_gesture", "DVSGesture")])
def test_a_missing_dataset_exits_2_naming_it_and_the_folder(tmp_path, capsys, monkeypatch, dataset, tonic_folder):
    """No files and download = false: exit 2 at train.data_dir, naming the dataset, the folder
    looked in and download = true; nothing is fetched."""
    monkeypatch.setenv("NEUROSIM_DATA", str(tmp_path / "empty"))
    config = _set(_set(TINY, "train.dataset", dataset), "train.events", {})
    config["train"]["layers"][2]["size"] = nm.SPECS[dataset].classes
    assert main(["run", str(write(tmp_path, config)), "--out", str(tmp_path / "x.h5"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"train.data_dir: {dataset}: no {tonic_folder}/" in err and str(tmp_path / "empty" / dataset) in err
    assert "download = true" in err and not (tmp_path / "empty").exists()


@pytest.mark.parametrize("name,features,classes", [("snn_nmnist.toml", 578, 10), ("snn_shd.toml", 140, 20)])
def test_shipped_scenarios_validate_on_a_data_folder(tmp_path, monkeypatch, name, features, classes):
    """The shipped scenarios validate when their data are there, with the documented input width."""
    from neurosim.scenario import train as task

    nmnist_fixture(tmp_path / "nmnist")
    write_shd(tmp_path / "shd" / "SHD" / "shd_train.h5", [[0.0]], [[1]], [0])
    write_shd(tmp_path / "shd" / "SHD" / "shd_test.h5", [[0.0]], [[1]], [0])
    monkeypatch.setenv("NEUROSIM_DATA", str(tmp_path))
    assert main(["validate", str(REPO / "scenarios" / name)]) == 0
    description = task.prepare(load_scenario(REPO / "scenarios" / name)).description
    assert description["input_shape"][0] == features and description["classes"] == classes
