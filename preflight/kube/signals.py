"""SIGTERM and SIGINT as exceptions for the duration of a block, so that ``finally`` cleans up.

GitLab cancels a job by terminating its pod: the processes get SIGTERM. Python's default for
SIGTERM is to die on the spot, which would leave a helper pod behind; inside
:func:`signals_as_exceptions` it raises :class:`Terminated` instead. During cleanup
(:meth:`SignalGuard.deferred`) signals are only recorded, and raised once cleanup is done.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

from preflight.exitcodes import ExitCode

HANDLED = (signal.SIGTERM, signal.SIGINT)


class Terminated(BaseException):
    """SIGTERM arrived; whatever needed cleaning up was cleaned up (exit 143).

    A ``BaseException``, like ``KeyboardInterrupt``: no ``except Exception`` on the way out may
    swallow it and carry on.
    """

    exit_code = ExitCode.TERMINATED


def _raise_for(signum: int) -> None:
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise Terminated(f"terminated by {signal.Signals(signum).name}; cleaned up before exiting")


class SignalGuard:
    """State of one :func:`signals_as_exceptions` block."""

    def __init__(self) -> None:
        self.deferring = False
        self.pending: list[int] = []

    def handle(self, signum: int, frame: FrameType | None) -> None:
        if self.deferring:
            self.pending.append(signum)
            return
        _raise_for(signum)

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        """Record signals instead of raising them while the block runs (cleanup must finish)."""
        previous = self.deferring
        self.deferring = True
        try:
            yield
        finally:
            self.deferring = previous


@contextlib.contextmanager
def signals_as_exceptions() -> Iterator[SignalGuard]:
    """Install the handlers for the block and restore the previous ones afterwards.

    Outside the main thread handlers cannot be installed; the block then runs unguarded.
    """
    guard = SignalGuard()
    if threading.current_thread() is not threading.main_thread():
        yield guard
        return
    previous: dict[int, Any] = {}
    for handled in HANDLED:
        previous[handled] = signal.signal(handled, guard.handle)
    failed = True
    try:
        yield guard
        failed = False
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if guard.pending and not failed:
            _raise_for(guard.pending[0])
