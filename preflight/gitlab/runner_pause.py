"""Pausing and resuming the runner: the maintenance note, the decision, and the one write.

**Maintenance note (pure): our block, a human's note kept beside it, <= 1024 chars.**

Our part is one block between ``[dind-preflight] paused key=...`` and ``[/dind-preflight]``; it says
who paused the runner, why, on which node, when, from which job, the issue and how to resume.
Whatever else the note holds is a human's and is kept after our block. An older block of ours (an
earlier incident) is replaced. When a human's note is too long to keep whole, it is shortened only
if the full text can be kept elsewhere (the issue); otherwise the note is left untouched.

**Decision (pure): whether and how to write the runner: pause, annotate a pause, or skip.**

One write per distinct state: a runner already paused by dind-preflight for the same incident
(and issue) is not written again. A pause by someone else is annotated with our block while the
human's note is kept; when it cannot be kept, the note is left alone.

**Requests (adapter over python-gitlab): read the runner, then at most one write.**

``GET /runners/:id``, then :func:`decide_pause`, then at most one
``PUT /runners/:id``. Without the issue election (no report project) two reporters can both read
"not paused" and both write: the same state twice, never a lost human note.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from enum import Enum
from typing import Any

from preflight.gitlab.client import Action, FailureKind, GitLabActionError, GitLabClient
from preflight.gitlab.issue_text import clean, one_line, safe_token
from preflight.redaction import redact

MAX_NOTE_CHARS = 1024  # GitLab's limit for maintenance_note
_URL_MAX = 240
_BLOCK = re.compile(
    r"\[dind-preflight\] paused key=(?P<key>[0-9a-f]{12})(?: issue=#(?P<issue>\d+))?"
    r"(?P<before> \(was paused before\))?.*?\[/dind-preflight\]",
    re.DOTALL,
)
_TRUNCATED_SUFFIX = " [...] (shortened by dind-preflight; the full note is in the issue)"


@dataclass(frozen=True)
class PauseNote:
    """What our block says."""

    key: str
    cause: str
    node: str
    runner_id: int | None  # None only in a dry run without CI_RUNNER_ID
    when: datetime
    module: str | None = None
    job_id: int | None = None
    job_url: str | None = None
    issue_iid: int | None = None
    issue_url: str | None = None
    paused_before: bool = False  # someone else had paused the runner: our block only annotates
    actor: str | None = None  # who paused, when not a job (e.g. "the fleet reporter")
    # Where the issues are when no single issue URL names them (the fleet reporter pauses for
    # many nodes, one issue each), and the project issues go to (None: none configured).
    issues: str | None = None
    report_project: str | None = None


@dataclass(frozen=True)
class ParsedNote:
    """A maintenance note split into our block (key, issue) and the human's text."""

    key: str | None
    issue_iid: int | None
    human: str
    paused_before: bool = False  # our block annotates a pause someone else made

    @property
    def paused_by_us(self) -> bool:
        """Our block is there and says that dind-preflight made the pause."""
        return self.key is not None and not self.paused_before


@dataclass(frozen=True)
class FittedNote:
    """The note to write (None: leave the runner's note as it is) and whether the human's part
    was shortened (then its full text must be kept elsewhere)."""

    text: str | None
    human_shortened: bool = False


