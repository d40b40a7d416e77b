"""The action decision: act only against node or runner faults, with the documented exit codes."""

from __future__ import annotations

import pytest

from preflight.actions.plan import Action, plan_actions
from preflight.diagnosis.model import (
    Cause,
    Confidence,
    Diagnosis,
    FaultClass,
    QuarantineDecision,
)
from preflight.exitcodes import ExitCode

BACKED = QuarantineDecision(True, "backed by the node's own report", ["node report: x"])


def diagnosis(
    fault: FaultClass, node: str | None = "node-a", quarantine: QuarantineDecision = BACKED
) -> Diagnosis:
    return Diagnosis(
        cause=Cause(code="some-cause", summary="text"),
        fault=fault,
        confidence=Confidence.HIGH,
        node=node,
        quarantine=quarantine,
    )


@pytest.mark.parametrize("fault", [FaultClass.NODE, FaultClass.RUNNER])
@pytest.mark.parametrize("action", list(Action))
def test_no_quarantine_without_unforgeable_evidence_but_still_a_retry(
    fault: FaultClass, action: Action
) -> None:
    guess = QuarantineDecision(False, "only a log line supports the cause", [], ["log line"])
    plan = plan_actions(diagnosis(fault, quarantine=guess), action, kubernetes_api=True)
    assert (plan.pause_runner, plan.taint_node, plan.exit_code) == (
        False,
        False,
        ExitCode.TEMPFAIL,
    )
    assert "only a log line supports the cause" in plan.reason


@pytest.mark.parametrize(
    ("fault", "action", "pause", "taint", "code"),
    [
        (FaultClass.NODE, Action.PAUSE_RUNNER, True, False, ExitCode.TEMPFAIL),
        (FaultClass.NODE, Action.TAINT_NODE, False, True, ExitCode.TEMPFAIL),
        (FaultClass.NODE, Action.NONE, False, False, ExitCode.TEMPFAIL),
        (FaultClass.RUNNER, Action.PAUSE_RUNNER, True, False, ExitCode.TEMPFAIL),
        (FaultClass.RUNNER, Action.TAINT_NODE, False, False, ExitCode.TEMPFAIL),
        (FaultClass.RUNNER, Action.NONE, False, False, ExitCode.TEMPFAIL),
        (FaultClass.JOB, Action.PAUSE_RUNNER, False, False, ExitCode.CONFIG),
        (FaultClass.JOB, Action.TAINT_NODE, False, False, ExitCode.CONFIG),
        (FaultClass.JOB, Action.NONE, False, False, ExitCode.CONFIG),
        (FaultClass.UNKNOWN, Action.PAUSE_RUNNER, False, False, ExitCode.UNAVAILABLE),
        (FaultClass.UNKNOWN, Action.TAINT_NODE, False, False, ExitCode.UNAVAILABLE),
        (FaultClass.UNKNOWN, Action.NONE, False, False, ExitCode.UNAVAILABLE),
        (FaultClass.NODE, Action.AUTO, False, True, ExitCode.TEMPFAIL),
        (FaultClass.RUNNER, Action.AUTO, True, False, ExitCode.TEMPFAIL),
        (FaultClass.JOB, Action.AUTO, False, False, ExitCode.CONFIG),
        (FaultClass.UNKNOWN, Action.AUTO, False, False, ExitCode.UNAVAILABLE),
    ],
)
def test_every_fault_and_action(
    fault: FaultClass, action: Action, pause: bool, taint: bool, code: ExitCode
) -> None:
    plan = plan_actions(diagnosis(fault), action, kubernetes_api=True)
    assert (plan.pause_runner, plan.taint_node, plan.exit_code) == (pause, taint, code)
    assert plan.reason


def test_taint_without_node_name_takes_no_action_but_still_retries_elsewhere() -> None:
    plan = plan_actions(
        diagnosis(FaultClass.NODE, node=None), Action.TAINT_NODE, kubernetes_api=True
    )
    assert not plan.taint_node and not plan.pause_runner
    assert plan.exit_code is ExitCode.TEMPFAIL
    assert "node name is unknown" in plan.reason


def test_a_healthy_diagnosis_is_never_acted_on() -> None:
    healthy = Diagnosis(
        cause=Cause(code="healthy", summary="answered"),
        fault=FaultClass.UNKNOWN,
        confidence=Confidence.HIGH,
        node="node-a",
    )
    plan = plan_actions(healthy, Action.PAUSE_RUNNER, kubernetes_api=True)
    assert (plan.pause_runner, plan.taint_node, plan.exit_code) == (False, False, ExitCode.OK)


def test_runner_fault_is_not_tainted() -> None:
    plan = plan_actions(diagnosis(FaultClass.RUNNER), Action.TAINT_NODE, kubernetes_api=True)
    assert "taint would not help" in plan.reason


def test_auto_taints_a_known_node_and_keeps_the_pause_as_fallback() -> None:
    plan = plan_actions(diagnosis(FaultClass.NODE), Action.AUTO, kubernetes_api=True)
    assert (plan.taint_node, plan.pause_runner, plan.pause_if_taint_fails) == (True, False, True)
    unknown_node = plan_actions(
        diagnosis(FaultClass.NODE, node=None), Action.AUTO, kubernetes_api=True
    )
    assert (unknown_node.taint_node, unknown_node.pause_runner) == (False, True)


def test_auto_without_a_kubernetes_api_pauses_at_once_and_keeps_the_evidence_gate() -> None:
    plan = plan_actions(diagnosis(FaultClass.NODE), Action.AUTO, kubernetes_api=False)
    assert (plan.taint_node, plan.pause_runner, plan.pause_if_taint_fails) == (False, True, False)
    assert "no Kubernetes API" in plan.reason
    guess = QuarantineDecision(False, "only a log line supports the cause", [], ["log line"])
    unbacked = plan_actions(
        diagnosis(FaultClass.NODE, quarantine=guess), Action.AUTO, kubernetes_api=False
    )
    assert (unbacked.taint_node, unbacked.pause_runner) == (False, False)
