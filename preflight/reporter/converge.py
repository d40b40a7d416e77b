"""The reporter's decision (pure): cluster view + GitLab view + policy + now -> planned actions.

- An issue per node and cause while the node's ``DindReady`` or ``DindReadyAfterReboot`` is
  ``False`` with that cause; a note when the node broke again since the issue last changed (at
  most one per ``note_interval_s``, none past ``max_notes``).
- The issue is closed, with the healthy report as evidence, once the node has been
  ``DindReady=True`` for ``heal_after_s`` and no longer reports the cause after a reboot either.
  A node that is gone, ``Unknown`` or without the condition keeps its issue open: no evidence.
- Runners: :func:`preflight.reporter.quarantine.judge`; we pause a runner that is active and
  resume only a runner whose maintenance note says that this reporter paused it.
- Nothing that needs the whole picture (closing, resuming, pausing) is decided from a partial
  view: when the nodes or the issues could not be read in full, only new issues are opened.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from preflight.gitlab.incident_issue import IssueSnapshot, decide_recurrence_note
from preflight.gitlab.issue_text import incident_key
from preflight.reporter.model import (
    CloseIssue,
    ClusterView,
    GitLabView,
    NodeState,
    NoteRecurrence,
    OpenIncident,
    OpenIssue,
    PauseRunner,
    Plan,
    PlannedAction,
    Readiness,
    ReporterPolicy,
    ResumeRunner,
    RunnerPauseState,
    TaintNode,
    UntaintNode,
)
from preflight.reporter.quarantine import judge


def wanted_incidents(node: NodeState) -> dict[str, OpenIssue]:
    """The causes a node reports now or after its next reboot, each as the issue to open."""
    wanted: dict[str, OpenIssue] = {}
    if node.ready.status is Readiness.FALSE:
        wanted[node.ready.cause] = OpenIssue(
            node.name, node.ready.cause, True, node.ready.message, node.ready.since
        )
    reboot = node.after_reboot
    if reboot.status is Readiness.FALSE:
        if reboot.cause in wanted:
            wanted[reboot.cause] = OpenIssue(
                node.name,
                reboot.cause,
                True,
                node.ready.message,
                node.ready.since,
                reboot.message,
            )
        else:
            wanted[reboot.cause] = OpenIssue(
                node.name, reboot.cause, False, "", reboot.since, reboot.message
            )
    return wanted


def healthy_evidence(node: NodeState) -> str:
    """The healthy report, one line, that closes an issue."""
    since = node.ready.since.strftime("%Y-%m-%dT%H:%M:%SZ") if node.ready.since else "?"
    after = node.after_reboot.status.value
    text = f"DindReady=True since {since}; DindReadyAfterReboot={after}"
    return f"{text}: {node.ready.message}" if node.ready.message else text


def _snapshot(incident: OpenIncident, now: datetime) -> IssueSnapshot:
    return IssueSnapshot(
        iid=incident.iid,
        web_url=incident.web_url,
        state="opened",
        created_at=incident.created_at or now,
        updated_at=incident.updated_at or now,
        user_notes_count=incident.user_notes_count,
    )


def plan(cluster: ClusterView, gitlab: GitLabView, policy: ReporterPolicy, now: datetime) -> Plan:
    """Everything to do, in order: issues first (their links go into notes), then runners."""
    actions: list[PlannedAction] = []
    reasons: list[str] = []
    nodes = {node.name: node for node in cluster.nodes}
    open_by_key: dict[str, list[OpenIncident]] = defaultdict(list)
    for incident in gitlab.incidents:
        open_by_key[incident.key].append(incident)
    wanted_keys: set[str] = set()

    for node in cluster.nodes:
        for cause, issue in sorted(wanted_incidents(node).items()):
            key = incident_key(node.name, cause)
            wanted_keys.add(key)
            existing = sorted(open_by_key.get(key, []), key=lambda i: i.iid)
            if not existing:
                if gitlab.complete:
                    actions.append(issue)
                continue
            first = existing[0]
            broke_again = (
                issue.since is not None
                and first.updated_at is not None
                and (issue.since > first.updated_at)
            )
            if broke_again:
                decision = decide_recurrence_note(
                    _snapshot(first, now), now, policy.note_interval_s, policy.max_notes
                )
                if decision.post:
                    actions.append(
                        NoteRecurrence(
                            first.iid,
                            node.name,
                            cause,
                            issue.message or issue.after_reboot_message,
                            issue.since,
                        )
                    )

    if cluster.complete:
        for key, incidents in sorted(open_by_key.items()):
            if key in wanted_keys:
                continue
            for incident in incidents:
                if incident.fault != "node":
                    continue
                seen = nodes.get(incident.node)
                if seen is None or seen.ready.status is not Readiness.TRUE:
                    continue
                ready_for = (now - seen.ready.since).total_seconds() if seen.ready.since else 0.0
                if ready_for < policy.heal_after_s:
                    continue
                actions.append(
                    CloseIssue(
                        incident.iid,
                        seen.name,
                        incident.cause,
                        healthy_evidence(seen),
                        seen.ready.since,
                    )
                )

    if policy.taint_nodes:
        for node in cluster.nodes:
            if node.broken and node.our_taint != node.ready.cause:
                actions.append(TaintNode(node.name, node.ready.cause))
            elif node.ready.status is Readiness.TRUE and node.our_taint is not None:
                ready_for = (now - node.ready.since).total_seconds() if node.ready.since else 0.0
                if ready_for >= policy.heal_after_s:
                    actions.append(UntaintNode(node.name))

    if cluster.complete:
        runners = {runner.runner_id: runner for runner in gitlab.runners}
        for target in policy.runners:
            verdict = judge(target, cluster.nodes, policy)
            runner = runners.get(target.runner_id)
            if runner is None or not runner.readable:
                reasons.append(f"runner {target.runner_id}: could not be read; nothing decided")
                continue
            state = runner.pause
            if verdict.pause and state is RunnerPauseState.ACTIVE:
                actions.append(PauseRunner(target.runner_id, verdict.reason, verdict.broken))
                reasons.append(f"runner {target.runner_id}: pause: {verdict.reason}")
            elif verdict.pause:
                who = "us" if state is RunnerPauseState.PAUSED_BY_US else "someone else"
                reasons.append(
                    f"runner {target.runner_id}: already paused by {who}: {verdict.reason}"
                )
            elif state is RunnerPauseState.PAUSED_BY_US:
                actions.append(ResumeRunner(target.runner_id, verdict.reason))
                reasons.append(f"runner {target.runner_id}: resume: {verdict.reason}")
            else:
                reasons.append(f"runner {target.runner_id}: {state.value}: {verdict.reason}")
    return Plan(tuple(actions), tuple(reasons))