def _stamp(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _url(value: str | None) -> str | None:
    if not value:
        return None
    text = clean(value).strip()
    return text if len(text) <= _URL_MAX and " " not in text else None


def _issue_line(note: PauseNote, issue_url: str | None) -> str:
    """Where the incident is written up, as true as we know it."""
    if issue_url:
        return f"Issue: {issue_url}"
    if note.issues:
        return f"Issues: {one_line(note.issues, 300)}"
    if note.report_project:
        return (
            f"Issue: none yet in {one_line(note.report_project, 120)} (the issue write did not "
            "succeed; see the job log)"
        )
    return "Issue: none (no report project configured)"


def our_block(note: PauseNote, *, compact: bool = False) -> str:
    """Our block of the maintenance note (plain text, safe tokens and validated URLs only)."""
    head = f"[dind-preflight] paused key={safe_token(note.key)}"
    if note.issue_iid is not None:
        head += f" issue=#{note.issue_iid}"
    if note.paused_before:
        head += " (was paused before)"
    why = safe_token(note.cause)
    if note.module:
        why += f" (kernel module {safe_token(note.module)})"
    node = safe_token(note.node)
    job = f"job {note.job_id}" if note.job_id is not None else (note.actor or "a job")
    job_url = _url(note.job_url)
    issue_url = _url(note.issue_url)
    runner = str(note.runner_id) if note.runner_id is not None else "<id>"
    if compact:
        lines = [
            head,
            f"{why} on node {node}, {_stamp(note.when)}, {job}.",
            f"Issue: {issue_url}" if issue_url else "",
            f"Resume runner {runner} after fixing the node.",
            "[/dind-preflight]",
        ]
    else:
        lines = [
            head,
            f"Paused by dind-preflight: {why} on node {node}.",
            f"When: {_stamp(note.when)}, by {job}" + (f": {job_url}" if job_url else "."),
            _issue_line(note, issue_url),
            "Resume after fixing the node: Resume this runner in GitLab, or "
            f"PUT /api/v4/runners/{runner} with paused=false.",
            "[/dind-preflight]",
        ]
    return "\n".join(line for line in lines if line)


def parse_note(text: str | None) -> ParsedNote:
    """Split a maintenance note into our block's key/issue and the human's text."""
    body = text or ""
    match = _BLOCK.search(body)
    if not match:
        return ParsedNote(key=None, issue_iid=None, human=body.strip())
    human = (body[: match.start()] + body[match.end() :]).strip()
    issue = match.group("issue")
    return ParsedNote(
        key=match.group("key"),
        issue_iid=int(issue) if issue else None,
        human=human,
        paused_before=bool(match.group("before")),
    )


def _join(block: str, human: str) -> str:
    return f"{block}\n\n{human}" if human else block


def fit_note(note: PauseNote, human: str, *, can_keep_elsewhere: bool) -> FittedNote:
    """Our block plus the human's text within :data:`MAX_NOTE_CHARS`, keeping the human's text."""
    for compact in (False, True):
        text = _join(our_block(note, compact=compact), human)
        if len(text) <= MAX_NOTE_CHARS:
            return FittedNote(text)
    if not can_keep_elsewhere:
        return FittedNote(None)
    block = our_block(note, compact=True)
    room = MAX_NOTE_CHARS - len(block) - 2 - len(_TRUNCATED_SUFFIX)
    if room <= 0:
        return FittedNote(None)
    return FittedNote(_join(block, human[:room].rstrip() + _TRUNCATED_SUFFIX), human_shortened=True)


@dataclass(frozen=True)
class RunnerState:
    """What ``GET /runners/:id`` says, reduced to what the decision needs."""

    runner_id: int
    paused: bool
    maintenance_note: str | None = None
    runner_type: str | None = None  # instance_type | group_type | project_type
    page_url: str | None = None  # the runner's page in the GitLab UI, when known


def runner_page_url(server_url: str | None, runner_id: int, data: Mapping[str, Any]) -> str | None:
    """The runner's page in the UI from its details (instance, group or project runner)."""
    if not server_url:
        return None
    kind = data.get("runner_type")
    if kind == "project_type":
        projects = data.get("projects") or []
        if projects and isinstance(projects[0], Mapping) and projects[0].get("path_with_namespace"):
            return f"{server_url}/{projects[0]['path_with_namespace']}/-/runners/{runner_id}"
    if kind == "group_type":
        groups = data.get("groups") or []
        if groups and isinstance(groups[0], Mapping) and groups[0].get("web_url"):
            return f"{str(groups[0]['web_url']).rstrip('/')}/-/runners/{runner_id}"
    return f"{server_url}/admin/runners/{runner_id}"


def runner_state_of(data: Mapping[str, Any], server_url: str | None = None) -> RunnerState:
    """A runner as GitLab's API returns it -> :class:`RunnerState` (``active`` before 14.8)."""
    runner_id = int(data["id"])
    paused = data.get("paused")
    if paused is None:
        paused = not data.get("active", True)
    note = data.get("maintenance_note")
    return RunnerState(
        runner_id=runner_id,
        paused=bool(paused),
        maintenance_note=str(note) if note is not None else None,
        runner_type=str(data["runner_type"]) if data.get("runner_type") else None,
        page_url=runner_page_url(server_url, runner_id, data),
    )


class PauseAction(str, Enum):
    PAUSE = "pause"  # not paused: pause it, with our note
    ANNOTATE = "annotate"  # paused already, by someone else or for another incident: add our note
    RESUME = "resume"  # paused by us, the cause is gone: resume, the human's note restored
    SKIP = "skip"  # nothing to write


@dataclass(frozen=True)
class PauseDecision:
    """The write to make (``payload`` for ``PUT /runners/:id``), and why."""

    action: PauseAction
    reason: str
    payload: dict[str, Any] | None = None
    human_note_shortened: str | None = None  # the human's full note, to keep in the issue


def decide_pause(state: RunnerState, note: PauseNote, *, can_keep_elsewhere: bool) -> PauseDecision:
    """Decide the runner write for one incident given the runner's current state."""
    parsed = parse_note(state.maintenance_note)
    same_incident = parsed.key == note.key and (
        note.issue_iid is None or parsed.issue_iid == note.issue_iid
    )
    if state.paused and same_incident:
        return PauseDecision(
            PauseAction.SKIP,
            f"runner {state.runner_id} is already paused by dind-preflight for this node and cause",
        )
    if state.paused:
        # Annotating someone's pause: say so in our block, so that an undo never resumes it.
        note = replace(note, paused_before=parsed.paused_before if parsed.key else True)
    fitted = fit_note(note, parsed.human, can_keep_elsewhere=can_keep_elsewhere)
    shortened = parsed.human if fitted.human_shortened else None
    if not state.paused:
        payload: dict[str, Any] = {"paused": True}
        if fitted.text is not None:
            payload["maintenance_note"] = fitted.text
        if fitted.text is None:
            reason = "paused; its long maintenance note was left as it is"
        elif parsed.human:
            reason = "paused; maintenance note written, the existing note kept"
        else:
            reason = "paused; maintenance note written"
        return PauseDecision(PauseAction.PAUSE, reason, payload, shortened)
    if fitted.text is None:
        return PauseDecision(
            PauseAction.SKIP,
            f"runner {state.runner_id} is already paused; its maintenance note has no room for "
            "ours and was left as it is",
        )
    who = "for another incident" if parsed.key else "by someone else"
    return PauseDecision(
        PauseAction.ANNOTATE,
        f"already paused {who}; our note was added, the existing note kept",
        {"paused": True, "maintenance_note": fitted.text},
        shortened,
    )


def decide_resume(state: RunnerState, *, key: str | None = None) -> PauseDecision:
    """Undo our pause: resume a runner only when our block says dind-preflight paused it.

    ``key``: only for this incident (None: any of ours). A pause someone else made is never
    resumed; when we only annotated it, our block is removed and the runner stays paused. The
    human's part of the note is restored as it was.
    """
    parsed = parse_note(state.maintenance_note)
    rid = state.runner_id
    if parsed.key is None:
        what = "paused by someone else" if state.paused else "not paused"
        return PauseDecision(PauseAction.SKIP, f"runner {rid} is {what}: left as it is")
    if key is not None and parsed.key != key:
        return PauseDecision(
            PauseAction.SKIP, f"runner {rid} carries dind-preflight's note for another incident"
        )
    if parsed.paused_before or not state.paused:
        why = "someone else paused it" if state.paused else "it was resumed already"
        return PauseDecision(
            PauseAction.ANNOTATE,
            f"our note removed from runner {rid}; {why}, so its pause state is left as it is",
            {"maintenance_note": parsed.human},
        )
    return PauseDecision(
        PauseAction.RESUME,
        f"runner {rid} resumed"
        + ("; the previous maintenance note restored" if parsed.human else ""),
        {"paused": False, "maintenance_note": parsed.human},
    )


@dataclass(frozen=True)
class PauseResult:
    """What was done to the runner."""

    action: PauseAction
    detail: str
    state: RunnerState  # as read before the write
    human_note_shortened: str | None = None


def read_runner(client: GitLabClient, runner_id: int) -> RunnerState:
    """``GET /runners/:id``."""
    server = client.settings.server_url
    return client.call(
        Action.READ_RUNNER,
        lambda: runner_state_of(client.api.runners.get(runner_id).attributes, server),
        runner_id=runner_id,
    )


def write_runner(client: GitLabClient, runner_id: int, payload: dict[str, Any]) -> None:
    """``PUT /runners/:id`` with ``paused`` and ``maintenance_note`` (note redacted)."""
    data = dict(payload)
    if "maintenance_note" in data:
        data["maintenance_note"] = redact(str(data["maintenance_note"]))
    client.call(
        Action.PAUSE_RUNNER, lambda: client.api.runners.update(runner_id, data), runner_id=runner_id
    )


def pause_runner(
    client: GitLabClient, runner_id: int, note: PauseNote, *, can_keep_elsewhere: bool
) -> PauseResult:
    """Read the runner, decide, and write at most once."""
    state = read_runner(client, runner_id)
    decision = decide_pause(state, note, can_keep_elsewhere=can_keep_elsewhere)
    if decision.action is not PauseAction.SKIP and decision.payload is not None:
        write_runner(client, runner_id, decision.payload)
    return PauseResult(decision.action, decision.reason, state, decision.human_note_shortened)


def resume_runner(client: GitLabClient, runner_id: int, *, key: str | None = None) -> PauseResult:
    """Read the runner and undo our pause (:func:`decide_resume`): at most one write."""
    state = read_runner(client, runner_id)
    decision = decide_resume(state, key=key)
    if decision.action is not PauseAction.SKIP and decision.payload is not None:
        write_runner(client, runner_id, decision.payload)
    return PauseResult(decision.action, decision.reason, state)


def paused_runner_ids(client: GitLabClient) -> list[int]:
    """``GET /runners?paused=true``, every page: the paused runners the token's user manages
    (the list has no maintenance notes: read each with :func:`read_runner`)."""

    def listed() -> list[int]:
        found = client.api.runners.list(paused=True, iterator=True)
        return sorted({int(r.id) for r in found if isinstance(getattr(r, "id", None), int)})

    return client.call(Action.LIST_RUNNERS, listed)


@dataclass(frozen=True)
class JobIdentity:
    """Who the job is, as GitLab says for its ``CI_JOB_TOKEN`` (``GET /api/v4/job``)."""

    runner_id: int
    job_id: int | None = None
    job_url: str | None = None
    runner_description: str | None = None
    project_path: str | None = None  # from the job's web_url on the pinned GitLab


def lookup_job(client: GitLabClient) -> JobIdentity:
    """The job, its runner and its project from ``GET /job`` with ``CI_JOB_TOKEN``."""
    if not client.settings.job_token:
        raise GitLabActionError(
            "the runner is not known: set CI_RUNNER_ID or --runner-id (CI_JOB_TOKEN is not set "
            "either, so GET /job cannot tell)",
            FailureKind.CONFIG,
        )
    job_api = client.job_api()
    data = client.call(Action.LOOKUP_JOB, lambda: job_api.http_get("/job"))
    runner = data.get("runner") if isinstance(data, dict) else None
    runner_id = runner.get("id") if isinstance(runner, dict) else None
    if not isinstance(runner_id, int) or runner_id <= 0:
        raise GitLabActionError(
            "GET /job did not name the job's runner: set CI_RUNNER_ID or --runner-id",
            FailureKind.CONFIG,
        )
    assert isinstance(data, dict) and isinstance(runner, dict)
    job_id = data.get("id")
    web_url = data.get("web_url")
    description = runner.get("description")
    server = client.settings.server_url or ""
    project: str | None = None
    if isinstance(web_url, str) and server and web_url.startswith(server + "/"):
        path = web_url[len(server) + 1 :].split("/-/jobs/", 1)[0]
        project = path if path and "/-/" not in path else None
    return JobIdentity(
        runner_id=runner_id,
        job_id=job_id if isinstance(job_id, int) and job_id > 0 else None,
        job_url=web_url
        if isinstance(web_url, str) and server and web_url.startswith(server)
        else None,
        runner_description=clean(description)[:200] if isinstance(description, str) else None,
        project_path=project,
    )


def lookup_runner_id(client: GitLabClient) -> int:
    """The job's runner from ``GET /job`` with ``CI_JOB_TOKEN`` (when CI_RUNNER_ID is absent)."""
    return lookup_job(client).runner_id
