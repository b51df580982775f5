"""Helpers shared by the benchmark scripts (``cuba.py``, ``brette2007.py``)."""

from __future__ import annotations


def jit_cache_state(backend: str, models: tuple = ()) -> str | None:
    """``"hit"`` if numba loaded neurosim's block kernel for ``models`` (a layout's compiled models) from its
    on-disk cache, ``"miss"`` if it compiled it; None for other backends or when the kernel cannot be found."""
    if backend != "numba":
        return None
    try:
        from neurosim.engine.numba_backend import block_kernel

        stats = block_kernel(tuple(models)).stats
    except Exception:  # noqa: BLE001  (the engine's internals: a best effort)
        return None
    if sum(stats.cache_hits.values()):
        return "hit"
    return "miss" if sum(stats.cache_misses.values()) else None
