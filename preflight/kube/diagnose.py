"""The in-cluster diagnosis end to end: discovery, service evidence, helper pod, decision.

Every step degrades instead of failing: no API, a missing permission, a helper pod that cannot
run — each becomes a limitation (what could not be seen and what to grant), and the diagnosis
falls back to what the job itself can see (its own ``/proc``: the node's loaded modules).
"""

from __future__ import annotations

import dataclasses
import time

from preflight.diagnosis import causes
from preflight.diagnosis.decide import decide
from preflight.diagnosis.local import NodeEvidence, local_node_evidence
from preflight.diagnosis.model import Diagnosis, FaultClass, ServiceEvidence
from preflight.diagnosis.trust import NodeTrust, helper_image_trust
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
) -> Diagnosis:
    """Diagnose the dind service of the job pod this process runs in.

    ``service_hint`` is evidence already gathered (e.g. by :class:`ServiceDeathWatch`), and
    ``context`` an API connection to reuse; both are optional.
    """
    started = time.monotonic()
    deadline = started + settings.timeout
    limitations: list[str] = []
    job: JobPod | None = None
    service = service_hint
    ctx = context
    if ctx is None:
        try:
            ctx = connect(settings)
        except KubeError as exc:
            limitations.append(exc.limitation)
    if ctx is not None:
        try:
            pod = read_own_pod(ctx, settings, timeout=min(5.0, max(0.5, remaining(deadline))))
            job = job_pod_from(pod, settings.service_container)
            if job.service is None:
                limitations.append(job.service_choice)
            if service is None:
                service = gather_service_evidence(
                    ctx,
                    job,
                    pod,
                    settings,
                    limitations,
                    timeout=min(5.0, remaining(deadline) or 0.5),
                )
        except KubeError as exc:
            limitations.append(exc.limitation)

    node = NodeEvidence(None, "none")
    helper_name: str | None = None
    helper_trust: NodeTrust | None = None
    if settings.host_root:
        node = local_node_evidence(settings.host_root, settings.proc)
    elif ctx is not None and job is not None and needs_node_evidence(probe, service):
        if not job.node_name:
            limitations.append("the job pod has no node name yet: helper pod not started")
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
            limitations.append("helper pod disabled (--no-helper): boot persistence not checked")
        else:
            outcome = run_helper_pod(ctx, job, settings, deadline)
            helper_name = outcome.pod_name
            if outcome.report is not None:
                node = NodeEvidence(outcome.report, "helper-pod")
                helper_trust = helper_image_trust(
                    settings.helper_image or job.build_image, job.build_image
                )
            if outcome.problem:
                limitations.append(outcome.problem)
    if node.report is None and needs_node_evidence(probe, service):
        fallback = local_node_evidence(None, settings.proc)
        node = NodeEvidence(
            fallback.report, fallback.source, node.limitations + fallback.limitations
        )
    limitations.extend(node.limitations)

    diagnosis = decide(probe, service, node.report, limitations, helper_trust=helper_trust)
    return dataclasses.replace(
        diagnosis,
        node=job.node_name if job else None,
        pod=job.name if job else settings.pod_name,
        namespace=ctx.namespace if ctx else None,
        evidence_source=node.source if node.report is not None else "none",
        helper_pod=helper_name if node.source == "helper-pod" else None,
        elapsed_s=round(time.monotonic() - started, 4),
    )
