"""Settings of the Kubernetes diagnosis, from flags and the job's environment. Pure."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from preflight import inputs

TYPE_CHECKING = False  # typing's constant without importing typing: the healthy path
if TYPE_CHECKING:
    from preflight.admin.anchors import Anchors

PULL_POLICIES = ("IfNotPresent", "Always", "Never")
DEFAULT_TIMEOUT_S = 30.0
MAX_TIMEOUT_S = 3600.0
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
# Where a projected service-account token is mounted, when not at the standard path.
ENV_SERVICE_ACCOUNT_DIR = "DIND_PREFLIGHT_SERVICE_ACCOUNT_DIR"

ENV_SERVICE_CONTAINER = "DIND_PREFLIGHT_SERVICE_CONTAINER"
ENV_HELPER_IMAGE = "DIND_PREFLIGHT_HELPER_IMAGE"
ENV_HELPER_PULL_POLICY = "DIND_PREFLIGHT_HELPER_PULL_POLICY"
ENV_HELPER_PULL_SECRETS = "DIND_PREFLIGHT_HELPER_PULL_SECRETS"
ENV_NO_HELPER = "DIND_PREFLIGHT_NO_HELPER"
ENV_TIMEOUT = "DIND_PREFLIGHT_DIAGNOSE_TIMEOUT"
ENV_NAMESPACE = "DIND_PREFLIGHT_NAMESPACE"
ENV_AGENT_INTERVAL = "DIND_PREFLIGHT_AGENT_INTERVAL"  # the agent's check interval (fleet mode)
DEFAULT_AGENT_INTERVAL_S = 300.0


@dataclass(frozen=True)
class KubeSettings:
    """Everything the in-cluster diagnosis needs to know before it talks to the API."""

    timeout: float = DEFAULT_TIMEOUT_S  # budget for the whole diagnosis, helper pod included
    helper_image: str | None = None  # None: the build container's own image
    helper_pull_policy: str = "IfNotPresent"
    helper_pull_secrets: tuple[str, ...] | None = None  # None: the job pod's imagePullSecrets
    service_container: str | None = None  # None: find the dind service by image/name
    use_helper: bool = True
    pod_name: str | None = None  # the job pod ($HOSTNAME)
    namespace: str | None = None  # None: service-account namespace file, else kubeconfig
    job_id: str | None = None  # $CI_JOB_ID, labels the helper pod
    kubeconfig: str | None = None  # $KUBECONFIG, used outside a cluster
    in_cluster: bool = False  # $KUBERNETES_SERVICE_HOST is set
    service_account_dir: str = SERVICE_ACCOUNT_DIR
    proc: str = "/proc"  # the job's own proc, for the loaded-modules fallback
    host_root: str | None = None  # a host root the user gave (local mode)
    log_tail_lines: int = 200
    agent_interval_s: float = DEFAULT_AGENT_INTERVAL_S  # DindReady older than 2x: not used
    # The admin's file and the variables that bend evidence (preflight/admin/anchors.py).
    # None: no admin file was read, so nothing found here may quarantine (fail closed).
    anchors: Anchors | None = None
    api_server: str | None = None  # host:port to connect to in a pod (the admin's), else env

    @property
    def helper_deadline_s(self) -> int:
        """``activeDeadlineSeconds`` of the helper pod: our budget plus slack for a slow kubelet."""
        return math.ceil(self.timeout) + 30


def _flag_or_env(flag: str | None, env: Mapping[str, str], name: str) -> str | None:
    if flag is not None and flag != "":
        return flag
    value = env.get(name, "").strip()
    return value or None


def _in_pod() -> bool:
    from preflight.admin.anchors import in_pod

    return in_pod()


def parse_timeout(
    text: str | float | None, default: float = DEFAULT_TIMEOUT_S, source: str = ENV_TIMEOUT
) -> float:
    """Seconds, > 0 and at most an hour; UsageError (exit 64) naming ``source`` otherwise."""
    if text is None or text == "":
        return default
    return inputs.seconds(text, source, high=MAX_TIMEOUT_S)


def settings_from(
    env: Mapping[str, str],
    *,
    timeout: float | str | None = None,
    helper_image: str | None = None,
    helper_pull_policy: str | None = None,
    helper_pull_secrets: list[str] | None = None,
    service_container: str | None = None,
    no_helper: bool = False,
    host_root: str | None = None,
    proc: str | None = None,
    anchors: Anchors | None = None,
) -> KubeSettings:
    """Settings from command-line values (which win) and the environment."""
    policy = inputs.flag_or_env(
        helper_pull_policy, "--helper-pull-policy", env, ENV_HELPER_PULL_POLICY
    )
    canonical = "IfNotPresent"
    if policy.value is not None:
        canonical = inputs.choice(policy.value, policy.source, PULL_POLICIES, ignore_case=True)
    raw_timeout = inputs.flag_or_env(timeout, "--timeout", env, ENV_TIMEOUT)
    secrets: tuple[str, ...] | None = None
    if helper_pull_secrets:
        secrets = tuple(s for s in helper_pull_secrets if s)
    elif env.get(ENV_HELPER_PULL_SECRETS, "").strip():
        secrets = tuple(s.strip() for s in env[ENV_HELPER_PULL_SECRETS].split(",") if s.strip())
    admin = anchors.admin if anchors is not None else None
    interval = parse_timeout(
        env.get(ENV_AGENT_INTERVAL), DEFAULT_AGENT_INTERVAL_S, source=ENV_AGENT_INTERVAL
    )
    if admin is not None:
        interval = admin.agent_interval_s  # freshness is the admin's, not a variable's
    return KubeSettings(
        timeout=parse_timeout(raw_timeout.value, source=raw_timeout.source),
        # The admin's pinned image when the admin's file names one: no variable picks it.
        helper_image=(
            admin.helper_images[0]
            if admin is not None and admin.helper_images
            else _flag_or_env(helper_image, env, ENV_HELPER_IMAGE)
        ),
        helper_pull_policy=canonical,
        helper_pull_secrets=secrets,
        service_container=_flag_or_env(service_container, env, ENV_SERVICE_CONTAINER),
        use_helper=not (no_helper or inputs.env_boolean(env, ENV_NO_HELPER)),
        pod_name=env.get("HOSTNAME") or None,
        namespace=env.get(ENV_NAMESPACE) or None,
        job_id=env.get("CI_JOB_ID") or None,
        kubeconfig=env.get("KUBECONFIG") or None,
        in_cluster=bool(env.get("KUBERNETES_SERVICE_HOST")) or (admin is not None and _in_pod()),
        service_account_dir=env.get(ENV_SERVICE_ACCOUNT_DIR) or SERVICE_ACCOUNT_DIR,
        proc=proc or "/proc",
        host_root=host_root,
        agent_interval_s=interval,
        anchors=anchors,
        api_server=admin.api_server if admin is not None else None,
    )
