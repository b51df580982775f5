"""Neuromorphic event datasets through Tonic: N-MNIST, SHD and DVS Gesture as dense frames.

    framing = Framing(steps=30, dt=10e-3, downsample=2)
    train, test = load("nmnist", framing)          # each (x [N, F, T] float32 counts, y [N] int64)

Tonic (``tonic.datasets.NMNIST``, ``SHD``, ``DVSGesture``) reads the files; an event sample is a
structured array with fields x, (y), t [µs], p. :func:`pipeline` turns it into T = ``steps``
frames of event counts with Tonic's transforms, in this order:

1. ``Denoise(filter_time)`` (optional, 2-D sensors): an event is kept when one of its four
   neighbouring pixels fired less than ``denoise`` seconds before it;
2. ``Downsample(spatial_factor=1/k)``: pixel x → ⌊x/k⌋ (and y → ⌊y/k⌋); the sensor W×H becomes
   ⌈W/k⌉×⌈H/k⌉;
3. ``MergePolarities`` (optional): every event to polarity 0 (one channel);
4. ``TimeAlignment``: t → t − t0, t0 the sample's first event;
5. ``ToFrame``. Framing ``"time_window"``: frame k counts the events with k·dt ≤ t < (k+1)·dt
   for k < T; later events are dropped. ``"n_time_bins"``: Tonic's T bins of width
   w = ⌊t_last / T⌋ µs, frame k counting k·w ≤ t < (k+1)·w (the events at t ≥ T·w, at least the
   last one, are dropped); ``dt`` is then the network's step only.

A frame [P, H, W] (SHD: [1, 700]) is flattened polarity-major, then y, then x, to F = P·H·W
features, so a sample is a series [F, T], fed to the network time-major as [T, B, F]. The
arrays are held in memory: N·F·T·4 bytes per split (use ``downsample`` and the sample limits).

Where the files are: ``data_dir`` is Tonic's ``save_to``, the folder holding ``NMNIST/``,
``SHD/`` or ``DVSGesture/`` as Tonic extracts them; default ``$NEUROSIM_DATA/<name>``, else
``~/.cache/neurosim/<name>`` (:mod:`neurosim.datasets.store`). Without ``download`` nothing is
fetched: the extracted files must be there (:func:`locate`), and Tonic's class reads them. With
``download`` Tonic's class downloads and extracts its archives (checking their md5) when its own
check fails.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from neurosim.datasets import store

#: how a sample's events are cut into frames (see the module docstring)
FRAMINGS = ("time_window", "n_time_bins")


@dataclass(frozen=True)
class Spec:
    """One dataset: its Tonic class, sensor (W, H, P), classes and the extracted files of each split."""

    tonic: str
    sensor_size: tuple[int, int, int]
    classes: int
    #: split -> (folder under save_to, glob of its sample files)
    files: dict[str, tuple[str, str]]


SPECS = {
    "nmnist": Spec("NMNIST", (34, 34, 2), 10, {"train": ("NMNIST/Train", "**/*.bin"),
                                                "test": ("NMNIST/Test", "**/*.bin")}),
    "shd": Spec("SHD", (700, 1, 1), 20, {"train": ("SHD", "shd_train.h5"), "test": ("SHD", "shd_test.h5")}),
    "dvs_gesture": Spec("DVSGesture", (128, 128, 2), 11, {"train": ("DVSGesture/ibmGestureTrain", "**/*.npy"),
                                                          "test": ("DVSGesture/ibmGestureTest", "**/*.npy")}),
}
NAMES = tuple(SPECS)


@dataclass(frozen=True)
class Framing:
    """How events become frames: ``steps`` frames of ``dt`` seconds (``frames = "time_window"``) or
    ``steps`` equal bins of each sample (``"n_time_bins"``), spatial ``downsample`` factor k,
    ``denoise`` filter time in seconds (``None``: off), ``merge_polarities``."""

    steps: int
    dt: float
    frames: str = "time_window"
    downsample: int = 1
    denoise: float | None = None
    merge_polarities: bool = False

    def __post_init__(self) -> None:
        if self.frames not in FRAMINGS:
            raise ValueError(f"frames: must be one of {', '.join(FRAMINGS)}, got {self.frames!r}")
        if self.steps < 1:
            raise ValueError(f"steps: must be >= 1, got {self.steps}")
        if self.downsample < 1:
            raise ValueError(f"downsample: must be >= 1, got {self.downsample}")
        if self.denoise is not None and not self.denoise > 0:
            raise ValueError(f"denoise: must be > 0 s, got {self.denoise}")
        if self.frames == "time_window" and window_us(self.dt) is None:
            raise ValueError(f"dt: must be a positive whole number of microseconds (the events' resolution), "
                             f"got {self.dt} s")

    def sensor_size(self, sensor: tuple[int, int, int]) -> tuple[int, int, int]:
        """(W, H, P) after downsampling by k (⌈W/k⌉, ⌈H/k⌉) and merging polarities."""
        w, h, p = sensor
        k = self.downsample
        return math.ceil(w / k), math.ceil(h / k), 1 if self.merge_polarities else p

    def features(self, sensor: tuple[int, int, int]) -> int:
        """F = P·H·W of one flattened frame."""
        return math.prod(self.sensor_size(sensor))


def window_us(dt: float) -> int | None:
    """``dt`` in whole microseconds, or ``None`` when it is not one (to 1e-6 µs) or not positive."""
    us = dt * 1e6
    return int(round(us)) if us >= 1 - 1e-6 and abs(us - round(us)) <= 1e-6 * max(1.0, us) else None


def check(name: str, framing: Framing) -> None:
    """``ValueError`` naming the field when ``framing`` does not suit dataset ``name``."""
    spec = _spec(name)
    w, h, _ = spec.sensor_size
    if framing.denoise is not None and h == 1:
        raise ValueError(f"denoise: {name} events have no y coordinate; Tonic's Denoise needs a 2-D sensor")
    if framing.downsample > max(w, h):
        raise ValueError(f"downsample: {framing.downsample} exceeds the {name} sensor ({w} x {h})")


def _spec(name: str) -> Spec:
    if name not in SPECS:
        raise ValueError(f"dataset: must be one of {', '.join(NAMES)}, got {name!r}")
    return SPECS[name]


def pipeline(name: str, framing: Framing) -> Callable[[np.ndarray], np.ndarray]:
    """events (Tonic structured array) → float32 [F, T] event counts (see the module docstring)."""
    import tonic.transforms as tt

    check(name, framing)
    sensor = framing.sensor_size(_spec(name).sensor_size)
    steps: list[Callable] = []
    if framing.denoise is not None:
        steps.append(tt.Denoise(filter_time=framing.denoise * 1e6))
    if framing.downsample > 1:
        steps.append(tt.Downsample(spatial_factor=1.0 / framing.downsample))
    if framing.merge_polarities:
        steps.append(tt.MergePolarities())
    steps.append(tt.TimeAlignment())
    events_to_events = tt.Compose(steps)  # stops at an empty sample
    if framing.frames == "time_window":
        w = window_us(framing.dt)
        to_frame = tt.ToFrame(sensor, time_window=w, start_time=0, end_time=framing.steps * w)
    else:
        to_frame = tt.ToFrame(sensor, n_time_bins=framing.steps)
    features = math.prod(sensor)

    def transform(events: np.ndarray) -> np.ndarray:
        events = events_to_events(events)
        if len(events) == 0:
            return np.zeros((features, framing.steps), np.float32)
        frames = to_frame(events)  # [T, P, H, W] or [T, P, W], int16
        return np.ascontiguousarray(frames.reshape(framing.steps, features).T, dtype=np.float32)

    return transform


def folder(name: str, data_dir: str | Path | None = None) -> Path:
    """Tonic's ``save_to`` of dataset ``name``: ``data_dir``, else ``store.root() / name``."""
    _spec(name)
    return Path(data_dir).expanduser() if data_dir is not None else store.root() / name


