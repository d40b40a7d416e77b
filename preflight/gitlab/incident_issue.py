"""One open issue per (node, cause): the election between reporters and its GitLab requests.

**Election (pure decisions): converging concurrent reporters on one issue and one runner write.**

GitLab cannot create an issue only if absent, so reporters of the same incident converge:
list the open issues with the key label, create one when there is none, list again, and the
lowest iid wins. A reporter whose own issue lost closes it as a duplicate. The winner's job
pauses the runner; other jobs of the same runner leave the runner to it while the issue is
fresh (``leader_grace_s``). Recurrence notes are bounded by an interval and a cap.

**Requests (adapter over python-gitlab): list, create, note and close in the report project.**

The decisions are the pure functions above; these only list, create, note and close.
Requests for a first report: list, create, list (3). A recurrence: list, and a note when due.
A reporter that lost a concurrent election: list, create, list, note + close its duplicate (5).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import Enum
from typing import Any

from preflight.gitlab.client import Action, GitLabClient
from preflight.gitlab.issue_text import (
    BASE_LABEL,
    Incident,
    IssueDraft,
    IssueMarker,
    duplicate_note,
    parse_marker,
)
from preflight.redaction import redact


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


@dataclass(frozen=True)
class IssueResult:
    """The incident's issue after convergence, and this reporter's part in it."""

    role: Role
    issue: IssueSnapshot  # the winner: the one open issue of the incident
    duplicates_closed: tuple[int, ...] = ()
    note: NoteDecision | None = None


def list_open_issues(client: GitLabClient, project: Any, incident: Incident) -> list[IssueSnapshot]:
    """Open issues carrying the incident's key label, oldest first."""
    return client.call(
        Action.LIST_ISSUES,
        lambda: [
            snapshot_of(issue.attributes)
            for issue in project.issues.list(
                labels=[incident.key_label],
                state="opened",
                order_by="created_at",
                sort="asc",
                per_page=100,
                get_all=False,
            )
        ],
    )


def create_issue(
    client: GitLabClient,
    project: Any,
    draft: IssueDraft,
    landed: Callable[[], IssueSnapshot | None] | None = None,
) -> IssueSnapshot:
    """``POST /projects/:id/issues`` with the draft (text redacted); ``landed`` finds it by its
    key when GitLab fails the POST or its answer is lost (:meth:`GitLabClient.write`)."""
    data = {
        "title": redact(draft.title),
        "description": redact(draft.description),
        "labels": list(draft.labels),
    }
    return client.write(
        Action.CREATE_ISSUE, lambda: snapshot_of(project.issues.create(data).attributes), landed
    )


def add_note(client: GitLabClient, project: Any, iid: int, body: str) -> None:
    """``POST /projects/:id/issues/:iid/notes`` (text redacted); a failed or unanswered POST
    is looked up by its text among the issue's latest notes before it is sent again."""
    issue = project.issues.get(iid, lazy=True)
    text = redact(body)

    def landed() -> bool | None:
        notes = client.call(
            Action.LIST_NOTES,
            lambda: issue.notes.list(
                sort="desc", order_by="created_at", per_page=100, get_all=False
            ),
        )
        return True if any(note.attributes.get("body") == text for note in notes) else None

    client.write(Action.CREATE_NOTE, lambda: bool(issue.notes.create({"body": text})), landed)


def close_issue(client: GitLabClient, project: Any, iid: int, body: str) -> None:
    """Comment with the evidence, then close (``POST .../notes``, ``PUT .../issues/:iid``)."""
    add_note(client, project, iid, body)
    client.call(Action.UPDATE_ISSUE, lambda: project.issues.update(iid, {"state_event": "close"}))


def list_all_open(
    client: GitLabClient, project: Any, max_issues: int = 1000
) -> list[dict[str, Any]]:
    """Every open issue with the base label (all incidents, any node), up to ``max_issues``."""

    def fetch() -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for issue in project.issues.list(
            labels=[BASE_LABEL],
            state="opened",
            order_by="created_at",
            sort="asc",
            per_page=100,
            iterator=True,
        ):
            found.append(dict(issue.attributes))
            if len(found) >= max_issues:
                break
        return found

    return client.call(Action.LIST_ISSUES, fetch)


def close_duplicate(client: GitLabClient, project: Any, iid: int, winner_iid: int) -> None:
    """Close one of our issues that lost the election, saying which issue it duplicates."""
    client.call(Action.UPDATE_ISSUE, lambda: project.issues.update(iid, {"state_event": "close"}))
    add_note(client, project, iid, duplicate_note(winner_iid))


def converge_issue(
    client: GitLabClient,
    incident: Incident,
    draft: IssueDraft,
    *,
    reporter: str,
    recurrence_note: str,
    settle: Callable[[], None] = lambda: None,
) -> IssueResult:
    """Find or open the incident's one open issue; note a recurrence; close our duplicates."""
    settings = client.settings
    project = client.report_project()
    settle()
    issues = list_open_issues(client, project, incident)
    winner = elect(issues)
    if winner is not None:
        now = client.server_now()
        decision = decide_recurrence_note(winner, now, settings.note_interval_s, settings.max_notes)
        if decision.post:
            add_note(client, project, winner.iid, recurrence_note)
        # Leftovers of an earlier burst that nobody will close any more (e.g. a reporter that
        # died between create and close): close them once they are older than the grace time.
        stale = [
            issue
            for issue in issues
            if issue.iid != winner.iid
            and (now - issue.created_at).total_seconds() >= settings.leader_grace_s
        ]
        for issue in stale:
            close_duplicate(client, project, issue.iid, winner.iid)
        return IssueResult(Role.RECURRENCE, winner, tuple(issue.iid for issue in stale), decision)

    def landed() -> IssueSnapshot | None:
        # The answer was lost (or GitLab failed): did our issue land? Never create blindly a
        # second time; not there, it is sent again within the budget (IssueWrite).
        ours = [
            issue
            for issue in list_open_issues(client, project, incident)
            if issue.marker is not None and issue.marker.reporter == reporter
        ]
        return min(ours, key=lambda issue: issue.iid) if ours else None

    mine = create_issue(client, project, draft, landed)
    relisted = {i.iid: i for i in [mine, *list_open_issues(client, project, incident)]}
    winner = elect(relisted.values()) or mine
    losers = own_losers(relisted.values(), winner, reporter)
    for loser in losers:
        close_duplicate(client, project, loser.iid, winner.iid)
    role = Role.OPENED if winner.iid == mine.iid else Role.DUPLICATE
    return IssueResult(role, winner, tuple(loser.iid for loser in losers))
