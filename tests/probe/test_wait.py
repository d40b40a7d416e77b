"""The readiness loop: fast polling, no spinning, never past the deadline."""

from __future__ import annotations

import itertools
import time

import pytest

from preflight.probe.classify import Classification
from preflight.probe.model import Verdict
from preflight.probe.wait import MAX_DELAY_S, Attempt, backoff_delays, wait_until_settled

RETRY = Attempt(Classification(Verdict.REFUSED, "connection-refused", "refused", retry=True))
FINAL = Attempt(Classification(Verdict.TLS_MISMATCH, "tls-to-plain-port", "tls", retry=False))
HEALTHY = Attempt(Classification(Verdict.HEALTHY, "ok", "ok"))


def test_backoff_doubles_to_the_cap() -> None:
    assert list(itertools.islice(backoff_delays(), 6)) == [0.01, 0.02, 0.025, 0.025, 0.025, 0.025]
    assert list(itertools.islice(backoff_delays(0.001, 0.05), 8)) == [
        0.001,
        0.002,
        0.004,
        0.008,
        0.016,
        0.032,
        0.05,
        0.05,
    ]


def test_final_outcome_returns_at_once() -> None:
    calls: list[float] = []

    def attempt(deadline: float) -> Attempt:
        calls.append(deadline)
        return FINAL

    sleeps: list[float] = []
    result, attempts, gave_up = wait_until_settled(attempt, 5.0, sleep=sleeps.append)
    assert (result, attempts, gave_up) == (FINAL, 1, None)
    assert sleeps == []  # returned at once: not a single sleep


def test_retries_until_the_outcome_changes() -> None:
    outcomes = iter([RETRY, RETRY, RETRY, HEALTHY])
    result, attempts, _ = wait_until_settled(lambda deadline: next(outcomes), 5.0)
    assert (result, attempts) == (HEALTHY, 4)


def test_without_wait_there_is_one_attempt() -> None:
    result, attempts, _ = wait_until_settled(lambda deadline: RETRY, 5.0, wait=False)
    assert (result, attempts) == (RETRY, 1)


@pytest.mark.parametrize("timeout", [0.2, 0.5])
def test_retrying_stops_at_the_deadline_and_never_spins(timeout: float) -> None:
    deadlines: list[float] = []

    def attempt(deadline: float) -> Attempt:
        deadlines.append(deadline)
        return RETRY

    now = [100.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    result, attempts, _ = wait_until_settled(attempt, timeout, clock=lambda: now[0], sleep=sleep)
    assert result is RETRY
    # Stopped at the deadline, not before it and without sleeping past it.
    assert now[0] == pytest.approx(100.0 + timeout)
    # Every attempt saw the same absolute deadline: no attempt may outlive it.
    assert set(deadlines) == {100.0 + timeout}
    # Polling every <= 25 ms, never spinning: between timeout/25ms and timeout/10ms (+ the first).
    assert timeout / MAX_DELAY_S <= attempts <= timeout / 0.010 + 2


def test_retrying_on_the_real_clock_ends_after_the_deadline() -> None:
    """The real clock and sleep: the wait lasts the timeout (upper bound: 3x the median)."""
    started = time.monotonic()
    result, _, _ = wait_until_settled(lambda deadline: RETRY, 0.2)
    elapsed = time.monotonic() - started
    assert result is RETRY
    assert 0.2 <= elapsed < 3 * 0.2


def test_sleeps_are_clipped_to_the_remaining_time() -> None:
    now = [0.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    def attempt(deadline: float) -> Attempt:
        now[0] += 0.004  # each try takes 4 ms
        return RETRY

    wait_until_settled(attempt, 0.05, clock=lambda: now[0], sleep=sleep)
    assert all(s > 0 for s in sleeps)
    assert sleeps[:2] == [0.01, 0.02]
    assert now[0] <= 0.05 + 0.004 + 1e-9  # the last try starts at the deadline at the latest


def test_give_up_stops_the_wait_and_is_asked_sparingly() -> None:
    now = [0.0]
    asked: list[float] = []

    def give_up() -> str | None:
        asked.append(now[0])
        return "the dind container exited" if len(asked) == 3 else None

    def sleep(seconds: float) -> None:
        now[0] += seconds

    result, attempts, reason = wait_until_settled(
        lambda deadline: RETRY,
        30.0,
        give_up=give_up,
        give_up_every=0.2,
        clock=lambda: now[0],
        sleep=sleep,
    )
    assert (result, reason) == (RETRY, "the dind container exited")
    # Asked at once, then every 0.2 s: stopped at the third answer, long before the timeout.
    assert asked[0] == 0.0 and all(b - a >= 0.2 for a, b in itertools.pairwise(asked))
    assert 0.4 <= now[0] < 0.4 + MAX_DELAY_S + 1e-9
    assert attempts > len(asked)  # polling the daemon stays fast between the questions


def test_give_up_is_not_asked_once_the_daemon_answers() -> None:
    asked: list[int] = []
    outcomes = iter([HEALTHY])
    _, _, reason = wait_until_settled(
        lambda deadline: next(outcomes), 5.0, give_up=lambda: asked.append(1) or "dead"
    )
    assert reason is None and asked == []
