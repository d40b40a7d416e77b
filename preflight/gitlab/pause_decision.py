"""Whether and how to write the runner (pure): pause, annotate an existing pause, or skip.

One write per distinct state: a runner already paused by dind-preflight for the same incident
(and issue) is not written again. A pause by someone else is annotated with our block while the
human's note is kept; when it cannot be kept, the note is left alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any

from preflight.gitlab.maintenance_note import PauseNote, fit_note, parse_note


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
