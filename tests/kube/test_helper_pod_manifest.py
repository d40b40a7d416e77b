"""The helper pod manifest: every property the issue asks for, and schema-valid (strict)."""

from __future__ import annotations

import re
from typing import Any

import kubernetes_validate
import pytest

from preflight.kube.discovery import JobPod, ServiceContainer
from preflight.kube.helper_pod_manifest import COMMAND, helper_pod_manifest, helper_pod_name
from preflight.kube.labels import dns_label, label_value
from tests.kube.validation import validate_strict

JOB = JobPod(
    name="runner-x7k2p9q-project-42-concurrent-0-abcdef12",
    namespace="ci",
    uid="6c1f9a2e-4b7d-4c1a-9e55-0d2b8f3a7c11",
    node_name="worker-3",
    build_image="registry.example.com/ci/dind-preflight:0.1.0",
    service=ServiceContainer("svc-0", "docker:24.0-dind"),
    service_choice="test",
    pull_secrets=("regcred",),
)


def manifest(**kwargs: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "name": "dind-preflight-node-987654-a1b2c3",
        "job": JOB,
        "image": "registry.example.com/ci/dind-preflight:0.1.0",
        "pull_secrets": ("regcred",),
        "deadline_s": 60,
        "job_id": "987654",
    }
    args.update(kwargs)
    return helper_pod_manifest(**args)


def test_pinned_tolerant_read_only_unprivileged_and_owned() -> None:
    pod = manifest()
    spec = pod["spec"]
    assert spec["nodeName"] == "worker-3"
    assert spec["tolerations"] == [{"operator": "Exists", "effect": "NoExecute"}]
    assert spec["restartPolicy"] == "Never"
    assert spec["activeDeadlineSeconds"] == 60
    assert spec["automountServiceAccountToken"] is False
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] == 65534
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert spec["volumes"] == [
        {"name": "host-root", "hostPath": {"path": "/", "type": "Directory"}}
    ]
    assert spec["imagePullSecrets"] == [{"name": "regcred"}]
    (container,) = spec["containers"]
    assert container["command"] == [
        "dind-preflight",
        "node-report",
        "--root",
        "/host",
        "--proc",
        "/proc",
        "--json",
    ]
    assert list(COMMAND) == container["command"]
    assert container["volumeMounts"] == [
        {
            "name": "host-root",
            "mountPath": "/host",
            "readOnly": True,
            "recursiveReadOnly": "IfPossible",
        }
    ]
    security = container["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["privileged"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert container["resources"]["limits"] == {"cpu": "200m", "memory": "128Mi"}
    assert container["resources"]["requests"] == {"cpu": "10m", "memory": "32Mi"}
    assert container["imagePullPolicy"] == "IfNotPresent"
    meta = pod["metadata"]
    assert meta["ownerReferences"] == [
        {"apiVersion": "v1", "kind": "Pod", "name": JOB.name, "uid": JOB.uid}
    ]
    assert meta["labels"]["app.kubernetes.io/name"] == "dind-preflight"
    assert meta["labels"]["app.kubernetes.io/component"] == "node-probe"
    assert meta["labels"]["dind-preflight.io/job-id"] == "987654"
    assert meta["namespace"] == "ci"


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"pull_secrets": (), "pull_policy": "Always", "job_id": None},
        {"job": JobPod("p", "ns", None, "n", None, None, "x"), "image": "busybox"},
    ],
    ids=["default", "no-secrets-always", "no-owner-uid"],
)
def test_manifest_is_valid_in_strict_mode(kwargs: dict[str, Any]) -> None:
    validate_strict(manifest(**kwargs))


def test_strict_validation_catches_a_misspelled_field() -> None:
    pod = manifest()
    pod["spec"]["automountServiceAcountToken"] = False  # the kind of typo strict mode catches
    with pytest.raises(kubernetes_validate.ValidationError):
        validate_strict(pod)


def test_no_owner_reference_without_the_job_pod_uid() -> None:
    pod = manifest(job=JobPod("p", "ns", None, "n", None, None, "x"))
    assert "ownerReferences" not in pod["metadata"]


@pytest.mark.parametrize(
    ("job_id", "pod", "suffix"),
    [
        ("987654", "runner-x", "a1b2c3"),
        (None, "Runner_X7K2P9Q.Project-42-concurrent-0-" + "x" * 60, "ffffff"),
        ("", "p", "000000"),
    ],
)
def test_helper_pod_names_are_dns_labels(job_id: str | None, pod: str, suffix: str) -> None:
    name = helper_pod_name(job_id, pod, suffix)
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", name)
    assert len(name) <= 63
    assert name.startswith("dind-preflight-node-") and name.endswith(suffix)


def test_helper_pod_names_differ_per_attempt() -> None:
    assert helper_pod_name("1", "p") != helper_pod_name("1", "p")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("987654", "987654"),
        ("a b/c", "a-b-c"),
        ("-x-", "x"),
        ("y" * 80, "y" * 63),
        (None, ""),
        ("___", ""),
    ],
)
def test_label_values(text: str | None, expected: str) -> None:
    assert label_value(text) == expected


def test_dns_label() -> None:
    assert dns_label("Runner_X.Y") == "runner-x-y"
    assert dns_label("a" * 70, 10) == "a" * 10
