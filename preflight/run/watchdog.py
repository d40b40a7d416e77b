"""One hard deadline for ``run`` and SIGTERM/SIGINT, as an exception the run ends on.

Three layers, so that nothing a server or the job does can keep a run alive:

1. the deadline is a :func:`preflight.time_limit.time_limit` around the whole run: ``SIGALRM``
   interrupts whatever blocks (a dripping GitLab, a hanging Kubernetes API) and raises
   :class:`~preflight.time_limit.TimeLimitExceeded` in the main thread;
2. SIGTERM (GitLab cancels a job) and SIGINT raise :class:`Stopped`; the kube helper pod code
   installs its own handlers while the pod exists and raises ``Terminated`` or
   ``KeyboardInterrupt`` after deleting it;
3. a backstop thread ends the process with ``os._exit`` if it is still alive
   :data:`GRACE_S` after the deadline (or after a signal): the run's own ending (print, flush,
   clean up) had that long.

The default deadline is the sum of the documented budgets (probe timeout, diagnosis timeout,
GitLab budget), at most :data:`DEFAULT_CAP_S`; ``--deadline``/``DIND_PREFLIGHT_DEADLINE`` sets it.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

from preflight.time_limit import Limit, TimeLimitExceeded, time_limit

TYPE_CHECKING = False  # typing's constant without importing typing: the healthy path
if TYPE_CHECKING:
    from typing import Any


DEFAULT_CAP_S = 120.0
GRACE_S = 1.5
RUN_DEADLINE = "the run"


class Stopped(BaseException):
    """SIGTERM or SIGINT arrived during the run."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        """128 + the signal number: 143 for SIGTERM, 130 for SIGINT."""
        return 128 + self.signum


class _Backstop:
    """A daemon thread that ends the process at ``end`` (monotonic) unless cancelled."""

    def __init__(self, end: float, last_words: Callable[[], tuple[str, int]]) -> None:
        self.end = end
        self.last_words = last_words
        self.wake = threading.Event()
        self.cancelled = False
        self.thread = threading.Thread(target=self._run, name="run-deadline", daemon=True)
        self.thread.start()

    def move(self, end: float) -> None:
        """End at ``end`` instead, if that is earlier."""
        if end < self.end:
            self.end = end
            self.wake.set()

    def cancel(self) -> None:
        self.cancelled = True
        self.wake.set()

    def _run(self) -> None:
        while not self.cancelled:
            left = self.end - time.monotonic()
            if left <= 0:
                line, code = self.last_words()
                try:
                    os.write(2, (line + "\n").encode("utf-8", "replace"))
                finally:
                    os._exit(code)
            self.wake.wait(left)
            self.wake.clear()


class Watch:
    """The armed watchdog of one run."""

    def __init__(self, backstop: _Backstop) -> None:
        self.backstop = backstop
        self.limit: Limit | None = None
        self.ending = False

    def begin_ending(self) -> None:
        """The run is stopping: further signals are ignored, the backstop is GRACE_S away."""
        self.ending = True
        self.backstop.move(time.monotonic() + GRACE_S)

    def is_stop(self, exc: BaseException) -> bool:
        """True for the exceptions that mean "stop now": the deadline, a signal."""
        from preflight.kube.signals import Terminated

        if isinstance(exc, TimeLimitExceeded):
            return exc.limit is self.limit
        return isinstance(exc, (Stopped, KeyboardInterrupt, Terminated))


@contextmanager
def watchdog(deadline_s: float, last_words: Callable[[], tuple[str, int]]) -> Iterator[Watch]:
    """Run the block under the deadline, with SIGTERM/SIGINT raising :class:`Stopped`.

    ``last_words()`` gives the line and the exit code of the backstop, called only if the
    process is still alive :data:`GRACE_S` after the deadline or a signal.
    """
    main = threading.current_thread() is threading.main_thread()
    watch = Watch(_Backstop(time.monotonic() + deadline_s + GRACE_S, last_words))
    previous: dict[int, Any] = {}

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if watch.ending:
            return  # already ending: let the ending finish (the backstop bounds it)
        watch.begin_ending()
        raise Stopped(signum)

    if main:
        for handled in (signal.SIGTERM, signal.SIGINT):
            previous[int(handled)] = signal.signal(handled, on_signal)
    try:
        with time_limit(deadline_s, RUN_DEADLINE) as limit:
            watch.limit = limit
            yield watch
    finally:
        watch.backstop.cancel()
        for number, handler in previous.items():
            signal.signal(number, handler)


def ending(exc: BaseException) -> tuple[str, int | None]:
    """How a stopped run describes the stop, and the signal's exit code (None: the deadline)."""
    if isinstance(exc, Stopped):
        return f"stopped by {signal.Signals(exc.signum).name}", exc.exit_code
    if isinstance(exc, KeyboardInterrupt):
        return "stopped by SIGINT", 130
    from preflight.kube.signals import Terminated

    if isinstance(exc, Terminated):
        return "stopped by SIGTERM", 143
    return "stopped by its deadline", None
