"""Report a diagnosis to GitLab: one issue per (node, cause), the runner paused once.

Order: the issue first (its election decides who writes the runner and gives the note its
link), then the runner. GitLab failures never raise out of :func:`report_diagnosis`: they are
collected in the outcome, so the caller still exits with the diagnosis' code.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

from preflight.diagnosis.model import Diagnosis, FaultClass
from preflight.gitlab.client import (
    FailureKind,
    GitLabActionError,
    GitLabSettings,
    RetryPolicy,
    open_client,
)
from preflight.gitlab.incident_issue import Role, add_note, converge_issue, runner_owned_by_opener
from preflight.gitlab.issue_text import (
    Incident,
    IssueDraft,
    ReportContext,
    draft_issue,
    incident_of,
    kept_note,
    recurrence_note,
)
from preflight.gitlab.outcome import IssueAction, ReportOutcome, RunnerAction, plan_requests
from preflight.gitlab.runner_pause import (
    PauseAction,
    PauseNote,
    RunnerState,
    decide_pause,
    lookup_job,
    lookup_runner_id,
)
from preflight.gitlab.runner_pause import pause_runner as pause_with_note

ISSUE_FAULTS = frozenset({FaultClass.NODE, FaultClass.RUNNER})


def should_open_issue(diagnosis: Diagnosis) -> bool:
    """Issues are for broken nodes and runners, not for a job's own configuration or unknowns."""
    return diagnosis.fault in ISSUE_FAULTS


def should_pause(diagnosis: Diagnosis) -> bool:
    """The default of ``--pause auto``: node/runner faults that evidence the job cannot forge
    backs (``diagnosis.quarantine.allowed``); a guess never pauses a runner."""
    return diagnosis.fault in ISSUE_FAULTS and diagnosis.quarantine.allowed


def _context(
    diagnosis: Diagnosis, settings: GitLabSettings, when: datetime, reporter: str, pause: bool
) -> ReportContext:
    return ReportContext(
        when=when,
        reporter=reporter,
        runner_id=settings.runner_id,
        runner_description=settings.runner_description,
        job_id=settings.job_id,
        job_url=settings.job_url,
        project_path=settings.project_path,
        api_url=settings.api_url,
        pause_runner=pause,
        note_interval_s=settings.note_interval_s,
        max_notes=settings.max_notes,
    )


def _pause_note(
    incident: Incident,
    settings: GitLabSettings,
    runner_id: int | None,
    when: datetime,
    issue_iid: int | None,
    issue_url: str | None,
) -> PauseNote:
    return PauseNote(
        key=incident.key,
        cause=incident.cause,
        node=incident.node,
        runner_id=runner_id,
        when=when,
        module=incident.module,
        job_id=settings.job_id,
        job_url=settings.job_url,
        issue_iid=issue_iid,
        issue_url=issue_url,
        report_project=settings.report_project or None,
    )


