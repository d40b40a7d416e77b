"""The readiness as Kubernetes NodeConditions, and back. Pure.

Written by the agent (``nodes/status``, a strategic merge patch keyed by condition ``type``, as
node-problem-detector does), read by the audit and the job. ``lastTransitionTime`` changes only
when the status changes; ``lastHeartbeatTime`` is the time of the check behind it.

Who marks a condition stale: the readers. An agent that cannot reach the API cannot write
"Unknown" either, so a reader treats a condition whose ``lastHeartbeatTime`` is older than two
check intervals as ``Unknown`` (code ``agent-heartbeat-stale``), whatever it says.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from preflight.diagnosis import causes
from preflight.node import findings
from preflight.readiness import verdict
from preflight.readiness.model import (
    CONDITION_TYPES,
    READY_AFTER_REBOOT,
    READY_NOW,
    NodeReadiness,
    Readiness,
    Status,
    camel_case,
)

STALE = "agent-heartbeat-stale"
NOT_PUBLISHED = "agent-not-reporting"
DEFAULT_INTERVAL_S = 300.0
_KNOWN_CODES = (
    *causes.CAUSES,
    verdict.MODULES_LOADED,
    verdict.MODULES_LOAD_AT_BOOT,
    verdict.STATE_UNKNOWN,
    verdict.BOOT_UNKNOWN,
    verdict.NOT_PERSISTENT,
    verdict.UNREADABLE,
    "module-not-loaded",
    *findings.NOT_LISTED_CODES,  # the after-reboot condition's reasons name a finding
    *findings.BLOCKER_CODES,
    findings.FIRST_USE,
    STALE,
    NOT_PUBLISHED,
)
_CODE_OF_REASON = {camel_case(code).lower(): code for code in _KNOWN_CODES}


def code_of_reason(reason: str) -> str:
    """The code a condition's reason names: the code itself, or its CamelCase form (any case);
    an unknown reason is returned as it is."""
    if reason in _KNOWN_CODES:
        return reason
    return _CODE_OF_REASON.get(reason.lower(), reason)


def timestamp(when: datetime.datetime) -> str:
    """RFC 3339 in UTC with second precision, as the API server stores condition times."""
    return when.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: Any) -> datetime.datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def to_conditions(
    readiness: NodeReadiness,
    previous: Mapping[str, Mapping[str, Any]],
    checked_at: datetime.datetime,
) -> list[dict[str, str]]:
    """The two NodeCondition objects to publish; ``previous`` holds what the node shows now
    (by type), whose ``lastTransitionTime`` is kept when the status did not change."""
    out = []
    for item in readiness.conditions:
        before = previous.get(item.condition) or {}
        transition = timestamp(checked_at)
        if before.get("status") == item.status.value and before.get("lastTransitionTime"):
            transition = str(before["lastTransitionTime"])
        out.append(
            {
                "type": item.condition,
                "status": item.status.value,
                "reason": item.reason,
                "message": item.message,
                "lastHeartbeatTime": timestamp(checked_at),
                "lastTransitionTime": transition,
            }
        )
    return out


def status_patch(conditions: list[dict[str, str]]) -> dict[str, Any]:
    """The strategic merge patch for ``nodes/{name}/status``: only our conditions change."""
    return {"status": {"conditions": conditions}}


def ours(node: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Our conditions on a Node object, by type."""
    found: dict[str, dict[str, Any]] = {}
    for entry in (node.get("status") or {}).get("conditions") or []:
        if isinstance(entry, dict) and entry.get("type") in CONDITION_TYPES:
            found[str(entry["type"])] = entry
    return found


@dataclass(frozen=True)
class Observed:
    """The readiness a reader sees on a node, and how old the agent's last check is."""

    readiness: NodeReadiness
    age_s: float | None  # None: no condition published
    fresh: bool


def observe(
    node: Mapping[str, Any],
    now: datetime.datetime,
    interval_s: float = DEFAULT_INTERVAL_S,
) -> Observed:
    """Read both conditions; Unknown when missing or older than two intervals."""
    found = ours(node)
    max_age = 2 * interval_s
    ages = []
    items: dict[str, Readiness] = {}
    for kind in CONDITION_TYPES:
        entry = found.get(kind)
        beat = parse_time(entry.get("lastHeartbeatTime")) if entry else None
        if entry is None or beat is None:
            items[kind] = Readiness(
                kind, Status.UNKNOWN, NOT_PUBLISHED, "no condition from the dind-preflight agent"
            )
            continue
        age = max(0.0, (now - beat).total_seconds())
        ages.append(age)
        if age > max_age:
            items[kind] = Readiness(
                kind,
                Status.UNKNOWN,
                STALE,
                f"the agent's last check is {int(age)} s old (more than two intervals of "
                f"{int(interval_s)} s): the agent or its API access is down",
            )
            continue
        reason = str(entry.get("reason") or "")
        status = _status(entry.get("status"))
        items[kind] = Readiness(
            kind, status, code_of_reason(reason), str(entry.get("message") or "")
        )
    fresh = len(ages) == len(CONDITION_TYPES) and max(ages) <= max_age
    return Observed(
        NodeReadiness(items[READY_NOW], items[READY_AFTER_REBOOT]),
        max(ages) if ages else None,
        fresh,
    )


def _status(value: Any) -> Status:
    try:
        return Status(str(value))
    except ValueError:
        return Status.UNKNOWN
