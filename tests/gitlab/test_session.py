"""Fault injection through the real python-gitlab against the fake over real HTTP."""

from __future__ import annotations

import random
import socket
import time
from collections.abc import Callable
from typing import Any

import pytest

from preflight.gitlab.client import (
    Action,
    FailureKind,
    GitLabActionError,
    GitLabClient,
    GitLabSettings,
    RetryPolicy,
    open_client,
)
from preflight.gitlab.incident_issue import create_issue, list_open_issues
from preflight.gitlab.issue_text import IssueDraft, incident_of
from preflight.gitlab.runner_pause import lookup_runner_id, read_runner, write_runner
from tests.gitlab.diagnoses import field_report_diagnosis
from tests.gitlab.fake_gitlab import FakeGitLab, Fault
from tests.gitlab.support import FAST, JOB_TOKEN, PROJECT, RUNNER_ID, TOKEN, settings

RUNNER_PATH = rf"^/api/v4/runners/{RUNNER_ID}$"


def client_for(
    cfg: GitLabSettings, sleeps: list[float] | None = None, policy: RetryPolicy = FAST
) -> GitLabClient:
    def sleep(seconds: float) -> None:
        if sleeps is not None:
            sleeps.append(seconds)

    return open_client(cfg, policy=policy, rng=random.Random(3), sleep=sleep)


@pytest.fixture
def fake(fake_gitlab: FakeGitLab) -> FakeGitLab:
    fake_gitlab.add_token(TOKEN, admin=True)
    fake_gitlab.add_runner(RUNNER_ID)
    fake_gitlab.add_project(PROJECT)
    return fake_gitlab


def test_429_with_retry_after_is_honoured(fake: FakeGitLab) -> None:
    fake.inject("GET", RUNNER_PATH, Fault(429, '{"message":"Retry later"}', {"Retry-After": "3"}))
    sleeps: list[float] = []
    client = client_for(settings(fake), sleeps)
    assert read_runner(client, RUNNER_ID).paused is False
    assert [r.status for r in fake.requests("GET", RUNNER_PATH)] == [429, 200]
    assert len(sleeps) == 1 and 3.0 <= sleeps[0] <= 3.0 + FAST.retry_after_jitter_s
    assert client.requests_made == 2


def test_429_with_retry_after_as_http_date(fake: FakeGitLab) -> None:
    when = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    fake.inject("GET", RUNNER_PATH, Fault(429, "{}", {"Retry-After": when}))
    sleeps: list[float] = []
    read_runner(client_for(settings(fake), sleeps), RUNNER_ID)
    assert len(sleeps) == 1 and 27 <= sleeps[0] <= 31


def test_retry_after_beyond_the_budget_gives_up_at_once(fake: FakeGitLab) -> None:
    fake.inject("GET", RUNNER_PATH, Fault(429, "{}", {"Retry-After": "120"}))
    sleeps: list[float] = []
    with pytest.raises(GitLabActionError) as caught:
        read_runner(client_for(settings(fake, budget_s=10), sleeps), RUNNER_ID)
    assert caught.value.kind is FailureKind.UNAVAILABLE
    assert "HTTP 429" in str(caught.value) and "Retry-After 120 s" in str(caught.value)
    assert sleeps == []


def test_500_then_success(fake: FakeGitLab) -> None:
    fake.inject("PUT", RUNNER_PATH, Fault(500), Fault(502, "<html>bad gateway</html>"))
    write_runner(client_for(settings(fake)), RUNNER_ID, {"paused": True})
    assert [r.status for r in fake.requests("PUT", RUNNER_PATH)] == [500, 502, 200]
    assert fake.runners[RUNNER_ID]["paused"] is True


def test_persistent_503_gives_up_after_the_attempts(fake: FakeGitLab) -> None:
    fake.inject("GET", RUNNER_PATH, *[Fault(503) for _ in range(10)])
    with pytest.raises(GitLabActionError) as caught:
        read_runner(client_for(settings(fake)), RUNNER_ID)
    assert caught.value.kind is FailureKind.UNAVAILABLE
    assert "HTTP 503 (gave up after 6 attempts)" in str(caught.value)
    assert len(fake.requests("GET", RUNNER_PATH)) == FAST.max_attempts


