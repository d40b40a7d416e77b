"""20 jobs failing at the same moment on the same node: one open issue, one runner write.

Real threads, each with its own python-gitlab client, against the thread-safe fake over real
HTTP. The request counts printed here are the "requests per incident" figures of the docs.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import replace

import pytest

from preflight.gitlab.client import GitLabSettings
from preflight.gitlab.outcome import IssueAction, ReportOutcome, RunnerAction
from preflight.gitlab.reporter import report_diagnosis
from preflight.gitlab.runner_pause import parse_note
from tests.gitlab.diagnoses import field_report_diagnosis
from tests.gitlab.fake_gitlab import FakeGitLab, Fault
from tests.gitlab.support import FAST, RUNNER_ID, settings, standard_fake

JOBS = 20


def run_burst(configs: list[GitLabSettings]) -> list[ReportOutcome]:
    """Start every reporter at once (barrier) in its own thread; real sleeps, real clocks."""
    barrier = threading.Barrier(len(configs))
    outcomes: list[ReportOutcome | None] = [None] * len(configs)
    failures: list[BaseException] = []

    def worker(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            outcomes[index] = report_diagnosis(
                field_report_diagnosis(),
                configs[index],
                pause_runner=True,
                rng=random.Random(index),
                policy=FAST,
            )
        except BaseException as exc:  # handed to the test thread below
            failures.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(configs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures, failures
    assert all(o is not None for o in outcomes)
    return [o for o in outcomes if o is not None]


@pytest.mark.parametrize(
    ("settle_s", "create_latency_s"),
    [
        (0.0, 0.0),  # worst case: every reporter lists before anyone created
        (0.5, 0.0),
        (1.0, 0.3),  # the default settle against a GitLab that takes 300 ms to create an issue
    ],
)
def test_twenty_reporters_converge_on_one_issue_and_one_pause(
    fake_gitlab: FakeGitLab, settle_s: float, create_latency_s: float
) -> None:
    pid = standard_fake(fake_gitlab, note="Owned by team infra")
    if create_latency_s:
        slow = [Fault(then_process=True, delay_s=create_latency_s) for _ in range(JOBS)]
        fake_gitlab.inject("POST", r"/issues$", *slow)
    configs = [settings(fake_gitlab, job_id=5000 + i, settle_s=settle_s) for i in range(JOBS)]
    started = time.monotonic()
    outcomes = run_burst(configs)
    elapsed = time.monotonic() - started

    assert all(o.ok for o in outcomes), [o.errors for o in outcomes if not o.ok]
    opened = fake_gitlab.project_issues(pid, "opened")
    assert len(opened) == 1
    winner = opened[0]["iid"]
    assert {o.issue_iid for o in outcomes} == {winner}
    assert [o.issue_action for o in outcomes].count(IssueAction.OPENED) == 1
    created = len(fake_gitlab.project_issues(pid))
    closed = sorted(iid for o in outcomes for iid in o.duplicates_closed)
    assert closed == [i["iid"] for i in fake_gitlab.project_issues(pid, "closed")]
    assert len(closed) == created - 1
    # One write to the runner in total, by the job that opened the issue.
    writes = fake_gitlab.runner_writes(RUNNER_ID)
    assert len(writes) == 1
    assert [o.runner_action for o in outcomes].count(RunnerAction.PAUSED) == 1
    runner = fake_gitlab.runners[RUNNER_ID]
    note = parse_note(runner["maintenance_note"])
    assert runner["paused"] and note.issue_iid == winner and note.human == "Owned by team infra"
    # No recurrence notes in the burst; only the duplicates say what they duplicate.
    assert fake_gitlab.issue_notes(pid, winner) == []

    total = len(fake_gitlab.recorded)
    assert total == sum(o.requests_made for o in outcomes)
    assert total <= 5 * JOBS
    print(
        f"\n{JOBS} concurrent reporters, settle {settle_s} s, issue creation "
        f"{create_latency_s * 1000:.0f} ms: {total} requests, "
        f"{created} issue(s) created, {len(closed)} closed as duplicates, "
        f"{len(writes)} runner write(s), {elapsed:.2f} s"
    )


def test_twenty_reporters_without_report_project(fake_gitlab: FakeGitLab) -> None:
    """No issue, so no election: GET-then-PUT may write more than once (the documented race),
    but the runner always ends paused with one block of ours and the human's note kept."""
    standard_fake(fake_gitlab, note="Owned by team infra")
    configs = [
        replace(settings(fake_gitlab, job_id=6000 + i, settle_s=0.5), report_project=None)
        for i in range(JOBS)
    ]
    outcomes = run_burst(configs)
    assert all(o.ok for o in outcomes)
    writes = fake_gitlab.runner_writes(RUNNER_ID)
    runner = fake_gitlab.runners[RUNNER_ID]
    note = parse_note(runner["maintenance_note"])
    assert runner["paused"] and note.key == outcomes[0].key
    assert note.human == "Owned by team infra"
    assert runner["maintenance_note"].count("[dind-preflight]") == 1
    assert 1 <= len(writes) <= JOBS
    skipped = [o.runner_action for o in outcomes].count(RunnerAction.SKIPPED)
    assert skipped + len(writes) == JOBS
    print(
        f"\n{JOBS} concurrent reporters without a report project, settle 0.5 s: "
        f"{len(fake_gitlab.recorded)} requests, {len(writes)} runner write(s)"
    )
