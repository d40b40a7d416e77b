"""Fixtures of the fleet-mode tests: the fake API server (from tests/kube) with nodes in it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.gitlab.fake_gitlab import fake_gitlab
from tests.kube.fake_cluster import FakeCluster, running_cluster

__all__ = ["fake_gitlab"]

NODE = "worker-3"
KUBELET_READY = {
    "type": "Ready",
    "status": "True",
    "reason": "KubeletReady",
    "message": "kubelet is posting ready status",
    "lastHeartbeatTime": "2026-11-30T00:00:00Z",
    "lastTransitionTime": "2026-11-01T00:00:00Z",
}


def node_object(
    name: str, conditions: list[dict[str, Any]] | None = None, labels: dict[str, str] | None = None
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "uid": f"uid-{name}", "labels": labels or {}},
        "spec": {"taints": [{"key": "other", "value": "x", "effect": "NoSchedule"}]},
        "status": {"conditions": [dict(KUBELET_READY), *(conditions or [])]},
    }


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[FakeCluster]:
    """The fake API server; fails the test if any helper pod is left behind."""
    with running_cluster(tmp_path) as fake:
        yield fake
        leftovers = [pod["metadata"]["name"] for pod in fake.helper_pods()]
        assert leftovers == [], f"helper pods left behind: {leftovers}"


@pytest.fixture
def tls_cluster(tmp_path: Path) -> Iterator[tuple[FakeCluster, Path]]:
    """The fake API over TLS and a pod's service-account directory for it (in-cluster mode)."""
    import ssl

    import trustme

    ca = trustme.CA()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    sa = tmp_path / "serviceaccount"
    sa.mkdir()
    (sa / "token").write_text("agent-sa-token-0b7c1d")
    (sa / "namespace").write_text("dind-preflight")
    ca.cert_pem.write_to_path(str(sa / "ca.crt"))
    (tmp_path / "cluster").mkdir()
    with running_cluster(tmp_path / "cluster", tls=context) as fake:
        yield fake, sa
