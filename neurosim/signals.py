"""SIGINT and SIGTERM during a command.

The CLI's handler records the signal and raises :class:`KeyboardInterrupt` (or
:class:`Terminated`) so a run unwinds and cleans up. Python swallows an exception raised while
it runs a weakref or ``__del__`` callback, so a run also calls :func:`check` between blocks:
a signal recorded but swallowed still stops it.
"""

from __future__ import annotations

import signal

#: signals received while the current command ran
received: list[int] = []


class Terminated(KeyboardInterrupt):
    """SIGTERM (``timeout``, batch schedulers, ``docker stop``), raised like Ctrl-C's KeyboardInterrupt."""

    signal_name = "SIGTERM"


def interrupt() -> KeyboardInterrupt:
    """The exception that stands for the signals received."""
    return Terminated() if signal.SIGTERM in received else KeyboardInterrupt()


def check() -> None:
    """Raise the interrupt of a signal received earlier, if any."""
    if received:
        raise interrupt()
