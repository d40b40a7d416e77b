"""Shared set-up of the GitLab tests: a token, a job environment pointing at the fake."""

from __future__ import annotations

import random
from datetime import datetime, timezone
from typing import Any

from preflight.diagnosis.model import Diagnosis
from preflight.gitlab.client import GitLabSettings, RetryPolicy, settings_from_env
from preflight.gitlab.outcome import ReportOutcome
from preflight.gitlab.reporter import report_diagnosis
from preflight.gitlab.runner_pause import PauseNote
from tests.gitlab.fake_gitlab import FakeGitLab

TOKEN = "glpat-Test0nlyT0ken-9f8e7d6c"
JOB_TOKEN = "glcbt-64_JobT0kenForTests1234"
RUNNER_ID = 42
PROJECT = "ops/node-health"
FAST = RetryPolicy(base_delay_s=0.01, max_delay_s=0.05, retry_after_jitter_s=0.01)
NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc)

NOTE = PauseNote(
    key="0123456789ab",
    cause="iptable_nat-missing",
    node="worker-3",
    runner_id=42,
    when=NOW,
    module="iptable_nat",
    job_id=1001,
    job_url="https://gitlab.example.com/g/app/-/jobs/1001",
    issue_iid=7,
    issue_url="https://gitlab.example.com/ops/nodes/-/issues/7",
)


def job_env(fake: FakeGitLab | None, *, job_id: int = 1001, **extra: str) -> dict[str, str]:
    """The variables GitLab gives a job, plus dind-preflight's own."""
    server = fake.url if fake else "http://127.0.0.1:9"
    env = {
        "CI_SERVER_URL": server,
        "CI_SERVER_HOST": "127.0.0.1",
        "DIND_PREFLIGHT_ALLOW_HTTP": "1",
        "CI_API_V4_URL": f"{server}/api/v4",
        "CI_RUNNER_ID": str(RUNNER_ID),
        "CI_RUNNER_DESCRIPTION": "k8s-runner-a",
        "CI_JOB_ID": str(job_id),
        "CI_JOB_URL": f"{server}/group/app/-/jobs/{job_id}",
        "CI_PROJECT_PATH": "group/app",
        "DIND_PREFLIGHT_GITLAB_TOKEN": TOKEN,
        "DIND_PREFLIGHT_REPORT_PROJECT": PROJECT,
    }
    env.update(extra)
    return {k: v for k, v in env.items() if v != ""}


def settings(fake: FakeGitLab | None, *, job_id: int = 1001, **overrides: Any) -> GitLabSettings:
    overrides.setdefault("settle_s", 0)
    env = job_env(fake, job_id=job_id)
    if "token" in overrides:
        env["DIND_PREFLIGHT_GITLAB_TOKEN"] = overrides.pop("token")
    return settings_from_env(env, **overrides)


def standard_fake(fake: FakeGitLab, *, note: str | None = None) -> int:
    """An admin token, runner 42 and the report project; returns the project id."""
    fake.add_token(TOKEN, scopes=("api",), admin=True)
    fake.add_runner(RUNNER_ID, maintenance_note=note)
    return fake.add_project(PROJECT)


def report(
    diagnosis: Diagnosis,
    cfg: GitLabSettings,
    *,
    pause: bool = True,
    seed: int | None = None,
    sleeps: list[float] | None = None,
    now: datetime | None = None,
) -> ReportOutcome:
    """report_diagnosis with fast retries; records the waits instead of sleeping them."""

    def sleep(seconds: float) -> None:
        if sleeps is not None:
            sleeps.append(seconds)

    return report_diagnosis(
        diagnosis,
        cfg,
        pause_runner=pause,
        now=now,
        rng=random.Random(seed),
        sleep=sleep,
        policy=FAST,
    )
