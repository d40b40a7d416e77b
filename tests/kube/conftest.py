"""Fixtures for the Kubernetes tests: the fake API server, a GitLab-shaped job pod, settings."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from preflight.kube.settings import KubeSettings
from tests.admin.support import trusted_anchors
from tests.kube.fake_cluster import FakeCluster, running_cluster

JOB_POD = "runner-x7k2p9q-project-42-concurrent-0-abcdef12"
JOB_ID = "987654"
NODE = "worker-3"
BUILD_IMAGE = "registry.example.com/ci/dind-preflight:0.1.0"
# The helper image the admin pins in the runner's configuration (node-side evidence).
HELPER_IMAGE = "registry.example.com/ci/dind-preflight@sha256:" + "5" * 64
DIND_IMAGE = "docker:24.0-dind"


def job_pod_manifest(
    *,
    service_name: str = "svc-0",
    service_image: str = DIND_IMAGE,
    service_state: dict[str, Any] | None = None,
    restarts: int = 0,
    last_state: dict[str, Any] | None = None,
    with_service: bool = True,
) -> dict[str, Any]:
    """A job pod as GitLab Runner's Kubernetes executor creates it (build, helper, services)."""
    containers = [
        {"name": "build", "image": BUILD_IMAGE, "command": ["sh", "-c"]},
        {
            "name": "helper",
            "image": "registry.gitlab.com/gitlab-org/gitlab-runner/gitlab-runner-helper:x86_64-v17.5.0",
        },
    ]
    statuses = [
        {"name": "build", "image": BUILD_IMAGE, "restartCount": 0, "state": {"running": {}}},
        {
            "name": "helper",
            "image": "gitlab-runner-helper",
            "restartCount": 0,
            "state": {"running": {}},
        },
    ]
    if with_service:
        containers.append(
            {"name": service_name, "image": service_image, "securityContext": {"privileged": True}}
        )
        status: dict[str, Any] = {
            "name": service_name,
            "image": service_image,
            "restartCount": restarts,
            "state": service_state
            if service_state is not None
            else {"running": {"startedAt": "2026-01-01T10:00:00Z"}},
        }
        if last_state is not None:
            status["lastState"] = last_state
        statuses.append(status)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": JOB_POD,
            "namespace": "ci",
            "uid": "6c1f9a2e-4b7d-4c1a-9e55-0d2b8f3a7c11",
            "labels": {"job.runner.gitlab.com/pod": "runner-x7k2p9q-project-42-concurrent-0"},
        },
        "spec": {
            "nodeName": NODE,
            "restartPolicy": "Never",
            "containers": containers,
            "imagePullSecrets": [{"name": "regcred"}],
        },
        "status": {"phase": "Running", "containerStatuses": statuses},
    }


TERMINATED_NAT = {
    "terminated": {
        "exitCode": 1,
        "reason": "Error",
        "startedAt": "2026-01-01T10:00:00Z",
        "finishedAt": "2026-01-01T10:00:02Z",
    }
}


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[FakeCluster]:
    """The fake API server; fails the test if any helper pod is left behind."""
    with running_cluster(tmp_path) as fake:
        fake.identity = (JOB_POD, NODE)
        yield fake
        leftovers = [pod["metadata"]["name"] for pod in fake.helper_pods()]
        assert leftovers == [], f"helper pods left behind: {leftovers}"


@pytest.fixture
def add_job_pod(cluster: FakeCluster) -> Callable[..., dict[str, Any]]:
    """Put the job pod into the fake cluster (keyword arguments: see job_pod_manifest)."""

    def add(**kwargs: Any) -> dict[str, Any]:
        pod = job_pod_manifest(**kwargs)
        cluster.add("v1/pods", "ci", copy.deepcopy(pod))
        return pod

    return add


@pytest.fixture
def settings(cluster: FakeCluster) -> KubeSettings:
    """Settings of a job running in JOB_POD, reaching the fake API through KUBECONFIG."""
    return KubeSettings(
        timeout=10.0,
        pod_name=JOB_POD,
        job_id=JOB_ID,
        kubeconfig=str(cluster.kubeconfig()),
        proc="/nonexistent-proc",
        helper_image=HELPER_IMAGE,
        # The admin's file pins the same digest; the token names JOB_POD on NODE.
        anchors=trusted_anchors(helper_images=[HELPER_IMAGE]),
    )
