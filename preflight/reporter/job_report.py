"""Job reports (fleet mode): what a job may tell the reporter, and how little the reporter believes.

A job sends ``POST /v1/job-reports`` with its ``CI_JOB_TOKEN`` in the ``JOB-TOKEN`` header and a
small JSON body (its probe verdict and its own diagnosis). The reporter asks GitLab ``GET /job``
with that token -- at the pinned GitLab URL, never one from the job -- to learn the real job,
runner and project, and Kubernetes which node the job's pod runs on. A runner id, URL or node the
job claims is never used; when it differs from the truth it is logged. The job's diagnosis never
decides anything: it wakes the reporter for a recheck of the node's own report and is attached to
the node's open issue as unverified context.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from preflight.gitlab.client import (
    Action,
    FailureKind,
    GitLabActionError,
    GitLabSettings,
    RetryPolicy,
)
from preflight.gitlab.issue_text import one_line, safe_token

MAX_BODY_BYTES = 16 * 1024
JOB_TOKEN_HEADER = "JOB-TOKEN"


class ReportRejected(Exception):
    """The report cannot be accepted: ``status`` is the HTTP answer, the message one line."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class JobReport:
    """What the job says (all of it unverified)."""

    cause: str
    summary: str = ""
    exit_code: int | None = None
    claimed_node: str | None = None
    claimed_runner_id: int | None = None
    claimed_gitlab_url: str | None = None
    claimed_job_id: int | None = None


@dataclass(frozen=True)
class VerifiedJob:
    """What GitLab says about the job whose token came with the report."""

    job_id: int
    runner_id: int | None
    project_id: int | None
    web_url: str | None


def _object(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def parse_report(body: bytes) -> JobReport:
    """The JSON body -> :class:`JobReport`; 400/413 for anything else. Pure."""
    if len(body) > MAX_BODY_BYTES:
        raise ReportRejected(413, f"report larger than {MAX_BODY_BYTES} bytes")
    try:
        data = json.loads(body)
    except ValueError:
        raise ReportRejected(400, "report is not JSON") from None
    if not isinstance(data, dict):
        raise ReportRejected(400, "report is not a JSON object")
    diagnosis = _object(data.get("diagnosis"))
    cause_data = _object(diagnosis.get("cause"))

    def number(value: object) -> int | None:
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def text(value: object, limit: int) -> str | None:
        return one_line(value, limit) if isinstance(value, str) and value.strip() else None

    return JobReport(
        cause=safe_token(
            cause_data.get("code") if isinstance(cause_data.get("code"), str) else "",
            empty="unknown-cause",
        ),
        summary=text(cause_data.get("summary"), 300) or "",
        exit_code=number(data.get("exit_code")),
        claimed_node=text(diagnosis.get("node"), 253),
        claimed_runner_id=number(data.get("runner_id")),
        claimed_gitlab_url=text(data.get("gitlab_url"), 300),
        claimed_job_id=number(data.get("job_id")),
    )


def verified_job_of(data: Mapping[str, Any]) -> VerifiedJob:
    """``GET /job``'s answer -> :class:`VerifiedJob`. Pure."""
    runner = _object(data.get("runner"))
    pipeline = _object(data.get("pipeline"))
    rid, pid = runner.get("id"), pipeline.get("project_id")
    return VerifiedJob(
        job_id=int(data["id"]),
        runner_id=rid if isinstance(rid, int) else None,
        project_id=pid if isinstance(pid, int) else None,
        web_url=str(data["web_url"]) if data.get("web_url") else None,
    )


def forged_fields(report: JobReport, job: VerifiedJob, settings: GitLabSettings) -> list[str]:
    """The claims that contradict GitLab (logged; never used). Pure."""
    found = []
    if report.claimed_runner_id is not None and report.claimed_runner_id != job.runner_id:
        found.append(f"runner_id={report.claimed_runner_id} (GitLab: {job.runner_id})")
    if report.claimed_job_id is not None and report.claimed_job_id != job.job_id:
        found.append(f"job_id={report.claimed_job_id} (GitLab: {job.job_id})")
    url = (report.claimed_gitlab_url or "").rstrip("/")
    if url and url.removesuffix("/api/v4") != (settings.server_url or ""):
        found.append(f"gitlab_url={safe_token(url, 120)} (pinned: {settings.server_url})")
    return found


def verify_job(
    settings: GitLabSettings,
    job_token: str,
    *,
    budget_s: float = 10.0,
    policy: RetryPolicy | None = None,
) -> VerifiedJob:
    """``GET /job`` with ``JOB-TOKEN`` at the pinned GitLab, through the usual client and session."""
    from preflight.gitlab.client import open_client

    base = open_client(replace(settings, job_token=None, budget_s=budget_s), policy=policy)
    client = replace(base, settings=replace(base.settings, job_token=job_token))
    data = client.call(Action.LOOKUP_JOB, lambda: client.job_api().http_get("/job"))
    if not isinstance(data, dict) or not isinstance(data.get("id"), int):
        raise GitLabActionError("GET /job answered without a job id", FailureKind.UNAVAILABLE)
    return verified_job_of(data)


class RateLimit:
    """A token bucket (``rate_per_s``, ``burst``) and one report per job within ``dedupe_s``."""

    def __init__(
        self,
        rate_per_s: float = 2.0,
        burst: int = 20,
        dedupe_s: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate, self.burst, self.dedupe_s, self.clock = rate_per_s, burst, dedupe_s, clock
        self.tokens = float(burst)
        self.last = clock()
        self.seen: OrderedDict[str, float] = OrderedDict()
        self.lock = threading.Lock()

    def admit(self) -> bool:
        with self.lock:
            now = self.clock()
            self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
            self.last = now
            if self.tokens < 1:
                return False
            self.tokens -= 1
            return True

    def first_time(self, key: str) -> bool:
        with self.lock:
            now = self.clock()
            while self.seen and next(iter(self.seen.values())) < now - self.dedupe_s:
                self.seen.popitem(last=False)
            if key in self.seen:
                return False
            self.seen[key] = now
            while len(self.seen) > 10_000:
                self.seen.popitem(last=False)
            return True


@dataclass(frozen=True)
class Context:
    """A verified job's unverified words, waiting to be attached to its node's open issue."""

    node: str
    job: VerifiedJob
    report: JobReport

    def note(self) -> str:
        from preflight.gitlab.issue_text import code_span, link

        job = link(f"job {self.job.job_id}", self.job.web_url)
        return (
            f"Unverified context: {job} (runner {self.job.runner_id}, verified with GitLab; "
            f"node {code_span(self.node)} from Kubernetes) failed its dind probe and its own "
            f"diagnosis says {code_span(self.report.cause)}"
            + (f": {code_span(self.report.summary, 300)}" if self.report.summary else ".")
            + " The reporter acts only on the node agent's report."
        )
