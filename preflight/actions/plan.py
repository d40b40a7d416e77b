"""What to do about a diagnosis (pure): act only against node or runner faults."""

from __future__ import annotations

from dataclasses import dataclass

from preflight.actions.action import Action
from preflight.diagnosis.model import Diagnosis, FaultClass
from preflight.exitcodes import ExitCode

__all__ = ["Action", "ActionPlan", "plan_actions"]


@dataclass(frozen=True)
class ActionPlan:
    """The decision: which action (if any), why, and the job's exit code."""

    pause_runner: bool
    taint_node: bool
    exit_code: ExitCode
    reason: str
    pause_if_taint_fails: bool = False  # auto: the taint is tried first, the pause is the fallback


def plan_actions(diagnosis: Diagnosis, action: Action, *, kubernetes_api: bool) -> ActionPlan:
    """Node/runner fault -> the configured action (exit 75); job fault (78), unknown (69): none.

    Quarantine (pause or taint) needs ``diagnosis.quarantine.allowed``: evidence the job cannot
    forge. Without it a node/runner fault still exits 75 (retry) and gets an issue, nothing more.
    A taint marks one node, so it applies to node faults only, and only when the node is known.
    ``kubernetes_api`` says whether the run can reach a Kubernetes API at all (in a pod, or
    ``KUBECONFIG``): without one, ``auto`` pauses the runner straight away.
    """
    code = diagnosis.exit_code
    fault = diagnosis.fault
    if fault not in (FaultClass.NODE, FaultClass.RUNNER):
        why = "the job's own configuration" if fault is FaultClass.JOB else "cause not established"
        return ActionPlan(False, False, code, f"{why}: no action against the runner")
    if not diagnosis.quarantine.allowed:
        return ActionPlan(
            False,
            False,
            code,
            f"{fault.value} fault, but no quarantine: {diagnosis.quarantine.reason}",
        )
    if action is Action.NONE:
        return ActionPlan(False, False, code, f"{fault.value} fault: actions disabled (none)")
    if action is Action.PAUSE_RUNNER:
        return ActionPlan(True, False, code, f"{fault.value} fault: pause the runner")
    if action is Action.AUTO:
        if fault is FaultClass.RUNNER:
            return ActionPlan(True, False, code, "runner fault: pause the runner (auto)")
        if not diagnosis.node:
            return ActionPlan(
                True, False, code, "node fault, node unknown: pause the runner (auto)"
            )
        if not kubernetes_api:
            why = "node fault, no Kubernetes API to taint the node through"
            return ActionPlan(True, False, code, f"{why}: pause the runner (auto)")
        return ActionPlan(
            False,
            True,
            code,
            f"node fault: taint node {diagnosis.node}, or pause the runner if the job may not (auto)",
            pause_if_taint_fails=True,
        )
    if fault is FaultClass.RUNNER:
        return ActionPlan(
            False, False, code, "runner fault: a node taint would not help; no action taken"
        )
    if not diagnosis.node:
        return ActionPlan(
            False, False, code, "taint-node asked, but the node name is unknown: no action taken"
        )
    return ActionPlan(False, True, code, f"node fault: taint node {diagnosis.node}")
