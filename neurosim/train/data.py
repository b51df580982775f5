"""Datasets for training: scikit-learn digits, MNIST (IDX files, with the offline substitute split)
and aeon's BasicMotions (6-channel accelerometer + gyroscope time series).

Each loader returns a :class:`Dataset`: ``train`` / ``val`` / ``test`` splits of float32 inputs
and int64 labels, the input ``shape`` of one sample and whether it is a static sample or a
series (``[N, C, L]``, L time steps; models see it time-major). Nothing is downloaded unless
asked for.

Splits:

* ``digits``: 1797 8x8 images (values /16), a fixed shuffle (seed 0): 1257 train, 180 validation,
  360 test.
* ``mnist`` (IDX files read by :mod:`neurosim.datasets.mnist`), ``split = "standard"``: the 60k
  training images 0-49999 train, 50000-59999 validation, the 10k test set test (the NALSM
  protocol); ``split = "substitute"``: only the 10k test set is needed: images 0-7999 train,
  8000-8999 validation, 9000-9999 test (80 / 10 / 10 % of a smaller set, e.g. the test fixture;
  the offline substitute of the NALSM issue; results are not comparable with full-MNIST
  numbers). The files are looked for in ``data_dir``, else ``$NEUROSIM_DATA/mnist`` or the user
  cache (:mod:`neurosim.datasets.store`).
* ``basic_motions``: the 40 train / 40 test series of length 100, z-scored per channel with the
  training statistics; no validation split.
* ``nmnist``, ``shd``, ``dvs_gesture`` (event datasets read by Tonic,
  :mod:`neurosim.datasets.neuromorphic`): series [N, F, T] of event counts in T = ``steps``
  frames of F = P·H·W flattened pixels (after the framing's downsampling); Tonic's train and test
  sets (optionally random subsets); no validation split.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from neurosim.datasets import mnist, neuromorphic

DATASETS = ("digits", "mnist", "basic_motions", *neuromorphic.NAMES)
MNIST_SPLITS = ("substitute", "standard")
#: shape of one sample and number of classes of each dataset (known without loading it)
SHAPES = {"digits": ((1, 8, 8), 10, False), "mnist": ((1, 28, 28), 10, False), "basic_motions": ((6, 100), 4, True)}

Split = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class Dataset:
    name: str
    train: Split
    val: Split | None
    test: Split
    #: shape of one sample: (C, H, W) images or (C, L) series
    shape: tuple[int, ...]
    classes: int
    series: bool
    note: str = ""


def load_digits() -> Dataset:
    from sklearn.datasets import load_digits as sk_digits

    d = sk_digits()
    x = (d.images / 16.0).astype(np.float32)[:, None]
    y = d.target.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(y))
    x, y = x[order], y[order]
    return Dataset("digits", (x[:1257], y[:1257]), (x[1257:1437], y[1257:1437]), (x[1437:], y[1437:]),
                   *SHAPES["digits"])


def _images(images: np.ndarray, labels: np.ndarray) -> Split:
    """Images with values in [0, 1] as float32 [N, 1, 28, 28]."""
    return images.reshape(-1, 1, 28, 28).astype(np.float32), labels.astype(np.int64)


def load_mnist(data_dir: str | Path | None = None, split: str = "substitute", download: bool = False) -> Dataset:
    """MNIST from the IDX files in ``data_dir`` (default: the dataset store, :mod:`neurosim.datasets.store`)."""
    if split not in MNIST_SPLITS:
        raise ValueError(f"split: must be one of {', '.join(MNIST_SPLITS)}, got {split!r}")
    kinds = ("t10k",) if split == "substitute" else ("train", "t10k")
    if download:
        mnist.download(data_dir, kinds)
    data_dir = mnist.locate(data_dir, kinds)
    test = mnist.load_idx_pair(data_dir, "t10k")
    if split == "substitute":
        s = mnist.substitute_split(*test)
        return Dataset("mnist", _images(*s.train), _images(*s.val), _images(*s.test), *SHAPES["mnist"], note=s.note)
    images, labels = mnist.load_idx_pair(data_dir, "train")
    images, test_images = images / 255.0, test[0] / 255.0
    return Dataset("mnist", _images(images[:50000], labels[:50000]), _images(images[50000:], labels[50000:]),
                   _images(test_images, test[1]), *SHAPES["mnist"])


def load_basic_motions() -> Dataset:
    from aeon.datasets import load_basic_motions as aeon_basic_motions

    x_train, y_train = aeon_basic_motions(split="train")
    x_test, y_test = aeon_basic_motions(split="test")
    classes = sorted(set(y_train))
    mean = x_train.mean(axis=(0, 2), keepdims=True)
    std = x_train.std(axis=(0, 2), keepdims=True)

    def prep(x: np.ndarray, y: np.ndarray) -> Split:
        return ((x - mean) / std).astype(np.float32), np.array([classes.index(c) for c in y], dtype=np.int64)

    return Dataset("basic_motions", prep(x_train, y_train), None, prep(x_test, y_test), *SHAPES["basic_motions"])


def shape_of(name: str, framing: neuromorphic.Framing | None = None) -> tuple[tuple[int, ...], int, bool]:
    """(shape of one sample, classes, series) of dataset ``name``; event datasets need their ``framing``."""
    if name not in neuromorphic.NAMES:
        return SHAPES[name]
    if framing is None:
        raise ValueError(f"framing: {name} is an event dataset and needs one")
    spec = neuromorphic.SPECS[name]
    return (framing.features(spec.sensor_size), framing.steps), spec.classes, True


def load_events(name: str, framing: neuromorphic.Framing, data_dir: str | Path | None = None,
                download: bool = False, train_samples: int = 0, test_samples: int = 0) -> Dataset:
    """An event dataset as frames (:func:`neurosim.datasets.neuromorphic.load`; subsets drawn with seed 0)."""
    train, test = neuromorphic.load(name, framing, data_dir, download, train_samples, test_samples)
    shape, classes, series = shape_of(name, framing)
    note = "" if not (train_samples or test_samples) else (
        f"{name}: {len(train[1])} training and {len(test[1])} test samples, random subsets (seed 0) of Tonic's "
        f"train and test sets (train_samples = {train_samples}, test_samples = {test_samples}; 0 = all)")
    return Dataset(name, train, None, test, shape, classes, series, note=note)


def load(name: str, data_dir: str | Path | None = None, split: str = "substitute", download: bool = False,
         framing: neuromorphic.Framing | None = None, train_samples: int = 0, test_samples: int = 0) -> Dataset:
    """A dataset by name (see the module docstring); event datasets take ``framing`` and sample limits."""
    if name in neuromorphic.NAMES:
        if framing is None:
            raise ValueError(f"framing: {name} is an event dataset and needs one")
        return load_events(name, framing, data_dir, download, train_samples, test_samples)
    if name == "digits":
        return load_digits()
    if name == "mnist":
        return load_mnist(data_dir, split, download)
    if name == "basic_motions":
        return load_basic_motions()
    raise ValueError(f"dataset: must be one of {', '.join(DATASETS)}, got {name!r}")
