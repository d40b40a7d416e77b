"""The startup gate: the pure decision, and the reboot simulation that ``make bench`` prints."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from preflight.agent.startup_gate import GateStep, gate_step
from preflight.readiness.model import READY_NOW, Readiness, Status

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("status", "present", "enabled", "step"),
    [
        (Status.TRUE, True, True, GateStep.OPEN),  # the first healthy check opens it
        (Status.FALSE, True, True, GateStep.KEEP),  # broken: stays closed
        (Status.UNKNOWN, True, True, GateStep.KEEP),  # a guess opens nothing
        (Status.TRUE, False, True, GateStep.KEEP),  # nothing to open
        (Status.TRUE, True, False, GateStep.KEEP),  # --no-startup-gate
    ],
)
def test_gate_step(status: Status, present: bool, enabled: bool, step: GateStep) -> None:
    assert gate_step(Readiness(READY_NOW, status, "x", "m"), present, enabled) is step


def test_a_node_that_reboots_broken_receives_no_dind_job_with_the_gate() -> None:
    spec = importlib.util.spec_from_file_location("startup_gate", REPO / "bench/startup_gate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["startup_gate"] = module
    spec.loader.exec_module(module)
    figures = module.simulate(reboots=30)
    assert figures.with_gate == 0
    # Without the gate the same reboots send jobs there: the simulation can tell the difference.
    assert figures.without_gate > 0
