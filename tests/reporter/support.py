"""Shared set-up of the reporter tests: nodes with the agent's conditions in the fake cluster, a
reporter wired to the fake cluster and the fake GitLab."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from preflight.gitlab.client import RetryPolicy
from preflight.kube.client import KubeContext, connect
from preflight.kube.settings import KubeSettings
from preflight.readiness.model import camel_case
from preflight.reporter.cluster import ClusterSource
from preflight.reporter.lease import LeaseKeeper
from preflight.reporter.model import ReporterPolicy, RunnerTarget
from preflight.reporter.service import Reporter
from preflight.reporter.settings import build
from tests.gitlab.fake_gitlab import FakeGitLab
from tests.gitlab.support import PROJECT, TOKEN
from tests.kube.fake_cluster import FakeCluster

NAT = "iptable_nat-missing"
RUNNER = 42
LONG_AGO = datetime(2026, 1, 1, tzinfo=timezone.utc)
FAST = RetryPolicy(base_delay_s=0.01, max_delay_s=0.05, retry_after_jitter_s=0.01)


def stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def node(
    name: str,
    *,
    ready: str | None = "True",
    cause: str = NAT,
    after_reboot: str | None = None,
    since: datetime = LONG_AGO,
    labels: dict[str, str] | None = None,
    taints: list[dict[str, str]] | None = None,
    unschedulable: bool = False,
    camel_reason: bool = False,
) -> dict[str, Any]:
    """A node as the API returns it, with the agent's conditions."""
    conditions: list[dict[str, Any]] = [
        {
            "type": "Ready",
            "status": "True",
            "reason": "KubeletReady",
            "message": "kubelet is posting ready status",
        }
    ]
    reason = camel_case(cause) if camel_reason else cause
    if ready is not None:
        conditions.append(
            {
                "type": "DindReady",
                "status": ready,
                "reason": reason if ready == "False" else "DindWorks",
                "message": f"kernel module iptable_nat is not loaded ({reason})"
                if ready == "False"
                else "dind can run here",
                "lastTransitionTime": stamp(since),
                "lastHeartbeatTime": stamp(since),
            }
        )
    if after_reboot is not None:
        conditions.append(
            {
                "type": "DindReadyAfterReboot",
                "status": after_reboot,
                "reason": reason if after_reboot == "False" else "LoadsAtBoot",
                "message": "iptable_nat is not listed in /etc/modules-load.d"
                if after_reboot == "False"
                else "ok",
                "lastTransitionTime": stamp(since),
            }
        )
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
        "spec": {"taints": taints or [], "unschedulable": unschedulable},
        "status": {"conditions": conditions},
    }


def put_nodes(cluster: FakeCluster, *nodes: dict[str, Any]) -> None:
    for item in nodes:
        cluster.add("v1/nodes", None, copy.deepcopy(item))


def kube_context(cluster: FakeCluster, namespace: str = "dind-preflight") -> KubeContext:
    return connect(KubeSettings(kubeconfig=str(cluster.kubeconfig(namespace))))


def token_file(tmp: Path) -> str:
    path = tmp / "token"
    path.write_text(TOKEN + "\n")
    return str(path)


def make_reporter(
    cluster: FakeCluster,
    gitlab: FakeGitLab,
    tmp: Path,
    *,
    identity: str = "reporter-a",
    runners: tuple[str, ...] = (str(RUNNER),),
    now: datetime | None = None,
    **policy: Any,
) -> Reporter:
    """A reporter against the fakes (heal_after 0 unless given, quick GitLab retries)."""
    settings = build(
        gitlab_url=gitlab.url,
        token_file=token_file(tmp),
        report_project=PROJECT,
        runners=list(runners),
        job_namespace="ci",
        identity=identity,
        interval_s=1.0,
        lease_duration_s=15,
        budget_s=10.0,
        heal_after_s=policy.pop("heal_after_s", 0.0),
        **policy,
    )
    ctx = kube_context(cluster)
    reporter = Reporter(
        settings.gitlab,
        settings.policy,
        settings.source,
        ctx,
        LeaseKeeper(
            ctx, "dind-preflight", settings.lease_name, identity, settings.lease_duration_s
        ),
        reporter_id=identity,
        interval_s=settings.interval_s,
        retry_policy=FAST,
    )
    if now is not None:
        reporter.now = lambda: now
    return reporter


def policy(*runners: int, **kwargs: Any) -> ReporterPolicy:
    return ReporterPolicy(runners=tuple(RunnerTarget(r) for r in runners), **kwargs)


def later(seconds: float) -> datetime:
    return datetime.now(timezone.utc) + timedelta(seconds=seconds)


__all__ = ["FAST", "ClusterSource"]
