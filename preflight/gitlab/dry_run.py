"""Dry run (pure): the requests a first report of this incident would send, token masked.

Without a token nothing is sent. The plan assumes what a first report meets: no open issue and
a runner that is not paused and has no note. Bodies are built by the same functions the real
report uses, so the plan shows exactly what would be sent.
"""

from __future__ import annotations

import json
from urllib.parse import quote, urlencode, urlsplit

from preflight.gitlab.incident import Incident
from preflight.gitlab.issue_text import IssueDraft
from preflight.gitlab.outcome import PlannedRequest
from preflight.gitlab.settings import ENV_TOKEN, GitLabSettings
from preflight.redaction import REDACTED, redact


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
    why = f"{ENV_TOKEN} is not set" if not settings.token else "--dry-run was given"
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
