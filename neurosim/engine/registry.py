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
#: probes that ``auto`` asks instead of the backend's own (e.g. cuda: a real GPU, not the simulator)
_AUTO_PROBES: dict[str, Callable[[], tuple[bool, str]]] = {}
AUTO_ORDER = ["cuda", "numba"]


def register_backend(name: str, factory: Callable[[], Backend],
                     probe: Callable[[], tuple[bool, str]] = _always,
                     auto_probe: Callable[[], tuple[bool, str]] | None = None) -> None:
    """Register ``factory`` under ``name``; ``probe()`` says whether it can run here and why;
    ``auto_probe()`` (default ``probe``) whether ``auto`` may pick it."""
    _FACTORIES[name] = (factory, probe)
    if auto_probe is not None:
        _AUTO_PROBES[name] = auto_probe


def auto_status(name: str) -> tuple[bool, str]:
    """Whether ``auto`` may pick backend ``name``, and why."""
    return _AUTO_PROBES.get(name, _FACTORIES[name][1])()


def backend_status() -> dict[str, tuple[bool, str]]:
    """``name -> (usable, reason)`` for every registered backend."""
    return {name: probe() for name, (_, probe) in _FACTORIES.items()}


def resolve_backend_name(name: str) -> str:
    """The concrete backend ``name`` stands for (``auto`` picks the first usable one)."""
    if name == "auto":
        for candidate in AUTO_ORDER:
            if candidate in _FACTORIES and auto_status(candidate)[0]:
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


def _cuda() -> Backend:
    from neurosim.engine.cuda_backend import CudaBackend

    return CudaBackend()


def _cuda_probe() -> tuple[bool, str]:
    from neurosim.engine.cuda_backend import cuda_probe

    return cuda_probe()


def _gpu_probe() -> tuple[bool, str]:
    from neurosim.engine.cuda_backend import gpu_probe

    return gpu_probe()


register_backend("cuda", _cuda, _cuda_probe, auto_probe=_gpu_probe)
register_backend("numba", _numba)
register_backend("numpy", _numpy)


def _brian2() -> Backend:
    from neurosim.engine.brian2_backend import Brian2Backend

    return Brian2Backend()


def _brian2_available() -> tuple[bool, str]:
    from neurosim.engine.brian2_backend import available

    return available()


register_backend("brian2", _brian2, _brian2_available)
