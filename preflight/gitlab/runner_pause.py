"""Pausing the runner with a maintenance note (adapter over python-gitlab).

``GET /runners/:id``, then :func:`~preflight.gitlab.pause_decision.decide_pause`, then at most one
``PUT /runners/:id``. Without the issue election (no report project) two reporters can both read
"not paused" and both write: the same state twice, never a lost human note.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from preflight.gitlab.failures import Action, FailureKind, GitLabActionError
from preflight.gitlab.maintenance_note import PauseNote
from preflight.gitlab.pause_decision import (
    PauseAction,
    RunnerState,
    decide_pause,
    decide_resume,
    runner_state_of,
)
from preflight.gitlab.session import GitLabClient
from preflight.redaction import redact


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


def lookup_runner_id(client: GitLabClient) -> int:
    """The job's runner from ``GET /job`` with ``CI_JOB_TOKEN`` (when CI_RUNNER_ID is absent)."""
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
    return runner_id
