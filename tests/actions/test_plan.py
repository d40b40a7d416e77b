"""The action decision: act only against node or runner faults, with the documented exit codes."""

from __future__ import annotations

import pytest

from preflight.actions.plan import Action, plan_actions
from preflight.diagnosis.model import Cause, Confidence, Diagnosis, FaultClass
from preflight.exitcodes import ExitCode


def diagnosis(fault: FaultClass, node: str | None = "node-a") -> Diagnosis:
    return Diagnosis(
        cause=Cause(code="some-cause", summary="text"),
        fault=fault,
        confidence=Confidence.HIGH,
        node=node,
    )


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
    plan = plan_actions(diagnosis(fault), action)
    assert (plan.pause_runner, plan.taint_node, plan.exit_code) == (pause, taint, code)
    assert plan.reason


def test_taint_without_node_name_takes_no_action_but_still_retries_elsewhere() -> None:
    plan = plan_actions(diagnosis(FaultClass.NODE, node=None), Action.TAINT_NODE)
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
    plan = plan_actions(healthy, Action.PAUSE_RUNNER)
    assert (plan.pause_runner, plan.taint_node, plan.exit_code) == (False, False, ExitCode.OK)


def test_runner_fault_is_not_tainted() -> None:
    plan = plan_actions(diagnosis(FaultClass.RUNNER), Action.TAINT_NODE)
    assert "taint would not help" in plan.reason


def test_auto_taints_a_known_node_and_keeps_the_pause_as_fallback() -> None:
    plan = plan_actions(diagnosis(FaultClass.NODE), Action.AUTO)
    assert (plan.taint_node, plan.pause_runner, plan.pause_if_taint_fails) == (True, False, True)
    unknown_node = plan_actions(diagnosis(FaultClass.NODE, node=None), Action.AUTO)
    assert (unknown_node.taint_node, unknown_node.pause_runner) == (False, True)
