"""MNIST in IDX format (gzip or not), with the offline substitute protocol.

    folder = locate("mnist")                      # $NEUROSIM_DATA/mnist or the user cache
    images, labels = load_idx_pair(folder, "t10k")
    split = substitute_split(images, labels)      # train 0-7999, val 8000-8999, test 9000-9999

Where the files are looked for: :mod:`neurosim.datasets.store`. When only the official 10,000
test images are at hand, the protocols that need the 60,000 training images run on this
substitute split and say so in their results (:data:`SUBSTITUTE_NOTE`). :func:`download`
(``neurosim data fetch mnist``) fetches the official files, checking their md5 sums.

MNIST: Yann LeCun and Corinna Cortes, licensed CC BY-SA 3.0.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from neurosim.datasets import store

NAME = "mnist"
MIRROR = "https://storage.googleapis.com/cvdf-datasets/mnist/"
FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "t10k": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
#: md5 of the official files
MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
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


def write_idx(path: str | Path, data: np.ndarray) -> Path:
    """Write ``data`` as one IDX file, gzipped (reproducibly: no time stamp) if ``path`` ends in ``.gz``."""
    code = next((c for c, t in _DTYPES.items() if np.dtype(t).kind == data.dtype.kind
                 and np.dtype(t).itemsize == data.dtype.itemsize), None)
    if code is None or data.ndim > 255:
        raise ValueError(f"{path}: IDX cannot hold an array of {data.dtype} with {data.ndim} dimensions")
    raw = (bytes([0, 0, code, data.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in data.shape)
           + np.ascontiguousarray(data, dtype=np.dtype(_DTYPES[code]).newbyteorder(">")).tobytes())
    p = Path(path)
    p.write_bytes(gzip.compress(raw, 9, mtime=0) if p.suffix == ".gz" else raw)
    return p


def locate(data: str | Path | None = None, kinds: tuple[str, ...] = ("t10k",)) -> Path:
    """The folder holding the files of ``kinds``: ``data`` is a folder, or ``None`` / ``"mnist"`` for the
    store (``$NEUROSIM_DATA/mnist`` or the user cache); :class:`~neurosim.datasets.store.DataMissing` says
    how to get missing files."""
    unknown = [k for k in kinds if k not in FILES]
    if unknown:
        raise ValueError(f"dataset.kind: must be one of {sorted(FILES)}, got {unknown[0]!r}")
    return store.locate(NAME, _explicit(data), tuple(name for kind in kinds for name in FILES[kind]))


def _explicit(data: str | Path | None) -> str | Path | None:
    """A folder given by the user, or ``None`` for the store (``data`` absent or the name ``"mnist"``)."""
    return None if data is None or str(data) == NAME else data


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


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _fetch(url: str, path: Path, md5: str) -> None:
    """``url`` -> ``path`` through a temporary file in the same folder, renamed once its md5 is right."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        digest = hashlib.md5()
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as response:
            while chunk := response.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != md5:
            raise ValueError(f"{url}: md5 {digest.hexdigest()} is not the expected {md5}; the file was not kept")
        os.replace(tmp, path)
    except urllib.error.URLError as exc:
        raise ConnectionError(f"{url}: {exc.reason}; check the network connection") from None
    finally:
        Path(tmp).unlink(missing_ok=True)


def download(folder: str | Path | None = None, kinds: tuple[str, ...] = ("train", "t10k"), mirror: str | None = None,
             checksums: dict[str, str] | None = None) -> Path:
    """Fetch the official MNIST files of ``kinds`` into ``folder`` (``None`` / ``"mnist"``: the store's,
    see :mod:`neurosim.datasets.store`); needs a network connection.

    Each file is written under a temporary name and renamed only when its md5 matches ``checksums``
    (default :data:`MD5`); a mismatch raises ``ValueError`` and leaves nothing behind. Files already
    there with the right md5 are kept.
    """
    mirror = MIRROR if mirror is None else mirror
    checksums = MD5 if checksums is None else checksums
    target = store.folder(NAME, _explicit(folder))
    created = not target.exists()
    target.mkdir(parents=True, exist_ok=True)
    try:
        for kind in kinds:
            for name in FILES[kind]:
                if not ((target / name).is_file() and _md5(target / name) == checksums[name]):
                    _fetch(mirror + name, target / name, checksums[name])
    except BaseException:
        if created and not any(target.iterdir()):
            target.rmdir()
        raise
    return target


@dataclass(frozen=True)
class Split:
    """Images (float64 in [0, 1], flattened) and labels of the train / validation / test parts."""

    train: tuple[np.ndarray, np.ndarray]
    val: tuple[np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray]
    note: str


def substitute_split(images: np.ndarray, labels: np.ndarray, bounds: tuple[int, int] | None = None) -> Split:
    """The substitute protocol: the first 80 % of the images train, the next 10 % validation, the last
    10 % test: [0, 8000) / [8000, 9000) / [9000, 10000) of the official 10,000 test images
    (``bounds`` gives other cuts)."""
    n = images.shape[0]
    a, b = bounds if bounds is not None else (n * 8 // 10, n * 9 // 10)
    if not 0 < a < b < n:
        raise ValueError(f"dataset.bounds: need 0 < {a} < {b} < {n}")
    x = images.reshape(n, -1).astype(np.float64) / 255.0
    y = labels.astype(np.int64)
    note = SUBSTITUTE_NOTE if (n, a, b) == (10000, 8000, 9000) else (
        f"MNIST substitute protocol on {n} images: train 0-{a - 1}, validation {a}-{b - 1}, test {b}-{n - 1}")
    return Split((x[:a], y[:a]), (x[a:b], y[a:b]), (x[b:], y[b:]), note)