def report_diagnosis(
    diagnosis: Diagnosis,
    settings: GitLabSettings,
    *,
    pause_runner: bool,
    now: datetime | None = None,
    rng: random.Random | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    policy: RetryPolicy | None = None,
) -> ReportOutcome:
    """Open or update the incident's issue and pause the runner; never raises for GitLab errors.

    ``now``, ``rng``, ``sleep``, ``clock`` and ``policy`` exist for tests; callers pass only the
    diagnosis, the settings and ``pause_runner``.
    """
    incident = incident_of(diagnosis)
    rng = rng or random.Random()
    when = now or datetime.now(timezone.utc)
    reporter = f"{rng.getrandbits(64):016x}"
    ctx = _context(diagnosis, settings, when, reporter, pause_runner)
    file_issue = bool(settings.report_project) and should_open_issue(diagnosis)
    draft = draft_issue(diagnosis, incident, ctx) if file_issue else None
    base = ReportOutcome(
        key=incident.key, node=incident.node, cause=incident.cause, runner_id=settings.runner_id
    )
    if settings.dry_run:
        return _dry_run(base, settings, incident, draft, pause_runner, when)

    client = open_client(settings, policy=policy, rng=rng, sleep=sleep, clock=clock)
    if settings.runner_id is None and settings.job_token:
        # Job mode: who the job is (runner, job, project) comes from GitLab, not its variables.
        try:
            job = lookup_job(client)
        except GitLabActionError:
            pass  # the pause below asks again and records the error
        else:
            settings = replace(
                settings,
                runner_id=job.runner_id,
                job_id=job.job_id,
                job_url=job.job_url,
                runner_description=job.runner_description,
                project_path=job.project_path,
            )
            client.settings = settings
            ctx = _context(diagnosis, settings, when, reporter, pause_runner)
            draft = draft_issue(diagnosis, incident, ctx) if file_issue else None
            base = replace(base, runner_id=settings.runner_id)

    def settle() -> None:
        if settings.settle_s > 0:
            sleep(rng.uniform(0, settings.settle_s))

    errors: list[GitLabActionError] = []
    fields: dict[str, Any] = {}
    issue = None
    if draft is not None:
        try:
            issue = converge_issue(
                client,
                incident,
                draft,
                reporter=reporter,
                recurrence_note=recurrence_note(diagnosis, incident, ctx),
                settle=settle,
            )
        except GitLabActionError as exc:
            errors.append(exc)
            fields["issue_action"] = IssueAction.FAILED
            fields["issue_detail"] = str(exc)
        else:
            action = {
                Role.OPENED: IssueAction.OPENED,
                Role.DUPLICATE: IssueAction.DUPLICATE,
                Role.RECURRENCE: IssueAction.FOUND,
            }[issue.role]
            detail = {
                Role.OPENED: "opened",
                Role.DUPLICATE: f"opened concurrently; ours closed as duplicate of #{issue.issue.iid}",
                Role.RECURRENCE: "already open",
            }[issue.role]
            if issue.note is not None:
                if issue.note.post:
                    action, detail = IssueAction.NOTED, "already open; recurrence noted"
                else:
                    detail = f"already open; no note: {issue.note.reason}"
            fields.update(
                issue_action=action,
                issue_iid=issue.issue.iid,
                issue_url=issue.issue.web_url or None,
                issue_detail=detail,
                duplicates_closed=issue.duplicates_closed,
            )
    elif pause_runner:
        settle()

    if pause_runner:
        runner_id = settings.runner_id
        try:
            if runner_id is None:
                runner_id = lookup_runner_id(client)
                fields["runner_id"] = runner_id
            if (
                issue is not None
                and issue.role is not Role.OPENED
                and runner_owned_by_opener(
                    issue.issue, runner_id, client.server_now(), settings.leader_grace_s
                )
            ):
                fields["runner_action"] = RunnerAction.SKIPPED
                fields["runner_detail"] = (
                    f"the job that opened #{issue.issue.iid} pauses runner {runner_id}"
                )
            else:
                note = _pause_note(
                    incident,
                    settings,
                    runner_id,
                    when,
                    issue.issue.iid if issue else None,
                    issue.issue.web_url if issue else None,
                )
                result = pause_with_note(
                    client, runner_id, note, can_keep_elsewhere=issue is not None
                )
                fields["runner_action"] = {
                    PauseAction.PAUSE: RunnerAction.PAUSED,
                    PauseAction.ANNOTATE: RunnerAction.ANNOTATED,
                    PauseAction.SKIP: RunnerAction.SKIPPED,
                }[result.action]
                fields["runner_detail"] = result.detail
                fields["runner_url"] = result.state.page_url
                if result.human_note_shortened is not None and issue is not None:
                    add_note(
                        client,
                        client.report_project(),
                        issue.issue.iid,
                        kept_note(runner_id, result.human_note_shortened),
                    )
        except GitLabActionError as exc:
            errors.append(exc)
            fields["runner_action"] = RunnerAction.FAILED
            fields["runner_detail"] = str(exc)

    return _with(
        base,
        fields,
        requests_made=client.requests_made,
        errors=tuple(str(e) for e in errors),
        failure_kinds=tuple(e.kind.value for e in errors),
    )


def _with(base: ReportOutcome, fields: dict[str, Any], **more: Any) -> ReportOutcome:
    return replace(base, **fields, **more)


def _dry_run(
    base: ReportOutcome,
    settings: GitLabSettings,
    incident: Incident,
    issue_draft: IssueDraft | None,
    pause_runner: bool,
    when: datetime,
) -> ReportOutcome:
    payload = None
    errors: list[str] = []
    if pause_runner:
        issue_url = "<new-issue-url>" if issue_draft is not None else None
        note = _pause_note(incident, settings, settings.runner_id, when, None, issue_url)
        decision = decide_pause(
            RunnerState(runner_id=settings.runner_id or 0, paused=False),
            note,
            can_keep_elsewhere=False,
        )
        payload = decision.payload
        if settings.runner_id is None and not settings.job_token:
            errors.append("the runner is not known: set CI_RUNNER_ID or --runner-id")
    planned = plan_requests(settings, incident, draft=issue_draft, pause_payload=payload)
    return _with(
        base,
        {},
        dry_run=True,
        dry_run_reason=settings.dry_run_reason or "",
        issue_action=IssueAction.PLANNED if issue_draft else IssueAction.NONE,
        runner_action=RunnerAction.PLANNED if pause_runner else RunnerAction.NONE,
        planned=tuple(planned),
        errors=tuple(errors),
        failure_kinds=tuple(FailureKind.CONFIG.value for _ in errors),
    )
