"""The MNIST IDX loader and the substitute protocol."""

import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest

from neurosim.datasets.mnist import SUBSTITUTE_NOTE, load_idx_pair, read_idx, substitute_split

MNIST = Path("../shared/datasets/mnist")


def test_official_test_set_loads_and_matches_its_checksum():
    digest = hashlib.md5((MNIST / "t10k-images-idx3-ubyte.gz").read_bytes()).hexdigest()
    assert digest == "9fb629c4189551a2d022fa330f9573f3"
    images, labels = load_idx_pair(MNIST)
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert np.bincount(labels).min() > 850


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
    split = substitute_split(images, labels)
    assert [p[0].shape[0] for p in (split.train, split.val, split.test)] == [8000, 1000, 1000]
    assert split.train[0].max() == 1.0 and split.note == SUBSTITUTE_NOTE
    assert np.array_equal(split.test[1], labels[9000:])
    with pytest.raises(ValueError, match="dataset.bounds"):
        substitute_split(images, labels, (9000, 8000))
