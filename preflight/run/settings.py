"""Run settings from the job environment and flags (pure), and the decision to skip."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from preflight.actions.action import Action
from preflight.errors import UsageError

DEFAULT_TIMEOUT_S = 30.0
MAX_TIMEOUT_S = 3600.0


class Mode(str, Enum):
    """Where the node evidence comes from."""

    KUBERNETES = "kubernetes"  # in a cluster: dind service state and log, helper pod on the node
    HOST_ROOT = "host-root"  # DIND_PREFLIGHT_NODE_ROOT: the host's / mounted into the job
    JOB_PROC = "job-proc"  # only what the job itself can see (its /proc: the kernel is shared)


@dataclass(frozen=True)
class RunSettings:
    """Everything ``run`` needs to know, resolved once."""

    timeout_s: float
    action: Action
    mode: Mode
    artifacts_dir: Path
    node_root: str | None = None
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


def parse_timeout(value: str | float | None) -> float:
    """Seconds to wait for dind; a positive finite number up to an hour."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return DEFAULT_TIMEOUT_S
    try:
        timeout = float(value)
    except ValueError:
        raise UsageError(f"timeout must be a number of seconds, got {value!r}") from None
    if not math.isfinite(timeout) or timeout <= 0 or timeout > MAX_TIMEOUT_S:
        raise UsageError(
            f"timeout must be between 0 and {MAX_TIMEOUT_S:.0f} seconds, got {value!r}"
        )
    return timeout


def parse_action(value: str | None) -> Action:
    """``auto`` (default), ``pause-runner``, ``taint-node`` or ``none``."""
    if value is None or not value.strip():
        return Action.AUTO
    try:
        return Action(value.strip())
    except ValueError:
        choices = ", ".join(a.value for a in Action)
        raise UsageError(f"action must be one of {choices}, got {value!r}") from None


def detect_mode(env: Mapping[str, str], node_root: str | None) -> Mode:
    """Kubernetes when the job runs in a cluster; else the host root if given; else the job's /proc."""
    if _is_set(env, "KUBERNETES_SERVICE_HOST"):
        return Mode.KUBERNETES
    if node_root:
        return Mode.HOST_ROOT
    return Mode.JOB_PROC


def settings_from_env(
    env: Mapping[str, str],
    *,
    timeout: str | float | None = None,
    action: str | None = None,
    artifacts_dir: str | None = None,
    node_root: str | None = None,
    json_output: bool = False,
) -> RunSettings:
    """Resolve the settings: flags win over ``DIND_PREFLIGHT_*`` variables, which win over defaults."""
    root = node_root or env.get("DIND_PREFLIGHT_NODE_ROOT", "").strip() or None
    if root is not None and not Path(root).is_dir():
        raise UsageError(f"DIND_PREFLIGHT_NODE_ROOT={root} is not a directory")
    artifacts = (
        artifacts_dir or env.get("DIND_PREFLIGHT_ARTIFACTS_DIR", "").strip() or ".dind-preflight"
    )
    reporter_url = env.get("DIND_PREFLIGHT_REPORTER_URL", "").strip() or None
    chosen = parse_action(action if action is not None else env.get("DIND_PREFLIGHT_ACTION"))
    return RunSettings(
        timeout_s=parse_timeout(
            timeout if timeout is not None else env.get("DIND_PREFLIGHT_TIMEOUT")
        ),
        # Fleet mode: jobs only probe and read; the reporter holds every power.
        action=Action.NONE if reporter_url else chosen,
        mode=detect_mode(env, root),
        artifacts_dir=Path(artifacts),
        node_root=root,
        json_output=json_output,
        reporter_url=reporter_url,
    )
