"""Converging concurrent reporters on one issue and one runner write (pure decisions).

GitLab cannot create an issue only if absent, so reporters of the same incident converge:
list the open issues with the key label, create one when there is none, list again, and the
lowest iid wins. A reporter whose own issue lost closes it as a duplicate. The winner's job
pauses the runner; other jobs of the same runner leave the runner to it while the issue is
fresh (``leader_grace_s``). Recurrence notes are bounded by an interval and a cap.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import Enum
from typing import Any

from preflight.gitlab.incident import IssueMarker, parse_marker


@dataclass(frozen=True)
class IssueSnapshot:
    """The fields of a GitLab issue that the election reads."""

    iid: int
    web_url: str
    state: str
    created_at: datetime
    updated_at: datetime
    user_notes_count: int = 0
    marker: IssueMarker | None = None


def parse_timestamp(value: object) -> datetime:
    """GitLab's ISO 8601 timestamps (``2024-05-01T10:00:00.123Z``) as aware datetimes."""
    text = str(value or "").strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return datetime.fromtimestamp(0, timezone.utc)
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def snapshot_of(data: Mapping[str, Any]) -> IssueSnapshot:
    """An issue as GitLab's API returns it -> :class:`IssueSnapshot`."""
    return IssueSnapshot(
        iid=int(data["iid"]),
        web_url=str(data.get("web_url") or ""),
        state=str(data.get("state") or "opened"),
        created_at=parse_timestamp(data.get("created_at")),
        updated_at=parse_timestamp(data.get("updated_at") or data.get("created_at")),
        user_notes_count=int(data.get("user_notes_count") or 0),
        marker=parse_marker(data.get("description")),
    )


def elect(issues: Iterable[IssueSnapshot]) -> IssueSnapshot | None:
    """The incident's issue: the open one with the lowest iid (the first created)."""
    candidates = [issue for issue in issues if issue.state == "opened"]
    return min(candidates, key=lambda issue: issue.iid) if candidates else None


def own_losers(
    issues: Iterable[IssueSnapshot], winner: IssueSnapshot, reporter: str
) -> list[IssueSnapshot]:
    """Open issues this reporter created that lost the election (to close as duplicates)."""
    return sorted(
        (
            issue
            for issue in issues
            if issue.state == "opened"
            and issue.iid != winner.iid
            and issue.marker is not None
            and issue.marker.reporter == reporter
        ),
        key=lambda issue: issue.iid,
    )


class Role(str, Enum):
    """How this reporter relates to the incident's issue."""

    OPENED = "opened"  # created the winning issue: pauses the runner
    DUPLICATE = "duplicate"  # created an issue in the same burst, lost, closed it
    RECURRENCE = "recurrence"  # found the issue already open


@dataclass(frozen=True)
class NoteDecision:
    """Whether a recurrence adds a note to the open issue, and why (not)."""

    post: bool
    reason: str


def decide_recurrence_note(
    issue: IssueSnapshot,
    now: datetime,
    interval_s: float,
    max_notes: int,
) -> NoteDecision:
    """One note per ``interval_s`` since the issue last changed, and none past ``max_notes``."""
    if issue.user_notes_count >= max_notes:
        return NoteDecision(False, f"the issue already has {issue.user_notes_count} notes")
    quiet_s = (now - issue.updated_at).total_seconds()
    if quiet_s < interval_s:
        return NoteDecision(
            False, f"the issue changed {max(0, quiet_s):.0f} s ago (< {interval_s:.0f} s)"
        )
    return NoteDecision(True, "recurrence")


def runner_owned_by_opener(
    issue: IssueSnapshot,
    runner_id: int | None,
    now: datetime,
    grace_s: float,
) -> bool:
    """True when the job that opened ``issue`` is pausing this same runner right now.

    Then the other jobs of the burst leave the runner alone: one write per state. After
    ``grace_s`` (or for another runner) every reporter checks the runner itself.
    """
    marker = issue.marker
    if marker is None or runner_id is None or marker.runner_id != runner_id:
        return False
    return (now - issue.created_at).total_seconds() < grace_s
