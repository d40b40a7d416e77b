"""One open issue per (node, cause) in the report project (adapter over python-gitlab).

The decisions are in :mod:`.issue_election`; this module only lists, creates, notes and closes.
Requests for a first report: list, create, list (3). A recurrence: list, and a note when due.
A reporter that lost a concurrent election: list, create, list, note + close its duplicate (5).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from preflight.gitlab.failures import Action
from preflight.gitlab.incident import BASE_LABEL, Incident
from preflight.gitlab.issue_election import (
    IssueSnapshot,
    NoteDecision,
    Role,
    decide_recurrence_note,
    elect,
    own_losers,
    snapshot_of,
)
from preflight.gitlab.issue_text import IssueDraft, duplicate_note
from preflight.gitlab.session import GitLabClient
from preflight.redaction import redact


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


def create_issue(client: GitLabClient, project: Any, draft: IssueDraft) -> IssueSnapshot:
    """``POST /projects/:id/issues`` with the draft (text redacted)."""
    data = {
        "title": redact(draft.title),
        "description": redact(draft.description),
        "labels": list(draft.labels),
    }
    return client.call(
        Action.CREATE_ISSUE, lambda: snapshot_of(project.issues.create(data).attributes)
    )


def add_note(client: GitLabClient, project: Any, iid: int, body: str) -> None:
    """``POST /projects/:id/issues/:iid/notes`` (text redacted)."""
    issue = project.issues.get(iid, lazy=True)
    client.call(Action.CREATE_NOTE, lambda: issue.notes.create({"body": redact(body)}))


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
    mine = create_issue(client, project, draft)
    relisted = {i.iid: i for i in [mine, *list_open_issues(client, project, incident)]}
    winner = elect(relisted.values()) or mine
    losers = own_losers(relisted.values(), winner, reporter)
    for loser in losers:
        close_duplicate(client, project, loser.iid, winner.iid)
    role = Role.OPENED if winner.iid == mine.iid else Role.DUPLICATE
    return IssueResult(role, winner, tuple(loser.iid for loser in losers))
