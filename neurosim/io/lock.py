"""One writer per output path: a lock file ``.<name>.lock`` beside the output, held for a run.

    with OutputLock("results/run.h5"):     # raises OutputBusy if another run holds it
        ...                                # check, write the partial file, rename it into place

The lock is an advisory ``flock`` on the lock file, so the kernel drops it when its process
dies however it dies: a lock file left by a killed run is simply taken over (and removed by
its new holder). The file holds ``<pid> <host>`` of the holder, for the message of a refused
run. A thread may take the lock again while it holds it (the runner and the results writer
both take it); other threads and processes are refused. Where ``fcntl`` is missing the lock
is the existence of the file (``O_EXCL``), and a lock file left by a killed run has to be
removed by hand.
"""

from __future__ import annotations

import errno
import os
import socket
import threading
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

#: (lock path, thread id) -> [file descriptor, depth] of the locks this process holds
_HELD: dict[tuple[str, int], list[int]] = {}
_HELD_GUARD = threading.Lock()


class OutputBusy(RuntimeError):
    """Another run is writing the output path (the CLI exits 2 with this message)."""


def lock_path(path: str | os.PathLike) -> Path:
    """The lock file of the output ``path``: ``.<name>.lock`` beside it."""
    path = Path(path)
    return path.with_name(f".{path.name}.lock")


def _holder(lock: Path) -> str:
    """``" (pid N)"`` or ``" (pid N on HOST)"`` of the lock's holder, or ``""`` if unknown."""
    try:
        pid, host = (lock.read_text(encoding="utf-8").split() + ["", ""])[:2]
    except OSError:
        return ""
    if not pid.isdigit():
        return ""
    return f" (pid {pid})" if host in ("", socket.gethostname()) else f" (pid {pid} on {host})"


def _busy(output: Path, lock: Path) -> OutputBusy:
    return OutputBusy(f"output.path: {output} is being written by another run{_holder(lock)}; wait for it to "
                      f"finish or choose another --out")


#: errors of flock on file systems that do not support it: fall back to an exclusively created lock file
NO_FLOCK = (errno.ENOLCK, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL)


def _open_locked(output: Path, lock: Path) -> int:
    """A descriptor of ``lock`` holding its flock (re-opened if its last holder removed it meanwhile)."""
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise _busy(output, lock) from None
        except OSError as exc:  # a file system without flock (NFS nolock, some Lustre, FUSE, SMB mounts)
            empty = os.fstat(fd).st_size == 0  # created just now: every holder writes its pid at once
            os.close(fd)
            if exc.errno not in NO_FLOCK:
                raise
            if empty:
                lock.unlink(missing_ok=True)
            return _open_exclusive(output, lock)
        try:
            if os.path.samestat(os.fstat(fd), os.stat(lock)):
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)  # we locked a file its holder had just removed: lock the new one


def _open_exclusive(output: Path, lock: Path) -> int:
    try:
        return os.open(lock, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        raise OutputBusy(f"{_busy(output, lock)} (remove {lock} if no run is writing it)") from None


def _write_holder(fd: int) -> None:
    """Write ``<pid> <host>`` into the lock file (best effort: a full disk still gets a lock)."""
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {socket.gethostname()}\n".encode())
    except OSError:
        pass


class OutputLock:
    """The lock of one output path; ``acquire``/``release`` or a ``with`` block."""

    def __init__(self, output: str | os.PathLike):
        self.output = Path(output)
        self.path = lock_path(self.output)
        self._key: tuple[str, int] | None = None  # set while held

    def acquire(self) -> "OutputLock":
        """Take the lock, or raise :class:`OutputBusy` naming the holder."""
        if self._key is not None:
            return self
        key = (os.path.abspath(self.path), threading.get_ident())
        with _HELD_GUARD:
            entry = _HELD.get(key)
            if entry is not None:
                entry[1] += 1
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd = (_open_locked if fcntl is not None else _open_exclusive)(self.output, self.path)
                _write_holder(fd)
                _HELD[key] = [fd, 1]
        self._key = key
        return self

    def release(self) -> None:
        """Give the lock back; the last release by its thread removes the lock file (idempotent)."""
        key, self._key = self._key, None
        if key is None:
            return
        with _HELD_GUARD:
            entry = _HELD[key]
            entry[1] -= 1
            if entry[1] == 0:
                del _HELD[key]
                try:
                    self.path.unlink(missing_ok=True)  # while still holding it: nobody else removes a new one
                finally:
                    os.close(entry[0])

    def __enter__(self) -> "OutputLock":
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()
