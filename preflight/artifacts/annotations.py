"""``artifacts:reports:annotations``: links on the job page to the issue and the runner.

The report is a JSON object of named sections, each a list of
``{"external_link": {"label": ..., "url": ...}}`` (GitLab 16.3+).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from preflight.artifacts.write import write_text
from preflight.gitlab.client import GitLabSettings
from preflight.gitlab.issue_text import one_line, safe_url
from preflight.gitlab.outcome import IssueAction, ReportOutcome, RunnerAction

SECTION = "dind_preflight"

_RUNNER_WORDS = {
    RunnerAction.PAUSED: "paused by this job",
    RunnerAction.ANNOTATED: "paused, note added",
    RunnerAction.SKIPPED: "already paused",
    RunnerAction.FAILED: "pause failed",
    RunnerAction.PLANNED: "dry run",
    RunnerAction.NONE: "not paused",
}


def _link(label: str, url: str | None) -> dict[str, Any] | None:
    target = safe_url(url)
    if target is None:
        return None
    return {"external_link": {"label": one_line(label, 200), "url": target}}


def build_annotations(outcome: ReportOutcome, settings: GitLabSettings) -> dict[str, Any]:
    """The annotations document: the incident's issue and the runner, when their URLs are known."""
    links: list[dict[str, Any] | None] = []
    if outcome.issue_url:
        verb = "opened" if outcome.issue_action is IssueAction.OPENED else "tracking"
        links.append(
            _link(
                f"dind-preflight issue #{outcome.issue_iid} ({verb}): {outcome.cause} on node "
                f"{outcome.node}",
                outcome.issue_url,
            )
        )
    runner_id = outcome.runner_id if outcome.runner_id is not None else settings.runner_id
    if runner_id is not None:
        url = outcome.runner_url or (
            f"{settings.server_url}/admin/runners/{runner_id}" if settings.server_url else None
        )
        state = _RUNNER_WORDS[outcome.runner_action]
        links.append(_link(f"Runner {runner_id} ({state})", url))
    kept = [link for link in links if link is not None]
    return {SECTION: kept} if kept else {}


def write_annotations(
    path: str | os.PathLike[str], outcome: ReportOutcome, settings: GitLabSettings
) -> Path:
    """Write the annotations JSON for ``artifacts:reports:annotations``."""
    document = build_annotations(outcome, settings)
    return write_text(path, json.dumps(document, indent=2, ensure_ascii=False) + "\n")
