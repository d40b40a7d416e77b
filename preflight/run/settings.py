"""Run settings from the job environment and flags (pure), and the decision to skip."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from preflight import inputs
from preflight.actions.action import Action

DEFAULT_TIMEOUT_S = 30.0
MAX_TIMEOUT_S = 3600.0


@dataclass(frozen=True)
class RunSettings:
    """Everything ``run`` needs to know, resolved once."""

    timeout_s: float
    action: Action
    artifacts_dir: Path
    node_root: str | None = None  # the node's / mounted into the job (shell/docker executors)
    in_cluster: bool = False  # KUBERNETES_SERVICE_HOST is set: diagnose through the API
    kubernetes_api: bool = False  # in a pod, or KUBECONFIG set: a node taint can be tried
    json_output: bool = False
    reporter_url: str | None = None  # fleet mode: the reporter's in-cluster URL


def _is_set(env: Mapping[str, str], name: str) -> bool:
    return bool(env.get(name, "").strip())


def skip_reason(env: Mapping[str, str]) -> str | None:
    """Why ``run`` has nothing to do for this job, or None when it must probe.

    Skips when disabled, or when the job does not point DOCKER_HOST at a dind service over TCP
    (unset, or a unix socket: a host daemon, not a service container).
    """
    if _is_set(env, "DIND_PREFLIGHT_DISABLE"):
        return "DIND_PREFLIGHT_DISABLE is set"
    docker_host = env.get("DOCKER_HOST", "").strip()
    if not docker_host:
        return "DOCKER_HOST is not set: this job does not use a dind service"
    if docker_host.startswith(("unix://", "npipe://", "fd://", "ssh://")):
        return f"DOCKER_HOST={docker_host} is not a dind service over TCP"
    return None


def settings_from_env(
    env: Mapping[str, str],
    *,
    timeout: str | float | None = None,
    action: str | None = None,
    artifacts_dir: str | None = None,
    node_root: str | None = None,
    json_output: bool = False,
) -> RunSettings:
    """Resolve the settings: flags win over ``DIND_PREFLIGHT_*`` variables, which win over defaults.

    Every value is checked here, whether or not the run will skip: a wrong flag or variable is
    an error (exit 64, or 66 for a missing node root) in every job, not only in dind jobs.
    """
    raw_timeout = inputs.flag_or_env(timeout, "--timeout", env, "DIND_PREFLIGHT_TIMEOUT")
    raw_action = inputs.flag_or_env(action, "--action", env, "DIND_PREFLIGHT_ACTION")
    raw_root = inputs.flag_or_env(node_root, "--node-root", env, "DIND_PREFLIGHT_NODE_ROOT")
    raw_artifacts = inputs.flag_or_env(
        artifacts_dir, "--artifacts-dir", env, "DIND_PREFLIGHT_ARTIFACTS_DIR"
    )
    timeout_s = DEFAULT_TIMEOUT_S
    if raw_timeout.value is not None:
        timeout_s = inputs.seconds(raw_timeout.value, raw_timeout.source, high=MAX_TIMEOUT_S)
    chosen = Action.AUTO
    if raw_action.value is not None:
        names = [a.value for a in Action]
        chosen = Action(inputs.choice(raw_action.value, raw_action.source, names))
    root = None
    if raw_root.value is not None:
        root = inputs.directory(raw_root.value, raw_root.source)
    reporter_url = env.get("DIND_PREFLIGHT_REPORTER_URL", "").strip() or None
    return RunSettings(
        timeout_s=timeout_s,
        # Fleet mode: jobs only probe and read; the reporter holds every power.
        action=Action.NONE if reporter_url else chosen,
        artifacts_dir=Path(raw_artifacts.value or ".dind-preflight"),
        node_root=root,
        in_cluster=_is_set(env, "KUBERNETES_SERVICE_HOST"),
        kubernetes_api=_is_set(env, "KUBERNETES_SERVICE_HOST") or _is_set(env, "KUBECONFIG"),
        json_output=json_output,
        reporter_url=reporter_url,
    )
