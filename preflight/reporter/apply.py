"""Carry out a plan (adapter): issues and runners through :mod:`preflight.gitlab`, taints through
:mod:`preflight.kube.taint_node`. Every action is tried; a failure is counted and retried on the
next cycle (every action is idempotent against the state it finds)."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from preflight.actions.taint import TAINT_KEY, Taint
from preflight.diagnosis.causes import CAUSES, cause
from preflight.diagnosis.model import Cause, Confidence, Diagnosis, FaultClass
from preflight.diagnosis.remedies import remedy
from preflight.gitlab.client import GitLabActionError, GitLabClient
from preflight.gitlab.issue_text import (
    Incident,
    ReportContext,
    code_span,
    draft_issue,
    incident_key,
    safe_token,
    stamp,
)
from preflight.gitlab.runner_pause import PauseAction, PauseNote, decide_pause
from preflight.kube.client import KubeContext
from preflight.kube.labels import label_value
from preflight.reporter.gitlab_view import FLEET_KEY
from preflight.reporter.model import (
    CloseIssue,
    NoteRecurrence,
    OpenIssue,
    PauseRunner,
    PlannedAction,
    ResumeRunner,
    TaintNode,
    UntaintNode,
)

log = logging.getLogger("dind-preflight.reporter")
FLEET_CAUSE = "too-few-dind-ready-nodes"
FLEET_ACTOR = "the dind-preflight fleet reporter"
RUNNER_TEXT = (
    "Fleet mode: the node's taint dind-preflight.io/broken keeps new job pods away from it. "
    "The reporter pauses a runner only when its jobs can no longer route around broken nodes, "
    "and resumes it when enough nodes are ready again."
)


class ActionFailed(Exception):
    """A cluster action that did not happen (one line)."""


@dataclass
class Applied:
    """What a cycle did: counts by action kind, and the failures (one line each)."""

    done: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)


def diagnosis_of(action: OpenIssue) -> Diagnosis:
    """The node's own report as a diagnosis: the issue text is rendered by the job mode's code."""
    if action.cause in CAUSES:
        found = cause(action.cause)
    else:
        found = Cause(action.cause, action.message or "reported by the node agent")
    if not action.now:
        found = Cause(
            found.code,
            f"dind will fail here after the next reboot: {found.summary}",
            found.module,
        )
    return Diagnosis(
        cause=found,
        fault=FaultClass.NODE,
        confidence=Confidence.HIGH,
        node=action.node,
        remedy=remedy(action.cause, found.module),
        evidence_source="node-agent",
    )


def condition_lines(action: OpenIssue) -> tuple[str, ...]:
    since = stamp(action.since) if action.since else "?"
    lines = []
    if action.now:
        lines.append(f"DindReady=False reason={action.cause} since {since}: {action.message}")
    if action.after_reboot_message or not action.now:
        lines.append(
            f"DindReadyAfterReboot=False reason={action.cause}: {action.after_reboot_message}"
        )
    return tuple(line.rstrip(": ") for line in lines)


def incident_for(node: str, cause_code: str, module: str | None) -> Incident:
    return Incident(
        node=node,
        cause=cause_code,
        key=incident_key(node, cause_code),
        module=module,
        fault=FaultClass.NODE.value,
    )


class Applier:
    """Applies actions with one GitLab client (one cycle's time budget) and the cluster."""

    def __init__(
        self, client: GitLabClient | None, kube: KubeContext | None, reporter_id: str, now: datetime
    ) -> None:
        self.client = client
        self.kube = kube
        self.reporter_id = reporter_id
        self.now = now
        self.result = Applied()

    def apply(self, actions: tuple[PlannedAction, ...]) -> Applied:
        for action in actions:
            kind = type(action).__name__
            try:
                line = self._one(action)
            except (GitLabActionError, ActionFailed) as exc:
                self.result.failed[kind] += 1
                self.result.errors.append(f"{kind}: {exc}")
                log.warning("%s failed: %s", kind, exc)
                continue
            self.result.done[kind] += 1
            log.info("%s", line)
        return self.result

    def _gitlab(self) -> GitLabClient:
        if self.client is None:
            from preflight.gitlab.client import FailureKind

            raise GitLabActionError("no GitLab client (dry run)", FailureKind.CONFIG)
        return self.client

    def _one(self, action: PlannedAction) -> str:
        if isinstance(action, OpenIssue):
            return self._open(action)
        if isinstance(action, NoteRecurrence):
            return self._note(action)
        if isinstance(action, CloseIssue):
            return self._close(action)
        if isinstance(action, PauseRunner):
            return self._pause(action)
        if isinstance(action, ResumeRunner):
            return self._resume(action)
        if isinstance(action, TaintNode):
            return self._taint(action)
        return self._untaint(action)

    def _open(self, action: OpenIssue) -> str:
        from preflight.gitlab.incident_issue import converge_issue

        client = self._gitlab()
        diagnosis = diagnosis_of(action)
        incident = incident_for(action.node, action.cause, diagnosis.cause.module)
        ctx = ReportContext(
            when=self.now,
            reporter=self.reporter_id,
            api_url=client.settings.api_url,
            pause_runner=False,
            note_interval_s=client.settings.note_interval_s,
            max_notes=client.settings.max_notes,
            node_conditions=condition_lines(action),
            runner_text=RUNNER_TEXT,
            source=f"(the fleet reporter, from node {action.node}'s own conditions)",
        )
        result = converge_issue(
            client,
            incident,
            draft_issue(diagnosis, incident, ctx),
            reporter=self.reporter_id,
            recurrence_note=self._recurrence_text(
                action.node, action.cause, action.message, action.since
            ),
        )
        return f"issue #{result.issue.iid} for {action.cause} on {action.node}: {result.role.value}"

    def _recurrence_text(
        self, node: str, cause_code: str, message: str, since: datetime | None
    ) -> str:
        when = stamp(since) if since else stamp(self.now)
        text = (
            f"Broke again at {when}: the node agent reports {code_span(cause_code)} on node "
            f"{code_span(node)}."
        )
        return f"{text}\n\n{code_span(message, 300)}" if message else text

    def _note(self, action: NoteRecurrence) -> str:
        from preflight.gitlab.incident_issue import add_note

        client = self._gitlab()
        add_note(
            client,
            client.report_project(),
            action.iid,
            self._recurrence_text(action.node, action.cause, action.message, action.since),
        )
        return f"issue #{action.iid}: recurrence noted"

    def _close(self, action: CloseIssue) -> str:
        from preflight.gitlab.incident_issue import close_issue

        client = self._gitlab()
        body = (
            f"Node {code_span(action.node)} is ready again: its node agent reports "
            f"{code_span(action.evidence, 400)}. The cause {code_span(action.cause)} is gone; "
            f"closed by {FLEET_ACTOR}. A new failure opens a new issue."
        )
        close_issue(client, client.report_project(), action.iid, body)
        return f"issue #{action.iid} closed: {action.node} is ready"

    def _pause(self, action: PauseRunner) -> str:
        from preflight.gitlab.runner_pause import read_runner, write_runner

        client = self._gitlab()
        state = read_runner(client, action.runner_id)
        note = PauseNote(
            key=FLEET_KEY,
            cause=FLEET_CAUSE,
            node="fleet",
            runner_id=action.runner_id,
            when=self.now,
            actor=FLEET_ACTOR,
            issues=_issues_text(action.broken_nodes, str(client.settings.report_project or "")),
        )
        decision = decide_pause(state, note, can_keep_elsewhere=False)
        if decision.action is not PauseAction.PAUSE:
            return f"runner {action.runner_id}: not paused: {decision.reason}"
        payload = decision.payload or {}
        if "maintenance_note" not in payload:
            # Without our block a later cycle could not tell our pause from a human's, and would
            # never resume it: do not pause at all.
            from preflight.gitlab.client import FailureKind

            raise GitLabActionError(
                f"runner {action.runner_id}: its maintenance note leaves no room for ours; not "
                "paused (shorten the note)",
                FailureKind.REJECTED,
            )
        write_runner(client, action.runner_id, payload)
        return f"runner {action.runner_id} paused: {action.reason}"

    def _resume(self, action: ResumeRunner) -> str:
        from preflight.gitlab.runner_pause import resume_runner

        result = resume_runner(self._gitlab(), action.runner_id, key=FLEET_KEY)
        return (
            f"runner {action.runner_id}: {result.action.value}: {result.detail} ({action.reason})"
        )

    def _taint(self, action: TaintNode) -> str:
        from preflight.kube.taint_node import taint_node

        if self.kube is None:
            return f"taint {action.node}: no cluster connection"
        outcome = taint_node(self.kube, action.node, Taint(TAINT_KEY, label_value(action.cause)))
        if outcome.problem:
            raise ActionFailed(outcome.problem)
        return f"node {safe_token(action.node)} tainted ({action.cause})"

    def _untaint(self, action: UntaintNode) -> str:
        from preflight.kube.taint_node import untaint_node

        if self.kube is None:
            return f"untaint {action.node}: no cluster connection"
        problem = untaint_node(self.kube, action.node)
        if problem:
            raise ActionFailed(problem)
        return f"node {safe_token(action.node)} untainted"


def _issues_text(nodes: tuple[str, ...], project: str) -> str:
    """The pause note's issue line of the fleet reporter: one issue per broken node."""
    where = f" in project {project}" if project else ""
    listed = ", ".join(safe_token(n) for n in nodes[:5]) + (" ..." if len(nodes) > 5 else "")
    count = f"{len(nodes)} broken node(s): {listed}" if nodes else "the broken nodes"
    return f"one per broken node{where} (label dind-preflight; {count})"
