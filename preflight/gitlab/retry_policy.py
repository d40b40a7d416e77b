"""When to retry a GitLab request and how long to wait (pure).

Retried: connection errors and timeouts, 408, 429, 409 "Resource lock" and the transient 5xx
(500, 502, 503, 504 and the 52x a proxy sends); a POST only when it cannot have been done (no
connection, 429, 503, 409 "Resource lock"). ``Retry-After`` (seconds or an HTTP date) is honoured as a minimum; other
waits are exponential with jitter, so that reporters failing together do not retry together.
Everything is bounded twice: attempts per request and one time budget for the whole report.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504, *range(520, 531)})


@dataclass(frozen=True)
class RetryPolicy:
    """Attempts per request and the shape of the waits between them."""

    max_attempts: int = 6
    base_delay_s: float = 0.5
    max_delay_s: float = 8.0
    retry_after_jitter_s: float = 0.5  # added on top of Retry-After
    max_retry_after_s: float = 300.0  # a longer Retry-After is not worth waiting for


@dataclass(frozen=True)
class RetryStep:
    """The decision after a failed attempt: retry after ``delay_s``, or give up and why."""

    retry: bool
    delay_s: float = 0.0
    reason: str = ""


# A POST that got one of these may have been done (a gateway gave up waiting, or the server
# failed half-way): it is not resent blindly.
UNCERTAIN_FOR_POST = frozenset({408, 500, 502, 504, *range(520, 531)})
SAFE_TO_RESEND = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


def is_safe_to_resend(method: str) -> bool:
    """Idempotent methods may be resent after a lost answer; a POST may not."""
    return method.upper() in SAFE_TO_RESEND


def is_retryable_status(status: int, method: str = "GET", reason: str = "") -> bool:
    """True for answers worth another attempt: rate limit, transient server errors, and 409
    "Resource lock" (GitLab's lock on a resource another request is changing)."""
    if status == 409:
        return "resource lock" in reason.lower()
    if not is_safe_to_resend(method) and status in UNCERTAIN_FOR_POST:
        return False
    return status in RETRYABLE_STATUSES


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date), or None."""
    if value is None:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():
        return float(int(text))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    reference = now or datetime.now(timezone.utc)
    return max(0.0, (when - reference).total_seconds())


def backoff_delay(policy: RetryPolicy, attempt: int, rng: random.Random) -> float:
    """Exponential backoff with "equal jitter": half the step fixed, half random."""
    step = min(policy.max_delay_s, policy.base_delay_s * 2.0 ** max(0, attempt - 1))
    return step / 2 + rng.uniform(0, step / 2)


def plan_retry(
    policy: RetryPolicy,
    attempt: int,
    remaining_s: float,
    retry_after_s: float | None,
    rng: random.Random,
) -> RetryStep:
    """Decide after failed attempt number ``attempt`` (1-based) with ``remaining_s`` of budget."""
    if attempt >= policy.max_attempts:
        return RetryStep(False, reason=f"gave up after {attempt} attempts")
    if retry_after_s is not None:
        if retry_after_s > policy.max_retry_after_s:
            return RetryStep(False, reason=f"Retry-After {retry_after_s:.0f} s is too long")
        delay = retry_after_s + rng.uniform(0, policy.retry_after_jitter_s)
    else:
        delay = backoff_delay(policy, attempt, rng)
    if delay >= remaining_s:
        wait = (
            f"Retry-After {retry_after_s:.0f} s" if retry_after_s is not None else "the next wait"
        )
        return RetryStep(
            False,
            reason=f"{wait} exceeds the remaining time budget ({max(0.0, remaining_s):.1f} s)",
        )
    return RetryStep(True, delay_s=delay)
