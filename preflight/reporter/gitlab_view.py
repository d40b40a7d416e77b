"""GitLab's side of the picture: open incident issues and the managed runners.

The parsing is pure (:func:`incident_of_issue`, :func:`runner_view`); :func:`read_gitlab` is the
adapter over :mod:`preflight.gitlab.incident_issue` and :mod:`preflight.gitlab.runner_pause`.
State lives in GitLab (labels, markers, maintenance notes), so a restarted reporter or a new
leader rebuilds everything from here and the cluster.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from preflight.gitlab.client import GitLabActionError, GitLabClient
from preflight.gitlab.incident_issue import parse_timestamp
from preflight.gitlab.issue_text import BASE_LABEL, incident_key
from preflight.gitlab.runner_pause import RunnerState, parse_note
from preflight.reporter.model import (
    GitLabView,
    OpenIncident,
    RunnerPauseState,
    RunnerTarget,
    RunnerView,
)

# The key of the fleet reporter's own runner pause (not one node's incident: the whole pool).
FLEET_KEY = incident_key("fleet", "dind-fleet-quarantine")


def _label(labels: Sequence[str], kind: str) -> str | None:
    prefix = f"{BASE_LABEL}::{kind}::"
    return next((label[len(prefix) :] for label in labels if label.startswith(prefix)), None)


def incident_of_issue(data: Mapping[str, Any]) -> OpenIncident | None:
    """An open issue as GitLab lists it -> :class:`OpenIncident` (None when not an incident)."""
    labels = [str(label) for label in data.get("labels") or []]
    key, node, cause = _label(labels, "key"), _label(labels, "node"), _label(labels, "cause")
    if not key or not node or not cause or data.get("state", "opened") != "opened":
        return None
    return OpenIncident(
        iid=int(data["iid"]),
        key=key,
        node=node,
        cause=cause,
        web_url=str(data.get("web_url") or ""),
        created_at=parse_timestamp(data.get("created_at")),
        updated_at=parse_timestamp(data.get("updated_at") or data.get("created_at")),
        user_notes_count=int(data.get("user_notes_count") or 0),
        fault=_label(labels, "fault") or "unknown",
    )


def runner_view(state: RunnerState) -> RunnerView:
    """Who paused the runner: the fleet reporter (its key, not merely annotating) or others."""
    parsed = parse_note(state.maintenance_note)
    if not state.paused:
        pause = RunnerPauseState.ACTIVE
    elif parsed.paused_by_us and parsed.key == FLEET_KEY:
        pause = RunnerPauseState.PAUSED_BY_US
    else:
        pause = RunnerPauseState.PAUSED_BY_OTHERS
    return RunnerView(state.runner_id, pause, state.maintenance_note)


def read_gitlab(
    client: GitLabClient, runners: Sequence[RunnerTarget], errors: list[str]
) -> GitLabView:
    """Open incidents of the report project and the runners' states; failures go to ``errors``."""
    from preflight.gitlab.incident_issue import list_all_open
    from preflight.gitlab.runner_pause import read_runner

    incidents: list[OpenIncident] = []
    complete = True
    if client.settings.report_project:
        try:
            for data in list_all_open(client, client.report_project()):
                incident = incident_of_issue(data)
                if incident is not None:
                    incidents.append(incident)
        except GitLabActionError as exc:
            errors.append(str(exc))
            complete = False
    views: list[RunnerView] = []
    for target in runners:
        try:
            views.append(runner_view(read_runner(client, target.runner_id)))
        except GitLabActionError as exc:
            errors.append(str(exc))
            views.append(RunnerView(target.runner_id, RunnerPauseState.ACTIVE, readable=False))
    return GitLabView(tuple(incidents), tuple(views), complete)
