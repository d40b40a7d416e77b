"""Run settings from the job environment and flags (pure), and the decision to skip."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from preflight import inputs
from preflight.actions.action import Action
from preflight.admin.anchors import Anchors, anchors_from, in_pod
from preflight.admin.config import AdminConfig, effective_action
from preflight.shown import shown

TYPE_CHECKING = False  # typing's constant without importing typing: the healthy path
if TYPE_CHECKING:
    from preflight.gitlab.settings import GitLabSettings
    from preflight.kube.settings import KubeSettings

ENV_DISABLE = "DIND_PREFLIGHT_DISABLE"
ENV_REPORTER_URL = "DIND_PREFLIGHT_REPORTER_URL"

DEFAULT_TIMEOUT_S = 30.0
MAX_TIMEOUT_S = 3600.0
ENV_DEADLINE = "DIND_PREFLIGHT_DEADLINE"
DEFAULT_DEADLINE_CAP_S = 120.0
# The documented budgets the default deadline adds up (docs/component.md "Time limits").
DEFAULT_DIAGNOSE_S = 30.0  # DIND_PREFLIGHT_DIAGNOSE_TIMEOUT
DEFAULT_REPORT_BUDGET_S = 45.0  # DIND_PREFLIGHT_GITLAB_BUDGET


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
    deadline_s: float = DEFAULT_DEADLINE_CAP_S  # the whole run: probe, diagnosis, report
    token_file: str | None = None  # --token-file (else DIND_PREFLIGHT_GITLAB_TOKEN_FILE)
    # Resolved (and so checked) before the probe; None only where a test builds settings by hand.
    kube: KubeSettings | None = None
    gitlab: GitLabSettings | None = None
    # The admin's file and what bends the evidence; the default (no file) never quarantines.
    anchors: Anchors = field(default_factory=lambda: anchors_from({}, None))
    notes: tuple[str, ...] = ()  # one line each: where a variable was overruled by the admin


def _is_set(env: Mapping[str, str], name: str) -> bool:
    return bool(env.get(name, "").strip())


def skip_reason(env: Mapping[str, str]) -> str | None:
    """Why ``run`` has nothing to do for this job, or None when it must probe.

    Skips when disabled, or when the job does not point DOCKER_HOST at a dind service over TCP
    (unset, or a unix socket: a host daemon, not a service container).
    """
    if disabled(env):
        return f"{ENV_DISABLE} is on"
    docker_host = env.get("DOCKER_HOST", "").strip()
    if not docker_host:
        return "DOCKER_HOST is not set: this job does not use a dind service"
    if docker_host.startswith(("unix://", "npipe://", "fd://", "ssh://")):
        return f"DOCKER_HOST={shown(docker_host)} is not a dind service over TCP"
    return None


def disabled(env: Mapping[str, str]) -> bool:
    """The emergency switch, ``DIND_PREFLIGHT_DISABLE`` (1/true/yes/on; 0/false/no/off does not
    disable; another value is exit 64)."""
    return inputs.env_boolean(env, ENV_DISABLE)


def _seconds(value: str | None, default: float) -> float:
    """A positive number of seconds, or ``default`` (its owner reports a bad value)."""
    try:
        number = float(value) if value is not None and value.strip() else default
    except ValueError:
        return default
    return number if number == number and 0 < number < float("inf") else default


def default_deadline(env: Mapping[str, str], timeout_s: float) -> float:
    """The sum of the probe timeout, the diagnosis timeout and the GitLab budget, capped."""
    diagnose = _seconds(env.get("DIND_PREFLIGHT_DIAGNOSE_TIMEOUT"), DEFAULT_DIAGNOSE_S)
    report = _seconds(env.get("DIND_PREFLIGHT_GITLAB_BUDGET"), DEFAULT_REPORT_BUDGET_S)
    return min(DEFAULT_DEADLINE_CAP_S, timeout_s + diagnose + report)


def settings_from_env(
    env: Mapping[str, str],
    *,
    timeout: str | float | None = None,
    action: str | None = None,
    artifacts_dir: str | None = None,
    node_root: str | None = None,
    json_output: bool = False,
    deadline: str | None = None,
    token_file: str | None = None,
    admin: AdminConfig | None = None,
) -> RunSettings:
    """Resolve the settings: flags win over ``DIND_PREFLIGHT_*`` variables, which win over defaults.

    Every value is checked here, before the probe and whether or not the run will skip: a wrong
    flag, variable or file is an error (exit 64, or 66 for a missing file) in every job, with a
    healthy dind as with a broken one, not only during an incident. That includes the settings
    of the later steps: the diagnosis (:func:`preflight.kube.settings.settings_from`) and the
    GitLab report (:func:`preflight.run.adapters.job_gitlab_settings`, which reads the token
    files).
    """
    from preflight.kube.settings import settings_from as kube_settings

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
    raw_deadline = inputs.flag_or_env(deadline, "--deadline", env, ENV_DEADLINE)
    deadline_s = default_deadline(env, timeout_s)
    if raw_deadline.value is not None:
        deadline_s = inputs.seconds(raw_deadline.value, raw_deadline.source, high=MAX_TIMEOUT_S)
    notes: list[str] = []
    env_reporter = env.get(ENV_REPORTER_URL, "").strip() or None
    if env_reporter is not None:
        inputs.http_url(env_reporter, ENV_REPORTER_URL, example="http://dind-reporter.ns.svc:8080")
    # Fleet mode: jobs only probe and read; the reporter holds every power. A variable naming a
    # reporter can only take powers away; the URL a report goes to is the admin's.
    reporter_url = admin.reporter_url if admin is not None else None
    if env_reporter and env_reporter.rstrip("/") != reporter_url:
        notes.append(
            "DIND_PREFLIGHT_REPORTER_URL is not the reporter_url of the admin's configuration: "
            "nothing is sent to it"
        )
    action, narrowed = effective_action(chosen, admin)
    if narrowed:
        notes.append(narrowed)
    if admin is not None and admin.node_root is not None:
        if root is not None and root != admin.node_root:
            notes.append(f"{raw_root.source} is not the admin's node root: {admin.node_root} used")
        root = admin.node_root if os.path.isdir(admin.node_root) else None
    in_cluster = _is_set(env, "KUBERNETES_SERVICE_HOST") or (admin is not None and in_pod())
    anchors = anchors_from(env, admin)
    settings = RunSettings(
        timeout_s=timeout_s,
        action=Action.NONE if (reporter_url or env_reporter) else action,
        artifacts_dir=Path(raw_artifacts.value or ".dind-preflight"),
        node_root=root,
        in_cluster=in_cluster,
        kubernetes_api=in_cluster or _is_set(env, "KUBECONFIG"),
        json_output=json_output,
        reporter_url=reporter_url,
        deadline_s=deadline_s,
        token_file=token_file or None,
        anchors=anchors,
        notes=tuple(notes),
    )
    # The later steps' settings, resolved (and so checked) now: a wrong one is the same line
    # with a healthy dind as during an incident.
    from dataclasses import replace

    from preflight.run.adapters import job_gitlab_settings  # here: adapters imports this module

    return replace(
        settings,
        kube=kube_settings(env, host_root=settings.node_root, anchors=anchors),
        gitlab=job_gitlab_settings(env, settings),
    )