def test_timeout_is_retried(fake: FakeGitLab) -> None:
    fake.inject("GET", RUNNER_PATH, Fault(200, "{}", delay_s=0.6))
    client = client_for(settings(fake, timeout_s=0.2))
    started = time.monotonic()
    assert read_runner(client, RUNNER_ID).runner_id == RUNNER_ID
    assert time.monotonic() - started < 2.0
    assert [a.status for a in client.transport.attempts] == [None, 200]


def test_time_budget_bounds_the_whole_report(fake: FakeGitLab) -> None:
    fake.inject("GET", RUNNER_PATH, *[Fault(200, "{}", delay_s=0.5) for _ in range(20)])
    policy = RetryPolicy(max_attempts=100, base_delay_s=0.05, max_delay_s=0.1)
    client = open_client(settings(fake, timeout_s=0.3, budget_s=1.2), policy=policy)
    started = time.monotonic()
    with pytest.raises(GitLabActionError) as caught:
        read_runner(client, RUNNER_ID)
    elapsed = time.monotonic() - started
    assert caught.value.kind is FailureKind.UNAVAILABLE
    # Ended by the 1.2 s budget (median 1.25 s); 100 attempts of 0.3 s would take 30 s and more.
    assert 1.0 <= elapsed < 5.0, elapsed


def test_connection_refused_is_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cfg = settings(None, gitlab_url=f"http://127.0.0.1:{port}")
    with pytest.raises(GitLabActionError) as caught:
        read_runner(client_for(cfg), RUNNER_ID)
    assert caught.value.kind is FailureKind.UNAVAILABLE
    assert "connection failed" in str(caught.value)


def test_malformed_json_is_named(fake: FakeGitLab) -> None:
    fake.inject(
        "GET", RUNNER_PATH, Fault(200, "<html>Maintenance</html>", content_type="text/html")
    )
    with pytest.raises(GitLabActionError) as caught:
        read_runner(client_for(settings(fake)), RUNNER_ID)
    assert caught.value.kind is FailureKind.UNAVAILABLE
    assert "not the JSON its API documents" in str(caught.value)


@pytest.mark.parametrize(
    ("method", "path", "body", "operation"),
    [
        ("GET", RUNNER_PATH, "{}", lambda c: read_runner(c, RUNNER_ID)),
        ("GET", RUNNER_PATH, "[1, 2]", lambda c: read_runner(c, RUNNER_ID)),
        ("GET", r"/issues$", '[{"title": "no iid"}]', lambda c: _list_issues_typed(c)),
        ("POST", r"/issues$", '{"iid": "seven"}', lambda c: _create_typed(c)),
        ("GET", r"^/api/v4/job$", '{"runner": "none"}', lookup_runner_id),
    ],
)
def test_answers_of_the_wrong_shape_are_one_line(
    fake: FakeGitLab, method: str, path: str, body: str, operation: Callable[[GitLabClient], Any]
) -> None:
    fake.add_job(JOB_TOKEN, job_id=1001, runner_id=RUNNER_ID)
    fake.inject(method, path, Fault(200, body))
    cfg = GitLabSettings(**{**settings(fake).__dict__, "job_token": JOB_TOKEN})
    with pytest.raises(GitLabActionError) as caught:
        operation(client_for(cfg))
    assert caught.value.kind in (FailureKind.UNAVAILABLE, FailureKind.CONFIG)
    assert "\n" not in str(caught.value)


def _list_issues_typed(client: GitLabClient) -> Any:
    incident = incident_of(field_report_diagnosis())
    return list_open_issues(client, client.report_project(), incident)


def _create_typed(client: GitLabClient) -> Any:
    return create_issue(client, client.report_project(), IssueDraft("t", "d", ("l",)))


