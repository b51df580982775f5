"""Two traverses of one route for visual place recognition: a reference and a query traverse.

    route = substitute(1000, seed=0)              # offline: places cut from two photographs
    route = from_folder("~/.cache/neurosim/nordland", every=8)   # reference/ and query/ images

Place ``i`` of the query traverse is place ``i`` of the reference traverse seen again under
other conditions. :func:`from_folder` reads a dataset laid out as ``<folder>/reference`` and
``<folder>/query`` (or VPR-Bench's ``ref`` and ``query``), images matched by sorted name; the
Nordland and Oxford RobotCar downloaders (:mod:`neurosim.datasets.nordland`,
:mod:`neurosim.datasets.robotcar`) write that layout.

The offline substitute (:func:`substitute`) is a route of ``window``-pixel square places cut
along a serpentine path through the two photographs shipped in scikit-learn
(``sklearn.datasets.load_sample_images``: china.jpg and flower.jpg, 427 × 640), one place every
``stride`` pixels; the query traverse sees every place again shifted by up to ``shift`` pixels,
under another illumination (gain and gamma), contrast and sensor noise, drawn per place from
the seed. Every result made on it says so (:attr:`Traverses.note`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


@dataclass(frozen=True)
class Traverses:
    """Grey images in [0, 1]: ``reference[i]`` and ``query[i]`` show place ``i``."""

    reference: np.ndarray  # (n, h, w) float64
    query: np.ndarray  # (n, h, w) float64
    note: str

    def __post_init__(self):
        if self.reference.shape != self.query.shape or self.reference.ndim != 3:
            raise ValueError(f"traverses: reference {self.reference.shape} and query {self.query.shape} must both "
                             "hold n images of one size")

    def __len__(self) -> int:
        return self.reference.shape[0]


@dataclass(frozen=True)
class Appearance:
    """How much the query traverse differs: gain and gamma ranges, contrast, noise sigma, shift (px)."""

    gain: tuple[float, float] = (0.7, 1.3)
    gamma: tuple[float, float] = (0.8, 1.25)
    contrast: tuple[float, float] = (0.7, 1.0)
    noise: float = 0.003
    shift: int = 1


def _photographs() -> list[np.ndarray]:
    from sklearn.datasets import load_sample_images

    return [photo.astype(np.float64).mean(axis=2) / 255.0 for photo in load_sample_images().images]


def _route(shapes: list[tuple[int, int]], window: int, stride: int, margin: int) -> list[tuple[int, int, int]]:
    """(photo, row, col) of every place along a serpentine path, photo after photo."""
    places = []
    for k, (h, w) in enumerate(shapes):
        rows = range(margin, h - window - margin + 1, stride)
        cols = list(range(margin, w - window - margin + 1, stride))
        for n, r in enumerate(rows):
            places += [(k, r, c) for c in (cols if n % 2 == 0 else cols[::-1])]
    return places


def substitute(n_places: int, seed: int, window: int = 96, stride: int = 16,
               appearance: Appearance = Appearance()) -> Traverses:
    """``n_places`` consecutive places of the offline route (see the module docstring)."""
    photos = _photographs()
    route = _route([p.shape for p in photos], window, stride, appearance.shift)
    if not 0 < n_places <= len(route):
        raise ValueError(f"vpr.places: the substitute route has {len(route)} places of {window} px every "
                         f"{stride} px; asked for {n_places}")
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(11,)))
    reference = np.stack([photos[k][r:r + window, c:c + window] for k, r, c in route[:n_places]])
    query = np.empty_like(reference)
    a = appearance
    for i, (k, r, c) in enumerate(route[:n_places]):
        dr, dc = rng.integers(-a.shift, a.shift + 1, size=2)
        crop = photos[k][r + dr:r + dr + window, c + dc:c + dc + window]
        lit = np.clip(rng.uniform(*a.gain) * crop ** rng.uniform(*a.gamma), 0.0, 1.0)
        mean = lit.mean()
        query[i] = np.clip(mean + rng.uniform(*a.contrast) * (lit - mean) + rng.normal(0.0, a.noise, crop.shape),
                           0.0, 1.0)
    note = (f"VPR substitute protocol: {n_places} places of {window}x{window} px every {stride} px along a "
            f"serpentine route through scikit-learn's two sample photographs; the query traverse shifted by up "
            f"to {a.shift} px with gain {a.gain}, gamma {a.gamma}, contrast {a.contrast} and noise sigma "
            f"{a.noise} per place (seed {seed}); not Nordland or Oxford RobotCar")
    return Traverses(reference, query, note)


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def from_folder(folder: str | Path, every: int = 1, size: tuple[int, int] | None = None,
                name: str = "") -> Traverses:
    """The traverses in ``folder/reference`` (or ``ref``) and ``folder/query``: every ``every``-th
    image of each, matched by sorted name, as grey images (resized to ``size`` = (h, w) if given)."""
    from PIL import Image

    root = Path(folder).expanduser()
    ref_dir = next((root / d for d in ("reference", "ref") if (root / d).is_dir()), None)
    if ref_dir is None or not (root / "query").is_dir():
        raise FileNotFoundError(f"{root}: expected the folders reference/ (or ref/) and query/")
    refs, queries = _images(ref_dir)[::every], _images(root / "query")[::every]
    if len(refs) != len(queries) or not refs:
        raise ValueError(f"{root}: {len(refs)} reference and {len(queries)} query images; need as many of each")

    def grey(path: Path) -> np.ndarray:
        image = Image.open(path).convert("L")
        if size is not None:
            image = image.resize((size[1], size[0]), Image.Resampling.BOX)
        return np.asarray(image, dtype=np.float64) / 255.0

    note = f"{name or root.name}: {len(refs)} places, every {every}th image of {ref_dir.name}/ and query/ in {root}"
    return Traverses(np.stack([grey(p) for p in refs]), np.stack([grey(p) for p in queries]), note)


def stored(name: str, title: str, folder: str | Path | None, every: int, size: tuple[int, int] | None) -> Traverses:
    """The traverses of dataset ``name`` in its store folder (:mod:`neurosim.datasets.store`), or
    :class:`~neurosim.datasets.store.DataMissing` saying how to get them."""
    from neurosim.datasets import store

    where = store.folder(name, folder)
    if not where.is_dir():
        raise store.DataMissing(f"{where}: no {title} images; {store.how_to_get(name, folder)}")
    return from_folder(where, every=every, size=size, name=title)