def locate(name: str, data_dir: str | Path | None = None) -> Path:
    """The folder holding the extracted train and test files of ``name``; :class:`store.DataMissing` if not."""
    where = folder(name, data_dir)
    missing = [f"{sub}/{pattern}" for sub, pattern in SPECS[name].files.values()
               if not any((where / sub).glob(pattern))]
    if missing:
        how = (f"set download = true (Tonic fetches it into {where})" if data_dir is not None else
               f"set download = true (Tonic fetches it into {where}), give data_dir = the folder holding "
               f"{SPECS[name].tonic}/, or set {store.ENV} to a folder holding {name}/{SPECS[name].tonic}/")
        raise store.DataMissing(f"{name}: no {' nor '.join(missing)} in {where}; {how}")
    return where


def tonic_dataset(name: str, save_to: Path, train: bool, download: bool, transform: Callable | None = None):
    """Tonic's dataset object of ``name``. Without ``download`` its ``_check_exists`` is replaced by
    "the files are there" (checked by :func:`locate`), so that Tonic never fetches anything."""
    import tonic.datasets

    base = getattr(tonic.datasets, SPECS[name].tonic)
    # the subclass keeps the base's name: Tonic reads from save_to / <class name>
    cls = base if download else type(base.__name__, (base,), {"_check_exists": lambda self: True})
    return cls(str(save_to), train=train, transform=transform)


def _subset(n: int, limit: int, seed: int) -> np.ndarray:
    """All indices, or ``limit`` of them drawn without replacement (sorted) when 0 < limit < n."""
    if limit <= 0 or limit >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))


def frames_of(dataset, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(x [N, F, T] float32, y [N] int64) of the samples ``indices`` of a Tonic dataset with our transform."""
    samples = [dataset[int(i)] for i in indices]
    x = np.stack([s[0] for s in samples]) if samples else np.zeros((0, 0, 0), np.float32)
    return x, np.array([int(s[1]) for s in samples], dtype=np.int64)


def load(name: str, framing: Framing, data_dir: str | Path | None = None, download: bool = False,
         train_samples: int = 0, test_samples: int = 0, seed: int = 0) -> tuple[tuple, tuple]:
    """(train, test) splits of ``name`` as (x [N, F, T], y [N]); ``*_samples`` > 0 keeps a random subset
    (drawn with ``seed``) of that size."""
    transform = pipeline(name, framing)
    where = folder(name, data_dir) if download else locate(name, data_dir)
    splits = []
    for train, limit in ((True, train_samples), (False, test_samples)):
        dataset = tonic_dataset(name, where, train, download, transform)
        splits.append(frames_of(dataset, _subset(len(dataset), limit, seed)))
    return splits[0], splits[1]
