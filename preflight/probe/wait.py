"""The readiness loop: try, and while the outcome may still change, sleep briefly and try again.

Polls fast enough to notice a daemon within tens of milliseconds of it answering (10 ms, 20 ms,
then every 25 ms), never spins (every retry sleeps), and never runs past the deadline: each
attempt gets the absolute deadline and bounds its own socket waits by it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from preflight.probe.classify import Classification, HttpResponse

TYPE_CHECKING = False  # typing's constant without importing typing: the healthy path
if TYPE_CHECKING:
    from preflight.probe.transport import Connection

FIRST_DELAY_S = 0.010
MAX_DELAY_S = 0.025
GIVE_UP_EVERY_S = 1.0


@dataclass(frozen=True)
class Attempt:
    """One try: its classification and, for an answer, the response and the open connection."""

    classification: Classification
    response: HttpResponse | None = None
    connection: Connection | None = None


def backoff_delays(first: float = FIRST_DELAY_S, cap: float = MAX_DELAY_S) -> Iterator[float]:
    """Sleeps between attempts: doubling from ``first`` up to ``cap``, then ``cap`` forever."""
    delay = first
    while True:
        yield min(delay, cap)
        delay *= 2


def wait_until_settled(
    attempt: Callable[[float], Attempt],
    timeout: float,
    *,
    wait: bool = True,
    give_up: Callable[[], str | None] | None = None,
    give_up_every: float = GIVE_UP_EVERY_S,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[Attempt, int, str | None]:
    """Run ``attempt(deadline)`` until its outcome is final or the deadline passes.

    Returns the last attempt, the number of attempts, and the reason ``give_up`` gave, if any.
    Without ``wait`` there is one attempt. ``give_up`` is asked while the outcome may still
    change (after the first retryable attempt, then at most every ``give_up_every`` seconds,
    since it may be slow, e.g. a Kubernetes API call); a reason stops the wait at once.
    """
    deadline = clock() + timeout
    delays = backoff_delays()
    attempts = 0
    next_give_up_check = clock()
    while True:
        result = attempt(deadline)
        attempts += 1
        if not wait or not result.classification.retry:
            return result, attempts, None
        if give_up is not None and clock() >= next_give_up_check:
            reason = give_up()
            if reason:
                return result, attempts, reason
            next_give_up_check = clock() + give_up_every
        remaining = deadline - clock()
        if remaining <= 0:
            return result, attempts, None
        sleep(min(next(delays), remaining))
