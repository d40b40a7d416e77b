"""Undo job mode's quarantine for fixed nodes (adapter): helper pod, taint, runner, issue.

For every open issue with the project's marker: take a fresh node report with a helper pod on the
issue's node, and when the cause is gone remove our taint, resume every runner our block paused
for this incident (each paused runner whose maintenance note carries the incident's key, and the
one the issue's marker names; restoring the human's note; never a runner someone else paused),
comment with the evidence and close the issue. ``dry_run`` reads everything and writes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from preflight.gitlab.client import GitLabActionError, GitLabClient
from preflight.gitlab.issue_text import code_span, parse_marker
from preflight.kube.client import KubeContext
from preflight.kube.settings import KubeSettings
from preflight.node.model import NodeReport
from preflight.reporter.gitlab_view import incident_of_issue
from preflight.resolve.decide import Judgement, ResolveIncident, Verdict, judge

NodeReader = Callable[[str], tuple[NodeReport | None, str | None]]


@dataclass
class ResolveResult:
    lines: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    fixed: int = 0
    still_broken: int = 0


def open_incidents(client: GitLabClient) -> list[ResolveIncident]:
    """Open node-fault issues that carry our marker."""
    from preflight.gitlab.incident_issue import list_all_open

    found = []
    for data in list_all_open(client, client.report_project()):
        incident = incident_of_issue(data)
        marker = parse_marker(data.get("description"))
        if incident is None or marker is None or marker.key != incident.key:
            continue
        if incident.fault != "node":
            continue
        found.append(
            ResolveIncident(
                incident.iid, incident.key, incident.node, incident.cause, marker.runner_id
            )
        )
    return found


def helper_pod_reader(
    ctx: KubeContext, settings: KubeSettings, backends: tuple[str, ...] = ("legacy", "nf_tables")
) -> NodeReader:
    """A fresh node report from a helper pod pinned to ``node``, judged for ``backends``."""
    from preflight.kube.discovery import JobPod
    from preflight.kube.helper_pod import run_helper_pod
    from preflight.node.analysis import for_backends

    def read(node: str) -> tuple[NodeReport | None, str | None]:
        job = JobPod(
            name=f"resolve-{node}",
            namespace=ctx.namespace,
            uid=None,
            node_name=node,
            build_image=settings.helper_image,
            service=None,
            service_choice="none",
        )
        outcome = run_helper_pod(ctx, job, settings, time.monotonic() + settings.timeout)
        report = for_backends(outcome.report, backends) if outcome.report else None
        return report, outcome.problem

    return read


def paused_runners(client: GitLabClient, result: ResolveResult) -> dict[int, str | None]:
    """Every paused runner the token's user manages, with the key in its maintenance note."""
    from preflight.gitlab.runner_pause import parse_note, paused_runner_ids, read_runner

    found: dict[int, str | None] = {}
    try:
        for runner_id in paused_runner_ids(client):
            found[runner_id] = parse_note(read_runner(client, runner_id).maintenance_note).key
    except GitLabActionError as exc:
        result.errors.append(f"cannot list the paused runners: {exc}")
    return found


def runners_of(incident: ResolveIncident, paused: dict[int, str | None]) -> list[int]:
    """The runners to resume for ``incident``: every paused runner whose note carries its key
    (job mode may have paused several for one incident), and the one its marker names."""
    ids = {runner_id for runner_id, key in paused.items() if key == incident.key}
    if incident.runner_id is not None:
        ids.add(incident.runner_id)
    return sorted(ids)


def resolve(
    client: GitLabClient,
    kube: KubeContext | None,
    read_node: NodeReader,
    *,
    dry_run: bool,
) -> ResolveResult:
    from preflight.gitlab.incident_issue import close_issue
    from preflight.gitlab.runner_pause import decide_resume, read_runner, resume_runner
    from preflight.kube.taint_node import untaint_node

    result = ResolveResult()
    paused: dict[int, str | None] | None = None  # paused runner -> its note's key (read once)
    reports: dict[str, tuple[NodeReport | None, str | None]] = {}
    for incident in open_incidents(client):
        if incident.node not in reports:
            reports[incident.node] = read_node(incident.node)
        judgement: Judgement = judge(incident, *reports[incident.node])
        head = f"#{incident.iid} {incident.cause} on {incident.node}"
        if judgement.verdict is not Verdict.FIXED:
            result.still_broken += judgement.verdict is Verdict.BROKEN
            result.lines.append(
                f"{head}: {judgement.verdict.value}: {judgement.evidence}; left as is"
            )
            continue
        result.fixed += 1
        prefix = "would " if dry_run else ""
        if paused is None:
            paused = paused_runners(client, result)
        try:
            if kube is not None:
                if not dry_run:
                    problem = untaint_node(kube, incident.node)
                    if problem:
                        result.errors.append(problem)
                result.lines.append(f"{head}: {prefix}remove the taint from {incident.node}")
            for runner_id in runners_of(incident, paused):
                if dry_run:
                    state = read_runner(client, runner_id)
                    decision = decide_resume(state, key=incident.key)
                    result.lines.append(
                        f"{head}: runner {runner_id}: would {decision.action.value}: "
                        f"{decision.reason}"
                    )
                else:
                    done = resume_runner(client, runner_id, key=incident.key)
                    result.lines.append(
                        f"{head}: runner {runner_id}: {done.action.value}: {done.detail}"
                    )
            body = (
                f"Resolved by `dind-preflight resolve`: a fresh node report from node "
                f"{code_span(incident.node)} shows {code_span(judgement.evidence, 300)}. The taint "
                "was removed and the runner resumed where dind-preflight had paused it."
            )
            if not dry_run:
                close_issue(client, client.report_project(), incident.iid, body)
            result.lines.append(f"{head}: {prefix}comment and close")
        except GitLabActionError as exc:
            result.errors.append(f"{head}: {exc}")
    return result
