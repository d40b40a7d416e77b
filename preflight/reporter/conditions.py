"""Node objects -> :class:`NodeState` (pure): the agent's conditions, cordon, taints, job fit.

The contract with the node agent (and anything else that publishes the same conditions):
NodeConditions ``DindReady`` and ``DindReadyAfterReboot`` (``True``/``False``/``Unknown``; the
reason is the cause code, or the cause code in CamelCase, e.g. ``IptableNatMissing``; the message
is one line) and the taint ``dind-preflight.io/broken=<cause>:NoSchedule``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from preflight.actions.taint import TAINT_EFFECT, TAINT_KEY
from preflight.diagnosis.causes import CAUSES
from preflight.gitlab.incident_issue import parse_timestamp
from preflight.gitlab.issue_text import one_line, safe_token
from preflight.readiness.conditions import code_of_reason
from preflight.readiness.model import READY_AFTER_REBOOT, READY_NOW
from preflight.reporter.model import Condition, NodeState, Readiness

BLOCKING_EFFECTS = frozenset({"NoSchedule", "NoExecute"})


def cause_of_reason(reason: str | None) -> str:
    """The cause code a condition's reason names: the code itself, or its CamelCase form."""
    text = (reason or "").strip()
    code = code_of_reason(text)
    return code if code in CAUSES else safe_token(text, empty="unknown-cause")


def condition_of(data: Mapping[str, Any] | None) -> Condition:
    if not data:
        return Condition()
    try:
        status = Readiness(str(data.get("status")))
    except ValueError:
        status = Readiness.UNKNOWN
    since = data.get("lastTransitionTime")
    beat = data.get("lastHeartbeatTime")
    return Condition(
        status=status,
        cause=cause_of_reason(data.get("reason")) if status is Readiness.FALSE else "",
        message=one_line(str(data.get("message") or ""), 300),
        since=parse_timestamp(since) if since else None,
        heartbeat=parse_timestamp(beat) if beat else None,
    )


def tolerated(taint: Mapping[str, Any], tolerations: Iterable[Mapping[str, Any]]) -> bool:
    """Kubernetes' toleration matching (operator Exists/Equal, empty key, empty effect)."""
    for tol in tolerations:
        key = tol.get("key") or ""
        operator = tol.get("operator") or "Equal"
        effect = tol.get("effect") or ""
        if effect and effect != taint.get("effect"):
            continue
        if operator == "Exists" and (not key or key == taint.get("key")):
            return True
        if (
            operator == "Equal"
            and key == taint.get("key")
            and ((tol.get("value") or "") == (taint.get("value") or ""))
        ):
            return True
    return False


def selector_matches(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def node_state(
    node: Mapping[str, Any],
    *,
    node_selector: Mapping[str, str] | None = None,
    tolerations: Iterable[Mapping[str, Any]] = (),
) -> NodeState:
    """One node object as the API returns it -> :class:`NodeState`."""
    meta = node.get("metadata") or {}
    spec = node.get("spec") or {}
    conditions = {str(c.get("type")): c for c in (node.get("status") or {}).get("conditions") or []}
    tols = list(tolerations)
    blocking: list[str] = []
    ours: str | None = None
    for taint in spec.get("taints") or []:
        if taint.get("key") == TAINT_KEY and taint.get("effect") == TAINT_EFFECT:
            ours = cause_of_reason(taint.get("value")) if taint.get("value") else "unknown-cause"
            continue
        if taint.get("effect") in BLOCKING_EFFECTS and not tolerated(taint, tols):
            blocking.append(f"{taint.get('key')}:{taint.get('effect')}")
    labels = meta.get("labels") or {}
    return NodeState(
        name=safe_token(str(meta.get("name") or ""), empty="unknown-node"),
        ready=condition_of(conditions.get(READY_NOW)),
        after_reboot=condition_of(conditions.get(READY_AFTER_REBOOT)),
        unschedulable=bool(spec.get("unschedulable")),
        blocking_taints=tuple(blocking),
        our_taint=ours,
        matches_jobs=selector_matches(node_selector or {}, labels),
    )
