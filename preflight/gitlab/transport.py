"""The HTTP transport under python-gitlab: retries with backoff and jitter inside one time budget.

python-gitlab sends every request through :class:`RetryingSession.request`. Retryable answers
(see :mod:`preflight.gitlab.retry_policy`) never reach python-gitlab: the session waits and tries
again, or raises :class:`GitLabUnavailable` with one line once the attempts or the budget are used
up. Every attempt is recorded (method, path, status) so a report can say how many requests it
made; the ``Date`` of the last answer gives the server's clock.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests

from preflight.gitlab.retry_policy import (
    RetryPolicy,
    is_retryable_status,
    parse_retry_after,
    plan_retry,
)


class GitLabUnavailable(Exception):
    """GitLab could not be reached, or kept failing, within the attempts and the time budget."""


@dataclass(frozen=True)
class Attempt:
    """One HTTP request actually sent (``status`` None: no answer)."""

    method: str
    path: str
    status: int | None
    elapsed_s: float


class Budget:
    """A deadline shared by every request of one report."""

    def __init__(self, total_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._end = clock() + total_s

    def remaining(self) -> float:
        """Seconds left (may be negative)."""
        return self._end - self._clock()


class RetryingSession(requests.Session):
    """A requests session that retries transient failures within a :class:`Budget`."""

    def __init__(
        self,
        *,
        budget: Budget,
        timeout_s: float,
        policy: RetryPolicy | None = None,
        rng: random.Random | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.budget = budget
        self.timeout_s = timeout_s
        self.policy = policy or RetryPolicy()
        self.rng = rng or random.Random()
        self.sleep = sleep
        self.clock = clock
        self.attempts: list[Attempt] = []
        self.server_date: datetime | None = None

    def request(
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        """Send with retries; raise :class:`GitLabUnavailable` when giving up."""
        verb = method.decode() if isinstance(method, bytes) else str(method)
        verb = verb.upper()
        path = urlsplit(url.decode() if isinstance(url, bytes) else str(url)).path
        attempt = 0
        while True:
            attempt += 1
            remaining = self.budget.remaining()
            if remaining <= 0:
                raise GitLabUnavailable(
                    f"GitLab did not answer {verb} {path} within the time budget"
                )
            kwargs["timeout"] = min(self.timeout_s, remaining)
            started = self.clock()
            try:
                response = super().request(method, url, *args, **kwargs)
            except (requests.Timeout, requests.ConnectionError) as exc:
                self.attempts.append(Attempt(verb, path, None, self.clock() - started))
                failure = "timed out" if isinstance(exc, requests.Timeout) else "connection failed"
                step = plan_retry(self.policy, attempt, self.budget.remaining(), None, self.rng)
                if not step.retry:
                    raise GitLabUnavailable(
                        f"GitLab did not answer {verb} {path}: {failure} ({step.reason})"
                    ) from None
                self.sleep(step.delay_s)
                continue
            self.attempts.append(Attempt(verb, path, response.status_code, self.clock() - started))
            self._note_date(response.headers.get("Date"))
            if not is_retryable_status(response.status_code):
                return response
            retry_after = parse_retry_after(response.headers.get("Retry-After"), self.server_date)
            step = plan_retry(self.policy, attempt, self.budget.remaining(), retry_after, self.rng)
            response.close()
            if not step.retry:
                raise GitLabUnavailable(
                    f"GitLab answered {verb} {path} with HTTP {response.status_code} "
                    f"({step.reason})"
                )
            self.sleep(step.delay_s)

    def _note_date(self, value: str | None) -> None:
        if not value:
            return
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return
        self.server_date = when if when.tzinfo else when.replace(tzinfo=timezone.utc)
