"""What a report did, or would do: the outcome (JSON contract of ``report --json``) and the dry run.

**Outcome: issue, runner, requests, errors.**

**Dry run (pure): the requests a first report of this incident would send, token masked.**

Without a token nothing is sent. The plan assumes what a first report meets: no open issue and
a runner that is not paused and has no note. Bodies are built by the same functions the real
report uses, so the plan shows exactly what would be sent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import Enum
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from preflight.exitcodes import ExitCode
from preflight.gitlab.client import ENV_TOKEN, GitLabSettings
from preflight.gitlab.issue_text import Incident, IssueDraft
from preflight.redaction import REDACTED, redact


class IssueAction(str, Enum):
    """What happened to the incident's issue."""

    NONE = "none"  # no report project, or the fault is not the node's or the runner's
    OPENED = "opened"  # this report opened the issue
    FOUND = "found"  # the issue was already open (no note: too soon, or too many notes)
    NOTED = "noted"  # the issue was already open; a recurrence note was added
    DUPLICATE = "duplicate"  # opened concurrently by another job; ours was closed as duplicate
    FAILED = "failed"
    PLANNED = "planned"  # dry run


class RunnerAction(str, Enum):
    """What happened to the runner."""

    NONE = "none"  # pausing was not asked for
    PAUSED = "paused"
    ANNOTATED = "annotated"  # already paused (by someone else); our note was added
    SKIPPED = "skipped"  # already paused for this incident, or the issue's opener pauses it
    FAILED = "failed"
    PLANNED = "planned"  # dry run


@dataclass(frozen=True)
class PlannedRequest:
    """One request a dry run would send (the token is never part of it)."""

    method: str
    path: str  # relative to the API root, e.g. /runners/42
    query: dict[str, str] = field(default_factory=dict)
    payload: dict[str, Any] | None = None
    auth: str = "PRIVATE-TOKEN"  # the header that would carry the (masked) token


@dataclass(frozen=True)
class ReportOutcome:
    """The result of :func:`preflight.gitlab.reporter.report_diagnosis`."""

    key: str
    node: str
    cause: str
    dry_run: bool = False
    issue_action: IssueAction = IssueAction.NONE
    issue_iid: int | None = None
    issue_url: str | None = None
    issue_detail: str = ""
    duplicates_closed: tuple[int, ...] = ()
    runner_id: int | None = None
    runner_action: RunnerAction = RunnerAction.NONE
    runner_detail: str = ""
    runner_url: str | None = None
    requests_made: int = 0
    errors: tuple[str, ...] = ()  # one line each, redacted
    failure_kinds: tuple[str, ...] = ()  # FailureKind values, parallel to errors
    planned: tuple[PlannedRequest, ...] = ()
    dry_run_reason: str = ""  # why nothing was sent (a dry run), e.g. "no token"

    @property
    def ok(self) -> bool:
        """Every requested GitLab action succeeded (or was planned in a dry run)."""
        return not self.errors

    @property
    def gitlab_unavailable(self) -> bool:
        """GitLab could not be reached or kept failing: trying later may work."""
        return "unavailable" in self.failure_kinds

    @property
    def exit_code(self) -> ExitCode:
        """0 when all went well; 75 when GitLab was unavailable; 78 for permissions/settings."""
        if self.ok:
            return ExitCode.OK
        return ExitCode.TEMPFAIL if self.gitlab_unavailable else ExitCode.CONFIG


def summary_lines(outcome: ReportOutcome) -> list[str]:
    """What the report did, one line each, for the job log (errors are separate)."""
    lines: list[str] = []
    quiet_issue = (IssueAction.NONE, IssueAction.FAILED, IssueAction.PLANNED)
    if outcome.issue_action not in quiet_issue:
        ref = f"#{outcome.issue_iid}" + (f" {outcome.issue_url}" if outcome.issue_url else "")
        lines.append(f"issue {ref}: {outcome.issue_detail}")
    if outcome.duplicates_closed:
        closed = ", ".join(f"#{iid}" for iid in outcome.duplicates_closed)
        lines.append(f"closed duplicate issue(s) {closed}")
    quiet_runner = (RunnerAction.NONE, RunnerAction.FAILED, RunnerAction.PLANNED)
    if outcome.runner_action not in quiet_runner:
        lines.append(
            f"runner {outcome.runner_id}: {outcome.runner_action.value}: {outcome.runner_detail}"
        )
    if not outcome.dry_run:
        lines.append(f"{outcome.requests_made} GitLab request(s)")
    return [f"dind-preflight: {line}" for line in lines]


