"""Helpers shared by the memory experiments."""

from __future__ import annotations

import numpy as np


def crossing(x: np.ndarray, y: np.ndarray, level: float) -> float:
    """First x at which y falls from >= ``level`` to < ``level`` (linear interpolation), or
    NaN if it never does."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    for j in range(1, len(x)):
        if y[j - 1] >= level > y[j]:
            return float(x[j - 1] + (y[j - 1] - level) / (y[j - 1] - y[j]) * (x[j] - x[j - 1]))
    return float("nan")


def increasing(values: list, path: str) -> list[tuple[str, str]]:
    """[(path, message)] if ``values`` is not strictly increasing."""
    if any(b <= a for a, b in zip(values, values[1:])):
        return [(path, "must be strictly increasing")]
    return []
