"""The MNIST IDX loader, the substitute protocol, where datasets are looked for and how they are fetched."""

import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest

from neurosim.datasets import mnist, store
from neurosim.datasets.mnist import SUBSTITUTE_NOTE, load_idx_pair, read_idx, substitute_split, write_idx

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"  # the shipped fixture: DATA / "mnist" (see its README.md)
MNIST = DATA / "mnist"
SHA256 = {"t10k-images-idx3-ubyte.gz": "370bcef8abed680e4f6ab1538b630f62da098b703ea4e3cde352bbe84557e5cd",
          "t10k-labels-idx1-ubyte.gz": "899c5d613cf73cdb2b1b9499e23b476d750222f3c77074a63d8fa69b377045da"}


@pytest.fixture
def no_store(tmp_path, monkeypatch):
    """An empty NEUROSIM_DATA and a home / cache of its own: nothing from this machine is found."""
    monkeypatch.setenv("NEUROSIM_DATA", str(tmp_path / "empty"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    (tmp_path / "empty").mkdir()
    return tmp_path


def _md5s(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in folder.glob("*.gz")}


def test_fixture_matches_its_checksums_and_licence():
    for name, digest in SHA256.items():
        assert hashlib.sha256((MNIST / name).read_bytes()).hexdigest() == digest, name
        assert digest in (MNIST / "README.md").read_text()
    assert "CC BY-SA 3.0" in (MNIST / "LICENSE").read_text() and "LeCun" in (MNIST / "LICENSE").read_text()
    assert sum((MNIST / name).stat().st_size for name in SHA256) < 400_000
    images, labels = load_idx_pair(MNIST)
    assert images.shape == (2000, 28, 28) and images.dtype == np.uint8
    assert labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]  # the first official test labels
    assert np.bincount(labels).min() > 150


def test_plain_and_gzip_files_read_the_same(tmp_path):
    data = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    raw = bytes([0, 0, 0x08, 3]) + b"".join(int(s).to_bytes(4, "big") for s in data.shape) + data.tobytes()
    (tmp_path / "x.idx").write_bytes(raw)
    (tmp_path / "x.idx.gz").write_bytes(gzip.compress(raw))
    assert np.array_equal(read_idx(tmp_path / "x.idx"), data)
    assert np.array_equal(read_idx(tmp_path / "x.idx.gz"), data)
    wide = np.array([[1, -2], [300, 4]], dtype=">i4")
    raw32 = bytes([0, 0, 0x0C, 2]) + b"".join(int(s).to_bytes(4, "big") for s in wide.shape) + wide.tobytes()
    (tmp_path / "w.idx").write_bytes(raw32)
    assert read_idx(tmp_path / "w.idx").tolist() == [[1, -2], [300, 4]]
    assert write_idx(tmp_path / "copy.idx", data).read_bytes() == raw
    assert np.array_equal(read_idx(write_idx(tmp_path / "w2.idx.gz", wide.astype(np.int32))), wide)


def test_bad_files_are_named(tmp_path):
    (tmp_path / "bad.idx").write_bytes(b"hello world")
    with pytest.raises(ValueError, match="bad.idx: not an IDX file"):
        read_idx(tmp_path / "bad.idx")
    (tmp_path / "short.idx").write_bytes(bytes([0, 0, 0x08, 1]) + (10).to_bytes(4, "big") + b"abc")
    with pytest.raises(ValueError, match="holds 3 values but its header says"):
        read_idx(tmp_path / "short.idx")
    with pytest.raises(FileNotFoundError, match="no such"):
        load_idx_pair(tmp_path)
    with pytest.raises(ValueError, match="dataset.kind"):
        load_idx_pair(MNIST, "validation")


def test_substitute_split():
    images, labels = load_idx_pair(MNIST)
    split = substitute_split(images, labels)  # 80 / 10 / 10 % of the fixture's 2000 images
    assert [p[0].shape[0] for p in (split.train, split.val, split.test)] == [1600, 200, 200]
    assert split.train[0].max() == 1.0 and "substitute protocol on 2000 images" in split.note
    assert np.array_equal(split.test[1], labels[1800:])
    with pytest.raises(ValueError, match="dataset.bounds"):
        substitute_split(images, labels, (9000, 8000))
    full = substitute_split(np.zeros((10000, 2, 2), np.uint8), np.zeros(10000, np.uint8))
    assert [p[0].shape[0] for p in (full.train, full.val, full.test)] == [8000, 1000, 1000]
    assert full.note == SUBSTITUTE_NOTE


def test_datasets_are_looked_for_in_order(tmp_path, monkeypatch):
    monkeypatch.delenv("NEUROSIM_DATA", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert store.folder("mnist") == tmp_path / "home" / ".cache" / "neurosim" / "mnist"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert store.folder("mnist") == tmp_path / "cache" / "neurosim" / "mnist"
    monkeypatch.setenv("NEUROSIM_DATA", str(DATA))
    assert store.folder("mnist") == MNIST and mnist.locate() == MNIST and mnist.locate("mnist") == MNIST
    assert store.folder("mnist", tmp_path / "mine") == tmp_path / "mine"  # an explicit folder comes first
    with pytest.raises(ValueError, match="unknown dataset 'cifar'"):
        store.folder("cifar")


def test_missing_data_says_how_to_get_it(no_store):
    with pytest.raises(store.DataMissing, match=r"no such file t10k-images.*neurosim data fetch mnist.*NEUROSIM_DATA"):
        mnist.locate()
    with pytest.raises(FileNotFoundError, match=r"nowhere: no such file .*--dir"):
        mnist.locate(no_store / "nowhere")
    with pytest.raises(store.DataMissing, match="train-images"):
        mnist.locate(MNIST, ("train", "t10k"))  # the fixture has the test set only


def test_download_from_a_mirror_checks_md5_and_keeps_good_files(tmp_path, no_store):
    mirror = MNIST.as_uri() + "/"
    target = mnist.download(kinds=("t10k",), mirror=mirror, checksums=_md5s(MNIST))
    assert target == no_store / "empty" / "mnist" and mnist.locate() == target
    assert sorted(p.name for p in target.iterdir()) == sorted(SHA256)  # no temporary files left
    for name in SHA256:
        assert (target / name).read_bytes() == (MNIST / name).read_bytes()
    # files already there with the right md5 are not fetched again (this mirror has nothing)
    (tmp_path / "bare").mkdir()
    assert mnist.download(target, ("t10k",), (tmp_path / "bare").as_uri() + "/", _md5s(MNIST)) == target
    with pytest.raises(ConnectionError, match="check the network"):
        mnist.download(tmp_path / "other", ("t10k",), (tmp_path / "bare").as_uri() + "/", _md5s(MNIST))
    assert not (tmp_path / "other").exists()


def test_download_refuses_a_checksum_mismatch_and_leaves_nothing(tmp_path):
    mirror = MNIST.as_uri() + "/"  # the fixture is not the official file: its md5 differs from MD5
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte.gz: md5 \w+ is not the expected 9fb629c4"):
        mnist.download(tmp_path / "new", ("t10k",), mirror)
    assert not (tmp_path / "new").exists()
    (tmp_path / "old").mkdir()
    with pytest.raises(ValueError, match="md5"):
        mnist.download(tmp_path / "old", ("t10k",), mirror)
    assert list((tmp_path / "old").iterdir()) == []


def test_data_fetch_command(tmp_path, no_store, monkeypatch, capsys):
    from neurosim.cli import main

    mirror = tmp_path / "mirror"  # a fake mirror: the fixture under the four official names
    mirror.mkdir()
    for kind in ("train", "t10k"):
        for name, fixture in zip(mnist.FILES[kind], mnist.FILES["t10k"]):
            (mirror / name).write_bytes((MNIST / fixture).read_bytes())
    monkeypatch.setattr(mnist, "MIRROR", mirror.as_uri() + "/")
    monkeypatch.setattr(mnist, "MD5", _md5s(mirror))
    assert main(["data", "fetch", "mnist"]) == 0
    assert str(no_store / "empty" / "mnist") in capsys.readouterr().out
    assert mnist.locate(None, ("train", "t10k")) == no_store / "empty" / "mnist"
    assert main(["data", "fetch", "mnist", "--dir", str(tmp_path / "here")]) == 0
    assert sorted(p.name for p in (tmp_path / "here").iterdir()) == sorted(p.name for p in mirror.iterdir())
    monkeypatch.setattr(mnist, "MD5", {name: "0" * 32 for name in mnist.MD5})
    assert main(["data", "fetch", "mnist", "--dir", str(tmp_path / "bad")]) == 1
    assert "md5" in capsys.readouterr().err and not (tmp_path / "bad").exists()


@pytest.mark.parametrize("command, scenario, field", [
    ("run", "nalsm_smoke.toml", "lsm.data"),
    ("validate", "nalsm_mnist.toml", "lsm.data"),
    ("validate", "snn_mnist.toml", "train.data_dir"),
])
def test_scenarios_without_their_data_exit_2_before_running(no_store, capsys, command, scenario, field):
    from neurosim.cli import main

    out = no_store / "out.h5"
    args = [command, str(REPO / "scenarios" / scenario)] + (["--out", str(out), "--quiet"] if command == "run" else [])
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"{field}: " in err and "neurosim data fetch mnist" in err and "NEUROSIM_DATA" in err, err
    assert not list(no_store.glob("out*"))  # nothing was simulated or written


def test_scenarios_find_the_data_in_neurosim_data(monkeypatch, capsys):
    from neurosim.cli import main

    monkeypatch.setenv("NEUROSIM_DATA", str(DATA))
    assert main(["validate", str(REPO / "scenarios" / "nalsm_smoke.toml")]) == 0
    assert main(["validate", str(REPO / "scenarios" / "snn_mnist.toml")]) == 0


def test_nothing_tracked_points_outside_the_repository():
    outside = "/".join(("..", "shared"))
    hits = [str(p.relative_to(REPO)) for top in ("neurosim", "models", "hardware", "scenarios", "tests", "docs",
                                                  "benchmarks") for p in (REPO / top).rglob("*")
            if p.is_file() and p.suffix in (".py", ".toml", ".md") and outside in p.read_text(errors="ignore")]
    hits += ["README.md"] if outside in (REPO / "README.md").read_text() else []
    assert hits == []
