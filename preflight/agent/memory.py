"""What the agent remembers between checks, and what one check changes. Pure.

A transition is a condition whose status differs from the one the agent last knew (from its own
previous check, or from the node's conditions when it starts: a restart with an unchanged node
emits nothing). Transitions wait in a bounded queue until an Event for each reached the API, so
an API outage loses none of them (a node that broke and healed during the outage gets both).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from preflight.readiness.conditions import parse_time
from preflight.readiness.model import CONDITION_TYPES, NodeReadiness, Readiness, Status

MAX_PENDING_EVENTS = 50


@dataclass(frozen=True)
class Transition:
    """A condition changed status at ``at`` (``before`` None: the first status ever seen)."""

    readiness: Readiness
    before: Status | None
    at: datetime.datetime


@dataclass(frozen=True)
class Memory:
    known: dict[str, Status] = field(default_factory=dict)  # last status per condition type
    since: dict[str, datetime.datetime] = field(default_factory=dict)  # its transition time
    synced: bool = False  # the node's own conditions have been read once
    healthy_streak: int = 0  # consecutive checks with DindReady True
    pending: tuple[Transition, ...] = ()  # transitions whose Event is not recorded yet
    dropped: int = 0  # transitions dropped because the queue was full (counted, never silent)
    latest: NodeReadiness | None = None
    checked_at: datetime.datetime | None = None


def observe(memory: Memory, readiness: NodeReadiness, at: datetime.datetime) -> Memory:
    """Remember one check's result: record transitions, count the healthy streak."""
    known = dict(memory.known)
    since = dict(memory.since)
    pending = list(memory.pending)
    for item in readiness.conditions:
        before = known.get(item.condition)
        if before is not item.status:
            pending.append(Transition(item, before, at))
            since[item.condition] = at
            known[item.condition] = item.status
    dropped = memory.dropped + max(0, len(pending) - MAX_PENDING_EVENTS)
    streak = memory.healthy_streak + 1 if readiness.now.status is Status.TRUE else 0
    return replace(
        memory,
        known=known,
        since=since,
        pending=tuple(pending[-MAX_PENDING_EVENTS:]),
        dropped=dropped,
        healthy_streak=streak,
        latest=readiness,
        checked_at=at,
    )


def sync_with_node(memory: Memory, published: Mapping[str, Mapping[str, Any]]) -> Memory:
    """Reconcile with the conditions the node shows (read once, after a start).

    A status the node already shows is not a transition: the first check after a restart of the
    agent with an unchanged node sends no Event and keeps the node's ``lastTransitionTime``.
    """
    if memory.synced:
        return memory
    node_status: dict[str, Status] = {}
    node_since: dict[str, datetime.datetime] = {}
    for kind in CONDITION_TYPES:
        entry = published.get(kind)
        if not entry:
            continue
        try:
            node_status[kind] = Status(str(entry.get("status")))
        except ValueError:
            continue
        when = parse_time(entry.get("lastTransitionTime"))
        if when is not None:
            node_since[kind] = when
    pending: list[Transition] = []
    for item in memory.pending:
        kind = item.readiness.condition
        if item.before is None and kind in node_status:
            if node_status[kind] is item.readiness.status:
                continue  # the node already said so: not a transition
            item = replace(item, before=node_status[kind])
        pending.append(item)
    known = {**node_status, **memory.known}
    since = dict(memory.since)
    for kind, status in node_status.items():
        changed = any(t.readiness.condition == kind for t in pending)
        if known.get(kind) is status and kind in node_since and not changed:
            since[kind] = node_since[kind]  # unchanged since the node said so: keep its time
    return replace(memory, known=known, since=since, pending=tuple(pending), synced=True)


def delivered(memory: Memory, count: int) -> Memory:
    """The first ``count`` pending transitions have their Event."""
    return replace(memory, pending=memory.pending[count:])
