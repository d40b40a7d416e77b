"""The diagnosis end to end, for ``run`` and ``diagnose`` alike: discovery, service evidence,
node evidence, decision.

In a pod (or with ``KUBECONFIG``) the service's state and log come from the API and the node's
evidence from a helper pod. A host root the user gives (``diagnose --host-root``, ``run``'s
``DIND_PREFLIGHT_NODE_ROOT``) replaces the helper pod; without any Kubernetes configured it is the
local mode, which asks no API. Every step degrades instead of failing: no API, a missing
permission, a helper pod that cannot run — each becomes a limitation (what could not be seen and
what to grant), and the diagnosis falls back to what the job itself can see (its own ``/proc``:
the node's loaded modules).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence

from preflight.diagnosis import causes
from preflight.diagnosis.decide import decide
from preflight.diagnosis.local import NodeEvidence, host_name, local_node_evidence
from preflight.diagnosis.model import Diagnosis, FaultClass, ServiceEvidence
from preflight.diagnosis.trust import NodeTrust, helper_image_trust, host_root_trust
from preflight.kube.client import KubeContext, KubeError, connect, remaining
from preflight.kube.discovery import JobPod, job_pod_from
from preflight.kube.helper_pod import run_helper_pod
from preflight.kube.node_condition import agent_evidence
from preflight.kube.service import gather_service_evidence, read_own_pod
from preflight.kube.settings import KubeSettings
from preflight.probe.model import ProbeResult


def needs_node_evidence(probe: ProbeResult | None, service: ServiceEvidence | None) -> bool:
    """False when the evidence without node facts already blames the runner or the job (or the
    daemon is healthy): then the node is not the question and no helper pod is started."""
    without_node = decide(probe, service, None)
    if without_node.cause.code == causes.HEALTHY:
        return False
    return without_node.fault not in (FaultClass.RUNNER, FaultClass.JOB)


def diagnose_in_cluster(
    probe: ProbeResult | None,
    settings: KubeSettings,
    *,
    service_hint: ServiceEvidence | None = None,
    context: KubeContext | None = None,
    limitations: Sequence[str] = (),
) -> Diagnosis:
    """Diagnose the dind service of this job (the one path of ``run`` and ``diagnose``).

    ``service_hint`` is evidence already gathered (by :class:`ServiceDeathWatch`, or from a
    saved log file), ``context`` an API connection to reuse, ``limitations`` what the caller
    could not see; all are optional. The node is named as Kubernetes names it, else by the host
    root's ``etc/hostname``.
    """
    started = time.monotonic()
    deadline = started + settings.timeout
    seen_limits: list[str] = list(limitations)
    job: JobPod | None = None
    service = service_hint
    ctx = context
    local_mode = settings.host_root is not None and not (settings.in_cluster or settings.kubeconfig)
    if ctx is None and not local_mode:
        try:
            ctx = connect(settings)
        except KubeError as exc:
            seen_limits.append(exc.limitation)
    if ctx is not None:
        try:
            pod = read_own_pod(ctx, settings, timeout=min(5.0, max(0.5, remaining(deadline))))
            job = job_pod_from(pod, settings.service_container)
            if job.service is None:
                seen_limits.append(job.service_choice)
            if service is None:
                service = gather_service_evidence(
                    ctx,
                    job,
                    pod,
                    settings,
                    seen_limits,
                    timeout=min(5.0, remaining(deadline) or 0.5),
                )
        except KubeError as exc:
            seen_limits.append(exc.limitation)

    node = NodeEvidence(None, "none")
    helper_name: str | None = None
    helper_trust: NodeTrust | None = None
    if settings.host_root:
        node = local_node_evidence(settings.host_root, settings.proc)
        helper_trust = _host_root_trust(settings)
    elif ctx is not None and job is not None and needs_node_evidence(probe, service):
        if not job.node_name:
            seen_limits.append("the job pod has no node name yet: helper pod not started")
        elif (
            agent := agent_evidence(
                ctx,
                job.node_name,
                settings.agent_interval_s,
                timeout=min(5.0, max(0.5, remaining(deadline))),
            )
        ) is not None:
            node = agent  # fleet mode: the node's own fresh verdict, no helper pod
        elif not settings.use_helper:
            seen_limits.append("helper pod disabled (--no-helper): boot persistence not checked")
        else:
            outcome = run_helper_pod(ctx, job, settings, deadline)
            helper_name = outcome.pod_name
            if outcome.report is not None:
                node = NodeEvidence(outcome.report, "helper-pod")
                admin = settings.anchors.admin if settings.anchors is not None else None
                helper_trust = helper_image_trust(
                    outcome.state.image_id,
                    admin.helper_digests if admin is not None else frozenset(),
                )
            if outcome.problem:
                seen_limits.append(outcome.problem)
    if node.report is None and needs_node_evidence(probe, service):
        fallback = local_node_evidence(None, settings.proc)
        node = NodeEvidence(
            fallback.report, fallback.source, node.limitations + fallback.limitations
        )
    seen_limits.extend(node.limitations)

    diagnosis = decide(probe, service, node.report, seen_limits, helper_trust=helper_trust)
    blockers = quarantine_blockers(settings, ctx, job)
    if blockers and diagnosis.quarantine.allowed:
        diagnosis = dataclasses.replace(
            diagnosis,
            quarantine=dataclasses.replace(
                diagnosis.quarantine,
                allowed=False,
                reason="; ".join(blockers),
            ),
        )
    return dataclasses.replace(
        diagnosis,
        node=_node_name(job, settings.host_root if node.source == "host-root" else None),
        pod=job.name if job else settings.pod_name,
        namespace=ctx.namespace if ctx else None,
        evidence_source=node.source if node.report is not None else "none",
        helper_pod=helper_name if node.source == "helper-pod" else None,
        elapsed_s=round(time.monotonic() - started, 4),
    )


def quarantine_blockers(
    settings: KubeSettings, ctx: KubeContext | None, job: JobPod | None
) -> tuple[str, ...]:
    """Why nothing this diagnosis found may quarantine (empty: the anchors hold).

    The admin's file must exist and no variable may have bent the API server or the
    service-account directory (:mod:`preflight.admin.anchors`); when the API was used, the
    pod and node must come from a SelfSubjectReview and match the pod that was read."""
    from preflight.admin.config import absent_reason

    anchors = settings.anchors
    if anchors is None:
        return (absent_reason(),)
    blockers = list(anchors.late_blockers() if ctx is not None else anchors.blockers)
    if ctx is not None:
        identity = ctx.identity
        if identity is None or identity.missing:
            blockers.append(ctx.identity_problem or "the job pod's identity is not known")
        elif job is not None and (job.name != identity.pod or job.node_name != identity.node):
            blockers.append(
                f"the pod read ({job.name} on {job.node_name}) is not the token's pod "
                f"({identity.pod} on {identity.node})"
            )
    return tuple(blockers)


def _host_root_trust(settings: KubeSettings) -> NodeTrust:
    from preflight.admin.mounts import is_read_only_mount

    assert settings.host_root is not None
    admin = settings.anchors.admin if settings.anchors is not None else None
    admin_root = admin.node_root if admin is not None else None
    return host_root_trust(
        settings.host_root,
        admin_root,
        admin_root is not None and is_read_only_mount(settings.host_root),
    )


def _node_name(job: JobPod | None, host_root: str | None) -> str | None:
    if job is not None and job.node_name:
        return job.node_name
    return host_name(host_root) if host_root else None
