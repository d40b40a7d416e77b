"""The test kubelet behaves as a kubelet does where the product depends on it: a pod's user and
groups, a Secret volume's mode and ownership, the bound service-account token, logs through the
API server, imageID, deletion. (What the API server decides needs no test of ours.)"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.cluster.conftest import EXAMPLE_IMAGE
from tests.cluster.controlplane import ControlPlane
from tests.cluster.kubelet import ImageTable, Kubelet, NodeSpec, kubelet
from tests.cluster.support import get_json, wait_for

NS = "kubelet-check"
SCRIPT = """
import json, os, pathlib
out = {"uid": os.getuid(), "gid": os.getgid(), "groups": sorted(os.getgroups())}
for path in ("/secret/token", "/var/run/secrets/kubernetes.io/serviceaccount/token"):
    p = pathlib.Path(path)
    try:
        out[path] = {"read": bool(p.read_text()), "mode": oct(p.stat().st_mode & 0o7777), "gid": p.stat().st_gid}
    except OSError as exc:
        out[path] = {"error": exc.strerror}
out["host"] = os.environ.get("KUBERNETES_SERVICE_HOST")
print(json.dumps(out), flush=True)
"""


@pytest.fixture(scope="module")
def one_node(cluster: ControlPlane, images: ImageTable) -> Iterator[Kubelet]:
    cluster.kubectl("create", "namespace", NS)
    cluster.kubectl("-n", NS, "create", "secret", "generic", "tok", "--from-literal=token=s3cret")
    try:
        with kubelet(cluster, [NodeSpec("kubelet-check-1")], images) as k:
            yield k
    finally:
        cluster.kubectl("delete", "namespace", NS, "--timeout=120s")


def _pod(name: str, fs_group: int | None, mode: int) -> str:
    security: dict[str, object] = {"runAsUser": 10001, "runAsGroup": 10001}
    if fs_group is not None:
        security["fsGroup"] = fs_group
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": NS},
            "spec": {
                "nodeName": "kubelet-check-1",
                "restartPolicy": "Never",
                "securityContext": security,
                "containers": [
                    {
                        "name": "main",
                        "image": EXAMPLE_IMAGE,
                        "command": ["python", "-c", SCRIPT],
                        "volumeMounts": [{"name": "tok", "mountPath": "/secret", "readOnly": True}],
                    }
                ],
                "volumes": [{"name": "tok", "secret": {"secretName": "tok", "defaultMode": mode}}],
            },
        }
    )


def _run(
    cluster: ControlPlane, name: str, fs_group: int | None, mode: int
) -> tuple[dict[str, object], dict[str, object]]:
    cluster.kubectl("apply", "-f", "-", input_text=_pod(name, fs_group, mode))
    phase = wait_for(
        f"pod {name} to finish",
        lambda: (
            get_json(cluster, "pod", name, "-n", NS)["status"].get("phase")
            in ("Succeeded", "Failed")
            and get_json(cluster, "pod", name, "-n", NS)
        ),
    )
    logs = cluster.kubectl("logs", "-n", NS, name).stdout  # through the API server to the kubelet
    return json.loads(logs.strip().splitlines()[-1]), phase["status"]


def test_secret_with_fs_group_is_readable_by_the_pod_user(
    cluster: ControlPlane, one_node: Kubelet
) -> None:
    seen, status = _run(cluster, "with-fsgroup", 10001, 0o440)
    assert seen["uid"] == 10001 and seen["gid"] == 10001 and 10001 in seen["groups"]  # type: ignore[operator]
    assert seen["/secret/token"] == {"read": True, "mode": "0o440", "gid": 10001}
    token = seen["/var/run/secrets/kubernetes.io/serviceaccount/token"]
    assert token["read"] is True  # type: ignore[index]
    assert seen["host"] == "127.0.0.1"
    main = status["containerStatuses"][0]  # type: ignore[index]
    assert main["state"]["terminated"]["exitCode"] == 0
    assert main["imageID"].startswith("registry.example.com/ci/dind-preflight@sha256:")


def test_secret_0400_without_fs_group_is_root_only(
    cluster: ControlPlane, one_node: Kubelet
) -> None:
    """The reporter's crash loop before the fix: 0400 root-owned, runAsUser 10001."""
    seen, _ = _run(cluster, "without-fsgroup", None, 0o400)
    assert seen["/secret/token"] == {"error": "Permission denied"}
