"""Total-time limits that a slow peer cannot stretch (the main thread's ``ITIMER_REAL``).

Request timeouts in requests, urllib3 and the kubernetes client are *idle* timeouts: a server
that sends one byte every few seconds never trips them. A :func:`time_limit` arms the process'
real-time interval timer; when it fires, ``SIGALRM`` interrupts the blocking ``recv`` and the
handler raises :class:`TimeLimitExceeded` in the main thread. Limits nest: the timer is always
armed for the earliest one that has not fired yet, and each limit raises only once.

:class:`TimeLimitExceeded` derives from ``BaseException`` so that a library's
``except Exception`` cannot swallow it. In a thread other than the main thread (signals are only
delivered there) a limit does nothing: callers keep their idle timeouts as a second bound.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType

_MIN_ARM_S = 0.001


class TimeLimitExceeded(BaseException):
    """A :func:`time_limit` ran out; ``limit`` is the one that did."""

    def __init__(self, limit: Limit) -> None:
        super().__init__(f"{limit.what} took longer than {limit.seconds:g} s")
        self.limit = limit


@dataclass(eq=False)
class Limit:
    """One armed limit: what it bounds, its length and its end on the monotonic clock."""

    what: str
    seconds: float
    end: float
    fired: bool = field(default=False)

    def remaining(self) -> float:
        """Seconds left (0 when over)."""
        return max(0.0, self.end - time.monotonic())


_active: list[Limit] = []
_previous_handler: object = None


def _usable() -> bool:
    return threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")


def _arm() -> None:
    pending = [limit for limit in _active if not limit.fired]
    if not pending:
        signal.setitimer(signal.ITIMER_REAL, 0)
        return
    earliest = min(limit.end for limit in pending)
    signal.setitimer(signal.ITIMER_REAL, max(_MIN_ARM_S, earliest - time.monotonic()))


def _on_alarm(signum: int, frame: FrameType | None) -> None:
    now = time.monotonic()
    due = [limit for limit in _active if not limit.fired and limit.end <= now]
    if not due:
        _arm()  # an early tick (re-armed limits): wait for the next one
        return
    limit = min(due, key=lambda item: item.end)
    limit.fired = True
    _arm()
    raise TimeLimitExceeded(limit)


@contextmanager
def time_limit(seconds: float, what: str) -> Iterator[Limit]:
    """Raise :class:`TimeLimitExceeded` in the ``with`` block after ``seconds`` in total."""
    global _previous_handler
    limit = Limit(what, seconds, time.monotonic() + max(0.0, seconds))
    if not _usable():
        yield limit
        return
    if not _active:
        _previous_handler = signal.signal(signal.SIGALRM, _on_alarm)
    _active.append(limit)
    try:
        _arm()
        yield limit
    finally:
        _active.remove(limit)
        if _active:
            _arm()
        else:
            signal.setitimer(signal.ITIMER_REAL, 0)
            previous = _previous_handler if _previous_handler is not None else signal.SIG_DFL
            signal.signal(signal.SIGALRM, previous)  # type: ignore[arg-type]


def earliest_remaining() -> float | None:
    """Seconds until the earliest active limit of this thread ends, or None without one."""
    if not _usable():
        return None
    pending = [limit.remaining() for limit in _active if not limit.fired]
    return min(pending) if pending else None