def project_path_segment(report_project: str) -> str:
    """A project id or path as python-gitlab puts it in a URL (``ops%2Fnodes``)."""
    return quote(report_project, safe="")


def plan_requests(
    settings: GitLabSettings,
    incident: Incident,
    *,
    draft: IssueDraft | None,
    pause_payload: dict[str, object] | None,
) -> list[PlannedRequest]:
    """The requests of a first report: job look-up, issue list/create/list, runner get/put."""
    planned: list[PlannedRequest] = []
    if pause_payload is not None and settings.runner_id is None and settings.job_token:
        planned.append(PlannedRequest("GET", "/job", auth="JOB-TOKEN"))
    if draft is not None and settings.report_project:
        issues = f"/projects/{project_path_segment(settings.report_project)}/issues"
        query = {
            "labels": incident.key_label,
            "state": "opened",
            "order_by": "created_at",
            "sort": "asc",
            "per_page": "100",
        }
        planned.append(PlannedRequest("GET", issues, query=query))
        planned.append(
            PlannedRequest(
                "POST",
                issues,
                payload={
                    "title": draft.title,
                    "description": draft.description,
                    "labels": list(draft.labels),
                },
            )
        )
        planned.append(PlannedRequest("GET", issues, query=query))
    if pause_payload is not None:
        runner = f"/runners/{settings.runner_id if settings.runner_id is not None else '<id>'}"
        planned.append(PlannedRequest("GET", runner))
        planned.append(PlannedRequest("PUT", runner, payload=dict(pause_payload)))
    return planned


def render_plan(
    planned: list[PlannedRequest] | tuple[PlannedRequest, ...], settings: GitLabSettings
) -> str:
    """The plan as readable HTTP: request line, headers (token masked), then the body's fields,
    Markdown and multi-line text verbatim (indented), lists comma-separated."""
    why = settings.dry_run_reason or (
        f"{ENV_TOKEN} is not set" if not settings.token else "--dry-run was given"
    )
    lines = [f"dind-preflight: dry run ({why}): nothing was sent to GitLab."]
    if not planned:
        lines.append("dind-preflight: a report would send no request (nothing to report).")
        return redact("\n".join(lines))
    lines.append(
        f"dind-preflight: a first report of this incident would send {len(planned)} requests:"
    )
    host, prefix = _host_and_prefix(settings.api_url)
    for number, request in enumerate(planned, start=1):
        query = f"?{urlencode(request.query)}" if request.query else ""
        lines.append("")
        lines.append(f"# {number}")
        lines.append(f"{request.method} {prefix}{request.path}{query} HTTP/1.1")
        if host:
            lines.append(f"Host: {host}")
        lines.append(f"{request.auth}: {REDACTED}")
        if request.payload is not None:
            lines.append("Content-Type: application/json")
            lines.append("")
            lines += _body_lines(request.payload)
    return redact("\n".join(lines))


def _host_and_prefix(api_url: str | None) -> tuple[str, str]:
    if not api_url:
        return "", "$CI_API_V4_URL"
    parts = urlsplit(api_url)
    return parts.netloc, parts.path.rstrip("/")


def _body_lines(payload: dict[str, object]) -> list[str]:
    """One ``field: value`` line each; a multi-line string (the Markdown) as an indented block."""
    out: list[str] = []
    for name, value in payload.items():
        if isinstance(value, str) and "\n" in value:
            out.append(f"{name} (Markdown):" if name == "description" else f"{name}:")
            out += [f"    {line}".rstrip() for line in value.splitlines()]
        elif isinstance(value, str):
            out.append(f"{name}: {value}")
        elif isinstance(value, list):
            out.append(f"{name}: {', '.join(str(item) for item in value)}")
        else:
            out.append(f"{name}: {json.dumps(value)}")
    return out
