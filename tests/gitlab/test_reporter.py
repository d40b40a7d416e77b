"""report_diagnosis end to end: the real python-gitlab against the stateful fake over HTTP."""

from __future__ import annotations

import json
import socket
from dataclasses import replace

from preflight.exitcodes import ExitCode
from preflight.gitlab.client import GitLabSettings
from preflight.gitlab.outcome import IssueAction, RunnerAction
from preflight.gitlab.runner_pause import parse_note
from preflight.jsonable import to_json
from tests.gitlab.diagnoses import field_report_diagnosis, job_fault_diagnosis
from tests.gitlab.fake_gitlab import FakeGitLab, Fault
from tests.gitlab.support import (
    JOB_TOKEN,
    PROJECT,
    RUNNER_ID,
    TOKEN,
    report,
    settings,
    standard_fake,
)

ISSUES = r"^/api/v4/projects/ops%2Fnode-health/issues$"
RUNNER = rf"^/api/v4/runners/{RUNNER_ID}$"


def calls(fake: FakeGitLab, since: int = 0) -> list[str]:
    return [f"{r.method} {r.path}" for r in fake.recorded[since:]]


def test_first_report_opens_the_issue_and_pauses_the_runner(fake_gitlab: FakeGitLab) -> None:
    pid = standard_fake(fake_gitlab, note="Owned by team infra")
    outcome = report(field_report_diagnosis(), settings(fake_gitlab))

    assert outcome.ok and outcome.exit_code is ExitCode.OK
    assert (outcome.issue_action, outcome.issue_iid) == (IssueAction.OPENED, 1)
    assert outcome.runner_action is RunnerAction.PAUSED
    assert outcome.runner_url == f"{fake_gitlab.url}/admin/runners/42"
    issues = "/api/v4/projects/ops%2Fnode-health/issues"
    assert calls(fake_gitlab) == [
        f"GET {issues}",
        f"POST {issues}",
        f"GET {issues}",
        "GET /api/v4/runners/42",
        "PUT /api/v4/runners/42",
    ]
    assert outcome.requests_made == 5
    (issue,) = fake_gitlab.project_issues(pid, "opened")
    assert issue["title"] == "dind-preflight: iptable_nat-missing on node worker-3"
    assert f"dind-preflight::key::{outcome.key}" in issue["labels"]
    runner = fake_gitlab.runners[RUNNER_ID]
    assert runner["paused"] is True
    note = parse_note(runner["maintenance_note"])
    assert (note.key, note.issue_iid, note.human) == (outcome.key, 1, "Owned by team infra")
    assert issue["web_url"] in runner["maintenance_note"]
    # The list request filters on the key label, open issues only.
    listing = fake_gitlab.requests("GET", ISSUES)[0]
    assert listing.query["labels"] == [f"dind-preflight::key::{outcome.key}"]
    assert listing.query["state"] == ["opened"]


def test_second_job_of_the_same_burst_makes_one_request(fake_gitlab: FakeGitLab) -> None:
    standard_fake(fake_gitlab)
    report(field_report_diagnosis(), settings(fake_gitlab))
    before = len(fake_gitlab.recorded)
    outcome = report(field_report_diagnosis(), settings(fake_gitlab, job_id=1002))
    assert calls(fake_gitlab, before) == ["GET /api/v4/projects/ops%2Fnode-health/issues"]
    assert outcome.issue_action is IssueAction.FOUND
    assert outcome.runner_action is RunnerAction.SKIPPED
    assert "the job that opened #1 pauses runner 42" in outcome.runner_detail
    assert len(fake_gitlab.runner_writes(RUNNER_ID)) == 1


def test_recurrence_later_adds_one_bounded_note_and_does_not_rewrite_the_runner(
    fake_gitlab: FakeGitLab,
) -> None:
    pid = standard_fake(fake_gitlab)
    report(field_report_diagnosis(), settings(fake_gitlab))
    fake_gitlab.age(3600)
    before = len(fake_gitlab.recorded)
    outcome = report(field_report_diagnosis(), settings(fake_gitlab, job_id=1002))
    assert outcome.issue_action is IssueAction.NOTED
    assert outcome.runner_action is RunnerAction.SKIPPED
    assert calls(fake_gitlab, before) == [
        "GET /api/v4/projects/ops%2Fnode-health/issues",
        "POST /api/v4/projects/ops%2Fnode-health/issues/1/notes",
        "GET /api/v4/runners/42",
    ]
    (note,) = fake_gitlab.issue_notes(pid, 1)
    assert "/group/app/-/jobs/1002" in note["body"] and "job 1002" in note["body"]
    # A third job right after: the issue just changed, no second note.
    third = report(field_report_diagnosis(), settings(fake_gitlab, job_id=1003))
    assert third.issue_action is IssueAction.FOUND
    assert len(fake_gitlab.issue_notes(pid, 1)) == 1
    assert len(fake_gitlab.runner_writes(RUNNER_ID)) == 1


