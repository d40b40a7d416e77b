"""The dind service's state and log, read from the API; and a cheap check the probe can poll.

How ``run`` uses :class:`ServiceDeathWatch` (the probe waits up to its timeout for dind to come
up, but a dead service container is a verdict at once)::

    watch = ServiceDeathWatch(settings)          # connects and finds the service once
    while probe not ready and time left:
        ... one probe attempt ...
        dead = watch.poll()                      # at most one GET pod per `min_interval`
        if dead is not None:
            break                                # stop waiting: Kubernetes says it died
    diagnosis = diagnose_in_cluster(probe_result, settings, service_hint=dead)

``poll`` never raises: without API access it disables itself (``watch.limitation`` says why)
and returns ``None`` from then on, so the probe simply waits out its timeout as before.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from preflight.diagnosis.model import ServiceEvidence
from preflight.kube import permissions
from preflight.kube.client import KubeContext, KubeError, connect
from preflight.kube.discovery import JobPod, container_status, job_pod_from
from preflight.kube.service_evidence import (
    absent_service,
    is_stuck,
    service_evidence,
    wants_previous_log,
)
from preflight.kube.settings import KubeSettings

LOG_LIMIT_BYTES = 512 * 1024


def read_own_pod(ctx: KubeContext, settings: KubeSettings, timeout: float = 5.0) -> dict[str, Any]:
    """The job's own pod object, as API JSON: the pod its token is bound to (SelfSubjectReview)
    in job mode, else ``$HOSTNAME`` in the job's namespace."""
    # Without an identity (HOSTNAME) the diagnosis still runs, but cannot quarantine
    # (preflight.kube.diagnose applies the anchors).
    name = ctx.identity.pod if ctx.identity is not None and ctx.identity.pod else settings.pod_name
    if not name:
        raise KubeError("the job's pod name is unknown (HOSTNAME is unset)")
    pod = ctx.get_json(
        permissions.GET_POD,
        ctx.api.read_namespaced_pod,
        name,
        ctx.namespace,
        timeout=timeout,
    )
    if not isinstance(pod, dict):
        raise KubeError("get pods: the API answered something that is not a pod")
    return pod


def read_service_log(
    ctx: KubeContext, job: JobPod, previous: bool, tail_lines: int, timeout: float = 5.0
) -> str:
    """The last ``tail_lines`` of the service container's log (``previous``: the crashed one)."""
    assert job.service is not None
    kwargs: dict[str, Any] = {
        "container": job.service.name,
        "tail_lines": tail_lines,
        "limit_bytes": LOG_LIMIT_BYTES,
        "timeout": timeout,
    }
    if previous:
        kwargs["previous"] = True
    return ctx.get_text(
        permissions.GET_POD_LOG, ctx.api.read_namespaced_pod_log, job.name, ctx.namespace, **kwargs
    )


def gather_service_evidence(
    ctx: KubeContext,
    job: JobPod,
    pod: dict[str, Any],
    settings: KubeSettings,
    limitations: list[str],
    timeout: float = 5.0,
) -> ServiceEvidence:
    """State from the pod object already read, plus the log tail (its absence is a limitation)."""
    if job.service is None:
        return absent_service()
    status = container_status(pod, job.service.name)
    text = ""
    try:
        text = read_service_log(
            ctx, job, wants_previous_log(status), settings.log_tail_lines, timeout
        )
    except KubeError as exc:
        limitations.append(f"dind service log: {exc.limitation}")
    return service_evidence(job.service, status, text, settings.log_tail_lines)


class ServiceDeathWatch:
    """A cheap, rate-limited "has the dind service died?" for the probe's wait loop."""

    def __init__(
        self,
        settings: KubeSettings,
        min_interval: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
        context: KubeContext | None = None,
    ) -> None:
        self.settings = settings
        self.min_interval = min_interval
        self.clock = clock
        self.limitation: str | None = None
        self.job: JobPod | None = None
        self._ctx = context
        self._last_pod: dict[str, Any] = {}
        self._next = float("-inf")
        self._disabled = False

    def _ensure(self) -> tuple[KubeContext, JobPod] | None:
        if self._disabled:
            return None
        try:
            if self._ctx is None:
                self._ctx = connect(self.settings)
            if self.job is None:
                pod = read_own_pod(self._ctx, self.settings)
                self.job = job_pod_from(pod, self.settings.service_container)
                self._last_pod = pod
        except KubeError as exc:
            self.limitation = exc.limitation
            self._disabled = True
            return None
        if self.job.service is None:
            self.limitation = self.job.service_choice
            self._disabled = True
            return None
        return self._ctx, self.job

    def poll(self) -> ServiceEvidence | None:
        """The service's evidence if Kubernetes says it is dead or stuck, else ``None``."""
        now = self.clock()
        if now < self._next:
            return None
        self._next = now + self.min_interval
        fresh = self.job is None
        found = self._ensure()
        if found is None:
            return None
        ctx, job = found
        try:
            pod = self._last_pod if fresh else read_own_pod(ctx, self.settings, timeout=2.0)
        except KubeError as exc:
            self.limitation = exc.limitation
            self._disabled = True
            return None
        assert job.service is not None
        status = container_status(pod, job.service.name)
        quick = service_evidence(job.service, status, "", 0)
        if not is_stuck(quick):
            return None
        limitations: list[str] = []
        evidence = gather_service_evidence(ctx, job, pod, self.settings, limitations, timeout=2.0)
        if limitations:
            self.limitation = limitations[0]
        return evidence

    @property
    def context(self) -> KubeContext | None:
        """The API connection made by the watch, for reuse by the diagnosis."""
        return self._ctx
