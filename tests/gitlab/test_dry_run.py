"""Dry run: the plan equals what a real first report sends; nothing is sent; no token shown."""

from __future__ import annotations

from dataclasses import replace

from preflight.gitlab.client import settings_from_env
from preflight.gitlab.outcome import IssueAction, RunnerAction, render_plan
from preflight.redaction import REDACTED
from tests.gitlab.diagnoses import field_report_diagnosis
from tests.gitlab.fake_gitlab import FakeGitLab
from tests.gitlab.support import NOW, TOKEN, job_env, report, settings, standard_fake


def test_plan_matches_the_requests_of_a_real_first_report(fake_gitlab: FakeGitLab) -> None:
    standard_fake(fake_gitlab)
    real_cfg = settings(fake_gitlab)
    dry_cfg = replace(real_cfg, force_dry_run=True)
    planned = report(field_report_diagnosis(), dry_cfg, seed=11, now=NOW)
    assert fake_gitlab.recorded == []  # a dry run sends nothing
    assert planned.dry_run
    assert (planned.issue_action, planned.runner_action) == (
        IssueAction.PLANNED,
        RunnerAction.PLANNED,
    )
    real = report(field_report_diagnosis(), real_cfg, seed=11, now=NOW)
    assert real.ok
    sent = fake_gitlab.recorded
    assert [(p.method, f"/api/v4{p.path}") for p in planned.planned] == [
        (r.method, r.path) for r in sent
    ]
    for plan, request in zip(planned.planned, sent, strict=True):
        assert {k: [v] for k, v in plan.query.items()} == request.query
    post = next(p for p in planned.planned if p.method == "POST")
    assert post.payload == next(r.body for r in sent if r.method == "POST")
    put_plan = next(p for p in planned.planned if p.method == "PUT")
    put_sent = next(r.body for r in sent if r.method == "PUT")
    assert put_plan.payload is not None
    # The runner note differs only where the issue is not known before it exists.
    issue_url = real.issue_url or ""
    expected = (
        put_sent["maintenance_note"].replace(" issue=#1", "").replace(issue_url, "<new-issue-url>")
    )
    assert put_plan.payload == {"paused": True, "maintenance_note": expected}


def test_rendered_plan_masks_the_token_and_shows_method_path_payload() -> None:
    cfg = settings_from_env(job_env(None, DIND_PREFLIGHT_GITLAB_TOKEN=TOKEN), dry_run=True)
    outcome = report(field_report_diagnosis(), cfg, now=NOW)
    text = render_plan(outcome.planned, cfg)
    assert TOKEN not in text
    assert f"PRIVATE-TOKEN: {REDACTED}" in text
    assert "--dry-run was given" in text
    # Readable HTTP: request line, Host, the masked token, then the body's fields.
    post = text.split("POST /api/v4/projects/ops%2Fnode-health/issues HTTP/1.1\n", 1)[1]
    assert post.startswith("Host: 127.0.0.1:9\nPRIVATE-TOKEN: [MASKED]\n")
    assert "\ntitle: dind-preflight: iptable_nat-missing on node worker-3\n" in post
    # The issue's Markdown as it is written, line by line (not one escaped JSON string).
    assert "\ndescription (Markdown):\n" in post and "\n    ## Fix\n" in post
    assert "\\n" not in text
    put = text.split("PUT /api/v4/runners/42 HTTP/1.1\n", 1)[1]
    assert "\npaused: true\n" in put and "\nmaintenance_note:\n    [dind-preflight] paused" in put


def test_no_token_no_runner_id_plans_the_job_lookup_and_reports_the_gap() -> None:
    env = job_env(None, DIND_PREFLIGHT_GITLAB_TOKEN="", CI_RUNNER_ID="")
    with_job_token = settings_from_env({**env, "CI_JOB_TOKEN": "job-token-123456"})
    outcome = report(field_report_diagnosis(), with_job_token, now=NOW)
    first = outcome.planned[0]
    assert (first.method, first.path, first.auth) == ("GET", "/job", "JOB-TOKEN")
    assert "/runners/<id>" in render_plan(outcome.planned, with_job_token)
    assert outcome.ok
    without = report(field_report_diagnosis(), settings_from_env(env), now=NOW)
    assert without.errors == ("the runner is not known: set CI_RUNNER_ID or --runner-id",)
    assert "DIND_PREFLIGHT_GITLAB_TOKEN is not set" in render_plan(
        without.planned, settings_from_env(env)
    )


def test_no_project_plans_only_the_runner() -> None:
    env = job_env(None, DIND_PREFLIGHT_GITLAB_TOKEN="", DIND_PREFLIGHT_REPORT_PROJECT="")
    outcome = report(field_report_diagnosis(), settings_from_env(env), now=NOW)
    assert [(p.method, p.path) for p in outcome.planned] == [
        ("GET", "/runners/42"),
        ("PUT", "/runners/42"),
    ]
    assert outcome.issue_action is IssueAction.NONE
