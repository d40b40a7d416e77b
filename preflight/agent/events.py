"""A transition as a core/v1 Event on the Node (what ``kubectl describe node`` shows). Pure."""

from __future__ import annotations

from typing import Any

from preflight.agent.memory import Transition
from preflight.readiness.conditions import timestamp
from preflight.readiness.model import Status
from preflight.readiness.verdict import fix_line

COMPONENT = "dind-preflight-agent"
# A core/v1 Event about a cluster-scoped object (a Node) lives in ``default``: the API server
# refuses any other namespace (422, ``involvedObject.namespace ... does not match
# event.namespace``; pkg/apis/core/validation/events.go, legacyValidateEvent), and
# ``kubectl describe node`` looks for it there.
NODE_EVENT_NAMESPACE = "default"


def event_message(transition: Transition) -> str:
    """``DindReady False (was True): <message>. Fix: <fix>``, at most 1 KiB."""
    item = transition.readiness
    was = f" (was {transition.before.value})" if transition.before is not None else ""
    text = f"{item.condition} {item.status.value}{was}: {item.message}"
    fix = fix_line(item.fix)
    if fix and item.status is Status.FALSE:
        text = f"{text.rstrip('.')}. Fix: {fix}"
    return text[:1024]


def event_for(transition: Transition, node: str, node_uid: str | None) -> dict[str, Any]:
    item = transition.readiness
    when = timestamp(transition.at)
    involved: dict[str, str] = {"apiVersion": "v1", "kind": "Node", "name": node}
    if node_uid:
        involved["uid"] = node_uid
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "generateName": f"{node}.dind-preflight.",
            "namespace": NODE_EVENT_NAMESPACE,
        },
        "involvedObject": involved,
        "reason": item.reason,
        "message": event_message(transition),
        "type": "Normal" if item.status is Status.TRUE else "Warning",
        "source": {"component": COMPONENT, "host": node},
        "reportingComponent": COMPONENT,
        "reportingInstance": node,
        "firstTimestamp": when,
        "lastTimestamp": when,
        "count": 1,
    }