def test_notes_stop_at_the_cap(fake_gitlab: FakeGitLab) -> None:
    pid = standard_fake(fake_gitlab)
    report(field_report_diagnosis(), settings(fake_gitlab, max_notes=2))
    for job in range(2000, 2006):
        fake_gitlab.age(3600)
        report(field_report_diagnosis(), settings(fake_gitlab, job_id=job, max_notes=2))
    assert len(fake_gitlab.issue_notes(pid, 1)) == 2
    assert len(fake_gitlab.project_issues(pid)) == 1


def test_runner_resumed_by_a_human_is_paused_again(fake_gitlab: FakeGitLab) -> None:
    standard_fake(fake_gitlab)
    report(field_report_diagnosis(), settings(fake_gitlab))
    fake_gitlab.runners[RUNNER_ID]["paused"] = False  # resumed without fixing the node
    fake_gitlab.age(600)
    outcome = report(field_report_diagnosis(), settings(fake_gitlab, job_id=1002))
    assert outcome.runner_action is RunnerAction.PAUSED
    assert fake_gitlab.runners[RUNNER_ID]["paused"] is True
    assert len(fake_gitlab.runner_writes(RUNNER_ID)) == 2


def test_another_runner_on_the_same_node_pauses_itself(fake_gitlab: FakeGitLab) -> None:
    pid = standard_fake(fake_gitlab)
    fake_gitlab.add_runner(43)
    report(field_report_diagnosis(), settings(fake_gitlab))
    outcome = report(field_report_diagnosis(), settings(fake_gitlab, job_id=1002, runner_id="43"))
    assert outcome.issue_action is IssueAction.FOUND and outcome.issue_iid == 1
    assert outcome.runner_action is RunnerAction.PAUSED
    assert fake_gitlab.runners[43]["paused"] is True
    assert parse_note(fake_gitlab.runners[43]["maintenance_note"]).issue_iid == 1
    assert len(fake_gitlab.project_issues(pid)) == 1


def test_human_pause_is_annotated_and_their_note_kept(fake_gitlab: FakeGitLab) -> None:
    standard_fake(fake_gitlab)
    fake_gitlab.runners[RUNNER_ID].update(paused=True, maintenance_note="Kernel update - Bob")
    outcome = report(field_report_diagnosis(), settings(fake_gitlab))
    assert outcome.runner_action is RunnerAction.ANNOTATED
    note = parse_note(fake_gitlab.runners[RUNNER_ID]["maintenance_note"])
    assert note.human == "Kernel update - Bob" and note.key == outcome.key


def test_long_human_note_is_kept_in_the_issue(fake_gitlab: FakeGitLab) -> None:
    long_note = "Runbook: " + "see wiki page for details. " * 37
    pid = standard_fake(fake_gitlab, note=long_note)
    outcome = report(field_report_diagnosis(), settings(fake_gitlab))
    assert outcome.runner_action is RunnerAction.PAUSED
    written = fake_gitlab.runners[RUNNER_ID]["maintenance_note"]
    assert len(written) <= 1024 and written != long_note
    (kept,) = fake_gitlab.issue_notes(pid, 1)
    assert long_note.strip() in kept["body"]


def test_long_human_note_without_issue_is_left_untouched(fake_gitlab: FakeGitLab) -> None:
    long_note = "x" * 1000
    standard_fake(fake_gitlab, note=long_note)
    outcome = report(field_report_diagnosis(), _no_project(fake_gitlab))
    assert outcome.runner_action is RunnerAction.PAUSED
    assert fake_gitlab.runners[RUNNER_ID]["maintenance_note"] == long_note
    assert fake_gitlab.runners[RUNNER_ID]["paused"] is True


def _no_project(fake: FakeGitLab, job_id: int = 1001) -> GitLabSettings:
    return replace(settings(fake, job_id=job_id), report_project=None)


def test_without_report_project_get_then_put_then_skip(fake_gitlab: FakeGitLab) -> None:
    standard_fake(fake_gitlab)
    first = report(field_report_diagnosis(), _no_project(fake_gitlab))
    second = report(field_report_diagnosis(), _no_project(fake_gitlab, 1002))
    assert (first.issue_action, first.runner_action) == (IssueAction.NONE, RunnerAction.PAUSED)
    assert second.runner_action is RunnerAction.SKIPPED
    assert calls(fake_gitlab) == [
        "GET /api/v4/runners/42",
        "PUT /api/v4/runners/42",
        "GET /api/v4/runners/42",
    ]
    assert "Issue: none" in fake_gitlab.runners[RUNNER_ID]["maintenance_note"]


