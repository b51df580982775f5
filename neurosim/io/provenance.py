"""Provenance of a run: code version, environment and invocation, as HDF5 root attributes."""

from __future__ import annotations

import json
import platform
import socket
import subprocess
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Sequence

import numpy as np

#: distributions whose versions are recorded when installed
PACKAGES = ("numpy", "numba", "h5py", "libsonata", "scipy", "tomli-w", "tqdm", "matplotlib",
            "brian2", "dask", "distributed")


def utc_now() -> str:
    """Current UTC time in ISO 8601."""
    return datetime.now(timezone.utc).isoformat()


def package_versions() -> dict[str, str]:
    """Versions of the installed distributions of :data:`PACKAGES`."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def git_state() -> tuple[str, bool]:
    """``(commit, dirty)`` of the git checkout holding neurosim, or ``("", False)`` outside one."""
    here = Path(__file__).resolve().parent
    commit = _git(["rev-parse", "HEAD"], here)
    if not commit:
        return "", False
    status = _git(["status", "--porcelain", "--untracked-files=no"], here)
    return commit, bool(status)


def collect(root_seed: int | None, argv: Sequence[str] | None) -> dict[str, Any]:
    """Root attributes known when a run starts (``start_time_utc`` included; ``root_seed``
    only when given)."""
    from neurosim import __version__

    commit, dirty = git_state()
    attrs: dict[str, Any] = {
        "neurosim_version": __version__,
        "git_commit": commit,
        "git_dirty": dirty,
        "packages_json": json.dumps(package_versions(), sort_keys=True),
        "python": sys.version,
        "platform": platform.platform(),
        "hostname": socket.gethostname(),
        "argv": json.dumps(list(sys.argv if argv is None else argv)),
        "start_time_utc": utc_now(),
    }
    if root_seed is not None:
        attrs["root_seed"] = np.uint64(root_seed)
    return attrs
