"""Fixtures of the fleet-mode tests: the fake API server (from tests/kube) with nodes in it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.kube.fake_cluster import FakeCluster, running_cluster

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