def test_job_fault_opens_no_issue(fake_gitlab: FakeGitLab) -> None:
    standard_fake(fake_gitlab)
    outcome = report(job_fault_diagnosis(), settings(fake_gitlab), pause=False)
    assert (outcome.issue_action, outcome.runner_action) == (IssueAction.NONE, RunnerAction.NONE)
    assert fake_gitlab.recorded == []


def test_runner_id_from_the_job_token(fake_gitlab: FakeGitLab) -> None:
    standard_fake(fake_gitlab)
    fake_gitlab.add_job(JOB_TOKEN, job_id=1001, runner_id=RUNNER_ID)
    cfg = replace(settings(fake_gitlab), runner_id=None, job_token=JOB_TOKEN)
    outcome = report(field_report_diagnosis(), cfg)
    assert outcome.runner_id == RUNNER_ID and outcome.runner_action is RunnerAction.PAUSED
    assert [r.auth for r in fake_gitlab.requests("GET", r"^/api/v4/job$")] == ["job"]


def test_unknown_runner_still_opens_the_issue(fake_gitlab: FakeGitLab) -> None:
    pid = standard_fake(fake_gitlab)
    cfg = replace(settings(fake_gitlab), runner_id=None, job_token=None)
    outcome = report(field_report_diagnosis(), cfg)
    assert outcome.issue_action is IssueAction.OPENED
    assert outcome.runner_action is RunnerAction.FAILED
    assert outcome.exit_code is ExitCode.CONFIG
    assert "set CI_RUNNER_ID or --runner-id" in outcome.errors[0]
    assert len(fake_gitlab.project_issues(pid)) == 1


def test_issue_permission_failure_still_pauses(fake_gitlab: FakeGitLab) -> None:
    fake_gitlab.add_token(TOKEN, scopes=("manage_runner",), admin=True)
    fake_gitlab.add_runner(RUNNER_ID)
    fake_gitlab.add_project(PROJECT)
    outcome = report(field_report_diagnosis(), settings(fake_gitlab))
    assert outcome.issue_action is IssueAction.FAILED
    assert "scope api" in outcome.issue_detail
    assert outcome.runner_action is RunnerAction.PAUSED
    assert outcome.exit_code is ExitCode.CONFIG
    assert outcome.failure_kinds == ("permission",)


def test_gitlab_down_returns_the_exit_code_that_retries_elsewhere() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cfg = settings(None, gitlab_url=f"http://127.0.0.1:{port}", budget_s=2)
    outcome = report(field_report_diagnosis(), cfg)
    assert outcome.issue_action is IssueAction.FAILED
    assert outcome.runner_action is RunnerAction.FAILED
    assert outcome.gitlab_unavailable and outcome.exit_code is ExitCode.TEMPFAIL
    assert all("connection failed" in e for e in outcome.errors)


def test_post_that_timed_out_but_succeeded_is_found_not_resent(fake_gitlab: FakeGitLab) -> None:
    pid = standard_fake(fake_gitlab)
    # GitLab commits the POST but answers too late: the client looks, finds it, never resends.
    fake_gitlab.inject("POST", ISSUES, Fault(then_process=True, delay_after_s=0.6))
    outcome = report(field_report_diagnosis(), settings(fake_gitlab, timeout_s=0.3))
    assert outcome.ok, outcome.errors
    assert len(fake_gitlab.requests("POST", ISSUES)) == 1
    (open_issue,) = fake_gitlab.project_issues(pid)
    assert outcome.issue_iid == open_issue["iid"] == 1
    assert outcome.duplicates_closed == ()


def test_post_that_failed_and_did_not_land_is_looked_up_then_sent_again(
    fake_gitlab: FakeGitLab,
) -> None:
    pid = standard_fake(fake_gitlab)
    fake_gitlab.inject("POST", ISSUES, Fault(status=502), Fault(status=500))
    outcome = report(field_report_diagnosis(), settings(fake_gitlab, timeout_s=0.3))
    assert outcome.ok, outcome.errors
    # two failed POSTs, each looked up (not there), the third lands: one issue, nothing lost
    assert len(fake_gitlab.requests("POST", ISSUES)) == 3
    (issue,) = fake_gitlab.project_issues(pid, "opened")
    assert outcome.issue_iid == issue["iid"] and outcome.issue_action is IssueAction.OPENED


