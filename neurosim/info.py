"""``neurosim info``: versions, backends (and which ``auto`` picks, and why), threads, CUDA."""

from __future__ import annotations

import importlib.metadata
import os
import platform

import numba

from neurosim import __version__
from neurosim.engine.registry import backend_status, resolve_backend_name

PACKAGES = ("numpy", "numba", "h5py", "scipy", "torch", "snntorch", "brian2", "dask", "distributed", "libsonata",
            "nir", "onnx", "onnxruntime", "matplotlib", "tqdm")


def cuda_status() -> tuple[bool, str]:
    """Whether numba.cuda can run kernels here, and why not."""
    try:
        from numba import cuda

        if cuda.is_available():
            return True, f"{cuda.get_current_device().name.decode()}"
        return False, "no CUDA driver or device found"
    except Exception as exc:  # numba.cuda raises various errors without a toolkit
        return False, f"{type(exc).__name__}: {exc}"


def collect() -> dict:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    backends = {name: {"usable": ok, "reason": why} for name, (ok, why) in backend_status().items()}
    auto = resolve_backend_name("auto")
    cuda_ok, cuda_why = cuda_status()
    return {
        "neurosim": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": versions,
        "backends": backends,
        "auto_backend": auto,
        "auto_reason": "a CUDA GPU is usable" if auto == "cuda" else f"no usable CUDA GPU ({cuda_why}); numba is the fastest CPU backend",
        "cpu_count": os.cpu_count(),
        "numba_threads": numba.config.NUMBA_NUM_THREADS,
        "cuda": {"usable": cuda_ok, "detail": cuda_why},
    }


def format_info(info: dict) -> str:
    lines = [f"neurosim {info['neurosim']} (Python {info['python']}, {info['platform']})", "packages:"]
    lines += [f"  {k:<12} {v or 'not installed'}" for k, v in info["packages"].items()]
    lines.append("backends:")
    lines += [f"  {k:<12} {'usable' if b['usable'] else 'unusable'}: {b['reason']}" for k, b in info["backends"].items()]
    lines.append(f"auto backend: {info['auto_backend']} ({info['auto_reason']})")
    lines.append(f"threads: {info['numba_threads']} numba threads on {info['cpu_count']} CPUs")
    lines.append(f"CUDA: {'usable' if info['cuda']['usable'] else 'not usable'} ({info['cuda']['detail']})")
    return "\n".join(lines)
