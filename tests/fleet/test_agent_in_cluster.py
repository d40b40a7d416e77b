"""The agent in a pod: its own small API client (no ``kubernetes`` package loaded), over TLS
with the pod's service-account token, against the fake API."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

from preflight.agent.loop import Agent, AgentSettings
from preflight.agent.publish import Target
from preflight.kube.node_api import connect_agent
from preflight.kube.settings import KubeSettings
from tests.fleet.conftest import NODE, node_object
from tests.fleet.test_agent import break_node, conditions, heal_node, healthy_node, our_taints
from tests.kube.fake_cluster import FakeCluster


def in_cluster_env(cluster: FakeCluster, sa: Path) -> dict[str, str]:
    return {
        "KUBERNETES_SERVICE_HOST": "127.0.0.1",
        "KUBERNETES_SERVICE_PORT": cluster.url.rsplit(":", 1)[1],
        "DIND_PREFLIGHT_SERVICE_ACCOUNT_DIR": str(sa),
    }


def test_breaks_heals_and_rotated_tokens(
    tls_cluster: tuple[FakeCluster, Path], tmp_path: Path
) -> None:
    cluster, sa = tls_cluster
    cluster.add("v1/nodes", None, node_object(NODE))
    env = in_cluster_env(cluster, sa)
    settings = KubeSettings(in_cluster=True, service_account_dir=str(sa))
    root = healthy_node(tmp_path)
    agent = Agent(
        AgentSettings(Target(NODE), root=str(root.path), proc=str(root.path / "proc")),
        lambda: connect_agent(settings, env),
        out=io.StringIO(),
    )
    break_node(root)
    agent.check()
    assert agent.publish().ok
    assert conditions(cluster)["DindReady"]["status"] == "False"
    assert our_taints(cluster)[0]["value"] == "iptable_nat-missing"
    (sa / "token").write_text("agent-sa-token-rotated-9f")  # the kubelet rotated it
    heal_node(root)
    for _ in range(2):
        agent.check()
        assert agent.publish().ok
    assert our_taints(cluster) == []
    tokens = {r.headers.get("Authorization") for r in cluster.requests()}
    assert tokens == {"Bearer agent-sa-token-0b7c1d", "Bearer agent-sa-token-rotated-9f"}
    status_patches = [r for r in cluster.requests() if r.path.endswith("/status")]
    assert {r.headers.get("Content-Type") for r in status_patches} == {
        "application/strategic-merge-patch+json"
    }


def test_forbidden_is_one_line_naming_the_rule(
    tls_cluster: tuple[FakeCluster, Path], tmp_path: Path
) -> None:
    cluster, sa = tls_cluster
    cluster.add("v1/nodes", None, node_object(NODE))
    cluster.deny("patch", "nodes/status")
    settings = KubeSettings(in_cluster=True, service_account_dir=str(sa))
    root = healthy_node(tmp_path)
    agent = Agent(
        AgentSettings(Target(NODE), root=str(root.path), proc=str(root.path / "proc")),
        lambda: connect_agent(settings, in_cluster_env(cluster, sa)),
        out=io.StringIO(),
    )
    agent.check()
    result = agent.publish()
    assert not result.ok and result.problem is not None
    assert "cannot patch nodes/status cluster-wide: forbidden (403)" in result.problem
    assert "deploy/agent/rbac.yaml" in result.problem


def test_the_agent_process_never_loads_the_kubernetes_package(
    tls_cluster: tuple[FakeCluster, Path], tmp_path: Path
) -> None:
    cluster, sa = tls_cluster
    cluster.add("v1/nodes", None, node_object(NODE))
    root = healthy_node(tmp_path)
    script = (
        "import sys, json\n"
        "from preflight.cli import main\n"
        f"code = main(['agent', '--once', '--node', '{NODE}', '--root', {str(root.path)!r},"
        f" '--proc', {str(root.path / 'proc')!r}])\n"
        "print(json.dumps({'code': code, 'kubernetes': sorted(m for m in sys.modules"
        " if m.split('.')[0] == 'kubernetes')}))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KUBE", "DIND_PREFLIGHT"))}
    env.update(in_cluster_env(cluster, sa))
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    assert result == {"code": 0, "kubernetes": []}
    assert conditions(cluster)["DindReady"]["status"] == "True"
