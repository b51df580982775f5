"""Modular ensembles of compact spiking networks for visual place recognition.

Hussaini, Milford & Fischer, "Ensembles of Compact, Region-specific & Regularized Spiking Neural
Networks for Scalable Place Recognition", ICRA 2023 (arXiv 2209.08723).

- Images are made grey, area-averaged down to ``size`` x ``size`` and patch-normalised (every
  pixel standardised by the mean and deviation of the ``patch`` x ``patch`` window around it);
  the positive part is scaled to 0-255 and drives the inputs (:func:`preprocess`). Keeping
  only the brighter-than-surround pixels (ON cells) gives sparse input like MNIST's, for which
  Diehl & Cook's parameters are tuned: with the whole standardised image every presentation
  drives about four times as many input spikes, θ grows without bound and the modules stop
  telling places apart.
- The route is cut into regions of ``places_per_module`` consecutive places; a module, a Diehl &
  Cook network of ``n_exc`` excitatory neurons (:mod:`neurosim.models.diehl_cook`), learns its
  region's reference images without labels (:func:`train_module`; modules are independent, so
  :func:`train_modules` maps them over any ``map``, e.g. Dask's).
- Every neuron is assigned to the place of its own region to which it responds most.
- Hyperactive neurons: all modules see all reference images; a neuron that fires on at least
  ``T`` of them is silenced at query time (``T = 0``: none). ``T`` is chosen on calibration
  queries from :data:`THRESHOLDS` (:func:`calibrate`).
- A query goes to every module; its place is the one whose assigned neurons fire most on
  average across all modules (:func:`scores`), its confidence that score.

Metrics: recall@1 (the best place within ``tolerance`` places of the truth), the
precision-recall curve over confidence thresholds and its area.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np
from scipy import ndimage

from neurosim.models import diehl_cook as dc

THRESHOLDS = (0, 5, 10, 20, 40, 60, 80, 100, 120, 140, 160, 180, 200)


def preprocess(images: np.ndarray, size: int = 28, patch: int = 7) -> np.ndarray:
    """Grey images (n, h, w) in [0, 1] -> (n, size·size) patch-normalised grey values 0-255."""
    n, h, w = images.shape
    smooth = ndimage.uniform_filter(images, size=(1, max(1, round(h / size)), max(1, round(w / size))), mode="nearest")
    small = ndimage.zoom(smooth, (1, size / h, size / w), order=1, grid_mode=True, mode="nearest")  # area average
    mean = ndimage.uniform_filter(small, size=(1, patch, patch), mode="reflect")
    spread = np.sqrt(np.maximum(ndimage.uniform_filter(small ** 2, size=(1, patch, patch), mode="reflect")
                                - mean ** 2, 0.0))
    on = np.maximum((small - mean) / np.maximum(spread, 1e-3), 0.0)  # rectified: ON cells
    return (255.0 * on / np.maximum(on.max(axis=(1, 2), keepdims=True), 1e-12)).reshape(n, size * size)


def regions(n_places: int, per_module: int) -> list[tuple[int, int]]:
    """Consecutive places ``[start, stop)`` of each module (the last may be shorter)."""
    return [(a, min(a + per_module, n_places)) for a in range(0, n_places, per_module)]


def train_module(params: dc.Params, images: np.ndarray, epochs: int, seed: int) -> dc.Learned:
    """One module trained on its region's images (``epochs`` passes): what it learned."""
    circuit = dc.build(params, seed)
    for _ in range(epochs):
        circuit.responses(images)
    return dc.learned(circuit)[0]


def train_modules(params: dc.Params, images: np.ndarray, cuts: list[tuple[int, int]], epochs: int, seed: int,
                  map: Callable[..., Iterable] = map) -> list[dc.Learned]:
    """Every module, each from a seed of its own (``SeedSequence(seed).spawn``); ``map`` may run them
    in parallel (``client.map`` of Dask, a process pool's)."""
    seeds = [int(s.generate_state(1)[0] >> 1) for s in np.random.SeedSequence(seed).spawn(len(cuts))]
    return list(map(train_module, [params] * len(cuts), [images[a:b] for a, b in cuts], [epochs] * len(cuts), seeds))


