"""What to do about a diagnosis (pure): act only against node or runner faults."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from preflight.diagnosis.model import Diagnosis, FaultClass
from preflight.exitcodes import ExitCode


class Action(str, Enum):
    """What to do against a broken node or runner (``DIND_PREFLIGHT_ACTION``)."""

    PAUSE_RUNNER = "pause-runner"
    TAINT_NODE = "taint-node"
    NONE = "none"


@dataclass(frozen=True)
class ActionPlan:
    """The decision: which action (if any), why, and the job's exit code."""

    pause_runner: bool
    taint_node: bool
    exit_code: ExitCode
    reason: str


def plan_actions(diagnosis: Diagnosis, action: Action) -> ActionPlan:
    """Node/runner fault -> configured action, exit 75; job fault -> 78; unknown -> 69; no action."""
    fault = diagnosis.fault
    if fault in (FaultClass.NODE, FaultClass.RUNNER):
        if action is Action.TAINT_NODE and not diagnosis.node:
            return ActionPlan(
                pause_runner=False,
                taint_node=False,
                exit_code=ExitCode.TEMPFAIL,
                reason="taint-node asked, but the node name is unknown: no action taken",
            )
        return ActionPlan(
            pause_runner=action is Action.PAUSE_RUNNER,
            taint_node=action is Action.TAINT_NODE,
            exit_code=ExitCode.TEMPFAIL,
            reason=f"{fault.value} fault: {action.value}"
            + ("" if action is not Action.NONE else " (actions disabled)"),
        )
    if fault is FaultClass.JOB:
        return ActionPlan(False, False, ExitCode.CONFIG, "the job's own configuration: no action")
    return ActionPlan(False, False, ExitCode.UNAVAILABLE, "cause not established: no action")
