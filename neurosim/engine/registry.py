"""Backend registry: name -> factory, with an availability probe for each backend.

``auto`` is decided per network by :func:`auto_choice` (rule: :data:`AUTO_RULE`). Later
backends (CUDA, Brian2) register themselves here with :func:`register_backend`.
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

#: ``auto`` picks cuda only for static networks of at least this many neurons: the crossover of the
#: numba (all cores) and cuda wall times on CUBA (``benchmarks/cuba.py --sizes``, in-degree fixed),
#: measured on an H100 with per-step launches and confirmed on an H200 with the persistent kernel
#: (numba on one core faster up to 16,000 neurons). Plastic networks run the persistent kernel too,
#: but it has not been timed on a GPU yet, so ``auto`` keeps them on numba.
CUDA_MIN_NEURONS = 100_000
AUTO_RULE = (f"cuda for static (non-plastic) networks of at least {CUDA_MIN_NEURONS:,} neurons on a usable "
             "CUDA GPU, numba otherwise (measured on an H200 with CUBA: numba on one core is faster up to "
             "16,000 neurons, cuda 2.7x faster at 400,000; plastic networks stay on numba until timed on a GPU)")


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


def auto_choice(neurons: int | None, plastic: bool, gpu: tuple[bool, str]) -> tuple[str, str]:
    """The backend ``auto`` picks for a network of ``neurons`` neurons (None: not known), with or
    without plastic projections, where ``gpu`` says whether a real CUDA GPU is usable and why; and why."""
    usable, why = gpu
    if not usable:
        return "numba", f"no usable CUDA GPU ({why})"
    if plastic:
        return "numba", "plastic network: the cuda plasticity kernels have not been run on a GPU"
    if neurons is None or neurons < CUDA_MIN_NEURONS:
        size = "network size not given" if neurons is None else f"{neurons:,} neurons"
        return "numba", f"{size}, below {CUDA_MIN_NEURONS:,} numba is faster than cuda"
    return "cuda", f"static network of {neurons:,} neurons on a CUDA GPU ({why})"


def resolve_backend_name(name: str, neurons: int | None = None, plastic: bool = False) -> str:
    """The concrete backend ``name`` stands for; ``auto`` is decided by :func:`auto_choice` for a
    network of ``neurons`` neurons (None: not known, so numba) with or without plasticity."""
    if name == "auto":
        return auto_choice(neurons, plastic, auto_status("cuda"))[0]
    if name not in _FACTORIES:
        known = ", ".join(["auto", *_FACTORIES])
        raise ValueError(f"simulation.backend: unknown backend {name!r} (known: {known})")
    usable, reason = _FACTORIES[name][1]()
    if not usable:
        raise ValueError(f"simulation.backend: {name!r} is not usable here: {reason}")
    return name


def get_backend(name: str, neurons: int | None = None, plastic: bool = False) -> Backend:
    """A backend instance for ``name`` (``auto``: see :func:`resolve_backend_name`)."""
    return _FACTORIES[resolve_backend_name(name, neurons, plastic)][0]()


def _numba() -> Backend:
    from neurosim.engine.numba_parallel import NumbaBackend

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
