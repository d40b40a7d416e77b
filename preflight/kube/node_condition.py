"""Read the job's node's DindReady condition (``nodes get``, the read-only ClusterRole in
``deploy/rbac/fleet-mode/job-readonly.yaml``) and turn it into node evidence when it is fresh."""

from __future__ import annotations

import datetime

from preflight.diagnosis.local import NodeEvidence
from preflight.kube.client import KubeContext, KubeError
from preflight.kube.node_status import read_node
from preflight.readiness.conditions import observe
from preflight.readiness.evidence import SOURCE, report_from


def agent_evidence(
    ctx: KubeContext, node: str, interval_s: float, timeout: float = 5.0
) -> NodeEvidence | None:
    """The agent's fresh verdict for ``node``, or ``None`` (no agent, stale, not allowed to read
    nodes: the caller falls back to the helper pod)."""
    try:
        obj = read_node(ctx, node, timeout=timeout)
    except KubeError:
        return None
    observed = observe(obj, datetime.datetime.now(tz=datetime.UTC), interval_s)
    report = report_from(observed, node)
    if report is None:
        return None
    return NodeEvidence(report, SOURCE)
