"""Exported files appear whole or not at all, and never replace what the export did not write."""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _check_replaceable(path: Path, staged: Path) -> None:
    """``ValueError`` unless ``staged`` may replace ``path``: a file replaces a file; a folder replaces
    an empty folder or one that holds only names the new folder has (an earlier export's)."""
    if not path.exists():
        return
    if staged.is_dir() != path.is_dir():
        want, found = ("folder", "file") if staged.is_dir() else ("file", "folder")
        raise ValueError(f"out: {path} is a {found}, but this export writes a {want}; give another --out")
    if path.is_dir():
        foreign = sorted(set(os.listdir(path)) - set(os.listdir(staged)))
        if foreign:
            raise ValueError(f"out: the folder {path} holds files this export does not write ({', '.join(foreign[:3])}"
                             f"{', ...' if len(foreign) > 3 else ''}); give a new or empty folder")


@contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """Yield a temporary sibling of ``path`` to write (a file or a folder); when the block
    succeeds it replaces ``path`` (see :func:`_check_replaceable`), otherwise it is removed and
    ``path`` is left as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    _remove(tmp)
    try:
        yield tmp
        _check_replaceable(path, tmp)
    except BaseException:
        _remove(tmp)
        raise
    if path.is_dir():  # os.replace cannot overwrite a folder
        old = path.with_name(f".{path.name}.old-{os.getpid()}")
        os.replace(path, old)
        os.replace(tmp, path)
        _remove(old)
    else:
        os.replace(tmp, path)
