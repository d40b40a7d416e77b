"""One node's readiness from a helper pod (the job mode's hardened helper, pinned to the node).

The helper is owned by nobody (no job pod to own it); it is labelled with the audit run's id so
that an interrupted audit finds and deletes every helper it may have started, and it ends by
itself after ``activeDeadlineSeconds`` should even that fail.
"""

from __future__ import annotations

import time

from preflight.audit.model import HELPER_POD, NONE, NodeAudit
from preflight.kube.client import KubeContext
from preflight.kube.discovery import JobPod
from preflight.kube.helper_pod import run_helper_pod
from preflight.kube.settings import KubeSettings
from preflight.node.analysis import for_backends
from preflight.readiness.model import (
    READY_AFTER_REBOOT,
    READY_NOW,
    NodeReadiness,
    Readiness,
    Status,
)
from preflight.readiness.verdict import readiness_of

UNCHECKED = "not-checked"


def unknown(node: str, problem: str, source: str = NONE) -> NodeAudit:
    message = problem[:1000]
    return NodeAudit(
        node,
        NodeReadiness(
            Readiness(READY_NOW, Status.UNKNOWN, UNCHECKED, message),
            Readiness(READY_AFTER_REBOOT, Status.UNKNOWN, UNCHECKED, message),
        ),
        source,
        problem,
    )


def audit_with_helper(
    ctx: KubeContext,
    node: str,
    settings: KubeSettings,
    timeout_s: float,
    backends: tuple[str, ...] = ("legacy", "nf_tables"),
) -> NodeAudit:
    """Run ``node-report`` on ``node`` in a helper pod and judge it for ``backends``; never
    raises for API problems."""
    target = JobPod(
        name=node,
        namespace=ctx.namespace,
        uid=None,
        node_name=node,
        build_image=settings.helper_image,
        service=None,
        service_choice="",
    )
    outcome = run_helper_pod(ctx, target, settings, time.monotonic() + timeout_s)
    if outcome.report is None:
        return unknown(node, outcome.problem or "the helper pod gave no node report", HELPER_POD)
    report = for_backends(outcome.report, backends)
    return NodeAudit(node, readiness_of(report), HELPER_POD, outcome.problem)
