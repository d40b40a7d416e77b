"""What a report did (the JSON contract of ``report --json``): issue, runner, requests, errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from preflight.exitcodes import ExitCode


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