def assign(reference: np.ndarray, cuts: list[tuple[int, int]], n_exc: int) -> np.ndarray:
    """Per neuron (modules in order), the place of its own region it responds to most; -1 for a
    neuron silent on every place of its region (it speaks for no place)."""
    out = np.empty(len(cuts) * n_exc, np.int64)
    for m, (a, b) in enumerate(cuts):
        own = reference[a:b, m * n_exc:(m + 1) * n_exc]
        out[m * n_exc:(m + 1) * n_exc] = np.where(own.max(axis=0) > 0, a + np.argmax(own, axis=0), -1)
    return out


def hyperactive(reference: np.ndarray, threshold: int) -> np.ndarray:
    """Neurons that fired on at least ``threshold`` reference images (none for ``threshold = 0``)."""
    if threshold == 0:
        return np.zeros(reference.shape[1], bool)
    return (reference > 0).sum(axis=0) >= threshold


def scores(responses: np.ndarray, assignments: np.ndarray, n_places: int, silenced: np.ndarray) -> np.ndarray:
    """(queries x places): the mean response of each place's assigned, unsilenced neurons (-1: none)."""
    keep = ~silenced & (assignments >= 0)
    members = np.bincount(assignments[keep], minlength=n_places)
    total = np.zeros((responses.shape[0], n_places))
    np.add.at(total.T, assignments[keep], responses[:, keep].T)
    return np.where(members > 0, total / np.maximum(members, 1), -1.0)


@dataclass(frozen=True)
class Matches:
    """Per query: the best place, its score (the confidence) and whether it is correct."""

    place: np.ndarray
    confidence: np.ndarray
    correct: np.ndarray

    @property
    def recall_at_1(self) -> float:
        return float(np.mean(self.correct))

    def precision_recall(self) -> tuple[np.ndarray, np.ndarray]:
        """Precision and recall when the queries at least as confident as a threshold are accepted,
        one point per distinct confidence (queries of equal confidence are accepted together)."""
        order = np.argsort(-self.confidence, kind="stable")
        ranked = self.confidence[order]
        last = np.append(ranked[1:] != ranked[:-1], True)  # the last query of each confidence
        hits = np.cumsum(self.correct[order])[last]
        return hits / (np.flatnonzero(last) + 1), hits / self.correct.size

    @property
    def auc(self) -> float:
        """Area under the precision-recall curve (from recall 0 at the first precision)."""
        precision, recall = self.precision_recall()
        return float(np.trapezoid(np.concatenate([precision[:1], precision]), np.concatenate([[0.0], recall])))


def match(score: np.ndarray, truth: np.ndarray, tolerance: int = 0) -> Matches:
    place = np.argmax(score, axis=1)
    return Matches(place, score[np.arange(place.size), place], np.abs(place - truth) <= tolerance)


def calibrate(reference: np.ndarray, queries: np.ndarray, truth: np.ndarray, assignments: np.ndarray,
              thresholds: Iterable[int] = THRESHOLDS, tolerance: int = 0) -> tuple[int, dict[int, float]]:
    """The threshold with the best recall@1 on calibration ``queries`` (the smallest of equals), and
    the recall of every threshold."""
    n_places = reference.shape[0]
    recall = {t: match(scores(queries, assignments, n_places, hyperactive(reference, t)), truth, tolerance).recall_at_1
              for t in thresholds}
    return max(recall, key=lambda t: (recall[t], -t)), recall


@dataclass(frozen=True)
class Evaluation:
    """The threshold chosen on the calibration queries, the calibration recall of every threshold,
    and the test queries' matches with that threshold and without removal (T = 0)."""

    threshold: int
    calibration_recall: dict[int, float]
    regularised: Matches
    unregularised: Matches


def evaluate(reference: np.ndarray, queries: np.ndarray, assignments: np.ndarray, calibration: np.ndarray,
             test: np.ndarray, thresholds: Iterable[int] = THRESHOLDS, tolerance: int = 0) -> Evaluation:
    """Choose T on the ``calibration`` queries (place indices), then match the ``test`` queries."""
    n_places = reference.shape[0]
    best, recall = calibrate(reference, queries[calibration], calibration, assignments, thresholds, tolerance)
    matched = {t: match(scores(queries[test], assignments, n_places, hyperactive(reference, t)), test, tolerance)
               for t in (0, best)}
    return Evaluation(best, recall, matched[best], matched[0])
