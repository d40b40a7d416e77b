"""Incident identity and the election's pure decisions."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from preflight.diagnosis.model import Cause
from preflight.gitlab.incident_issue import (
    IssueSnapshot,
    decide_recurrence_note,
    elect,
    own_losers,
    parse_timestamp,
    runner_owned_by_opener,
    snapshot_of,
)
from preflight.gitlab.issue_text import (
    IssueMarker,
    format_marker,
    incident_key,
    incident_of,
    parse_marker,
)
from tests.gitlab.diagnoses import field_report_diagnosis

T0 = datetime(2025, 1, 2, 3, 0, 0, tzinfo=timezone.utc)


def issue(
    iid: int,
    *,
    reporter: str | None = None,
    runner: int | None = 42,
    state: str = "opened",
    age_s: float = 0.0,
    quiet_s: float = 0.0,
    notes: int = 0,
) -> IssueSnapshot:
    marker = IssueMarker("0123456789ab", runner_id=runner, reporter=reporter)
    return IssueSnapshot(
        iid=iid,
        web_url=f"https://gl.example/ops/n/-/issues/{iid}",
        state=state,
        created_at=T0 - timedelta(seconds=age_s),
        updated_at=T0 - timedelta(seconds=quiet_s),
        user_notes_count=notes,
        marker=marker,
    )


def test_key_depends_on_node_and_cause_only() -> None:
    a = incident_of(field_report_diagnosis("worker-3"))
    b = incident_of(replace(field_report_diagnosis("worker-3"), pod="other-pod"))
    c = incident_of(field_report_diagnosis("worker-4"))
    d = incident_of(replace(field_report_diagnosis("worker-3"), cause=Cause("not-privileged", "")))
    assert a.key == b.key == incident_key("worker-3", "iptable_nat-missing")
    assert len({a.key, c.key, d.key}) == 3
    assert a.labels == (
        "dind-preflight",
        "dind-preflight::cause::iptable_nat-missing",
        "dind-preflight::node::worker-3",
        "dind-preflight::fault::node",
        f"dind-preflight::key::{a.key}",
    )


def test_hostile_node_name_becomes_a_safe_label() -> None:
    hostile = incident_of(field_report_diagnosis("evil,node @all -->"))
    assert hostile.node == "evil-node-all"
    assert all("," not in label and " " not in label for label in hostile.labels)


@pytest.mark.parametrize(
    "marker",
    [
        IssueMarker("0123456789ab"),
        IssueMarker("0123456789ab", runner_id=42, job_id=1001, reporter="deadbeef00112233"),
    ],
)
def test_marker_round_trip(marker: IssueMarker) -> None:
    body = f"intro\n{format_marker(marker)}\n## Summary"
    assert parse_marker(body) == marker


@pytest.mark.parametrize(
    "body", [None, "", "no marker", "<!-- dind-preflight v1 runner=4 -->", "<!-- other key=1 -->"]
)
def test_marker_absent(body: str | None) -> None:
    assert parse_marker(body) is None


def test_snapshot_of_api_issue() -> None:
    marker = format_marker(IssueMarker("0123456789ab", runner_id=7))
    snap = snapshot_of(
        {
            "iid": 3,
            "web_url": "https://gl.example/i/3",
            "state": "opened",
            "created_at": "2025-01-02T03:00:00.123Z",
            "updated_at": "2025-01-02T03:05:00.000Z",
            "user_notes_count": 2,
            "description": marker,
        }
    )
    assert snap.iid == 3 and snap.user_notes_count == 2
    assert snap.marker is not None and snap.marker.runner_id == 7
    assert snap.updated_at - snap.created_at == timedelta(seconds=299.877)
    assert parse_timestamp("garbage") == datetime.fromtimestamp(0, timezone.utc)


def test_lowest_open_iid_wins() -> None:
    assert elect([]) is None
    assert elect([issue(5), issue(3), issue(4)]) == issue(3)
    assert elect([issue(2, state="closed"), issue(6)]) == issue(6)


def test_own_losers_are_only_mine_and_not_the_winner() -> None:
    issues = [issue(3, reporter="a"), issue(4, reporter="b"), issue(5, reporter="a")]
    winner = issue(3, reporter="a")
    assert [i.iid for i in own_losers(issues, winner, "a")] == [5]
    assert [i.iid for i in own_losers(issues, winner, "b")] == [4]
    assert own_losers(issues, winner, "c") == []


@pytest.mark.parametrize(
    ("quiet_s", "notes", "post"),
    [
        (0, 0, False),  # the burst that opened it
        (899, 0, False),
        (900, 0, True),
        (3600, 19, True),
        (3600, 20, False),  # capped
    ],
)
def test_recurrence_note_is_bounded(quiet_s: float, notes: int, post: bool) -> None:
    decision = decide_recurrence_note(issue(1, quiet_s=quiet_s, notes=notes), T0, 900, 20)
    assert decision.post is post


@pytest.mark.parametrize(
    ("runner", "my_runner", "age_s", "owned"),
    [
        (42, 42, 5, True),  # same burst, same runner: the opener pauses it
        (42, 42, 200, False),  # too old: check the runner yourself
        (42, 43, 5, False),  # another runner on the same node
        (None, 42, 5, False),  # marker edited away
        (42, None, 5, False),
    ],
)
def test_runner_owned_by_opener(
    runner: int | None, my_runner: int | None, age_s: float, owned: bool
) -> None:
    assert runner_owned_by_opener(issue(1, runner=runner, age_s=age_s), my_runner, T0, 120) is owned
