"""The run flow: probe -> (healthy: done) -> diagnose -> plan -> announce -> act and report.

Nothing found is lost: what the probe and the diagnosis found is announced (printed, artifacts
written) *before* any action against GitLab or Kubernetes, and :class:`RunState` always holds
the latest outcome, so a run stopped by its deadline or a signal can still say what it knew.

The flow talks to the outside world only through :class:`Adapters`, so the decisions between the
steps are testable; :mod:`preflight.run.adapters` provides the real ones.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from enum import Enum

from preflight.exitcodes import ExitCode

TYPE_CHECKING = False  # typing's constant without importing typing: the healthy path
if TYPE_CHECKING:
    from typing import Any, Protocol

    from preflight.actions.plan import ActionPlan
    from preflight.diagnosis.model import Diagnosis
    from preflight.probe.model import ProbeResult
    from preflight.run.settings import RunSettings

    # A protocol for the type checker only (tests/run/test_flow.py checks its adapters against
    # it): the healthy path does not import typing.
    class Adapters(Protocol):
        """The edges the flow needs; each may raise PreflightError with a one-line message."""

        def probe(self, timeout_s: float) -> ProbeResult:
            """Wait for the daemon up to ``timeout_s`` and say how it answered."""
            ...

        def diagnose(self, probe: ProbeResult) -> Diagnosis:
            """Find out why the daemon is not healthy."""
            ...

        def taint_node(self, diagnosis: Diagnosis) -> str:
            """Taint the diagnosed node; return a one-line account of what was done."""
            ...

        def report(self, diagnosis: Diagnosis, *, pause_runner: bool) -> Any:
            """Report to GitLab (pausing the runner when asked); return the report outcome."""
            ...

        def write_artifacts(
            self, probe: ProbeResult, diagnosis: Diagnosis | None, report: Any
        ) -> list[str]:
            """Write the job's annotations and JUnit files; return their paths."""
            ...

        def announce(self, outcome: RunOutcome) -> None:
            """Show what was found before acting on it (the job log)."""
            ...


class Stage(str, Enum):
    """Where a run is; named in the line a stopped run prints."""

    PROBE = "the probe"
    DIAGNOSE = "the diagnosis"
    ANNOUNCE = "printing the diagnosis"
    TAINT = "tainting the node"
    REPORT = "the GitLab report"
    FINISH = "writing the final artifacts"
    DONE = "done"


@dataclass(frozen=True)
class RunOutcome:
    """What the run did and the exit code it ends with."""

    exit_code: ExitCode
    probe: ProbeResult
    diagnosis: Diagnosis | None = None
    plan: ActionPlan | None = None
    report: Any = None
    actions_done: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # steps that failed; the exit code still stands
    artifacts: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    pending: tuple[str, ...] = ()  # announced before acting: what comes next


@dataclass
class RunState:
    """The stage a run is in and the latest outcome it knows (read when the run is stopped)."""

    stage: Stage = Stage.PROBE
    outcome: RunOutcome | None = None
    announced: bool = False
    started: float = field(default_factory=time.monotonic)


def execute(settings: RunSettings, adapters: Adapters, state: RunState | None = None) -> RunOutcome:
    """Run the preflight; a failing report or action never hides the diagnosis or its exit code."""
    from preflight.errors import PreflightError

    state = state or RunState()
    started = state.started
    state.stage = Stage.PROBE
    probe = adapters.probe(settings.timeout_s)
    if probe.healthy:
        state.stage = Stage.FINISH
        artifacts = _artifacts(adapters, probe, None, None, [])
        state.stage = Stage.DONE
        return RunOutcome(ExitCode.OK, probe, artifacts=artifacts, elapsed_s=_since(started))

    from preflight.actions.plan import plan_actions

    state.outcome = RunOutcome(ExitCode.UNAVAILABLE, probe)
    state.stage = Stage.DIAGNOSE
    errors: list[str] = []
    diagnosis = adapters.diagnose(probe)
    plan = plan_actions(diagnosis, settings.action, kubernetes_api=settings.kubernetes_api)
    pending = _pending(plan, diagnosis)
    found = RunOutcome(plan.exit_code, probe, diagnosis, plan, pending=pending)
    state.outcome = found
    state.stage = Stage.ANNOUNCE
    early: list[str] = []  # a failed early write is retried after acting; only that one counts
    found = replace(found, artifacts=_artifacts(adapters, probe, diagnosis, None, early))
    state.outcome = found
    adapters.announce(replace(found, errors=list(early), elapsed_s=_since(started)))
    state.announced = True

    actions_done: list[str] = []
    pause_runner = plan.pause_runner
    if plan.taint_node:
        from preflight.kube.taint_node import NOT_APPLIED

        state.stage = Stage.TAINT
        try:
            line = adapters.taint_node(diagnosis)
            actions_done.append(line)
            tainted = not line.startswith(NOT_APPLIED)
        except PreflightError as exc:
            errors.append(f"taint-node: {exc}")
            tainted = False
        state.outcome = replace(found, actions_done=list(actions_done), errors=list(errors))
        # auto: a job that may not patch nodes (or a node we could not taint) pauses instead.
        pause_runner = pause_runner or (plan.pause_if_taint_fails and not tainted)
    report: Any = None
    state.stage = Stage.REPORT
    try:
        report = adapters.report(diagnosis, pause_runner=pause_runner)
    except PreflightError as exc:
        errors.append(f"report: {exc}")
    state.outcome = replace(
        found, report=report, actions_done=list(actions_done), errors=list(errors)
    )
    state.stage = Stage.FINISH
    artifacts = _artifacts(adapters, probe, diagnosis, report, errors)
    state.stage = Stage.DONE
    return RunOutcome(
        exit_code=plan.exit_code,
        probe=probe,
        diagnosis=diagnosis,
        plan=plan,
        report=report,
        actions_done=actions_done,
        errors=errors,
        artifacts=artifacts or found.artifacts,
        elapsed_s=_since(started),
    )


def _pending(plan: ActionPlan, diagnosis: Diagnosis) -> tuple[str, ...]:
    steps = []
    if plan.taint_node:
        steps.append(f"taint node {diagnosis.node}")
    if plan.pause_runner:
        steps.append("pause the runner")
    return tuple(steps)


def _artifacts(
    adapters: Adapters,
    probe: ProbeResult,
    diagnosis: Diagnosis | None,
    report: Any,
    errors: list[str],
) -> list[str]:
    from preflight.errors import PreflightError

    try:
        return adapters.write_artifacts(probe, diagnosis, report)
    except (PreflightError, OSError) as exc:
        errors.append(f"artifacts: {exc}")
        return []


def _since(started: float) -> float:
    return round(time.monotonic() - started, 3)
