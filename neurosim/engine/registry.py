"""Backend registry: name -> factory, with an availability probe for each backend.

``auto`` resolves to the first available backend of :data:`AUTO_ORDER`. Later backends
(CUDA, Brian2) register themselves here with :func:`register_backend`.
"""

from __future__ import annotations

from typing import Callable, Protocol

from neurosim.engine.layout import Layout


class Backend(Protocol):
    name: str

    def run_block(self, layout: Layout, step0: int, n_steps: int) -> int: ...


def _always() -> tuple[bool, str]:
    return True, "always available"


_FACTORIES: dict[str, tuple[Callable[[], Backend], Callable[[], tuple[bool, str]]]] = {}
AUTO_ORDER = ["cuda", "numba"]


def register_backend(name: str, factory: Callable[[], Backend],
                     probe: Callable[[], tuple[bool, str]] = _always) -> None:
    """Register ``factory`` under ``name``; ``probe()`` says whether it can run here and why."""
    _FACTORIES[name] = (factory, probe)


def backend_status() -> dict[str, tuple[bool, str]]:
    """``name -> (usable, reason)`` for every registered backend."""
    return {name: probe() for name, (_, probe) in _FACTORIES.items()}


def resolve_backend_name(name: str) -> str:
    """The concrete backend ``name`` stands for (``auto`` picks the first usable one)."""
    if name == "auto":
        for candidate in AUTO_ORDER:
            if candidate in _FACTORIES and _FACTORIES[candidate][1]()[0]:
                return candidate
        return "numpy"
    if name not in _FACTORIES:
        known = ", ".join(["auto", *_FACTORIES])
        raise ValueError(f"simulation.backend: unknown backend {name!r} (known: {known})")
    usable, reason = _FACTORIES[name][1]()
    if not usable:
        raise ValueError(f"simulation.backend: {name!r} is not usable here: {reason}")
    return name


def get_backend(name: str) -> Backend:
    return _FACTORIES[resolve_backend_name(name)][0]()


def _numba() -> Backend:
    from neurosim.engine.numba_backend import NumbaBackend

    return NumbaBackend()


def _numpy() -> Backend:
    from neurosim.engine.numpy_backend import NumpyBackend

    return NumpyBackend()


register_backend("numba", _numba)
register_backend("numpy", _numpy)
