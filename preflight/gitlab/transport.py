"""The HTTP transport under python-gitlab: retries with backoff and jitter inside one time budget.

python-gitlab sends every request through :class:`RetryingSession.request`. Retryable answers
(see :mod:`preflight.gitlab.retry_policy`) never reach python-gitlab: the session waits and tries
again, or raises :class:`GitLabUnavailable` with one line once the attempts or the budget are used
up. Every attempt is recorded (method, path, status) so a report can say how many requests it
made; the ``Date`` of the last answer gives the server's clock.

Why not python-gitlab's own ``retry_transient_errors``/``max_retries``: it resends a POST after
a read timeout (a second issue or note), has no time budget across requests, no jitter, and
waits any ``Retry-After`` however long. What this session adds instead:

- each attempt is bounded in *total* time (:func:`preflight.time_limit.time_limit`), not only
  per idle read, so a server that drips one byte every few seconds cannot stretch it;
- a request that carries a token never follows a redirect: a 3xx is :class:`GitLabRedirected`
  (requests strips only ``Authorization`` on a cross-host redirect, never ``PRIVATE-TOKEN`` or
  ``JOB-TOKEN``);
- a POST whose answer was lost after it was sent is not resent: :class:`GitLabOutcomeUnknown`
  lets the caller check whether it landed;
- proxies come from ``HTTPS_PROXY``/``NO_PROXY`` for https only; ``REQUESTS_CA_BUNDLE``,
  ``CURL_CA_BUNDLE`` and ``~/.netrc`` (which a job can set) are ignored.
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
    is_safe_to_resend,
    parse_retry_after,
    plan_retry,
)
from preflight.shown import shown
from preflight.time_limit import TimeLimitExceeded, time_limit


class GitLabUnavailable(Exception):
    """GitLab could not be reached, or kept failing, within the attempts and the time budget."""


class GitLabOutcomeUnknown(GitLabUnavailable):
    """A POST was sent but its answer was lost: it may have been done; it was not resent."""


class GitLabRedirected(Exception):
    """GitLab answered with a redirect: a configuration error (the token does not follow it)."""


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
        self.trust_env = False  # no CA bundle, netrc or proxy a job could set (see module doc)
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
        target = urlsplit(url.decode() if isinstance(url, bytes) else str(url))
        path = target.path
        kwargs["allow_redirects"] = False
        if target.scheme == "https":
            kwargs["proxies"] = requests.utils.get_environ_proxies(target.geturl())
        attempt = 0
        while True:
            attempt += 1
            remaining = self.budget.remaining()
            if remaining <= 0:
                raise GitLabUnavailable(
                    f"GitLab did not answer {verb} {path} within the time budget"
                )
            limit_s = min(self.timeout_s, remaining)
            kwargs["timeout"] = limit_s
            started = self.clock()
            try:
                with time_limit(limit_s, f"{verb} {path}") as limit:
                    try:
                        response = super().request(method, url, *args, **kwargs)
                    except TimeLimitExceeded as exc:
                        if exc.limit is not limit:
                            raise
                        raise requests.ReadTimeout(f"no complete answer in {limit_s:g} s") from None
            except (requests.Timeout, requests.ConnectionError) as exc:
                self.attempts.append(Attempt(verb, path, None, self.clock() - started))
                failure = "timed out" if isinstance(exc, requests.Timeout) else "connection failed"
                if not is_safe_to_resend(verb) and not _never_sent(exc):
                    raise GitLabOutcomeUnknown(
                        f"GitLab did not answer {verb} {path} ({failure}); it may have been done, "
                        "so it was not resent"
                    ) from None
                step = plan_retry(self.policy, attempt, self.budget.remaining(), None, self.rng)
                if not step.retry:
                    raise GitLabUnavailable(
                        f"GitLab did not answer {verb} {path}: {failure} ({step.reason})"
                    ) from None
                self.sleep(step.delay_s)
                continue
            self.attempts.append(Attempt(verb, path, response.status_code, self.clock() - started))
            self._note_date(response.headers.get("Date"))
            if 300 <= response.status_code < 400:
                response.close()
                where = urlsplit(response.headers.get("Location", "")).hostname or "elsewhere"
                raise GitLabRedirected(
                    f"GitLab answered {verb} {path} with a redirect (HTTP {response.status_code} "
                    f"to {shown(where, 80)}): the token is never sent through a redirect; set the "
                    "GitLab URL to the address its API answers at"
                )
            if not is_retryable_status(response.status_code, verb, _reason(response)):
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
        """Remember the server's clock from a ``Date`` header."""
        if not value:
            return
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return
        self.server_date = when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _never_sent(exc: BaseException) -> bool:
    """True when the request cannot have reached GitLab (no connection was made)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    from urllib3.exceptions import NewConnectionError

    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, NewConnectionError)


def _reason(response: requests.Response) -> str:
    """The reason phrase and the start of the body (for 409 "Resource lock")."""
    try:
        body = response.text[:200]
    except (requests.RequestException, UnicodeDecodeError, RuntimeError):
        body = ""
    return f"{response.reason or ''} {body}"
