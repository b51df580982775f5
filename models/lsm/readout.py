"""Readouts of liquid-state features.

NALSM's recipe (the authors' ``NALSM_OUTPUT_LAYER.py``): x = counts / ‖counts‖₁, divided by the
largest value of its block of 2500 samples; a zero-initialised linear 10-way layer trained with
Adadelta (lr 0.1) on the softmax cross-entropy against softmax(t) (t = +1 for the true class,
-1 otherwise) plus 5e-10·‖W‖²; the pass with the best validation accuracy gives the test accuracy.
:func:`train_logistic` is the same selection with scikit-learn's logistic regression.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BLOCK = 2500


def normalise(counts: np.ndarray, block: int = BLOCK) -> np.ndarray:
    """NALSM's feature normalisation of ``counts [n, ...]`` (flattened per sample)."""
    x = counts.reshape(counts.shape[0], -1).astype(np.float64)
    total = x.sum(axis=1, keepdims=True)
    x = np.divide(x, total, out=np.zeros_like(x), where=total > 0)
    for start in range(0, x.shape[0], block):
        part = x[start:start + block]
        peak = part.max()
        if peak > 0:
            part /= peak
    return x


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@dataclass
class ReadoutResult:
    val_accuracy: float
    test_accuracy: float
    best_epoch: int
    val_curve: np.ndarray  # validation accuracy after every pass


def _accuracy(x: np.ndarray, y: np.ndarray, W: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(np.argmax(x @ W + b, axis=1) == y)) if y.size else float("nan")


def train_adadelta(train: tuple, val: tuple, test: tuple, n_classes: int = 10, epochs: int = 300,
                   lr: float = 0.1, rho: float = 0.95, eps: float = 1e-8, l2: float = 5e-10,
                   block: int = BLOCK) -> ReadoutResult:
    """NALSM's readout: full passes over the training features in blocks of ``block`` samples."""
    (x, y), (xv, yv), (xt, yt) = train, val, test
    W = np.zeros((x.shape[1], n_classes))
    b = np.zeros(n_classes)
    acc = [np.zeros_like(W), np.zeros_like(b)]
    upd = [np.zeros_like(W), np.zeros_like(b)]
    targets = _softmax(np.where(np.eye(n_classes, dtype=bool)[y], 1.0, -1.0))
    best = (-1.0, 0, W.copy(), b.copy())
    curve = np.zeros(epochs)
    for epoch in range(epochs):
        for start in range(0, x.shape[0], block):
            xb, tb = x[start:start + block], targets[start:start + block]
            err = (_softmax(xb @ W + b) - tb) / xb.shape[0]
            grads = [xb.T @ err + 2 * l2 * W, err.sum(axis=0)]
            for p, g, a, u in zip((W, b), grads, acc, upd):
                a *= rho
                a += (1 - rho) * g * g
                step = -np.sqrt(u + eps) / np.sqrt(a + eps) * g
                u *= rho
                u += (1 - rho) * step * step
                p += lr * step
        curve[epoch] = _accuracy(xv, yv, W, b)
        if curve[epoch] > best[0]:
            best = (curve[epoch], epoch, W.copy(), b.copy())
    return ReadoutResult(best[0], _accuracy(xt, yt, best[2], best[3]), best[1], curve)


def train_logistic(train: tuple, val: tuple, test: tuple, c_grid: tuple[float, ...] = (1.0, 10.0, 100.0),
                   max_iter: int = 300) -> ReadoutResult:
    """Multinomial logistic regression (scikit-learn, L-BFGS) on standardised features; C is
    chosen on the validation set, each fit warm-started from the previous (smaller) C."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    (x, y), (xv, yv), (xt, yt) = train, val, test
    scaler = StandardScaler().fit(x)
    x, xv, xt = scaler.transform(x), scaler.transform(xv), scaler.transform(xt)
    model = LogisticRegression(max_iter=max_iter, warm_start=True)
    scores = []
    for c in sorted(c_grid):
        model.set_params(C=c).fit(x, y)
        scores.append((model.score(xv, yv), model.score(xt, yt)))
    best = max(range(len(scores)), key=lambda k: scores[k][0])
    return ReadoutResult(float(scores[best][0]), float(scores[best][1]), best, np.array([s[0] for s in scores]))
