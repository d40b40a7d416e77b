"""Self-discovery over the job pod object: which container is the dind service, and the rest."""

from __future__ import annotations

from typing import Any

import pytest

from preflight.kube.discovery import container_status, find_service_container, job_pod_from
from tests.kube.conftest import BUILD_IMAGE, JOB_POD, NODE, job_pod_manifest


def c(name: str, image: str = "alpine:3") -> dict[str, Any]:
    return {"name": name, "image": image}


BASE = [c("build", "registry/x/build:1"), c("helper", "gitlab-runner-helper:v17")]

CASES = [
    ("svc-0 running docker:dind", [*BASE, c("svc-0", "docker:24.0-dind")], None, "svc-0"),
    ("alias docker (17.9+)", [*BASE, c("docker", "docker:27-dind")], None, "docker"),
    ("rootless dind image", [*BASE, c("svc-0", "docker:dind-rootless")], None, "svc-0"),
    (
        "mirrored dind image",
        [*BASE, c("svc-1", "registry.example.com/mirror/docker:dind")],
        None,
        "svc-1",
    ),
    (
        "dind next to a database",
        [*BASE, c("svc-0", "postgres:16"), c("svc-1", "docker:dind")],
        None,
        "svc-1",
    ),
    (
        "two dind, one named docker",
        [*BASE, c("svc-0", "docker:dind"), c("docker", "docker:dind")],
        None,
        "docker",
    ),
    ("named docker, custom image", [*BASE, c("docker", "corp/engine:1")], None, "docker"),
    ("only svc-N with a docker image", [*BASE, c("svc-0", "corp/docker-engine:1")], None, "svc-0"),
    ("configured name", [*BASE, c("engine", "corp/engine:1")], "engine", "engine"),
    (
        "configured name wins over dind image",
        [*BASE, c("svc-0", "docker:dind"), c("e", "x")],
        "e",
        "e",
    ),
    ("configured name missing", [*BASE, c("svc-0", "docker:dind")], "nope", None),
    ("no service at all", list(BASE), None, None),
    ("unrelated service only", [*BASE, c("svc-0", "postgres:16")], None, None),
    (
        "two docker-ish svc-N: ambiguous",
        [*BASE, c("svc-0", "docker:cli"), c("svc-1", "docker:cli")],
        None,
        None,
    ),
    (
        "build image is dind-like but is not a service",
        [c("build", "docker:dind"), c("helper", "h")],
        None,
        None,
    ),
]


@pytest.mark.parametrize(
    ("containers", "wanted", "expected"), [x[1:] for x in CASES], ids=[x[0] for x in CASES]
)
def test_find_service_container(
    containers: list[dict[str, Any]], wanted: str | None, expected: str | None
) -> None:
    found, why = find_service_container(containers, wanted)
    assert (found.name if found else None) == expected
    assert why
    if expected is None:
        assert "service" in why or "no container" in why


def test_job_pod_from_a_gitlab_job_pod() -> None:
    job = job_pod_from(job_pod_manifest())
    assert job.name == JOB_POD
    assert job.namespace == "ci"
    assert job.uid == "6c1f9a2e-4b7d-4c1a-9e55-0d2b8f3a7c11"
    assert job.node_name == NODE
    assert job.build_image == BUILD_IMAGE
    assert job.service is not None and job.service.name == "svc-0"
    assert job.service.image == "docker:24.0-dind"
    assert job.pull_secrets == ("regcred",)
    assert job.containers == ("build", "helper", "svc-0")


def test_native_sidecar_services_are_found() -> None:
    pod = job_pod_manifest(with_service=False)
    pod["spec"]["initContainers"] = [
        {"name": "init-permissions", "image": "helper"},
        {"name": "svc-0", "image": "docker:dind", "restartPolicy": "Always"},
    ]
    pod["status"]["initContainerStatuses"] = [
        {"name": "svc-0", "restartCount": 0, "state": {"running": {}}}
    ]
    job = job_pod_from(pod)
    assert job.service is not None and job.service.name == "svc-0"
    assert container_status(pod, "svc-0") == {
        "name": "svc-0",
        "restartCount": 0,
        "state": {"running": {}},
    }


def test_unscheduled_or_odd_pods_do_not_crash() -> None:
    job = job_pod_from({"metadata": {"name": "p"}})
    assert (job.node_name, job.build_image, job.service, job.uid) == (None, None, None, None)
    bare = job_pod_from(
        {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "only", "image": "i"}]}}
    )
    assert bare.build_image == "i"
    assert container_status({}, "x") is None
