"""``neurosim info``: versions, backends (and which ``auto`` picks, and why), threads, CUDA."""

from __future__ import annotations

import importlib.metadata
import os
import platform

import numba

from neurosim import __version__
from neurosim.engine.registry import backend_status, resolve_backend_name
from neurosim.hardware import profiles

PACKAGES = ("numpy", "numba", "h5py", "scipy", "torch", "snntorch", "brian2", "dask", "distributed", "libsonata",
            "nir", "nirtorch", "norse", "onnx", "onnxruntime", "matplotlib", "tqdm")


def cuda_status() -> tuple[bool, str]:
    """Whether numba.cuda can run kernels on a real GPU here, and why not."""
    from neurosim.engine.cuda_backend import gpu_probe

    return gpu_probe()


def auto_reason(auto: str, cuda_ok: bool, cuda_why: str) -> str:
    """Why ``auto`` picked ``auto``."""
    if auto == "cuda":
        return f"a CUDA GPU is usable ({cuda_why})"
    if auto == "numba":
        return f"no usable CUDA GPU ({cuda_why}); numba is the fastest CPU backend"
    return f"neither cuda ({cuda_why}) nor numba is usable"


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
        "auto_reason": auto_reason(auto, cuda_ok, cuda_why),
        "cpu_count": os.cpu_count(),
        "numba_threads": numba.config.NUMBA_NUM_THREADS,
        "cuda": {"usable": cuda_ok, "detail": cuda_why},
        "export_profiles": {p.name: f"{p.target}: {p.description}" for p in map(profiles.load, profiles.available())},
    }


def format_info(info: dict) -> str:
    lines = [f"neurosim {info['neurosim']} (Python {info['python']}, {info['platform']})", "packages:"]
    lines += [f"  {k:<12} {v or 'not installed'}" for k, v in info["packages"].items()]
    lines.append("backends:")
    lines += [f"  {k:<12} {'usable' if b['usable'] else 'unusable'}: {b['reason']}" for k, b in info["backends"].items()]
    lines.append(f"auto backend: {info['auto_backend']} ({info['auto_reason']})")
    lines.append(f"threads: {info['numba_threads']} numba threads on {info['cpu_count']} CPUs")
    lines.append(f"CUDA: {'usable' if info['cuda']['usable'] else 'not usable'} ({info['cuda']['detail']})")
    lines.append("export profiles (neurosim export --profile NAME):")
    lines += [f"  {k:<12} {v}" for k, v in info["export_profiles"].items()]
    return "\n".join(lines)
