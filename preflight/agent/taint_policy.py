"""When the agent taints its node, and when it removes the taint. Pure.

Taint while ``DindReady`` is False (value: the cause code); remove only after two consecutive
healthy checks, so a node that flaps is not put back into rotation by one lucky check. Unknown
changes nothing: a guess never taints a node and never untaints one.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from preflight.kube.labels import label_value
from preflight.readiness.model import Readiness, Status

HEALTHY_CHECKS_TO_UNTAINT = 2


class TaintAction(str, Enum):
    KEEP = "keep"
    TAINT = "taint"
    UNTAINT = "untaint"


@dataclass(frozen=True)
class TaintDecision:
    action: TaintAction
    value: str = ""  # the taint value (the cause code) for TAINT


def taint_decision(
    now: Readiness, healthy_streak: int, current_value: str | None, enabled: bool = True
) -> TaintDecision:
    """What to do with ``dind-preflight.io/broken`` given this check and the node's taint
    (``current_value`` None: the node has none)."""
    if not enabled:
        return TaintDecision(TaintAction.KEEP)
    if now.status is Status.FALSE:
        value = label_value(now.code)
        if current_value == value:
            return TaintDecision(TaintAction.KEEP)
        return TaintDecision(TaintAction.TAINT, value)
    if (
        now.status is Status.TRUE
        and current_value is not None
        and healthy_streak >= HEALTHY_CHECKS_TO_UNTAINT
    ):
        return TaintDecision(TaintAction.UNTAINT)
    return TaintDecision(TaintAction.KEEP)
