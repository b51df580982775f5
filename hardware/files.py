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


def _check_kind(path: Path, folder: bool) -> None:
    """``ValueError`` when ``path`` exists as the other kind (a folder where a file goes, or the reverse)."""
    if path.exists() and path.is_dir() != folder:
        want, found = ("folder", "file") if folder else ("file", "folder")
        raise ValueError(f"out: {path} is a {found}, but this export writes a {want}; give another --out")


@contextmanager
def atomic_output(path: str | Path, folder: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling of ``path`` to write: a file, or a ``folder`` of files. When the block
    succeeds, a file replaces ``path``; a folder's files replace their namesakes in ``path`` one by
    one, each whole, and other files already there are kept (a Makefile, objects, notes).
    Otherwise the temporary is removed and ``path`` is left as it was."""
    path = Path(path)
    _check_kind(path, folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    _remove(tmp)
    try:
        yield tmp
        _check_kind(path, folder)
    except BaseException:
        _remove(tmp)
        raise
    if folder and path.is_dir():
        for entry in sorted(os.listdir(tmp)):
            os.replace(tmp / entry, path / entry)
        tmp.rmdir()
    else:
        os.replace(tmp, path)
