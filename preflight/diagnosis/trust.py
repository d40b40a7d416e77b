"""Which evidence the job cannot forge, and whether a cause may quarantine. Pure.

A job chooses its own image, variables and dind service image, so it can print any log line and
fill its own container with any file. What it cannot forge: Kubernetes' record of the service
(its state, reason and spec, read from the API server) and the node's own report, when that
report comes from a program the admin chose (a helper pod whose image is pinned by digest and is
not the job's build image, or the node's root mounted by the runner's configuration).
"""

from __future__ import annotations

import os
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


def helper_image_trust(image_id: str | None, digests: frozenset[str]) -> NodeTrust:
    """A helper pod's report is node-side only when the node ran one of the admin's images.

    ``image_id`` is the helper container's ``status.containerStatuses[].imageID``, which the
    kubelet fills in from what the runtime really started (``name@sha256:...`` or
    ``sha256:...``); ``digests`` are the ``sha256:...`` digests of ``helper_images`` in the
    admin's file (:mod:`preflight.admin.config`). No variable names an image that counts.
    """
    if not digests:
        return NodeTrust(False, "the admin's configuration names no helper image digest")
    if not image_id:
        return NodeTrust(False, "the helper pod's status does not say which image it ran")
    digest = image_id.rsplit("@", 1)[-1].removeprefix("docker-pullable://")
    if digest not in digests:
        return NodeTrust(
            False,
            f"the helper pod ran {image_id}, not one of the admin's helper image digests",
        )
    return NodeTrust(True, f"the helper pod ran {digest}, one of the admin's helper images")


def host_root_trust(root: str, admin_root: str | None, read_only_mount: bool) -> NodeTrust:
    """A node root is node-side only when it is the admin's mount: the ``node_root`` of the
    admin's file, and a read-only mount point there (not a directory the job filled)."""
    if admin_root is None:
        return NodeTrust(False, f"{root} is not the node root of the admin's configuration")
    if os.path.normpath(root) != os.path.normpath(admin_root):
        return NodeTrust(False, f"{root} is not the admin's node root {admin_root}")
    if not read_only_mount:
        return NodeTrust(False, f"{root} is not a read-only mount point: the job could fill it")
    return NodeTrust(True, "the node's own root, mounted read-only by the runner's configuration")


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
