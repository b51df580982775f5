"""``neurosim info``: versions, backends (and the rule by which ``auto`` picks one), threads, CUDA."""

from __future__ import annotations

import importlib.metadata
import os
import platform

import numba

from neurosim import __version__
from neurosim.engine.registry import AUTO_RULE, CUDA_MIN_NEURONS, auto_choice, backend_status
from neurosim.hardware import profiles

PACKAGES = ("numpy", "numba", "h5py", "scipy", "torch", "snntorch", "brian2", "dask", "distributed", "libsonata",
            "nir", "nirtorch", "norse", "onnx", "onnxruntime", "matplotlib", "tqdm")


def cuda_status() -> tuple[bool, str]:
    """Whether numba.cuda can run kernels on a real GPU here, and why not."""
    from neurosim.engine.cuda_backend import gpu_probe

    return gpu_probe()


def collect() -> dict:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    backends = {name: {"usable": ok, "reason": why} for name, (ok, why) in backend_status().items()}
    cuda_ok, cuda_why = cuda_status()
    large, why = auto_choice(CUDA_MIN_NEURONS, False, (cuda_ok, cuda_why))  # the only case that can be cuda
    return {
        "neurosim": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": versions,
        "backends": backends,
        "auto": {"rule": AUTO_RULE, "cuda_min_neurons": CUDA_MIN_NEURONS, "large_static": large, "reason": why},
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
    auto = info["auto"]
    lines.append(f"auto backend: decided per network: {auto['rule']}")
    lines.append(f"  here: static networks of {auto['cuda_min_neurons']:,}+ neurons -> {auto['large_static']} "
                 f"({auto['reason']}); all others -> numba")
    lines.append(f"threads: {info['numba_threads']} numba threads on {info['cpu_count']} CPUs")
    lines.append(f"CUDA: {'usable' if info['cuda']['usable'] else 'not usable'} ({info['cuda']['detail']})")
    lines.append("export profiles (neurosim export --profile NAME):")
    lines += [f"  {k:<12} {v}" for k, v in info["export_profiles"].items()]
    return "\n".join(lines)
