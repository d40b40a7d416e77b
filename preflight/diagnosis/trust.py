"""Which evidence the job cannot forge, and whether a cause may quarantine. Pure.

A job chooses its own image, variables and dind service image, so it can print any log line and
fill its own container with any file. What it cannot forge: Kubernetes' record of the service
(its state, reason and spec, read from the API server) and the node's own report, when that
report comes from a program the admin chose (a helper pod whose image is pinned by digest and is
not the job's build image, or the node's root mounted by the runner's configuration).
"""

from __future__ import annotations

from dataclasses import dataclass

from preflight.diagnosis.model import FaultClass, QuarantineDecision
from preflight.node.model import NodeReport

HELPER_POD = "helper-pod"
HOST_ROOT = "host-root"
JOB_PROC = "job-proc"
NODE_CONDITION = "node-condition"  # the node agent's conditions (preflight/readiness/evidence.py)


@dataclass(frozen=True)
class NodeTrust:
    """Whether a node report counts as node-side evidence, and why (one sentence)."""

    node_side: bool
    why: str


def helper_image_trust(image: str | None, build_image: str | None) -> NodeTrust:
    """A helper pod's report is node-side only when the admin chose its image.

    The admin's choice shows as a digest pin (``name@sha256:...``) set in the runner's
    configuration (``DIND_PREFLIGHT_HELPER_IMAGE`` in ``[runners] environment``) and enforced by
    the admission policy in ``deploy/``; the job's own build image never counts.
    """
    if not image:
        return NodeTrust(False, "the helper pod's image is unknown")
    if build_image and image == build_image:
        return NodeTrust(
            False,
            f"the helper pod ran the job's own build image ({image}): the job chose it",
        )
    if "@sha256:" not in image:
        return NodeTrust(
            False,
            f"the helper image {image} is not pinned by digest: set DIND_PREFLIGHT_HELPER_IMAGE "
            "to name@sha256:... in the runner's configuration",
        )
    return NodeTrust(
        True,
        f"the helper pod ran {image}, pinned by digest and not the job's image",
    )


def node_trust(report: NodeReport | None, helper: NodeTrust | None = None) -> NodeTrust | None:
    """How far ``report`` is trusted (None without a report)."""
    if report is None:
        return None
    source = report.evidence_source
    if source == HELPER_POD or helper is not None:
        return helper or NodeTrust(False, "the helper pod's image is not known to be admin-chosen")
    if source == HOST_ROOT:
        return NodeTrust(True, "the node's own root, mounted by the runner's configuration")
    if source == NODE_CONDITION:
        return NodeTrust(True, "the node agent's own DindReady condition (jobs cannot write it)")
    return NodeTrust(
        False,
        "only the job's own /proc was visible (the job's view, and nothing about boot)",
    )


def quarantine_decision(
    fault: FaultClass,
    *,
    kubernetes: str = "",
    node_agrees: str = "",
    node_contradicts: str = "",
    trust: NodeTrust | None = None,
    job_evidence: tuple[str, ...] = (),
) -> QuarantineDecision:
    """May this cause pause the runner or taint the node?

    ``kubernetes`` names Kubernetes' own record that backs the cause, ``node_agrees`` /
    ``node_contradicts`` what the node report says about it, ``job_evidence`` what the job
    supplied (log lines, its /proc). Only node or runner faults ever quarantine.
    """
    untrusted = list(job_evidence)
    if fault not in (FaultClass.NODE, FaultClass.RUNNER):
        return QuarantineDecision(
            False, "not a node or runner fault: nothing to take out of rotation", [], untrusted
        )
    trusted: list[str] = []
    if kubernetes:
        trusted.append(f"kubernetes: {kubernetes}")
    node_side = trust is not None and trust.node_side
    if node_contradicts:
        label = "node report" if node_side else "node report (job-side)"
        untrusted.append(f"{label} contradicts the cause: {node_contradicts}")
    if node_agrees:
        if node_side and trust is not None:
            trusted.append(f"node report: {node_agrees} ({trust.why})")
        elif trust is not None:
            untrusted.append(f"node report: {node_agrees}; not counted: {trust.why}")
    if node_contradicts and node_side and not kubernetes:
        return QuarantineDecision(
            False,
            "the node's own report contradicts the cause: issue and retry, no quarantine",
            trusted,
            untrusted,
        )
    if trusted:
        return QuarantineDecision(
            True,
            "backed by evidence the job cannot forge: " + "; ".join(trusted),
            trusted,
            untrusted,
        )
    return QuarantineDecision(
        False,
        "only evidence the job can forge supports the cause: issue and retry, no quarantine",
        trusted,
        untrusted,
    )