def test_post_that_landed_behind_a_500_is_found_not_resent(fake_gitlab: FakeGitLab) -> None:
    pid = standard_fake(fake_gitlab)
    fake_gitlab.inject("POST", ISSUES, Fault(status=500, then_process=True, after_commit=True))
    outcome = report(field_report_diagnosis(), settings(fake_gitlab))
    assert outcome.ok, outcome.errors
    assert len(fake_gitlab.requests("POST", ISSUES)) == 1
    (issue,) = fake_gitlab.project_issues(pid)
    assert outcome.issue_iid == issue["iid"] == 1 and outcome.duplicates_closed == ()


def test_a_post_that_keeps_failing_stops_within_the_budget(fake_gitlab: FakeGitLab) -> None:
    pid = standard_fake(fake_gitlab)
    fake_gitlab.inject("POST", ISSUES, *[Fault(status=500) for _ in range(50)])
    outcome = report(field_report_diagnosis(), settings(fake_gitlab, budget_s=3))
    assert outcome.issue_action is IssueAction.FAILED
    assert outcome.gitlab_unavailable and outcome.exit_code is ExitCode.TEMPFAIL
    assert 2 <= len(fake_gitlab.requests("POST", ISSUES)) < 50
    assert fake_gitlab.project_issues(pid) == []
    assert any("HTTP 500" in e and "not found when looked up" in e for e in outcome.errors)


def test_stale_duplicates_of_a_dead_reporter_are_closed_later(fake_gitlab: FakeGitLab) -> None:
    pid = standard_fake(fake_gitlab)
    report(field_report_diagnosis(), settings(fake_gitlab))
    # A reporter that died after creating its duplicate, before closing it.
    project = fake_gitlab.projects[pid]
    leftover = dict(fake_gitlab.issues[pid][1], iid=2, id=99)
    project["next_iid"] = 3
    fake_gitlab.issues[pid][2] = leftover
    fake_gitlab.age(3600)
    outcome = report(field_report_diagnosis(), settings(fake_gitlab, job_id=1002))
    assert outcome.duplicates_closed == (2,)
    assert [i["iid"] for i in fake_gitlab.project_issues(pid, "opened")] == [1]


def test_the_token_appears_only_in_the_auth_header(fake_gitlab: FakeGitLab) -> None:
    standard_fake(fake_gitlab)
    diagnosis = replace(
        field_report_diagnosis(),
        limitations=[f"the log contained {TOKEN}"],
    )
    outcome = report(diagnosis, settings(fake_gitlab))
    fake_gitlab.age(3600)
    report(diagnosis, settings(fake_gitlab, job_id=1002))
    assert TOKEN not in json.dumps(to_json(outcome))
    for request in fake_gitlab.recorded:
        assert TOKEN not in request.path and TOKEN not in json.dumps(request.query)
        assert TOKEN not in json.dumps(request.body)
        others = {k: v for k, v in request.headers.items() if k.lower() != "private-token"}
        assert TOKEN not in json.dumps(others)
        assert request.headers.get("Private-Token") == TOKEN
    issue_text = json.dumps(fake_gitlab.issues)
    assert TOKEN not in issue_text and "[MASKED]" in issue_text


NOTES = r"^/api/v4/projects/ops%2Fnode-health/issues/1/notes$"


def test_a_note_lost_to_a_5xx_is_looked_up_and_sent_once(fake_gitlab: FakeGitLab) -> None:
    pid = standard_fake(fake_gitlab)
    report(field_report_diagnosis(), settings(fake_gitlab))
    # Not done (502 from a proxy): looked up by its text, not there, sent again.
    fake_gitlab.age(3600)
    fake_gitlab.inject("POST", NOTES, Fault(status=502))
    first = report(field_report_diagnosis(), settings(fake_gitlab, job_id=1002))
    assert first.issue_action is IssueAction.NOTED, first.errors
    assert len(fake_gitlab.requests("POST", NOTES)) == 2
    assert len(fake_gitlab.issue_notes(pid, 1)) == 1
    # Done, but answered 500: found by its text, not sent again.
    fake_gitlab.age(3600)
    fake_gitlab.inject("POST", NOTES, Fault(status=500, then_process=True, after_commit=True))
    second = report(field_report_diagnosis(), settings(fake_gitlab, job_id=1003))
    assert second.issue_action is IssueAction.NOTED, second.errors
    assert len(fake_gitlab.requests("POST", NOTES)) == 3
    bodies = [note["body"] for note in fake_gitlab.issue_notes(pid, 1)]
    assert len(bodies) == 2 and "job 1003" in bodies[1]
