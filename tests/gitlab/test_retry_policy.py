"""Retry decisions: which answers are retried, how long to wait, when to give up."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from preflight.gitlab.client import (
    RetryPolicy,
    backoff_delay,
    is_retryable_status,
    parse_retry_after,
    plan_retry,
)

NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("status", "retry"),
    [
        (429, True),
        (500, True),
        (502, True),
        (503, True),
        (504, True),
        (408, True),
        (522, True),
        (400, False),
        (401, False),
        (403, False),
        (404, False),
        (409, False),
        (501, False),
        (200, False),
    ],
)
def test_retryable_statuses(status: int, retry: bool) -> None:
    assert is_retryable_status(status) is retry


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("7", 7.0),
        (" 0 ", 0.0),
        ("Thu, 02 Jan 2025 03:04:35 GMT", 30.0),
        ("Thu, 02 Jan 2025 03:00:00 GMT", 0.0),  # in the past: no wait
        ("soon", None),
        ("-3", None),
        (None, None),
    ],
)
def test_parse_retry_after(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header, NOW) == seconds


def test_backoff_grows_and_is_jittered_within_bounds() -> None:
    policy = RetryPolicy(base_delay_s=0.5, max_delay_s=4.0)
    for attempt, step in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (9, 4.0)]:
        delays = {backoff_delay(policy, attempt, random.Random(seed)) for seed in range(50)}
        assert all(step / 2 <= d <= step for d in delays)
        assert len(delays) > 40  # jitter: reporters failing together do not retry together


@pytest.mark.parametrize(
    ("attempt", "remaining", "retry_after", "retry", "reason"),
    [
        (1, 30.0, None, True, ""),
        (1, 30.0, 5.0, True, ""),
        (6, 30.0, None, False, "gave up after 6 attempts"),
        (1, 3.0, 5.0, False, "Retry-After 5 s exceeds the remaining time budget (3.0 s)"),
        (1, 1000.0, 400.0, False, "Retry-After 400 s is too long"),
        (1, 0.1, None, False, "the next wait exceeds the remaining time budget"),
    ],
)
def test_plan_retry(
    attempt: int, remaining: float, retry_after: float | None, retry: bool, reason: str
) -> None:
    step = plan_retry(RetryPolicy(), attempt, remaining, retry_after, random.Random(1))
    assert step.retry is retry
    assert reason in step.reason
    if retry and retry_after is not None:
        policy = RetryPolicy()
        assert retry_after <= step.delay_s <= retry_after + policy.retry_after_jitter_s


def test_retry_after_in_the_future_from_an_http_date() -> None:
    later = NOW + timedelta(seconds=90)
    header = later.strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert parse_retry_after(header, NOW) == 90.0
