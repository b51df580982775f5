"""MNIST in IDX format (gzip or not), with the offline substitute protocol.

    images, labels = load_idx_pair("../shared/datasets/mnist", "t10k")
    split = substitute_split(images, labels)      # train 0-7999, val 8000-8999, test 9000-9999

Only the official 10,000 test images are available offline, so the protocols that need the
60,000 training images run on this substitute split and say so in their results
(:data:`SUBSTITUTE_NOTE`). :func:`download` fetches the official files for users who are online.
"""

from __future__ import annotations

import gzip
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MIRROR = "https://storage.googleapis.com/cvdf-datasets/mnist/"
FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "t10k": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
SUBSTITUTE_NOTE = ("MNIST substitute protocol: the official 10,000 test images split into train 0-7999, "
                   "validation 8000-8999, test 9000-9999 (the 60,000 training images are not available offline)")
_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"),
           0x0E: np.dtype(">f8")}


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (``.gz`` or plain) into an array of its stored shape."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such IDX file")
    raw = gzip.decompress(p.read_bytes()) if p.suffix == ".gz" else p.read_bytes()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPES:
        raise ValueError(f"{p}: not an IDX file (bad magic number)")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * k:8 + 4 * k], "big") for k in range(ndim))
    data = np.frombuffer(raw, dtype=_DTYPES[raw[2]], offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{p}: holds {data.size} values but its header says {shape}")
    return data.reshape(shape).astype(data.dtype.newbyteorder("="))


def _find(folder: Path, name: str) -> Path:
    for candidate in (folder / name, folder / name.removesuffix(".gz")):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"{folder / name}: no such file (nor its uncompressed version)")


def load_idx_pair(folder: str | Path, kind: str = "t10k") -> tuple[np.ndarray, np.ndarray]:
    """``(images uint8 [n, 28, 28], labels uint8 [n])`` of the ``train`` or ``t10k`` set in ``folder``."""
    if kind not in FILES:
        raise ValueError(f"dataset.kind: must be one of {sorted(FILES)}, got {kind!r}")
    images = read_idx(_find(Path(folder), FILES[kind][0]))
    labels = read_idx(_find(Path(folder), FILES[kind][1]))
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"{folder}: {images.shape[0]} images but {labels.shape[0]} labels")
    return images, labels


def download(folder: str | Path, kinds: tuple[str, ...] = ("train", "t10k"), mirror: str = MIRROR) -> Path:
    """Fetch the official MNIST files into ``folder`` (needs a network connection)."""
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    for kind in kinds:
        for name in FILES[kind]:
            if not (target / name).exists():
                urllib.request.urlretrieve(mirror + name, target / name)
    return target


@dataclass(frozen=True)
class Split:
    """Images (float64 in [0, 1], flattened) and labels of the train / validation / test parts."""

    train: tuple[np.ndarray, np.ndarray]
    val: tuple[np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray]
    note: str


def substitute_split(images: np.ndarray, labels: np.ndarray, bounds: tuple[int, int] = (8000, 9000)) -> Split:
    """The substitute protocol on the 10,000 test images: [0, 8000) / [8000, 9000) / [9000, 10000)."""
    a, b = bounds
    if not 0 < a < b < images.shape[0]:
        raise ValueError(f"dataset.bounds: need 0 < {a} < {b} < {images.shape[0]}")
    x = images.reshape(images.shape[0], -1).astype(np.float64) / 255.0
    y = labels.astype(np.int64)
    return Split((x[:a], y[:a]), (x[a:b], y[a:b]), (x[b:], y[b:]), SUBSTITUTE_NOTE)
