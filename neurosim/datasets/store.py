"""Where datasets live on this machine: one resolver for every loader.

    folder = locate("mnist", explicit)       # the folder of one dataset

A dataset is looked up in this order:

1. an explicit folder (a scenario's ``data`` / ``data_dir``, a ``--data`` option): only there;
2. ``$NEUROSIM_DATA/<name>`` when the environment variable ``NEUROSIM_DATA`` is set;
3. the user cache, ``$XDG_CACHE_HOME/neurosim/<name>`` (default ``~/.cache/neurosim/<name>``).

``neurosim data fetch <name>`` (:func:`fetch`) fills the folder of step 2 or 3 for users who
are online. Nothing is downloaded unless asked.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

ENV = "NEUROSIM_DATA"
#: dataset name -> module with ``download(folder)`` (the folder it fills is :func:`folder`)
DATASETS = {"mnist": "neurosim.datasets.mnist", "nordland": "neurosim.datasets.nordland",
            "robotcar": "neurosim.datasets.robotcar"}


class DataMissing(FileNotFoundError):
    """A dataset's files are not where they were looked for; the message says how to get them."""


def root() -> Path:
    """The folder holding one sub-folder per dataset: ``$NEUROSIM_DATA``, else the user cache."""
    env = os.environ.get(ENV)
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache).expanduser() / "neurosim"


def folder(name: str, explicit: str | Path | None = None) -> Path:
    """The folder of dataset ``name``: ``explicit`` if given, else ``root() / name`` (may not exist)."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    return Path(explicit).expanduser() if explicit is not None else root() / name


def how_to_get(name: str, explicit: str | Path | None = None) -> str:
    """One sentence telling the user how to put dataset ``name`` where it is looked for."""
    if explicit is not None:
        return f"run `neurosim data fetch {name} --dir {explicit}`, or give the folder that holds the files"
    return (f"run `neurosim data fetch {name}` (downloads into {folder(name)}), or set {ENV} to a folder "
            f"holding {name}/")


def locate(name: str, explicit: str | Path | None = None, files: tuple[str, ...] = ()) -> Path:
    """The folder of dataset ``name`` holding ``files`` (each gzipped or not); :class:`DataMissing` if not."""
    where = folder(name, explicit)
    missing = [f for f in files if not (where / f).is_file() and not (where / f.removesuffix(".gz")).is_file()]
    if missing:
        raise DataMissing(f"{where}: no such file {', '.join(missing)}; {how_to_get(name, explicit)}")
    return where


def fetch(name: str, explicit: str | Path | None = None) -> Path:
    """Download dataset ``name`` into its folder (see :func:`folder`); returns that folder."""
    target = folder(name, explicit).absolute()
    return importlib.import_module(DATASETS[name]).download(target)
