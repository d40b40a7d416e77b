"""The node taint for a diagnosis: which taint, and the node's taint list with it. Pure.

A node fault (e.g. ``iptable_nat-missing``) makes every dind job on that node fail; a
``NoSchedule`` taint keeps new job pods away until someone fixes the node and removes it::

    kubectl taint nodes NODE dind-preflight.io/broken:NoSchedule-
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from preflight.diagnosis.model import Confidence, Diagnosis, FaultClass
from preflight.kube.labels import label_value

TAINT_KEY = "dind-preflight.io/broken"
TAINT_EFFECT = "NoSchedule"
# The startup gate: nodes register with it (kubelet ``registerWithTaints``), the agent closes it
# when it stops (a reboot), and only the agent opens it, after its first healthy check.
GATE_KEY = "dind-preflight.io/unchecked"


@dataclass(frozen=True)
class Taint:
    key: str
    value: str
    effect: str = TAINT_EFFECT

    def to_api(self) -> dict[str, str]:
        return {"key": self.key, "value": self.value, "effect": self.effect}

    def untaint_command(self, node: str) -> str:
        """The command that removes this taint from ``node`` after the fix."""
        return f"kubectl taint nodes {node} {self.key}:{self.effect}-"


def taint_for(diagnosis: Diagnosis) -> Taint | None:
    """The taint for a node fault that evidence the job cannot forge backs; else ``None``."""
    if diagnosis.fault is not FaultClass.NODE or diagnosis.confidence is Confidence.LOW:
        return None
    if not diagnosis.quarantine.allowed:
        return None
    if not diagnosis.node:
        return None
    return Taint(TAINT_KEY, label_value(diagnosis.cause.code))


def with_taint(existing: list[dict[str, Any]] | None, taint: Taint) -> list[dict[str, Any]] | None:
    """The node's taints with ``taint`` added; ``None`` when it is there already (idempotent).

    Other taints are kept as they are; ours (same key and effect) is replaced when its value
    (the cause) changed.
    """
    current = [dict(t) for t in existing or [] if isinstance(t, dict)]
    wanted = taint.to_api()
    for entry in current:
        if entry.get("key") == taint.key and entry.get("effect") == taint.effect:
            if entry.get("value") == taint.value:
                return None
            entry["value"] = taint.value
            entry.pop("timeAdded", None)
            return current
    return [*current, wanted]


def without_taint(
    existing: list[dict[str, Any]] | None, key: str = TAINT_KEY
) -> list[dict[str, Any]] | None:
    """The node's taints without ours (``key``, any value); ``None`` when it is not there
    (idempotent)."""
    current = [dict(t) for t in existing or [] if isinstance(t, dict)]
    kept = [t for t in current if not (t.get("key") == key and t.get("effect") == TAINT_EFFECT)]
    return None if len(kept) == len(current) else kept


def has_taint(existing: list[dict[str, Any]] | None, key: str = TAINT_KEY) -> str | None:
    """The value of our taint on a node (``""`` when it has none), ``None`` when it is absent."""
    for entry in existing or []:
        if isinstance(entry, dict) and entry.get("key") == key:
            return str(entry.get("value") or "")
    return None


GATE = Taint(GATE_KEY, "")