def _list_issues(client: GitLabClient) -> Any:
    project = client.report_project()
    return client.call(Action.LIST_ISSUES, lambda: project.issues.list(get_all=False))


def _create_issue(client: GitLabClient) -> Any:
    project = client.report_project()
    return client.call(Action.CREATE_ISSUE, lambda: project.issues.create({"title": "t"}))


@pytest.mark.parametrize(
    ("grant", "operation", "kind", "message"),
    [
        (
            {"token": "glpat-not-known-000000"},
            lambda c: read_runner(c, RUNNER_ID),
            FailureKind.PERMISSION,
            "GitLab rejected the token (401)",
        ),
        (
            {"scopes": ("read_api",)},
            lambda c: write_runner(c, RUNNER_ID, {"paused": True}),
            FailureKind.PERMISSION,
            "cannot pause runner 42 (403): the token lacks scope api manage_runner",
        ),
        (
            {"scopes": ("api",), "admin": False},
            lambda c: write_runner(c, RUNNER_ID, {"paused": True}),
            FailureKind.PERMISSION,
            "whose user is an administrator for an instance runner",
        ),
        (
            {"scopes": ("manage_runner",)},
            _create_issue,
            FailureKind.PERMISSION,
            "needs a token with scope api (manage_runner does not cover issues)",
        ),
        (
            {"scopes": ("api",), "projects": ()},
            _list_issues,
            FailureKind.NOT_FOUND,
            "project ops/node-health does not exist or the token's user is not a member",
        ),
    ],
)
def test_permission_failures_name_the_missing_scope_or_role(
    fake_gitlab: FakeGitLab,
    grant: dict[str, Any],
    operation: Callable[[GitLabClient], Any],
    kind: FailureKind,
    message: str,
) -> None:
    token = grant.pop("token", "glpat-limited-token-1234")
    if token != "glpat-not-known-000000":
        fake_gitlab.add_token(token, **grant)
    fake_gitlab.add_runner(RUNNER_ID)
    fake_gitlab.add_project(PROJECT)
    cfg = settings(fake_gitlab, token=token)
    with pytest.raises(GitLabActionError) as caught:
        operation(client_for(cfg))
    assert caught.value.kind is kind
    assert message in str(caught.value)
    assert token not in str(caught.value) and "\n" not in str(caught.value)
    assert len(fake_gitlab.recorded) == 1  # 401/403/404 are not retried


def test_unknown_runner_is_404(fake: FakeGitLab) -> None:
    with pytest.raises(GitLabActionError) as caught:
        read_runner(client_for(settings(fake, runner_id=999)), 999)
    assert caught.value.kind is FailureKind.NOT_FOUND
    assert "runner 999 does not exist" in str(caught.value)


def test_runner_id_from_get_job_with_the_job_token(fake: FakeGitLab) -> None:
    fake.add_job(JOB_TOKEN, job_id=1001, runner_id=RUNNER_ID)
    cfg = settings(fake)
    cfg = GitLabSettings(**{**cfg.__dict__, "runner_id": None, "job_token": JOB_TOKEN})
    assert lookup_runner_id(client_for(cfg)) == RUNNER_ID
    (request,) = fake.requests("GET", r"^/api/v4/job$")
    assert request.auth == "job"
    assert request.headers.get("Job-Token") == JOB_TOKEN
    assert "Private-Token" not in request.headers


def test_bad_job_token_says_what_gitlab_said_and_gives_no_variable_advice(
    fake: FakeGitLab,
) -> None:
    """The job token is the job's own: no variable fixes a bad one (and the reporter, which
    checks a job's token, must not send anyone to set CI_RUNNER_ID)."""
    cfg = GitLabSettings(**{**settings(fake).__dict__, "job_token": "wrong-job-token"})
    with pytest.raises(GitLabActionError) as caught:
        lookup_runner_id(client_for(cfg))
    assert caught.value.kind is FailureKind.PERMISSION
    assert "(HTTP 401): GitLab does not accept it as a running job's token" in str(caught.value)
    assert "CI_RUNNER_ID" not in str(caught.value)
