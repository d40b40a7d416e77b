"""The reporter's settings from its flags (pure): GitLab, policy, cluster source, lease, listen.

The GitLab URL is pinned by a flag (never from a job's environment) and must be https; plain http
is accepted only to a loopback address (a local test GitLab). The token is read from a file (a
mounted Secret), never from a flag or an environment variable.
"""

from __future__ import annotations

import contextlib
import ipaddress
import math
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from preflight.errors import UsageError
from preflight.gitlab.client import GitLabSettings, parse_token, settings_from_env
from preflight.input_files import read_regular
from preflight.reporter.cluster import ClusterSource, parse_selector, parse_toleration
from preflight.reporter.model import Executor, Policy, ReporterPolicy, RunnerTarget

MAX_TOKEN_FILE = 4096
MAX_CA_FILE = 1024 * 1024  # a CA bundle


@dataclass(frozen=True)
class ReporterSettings:
    gitlab: GitLabSettings
    policy: ReporterPolicy
    source: ClusterSource
    lease_namespace: str | None
    lease_name: str = "dind-preflight-reporter"
    lease_duration_s: int = 60
    identity: str = "reporter"
    interval_s: float = 15.0
    listen_host: str = "0.0.0.0"
    listen_port: int = 8080
    health_port: int = 8081  # /healthz and /metrics, on the same host as --listen


def pinned_url(url: str) -> str:
    """https, or http to loopback only."""
    parts = urlsplit(url.strip())
    host = parts.hostname or ""
    if parts.scheme == "https":
        return url
    loopback = host == "localhost"
    with contextlib.suppress(ValueError):
        loopback = loopback or ipaddress.ip_address(host).is_loopback
    if parts.scheme == "http" and loopback:
        return url
    raise UsageError(f"--gitlab-url must be https:// (the token goes nowhere else), got {url!r}")


def read_token_file(path: str) -> str:
    # A regular file only, opened non-blocking and size-capped (a FIFO or /dev/zero never hangs).
    raw = read_regular(path, "--token-file", MAX_TOKEN_FILE)
    return parse_token(raw.decode("utf-8", errors="replace"), f"--token-file {path}")


def parse_runner(text: str) -> RunnerTarget:
    """``ID`` or ``ID@NODE`` (shell/docker executors: the host the runner runs on)."""
    rid, _, node = text.partition("@")
    if not rid.strip().isdigit() or int(rid) <= 0:
        raise UsageError(f"--runner {text!r}: expected a runner id, or ID@NODE")
    return RunnerTarget(int(rid), node.strip() or None)


def parse_share(text: str) -> float:
    try:
        share = float(text)
    except ValueError:
        raise UsageError(f"--max-broken-share {text!r} is not a number") from None
    if not math.isfinite(share) or not 0 <= share <= 1:
        raise UsageError(f"--max-broken-share {text!r} must be between 0 and 1")
    return share


def admin_gitlab_settings(
    *,
    gitlab_url: str,
    token_file: str,
    report_project: str | None,
    budget_s: float,
    timeout_s: float = 10.0,
    note_interval_s: float | None = None,
    ca_file: str | None = None,
) -> GitLabSettings:
    """GitLab settings of an admin command (reporter, resolve): ``--gitlab-url``,
    ``--token-file`` and ``--gitlab-ca-file`` only, never the environment a job could set."""
    url = pinned_url(gitlab_url)
    token = read_token_file(token_file)
    if ca_file is not None:
        read_regular(ca_file, "--gitlab-ca-file", MAX_CA_FILE)  # exit 66 when it cannot be read
    # The URL is pinned by the flag (pinned_url: https, or http to loopback only); the token is
    # handed over as the one variable settings_from_env reads it from.
    env = {"DIND_PREFLIGHT_GITLAB_TOKEN": token}
    if urlsplit(url).scheme == "http":
        env["DIND_PREFLIGHT_ALLOW_HTTP"] = "1"
    settings = settings_from_env(
        env,
        gitlab_url=url,
        report_project=report_project,
        budget_s=budget_s,
        timeout_s=timeout_s,
        note_interval_s=note_interval_s,
        settle_s=0,
    )
    return replace(settings, ca_file=ca_file) if ca_file else settings


def build(
    *,
    gitlab_url: str,
    token_file: str,
    gitlab_ca_file: str | None = None,
    report_project: str | None,
    runners: list[str],
    executor: str = "kubernetes",
    policy: str = "auto",
    min_healthy_nodes: int = 2,
    max_broken_share: str = "0.5",
    heal_after_s: float = 300.0,
    interval_s: float = 15.0,
    job_namespace: str = "gitlab-runner",
    node_selector: str = "",
    tolerations: tuple[str, ...] = (),
    taint_nodes: bool = False,
    lease_namespace: str | None = None,
    lease_name: str = "dind-preflight-reporter",
    lease_duration_s: int = 60,
    identity: str = "reporter",
    listen: str = "0.0.0.0:8080",
    health_port: int = 8081,
    budget_s: float = 30.0,
    timeout_s: float = 10.0,
    note_interval_s: float | None = None,
) -> ReporterSettings:
    gitlab = admin_gitlab_settings(
        gitlab_url=gitlab_url,
        token_file=token_file,
        ca_file=gitlab_ca_file,
        report_project=report_project,
        budget_s=budget_s,
        timeout_s=timeout_s,
        note_interval_s=note_interval_s,
    )
    targets = tuple(parse_runner(text) for text in runners)
    exec_kind = Executor(executor)
    if exec_kind is not Executor.KUBERNETES and any(t.node is None for t in targets):
        raise UsageError(f"--executor {executor}: give each runner's host as --runner ID@NODE")
    if min_healthy_nodes < 0:
        raise UsageError("--min-healthy-nodes must be 0 or more")
    if interval_s <= 0 or lease_duration_s < 2 * interval_s:
        raise UsageError("--lease-duration must be at least twice --interval (and both positive)")
    host, _, port = listen.rpartition(":")
    if not port.isdigit() or not 0 <= int(port) < 65536:
        raise UsageError(f"--listen {listen!r}: expected HOST:PORT")
    if not 0 <= health_port < 65536 or (health_port == int(port) and health_port != 0):
        raise UsageError(
            f"--health-port={health_port}: a port of its own (0-65535, not --listen's)"
        )
    return ReporterSettings(
        gitlab=gitlab,
        policy=ReporterPolicy(
            policy=Policy(policy),
            executor=exec_kind,
            runners=targets,
            min_healthy_nodes=min_healthy_nodes,
            max_broken_share=parse_share(max_broken_share),
            heal_after_s=heal_after_s,
            note_interval_s=gitlab.note_interval_s,
            max_notes=gitlab.max_notes,
            taint_nodes=taint_nodes,
        ),
        source=ClusterSource(
            job_namespace=job_namespace,
            node_selector=parse_selector(node_selector),
            tolerations=tuple(parse_toleration(text) for text in tolerations),
        ),
        lease_namespace=lease_namespace,
        lease_name=lease_name,
        lease_duration_s=lease_duration_s,
        identity=identity,
        interval_s=interval_s,
        listen_host=host or "0.0.0.0",
        listen_port=int(port),
        health_port=health_port,
    )
