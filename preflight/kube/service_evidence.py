"""The dind service's evidence from its Kubernetes container status and log tail. Pure."""

from __future__ import annotations

from typing import Any

from preflight.diagnosis.model import ServiceEvidence
from preflight.diagnosis.signatures import match_lines
from preflight.kube.api_json import as_int
from preflight.kube.discovery import ServiceContainer

# Waiting reasons after which the container will not start by itself soon.
_STUCK_WAITING = frozenset(
    {
        "CrashLoopBackOff",
        "ErrImagePull",
        "ImagePullBackOff",
        "InvalidImageName",
        "ErrImageNeverPull",
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
    }
)


def log_lines(text: str, limit: int) -> list[str]:
    """The last ``limit`` lines of a log text, without line ends."""
    lines = text.splitlines()
    return lines[-limit:] if limit > 0 else []


def service_evidence(
    container: ServiceContainer,
    status: dict[str, Any] | None,
    log_text: str = "",
    tail: int = 200,
) -> ServiceEvidence:
    """What Kubernetes says about the service container, plus its log tail and signatures."""
    lines = log_lines(log_text, tail)
    matches = match_lines(lines)
    spec_facts: dict[str, Any] = {
        "privileged": container.privileged,
        "iptables_legacy_env": container.iptables_legacy_env,
    }
    if status is None:
        return ServiceEvidence(
            container=container.name,
            image=container.image,
            log_tail=lines,
            matches=matches,
            **spec_facts,
        )
    state = status.get("state") or {}
    last = (status.get("lastState") or {}).get("terminated") or {}
    restarts = int(status.get("restartCount") or 0)
    common: dict[str, Any] = {
        "container": container.name,
        "image": status.get("image") or container.image,
        "restart_count": restarts,
        "log_tail": lines,
        "matches": matches,
        **spec_facts,
    }
    if "terminated" in state and state["terminated"] is not None:
        term = state["terminated"]
        return ServiceEvidence(
            state="terminated",
            exit_code=as_int(term.get("exitCode")),
            reason=term.get("reason"),
            message=term.get("message"),
            finished_at=term.get("finishedAt"),
            **common,
        )
    if "waiting" in state and state["waiting"] is not None:
        wait = state["waiting"]
        return ServiceEvidence(
            state="waiting",
            exit_code=as_int(last.get("exitCode")) if last else None,
            reason=wait.get("reason"),
            last_reason=last.get("reason") if last else None,
            message=wait.get("message"),
            finished_at=last.get("finishedAt") if last else None,
            **common,
        )
    if "running" in state and state["running"] is not None:
        return ServiceEvidence(state="running", **common)
    return ServiceEvidence(**common)


def absent_service() -> ServiceEvidence:
    """Evidence that the job pod has no dind service container at all."""
    return ServiceEvidence(container="", state="absent")


def is_stuck(evidence: ServiceEvidence) -> bool:
    """Dead, or waiting for a reason that will not clear by itself (image pull, crash loop)."""
    return evidence.dead or (evidence.state == "waiting" and evidence.reason in _STUCK_WAITING)


def wants_previous_log(status: dict[str, Any] | None) -> bool:
    """Read the previous instance's log: it crashed and the container now waits to restart."""
    if not status:
        return False
    state = status.get("state") or {}
    return int(status.get("restartCount") or 0) > 0 and bool(state.get("waiting"))
