"""Self-discovery over the job's own pod object (API JSON): node, build image, dind service. Pure.

GitLab's Kubernetes executor names the containers of a job pod ``build``, ``helper`` and one per
service: the service alias when it is a valid DNS label (Runner 17.9+), else ``svc-0``,
``svc-1``, ... The dind service is found, in this order: the configured name; a container whose
image matches ``*dind*``; a container named ``docker``; the only ``svc-N`` container running a
``docker`` image.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from typing import Any

RUNNER_CONTAINERS = frozenset({"build", "helper", "init-permissions"})
BUILD_CONTAINER = "build"
_SVC_N = re.compile(r"^svc-\d+$")


@dataclass(frozen=True)
class ServiceContainer:
    """The dind service container of the job pod."""

    name: str
    image: str | None
    privileged: bool | None = None  # securityContext.privileged in the pod spec (None: unset)
    iptables_legacy_env: str | None = None  # DOCKER_IPTABLES_LEGACY's literal value, if set


@dataclass(frozen=True)
class JobPod:
    """What the diagnosis needs to know about the job's own pod."""

    name: str
    namespace: str
    uid: str | None
    node_name: str | None
    build_image: str | None
    service: ServiceContainer | None
    service_choice: str  # how the service container was chosen, or why none was
    pull_secrets: tuple[str, ...] = ()
    containers: tuple[str, ...] = ()


def _containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Regular containers, then native sidecars (init containers that keep running)."""
    found = [c for c in spec.get("containers") or [] if isinstance(c, dict)]
    found += [
        c
        for c in spec.get("initContainers") or []
        if isinstance(c, dict) and c.get("restartPolicy") == "Always"
    ]
    return found


def find_service_container(
    containers: list[dict[str, Any]], wanted: str | None = None
) -> tuple[ServiceContainer | None, str]:
    """The dind service container and how it was chosen (or ``None`` and why not)."""
    by_name = {str(c.get("name")): c for c in containers if c.get("name")}
    if wanted:
        if wanted in by_name:
            return _service(by_name[wanted]), f"container {wanted!r} (configured)"
        names = ", ".join(sorted(by_name)) or "none"
        return None, f"no container named {wanted!r} in the job pod (containers: {names})"
    candidates = [c for name, c in by_name.items() if name not in RUNNER_CONTAINERS]
    dind = [c for c in candidates if fnmatch.fnmatch(str(c.get("image") or ""), "*dind*")]
    if dind:
        named_docker = [c for c in dind if c.get("name") == "docker"]
        chosen = (named_docker or dind)[0]
        return _service(chosen), f"container {chosen['name']!r} runs a dind image"
    if "docker" in by_name:
        return _service(by_name["docker"]), "container 'docker' (service alias)"
    svc = [c for c in candidates if _SVC_N.match(str(c.get("name")))]
    docker_svc = [c for c in svc if "docker" in str(c.get("image") or "")]
    if len(docker_svc) == 1:
        chosen = docker_svc[0]
        return _service(chosen), f"container {chosen['name']!r} runs a docker image"
    names = ", ".join(sorted(by_name)) or "none"
    return None, (
        f"no dind service container found (containers: {names}); set --service-container "
        "or DIND_PREFLIGHT_SERVICE_CONTAINER"
    )


def _service(container: dict[str, Any]) -> ServiceContainer:
    image = container.get("image")
    security = container.get("securityContext") or {}
    privileged = security.get("privileged") if isinstance(security, dict) else None
    legacy_env: str | None = None
    for entry in container.get("env") or []:
        named = isinstance(entry, dict) and entry.get("name") == "DOCKER_IPTABLES_LEGACY"
        if named and "valueFrom" not in entry:  # a literal value: what the entrypoint sees
            legacy_env = str(entry.get("value") or "")
    return ServiceContainer(
        name=str(container["name"]),
        image=str(image) if image else None,
        privileged=privileged if isinstance(privileged, bool) else None,
        iptables_legacy_env=legacy_env,
    )


def job_pod_from(pod: dict[str, Any], wanted_service: str | None = None) -> JobPod:
    """Read the job pod object: node name, uid, build image, pull secrets, dind service."""
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    containers = _containers(spec)
    service, choice = find_service_container(containers, wanted_service)
    build = next((c for c in containers if c.get("name") == BUILD_CONTAINER), None)
    if build is None and containers:
        build = containers[0]
    secrets = tuple(
        str(s["name"])
        for s in spec.get("imagePullSecrets") or []
        if isinstance(s, dict) and s.get("name")
    )
    return JobPod(
        name=str(meta.get("name") or ""),
        namespace=str(meta.get("namespace") or ""),
        uid=meta.get("uid") or None,
        node_name=spec.get("nodeName") or None,
        build_image=(build or {}).get("image") or None,
        service=service,
        service_choice=choice,
        pull_secrets=secrets,
        containers=tuple(str(c.get("name")) for c in containers),
    )


def container_status(pod: dict[str, Any], name: str) -> dict[str, Any] | None:
    """The status entry of container ``name`` (regular or init container), if reported."""
    status = pod.get("status") or {}
    for key in ("containerStatuses", "initContainerStatuses"):
        for entry in status.get(key) or []:
            if isinstance(entry, dict) and entry.get("name") == name:
                return entry
    return None
