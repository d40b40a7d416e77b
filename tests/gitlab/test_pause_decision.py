"""Pause, annotate or skip: one write per distinct runner state, a human's note always kept."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from preflight.gitlab.runner_pause import (
    PauseAction,
    RunnerState,
    decide_pause,
    our_block,
    parse_note,
    runner_page_url,
    runner_state_of,
)
from tests.gitlab.support import NOTE

OURS = our_block(NOTE)
OTHER_INCIDENT = our_block(replace(NOTE, key="ffffffffffff", issue_iid=3))


@pytest.mark.parametrize(
    ("paused", "existing", "keep", "action", "payload_keys"),
    [
        (False, None, True, PauseAction.PAUSE, {"paused", "maintenance_note"}),
        (False, "Owned by infra", True, PauseAction.PAUSE, {"paused", "maintenance_note"}),
        # Already paused by us for this incident and issue: no write at all.
        (True, OURS, True, PauseAction.SKIP, None),
        (True, OURS + "\n\nOwned by infra", True, PauseAction.SKIP, None),
        # Someone resumed it: pause again.
        (False, OURS, True, PauseAction.PAUSE, {"paused", "maintenance_note"}),
        # Paused by a human: add our note, keep theirs.
        (True, "Kernel upgrade, Bob", True, PauseAction.ANNOTATE, {"paused", "maintenance_note"}),
        # Paused by us for another incident: our block is replaced.
        (True, OTHER_INCIDENT, True, PauseAction.ANNOTATE, {"paused", "maintenance_note"}),
        # Same key but another issue (the old one was closed, a new one opened).
        (
            True,
            our_block(replace(NOTE, issue_iid=2)),
            True,
            PauseAction.ANNOTATE,
            {"paused", "maintenance_note"},
        ),
        # A long human note and nowhere to keep it: never overwritten.
        (True, "x" * 1000, False, PauseAction.SKIP, None),
        (False, "x" * 1000, False, PauseAction.PAUSE, {"paused"}),
        (False, "x" * 1000, True, PauseAction.PAUSE, {"paused", "maintenance_note"}),
    ],
)
def test_decide_pause(
    paused: bool,
    existing: str | None,
    keep: bool,
    action: PauseAction,
    payload_keys: set[str] | None,
) -> None:
    state = RunnerState(runner_id=42, paused=paused, maintenance_note=existing)
    decision = decide_pause(state, NOTE, can_keep_elsewhere=keep)
    assert decision.action is action
    assert (set(decision.payload) if decision.payload is not None else None) == payload_keys
    if decision.payload and "maintenance_note" in decision.payload:
        written = decision.payload["maintenance_note"]
        assert len(written) <= 1024
        parsed = parse_note(written)
        assert (parsed.key, parsed.issue_iid) == (NOTE.key, NOTE.issue_iid)
        human = parse_note(existing).human
        if decision.human_note_shortened is None:
            assert parsed.human == human
        else:
            assert decision.human_note_shortened == human


def test_skip_when_already_paused_even_without_issue() -> None:
    note = replace(NOTE, issue_iid=None, issue_url=None)
    state = RunnerState(42, paused=True, maintenance_note=our_block(NOTE))
    assert decide_pause(state, note, can_keep_elsewhere=False).action is PauseAction.SKIP


@pytest.mark.parametrize(
    ("data", "paused"),
    [
        ({"id": 1, "paused": True, "active": False}, True),
        ({"id": 1, "paused": False, "active": True}, False),
        ({"id": 1, "active": False}, True),  # before GitLab 14.8
        ({"id": 1}, False),
    ],
)
def test_runner_state_of(data: dict[str, Any], paused: bool) -> None:
    assert runner_state_of(data).paused is paused


@pytest.mark.parametrize(
    ("data", "url"),
    [
        ({"runner_type": "instance_type"}, "https://gl.example/admin/runners/5"),
        (
            {"runner_type": "project_type", "projects": [{"path_with_namespace": "g/p"}]},
            "https://gl.example/g/p/-/runners/5",
        ),
        (
            {"runner_type": "group_type", "groups": [{"web_url": "https://gl.example/groups/g/"}]},
            "https://gl.example/groups/g/-/runners/5",
        ),
        ({"runner_type": "project_type", "projects": []}, "https://gl.example/admin/runners/5"),
    ],
)
def test_runner_page_url(data: dict[str, Any], url: str) -> None:
    assert runner_page_url("https://gl.example", 5, data) == url
    assert runner_page_url(None, 5, data) is None
