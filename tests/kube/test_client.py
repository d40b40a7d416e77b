"""Connecting like a pod does (service-account token over TLS) or through KUBECONFIG, and what
happens when neither works."""

from __future__ import annotations

import dataclasses
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from preflight.kube import permissions
from preflight.kube.client import KubeUnavailable, connect
from preflight.kube.diagnose import diagnose_in_cluster
from preflight.kube.settings import KubeSettings
from preflight.redaction import redact
from tests.kube.conftest import JOB_POD, TERMINATED_NAT, job_pod_manifest
from tests.kube.failing_daemons import saved_log
from tests.kube.fake_cluster import TOKEN, FakeCluster, running_cluster

SA_TOKEN = "eyJhbGciOiJSUzI1NiJ9.service-account-token-for-tests"


@pytest.fixture
def tls_cluster(tmp_path: Path) -> Iterator[tuple[FakeCluster, trustme.CA]]:
    ca = trustme.CA()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    with running_cluster(tmp_path, tls=context) as cluster:
        yield cluster, ca
        assert cluster.helper_pods() == []


def service_account_dir(tmp_path: Path, ca: trustme.CA, namespace: str = "ci") -> Path:
    sa = tmp_path / "serviceaccount"
    sa.mkdir()
    (sa / "token").write_text(SA_TOKEN)
    (sa / "namespace").write_text(namespace)
    ca.cert_pem.write_to_path(str(sa / "ca.crt"))
    return sa


def test_in_cluster_over_tls_with_the_service_account_token(
    tls_cluster: tuple[FakeCluster, trustme.CA], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster, ca = tls_cluster
    assert cluster.url.startswith("https://127.0.0.1:")
    port = cluster.url.rsplit(":", 1)[1]
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", port)
    cluster.add("v1/pods", "ci", job_pod_manifest(service_state=TERMINATED_NAT))
    cluster.set_log(JOB_POD, "svc-0", saved_log("legacy-nat-missing"))
    settings = KubeSettings(
        in_cluster=True,
        service_account_dir=str(service_account_dir(tmp_path, ca)),
        pod_name=JOB_POD,
        use_helper=False,
        proc="/nonexistent",
    )
    diagnosis = diagnose_in_cluster(None, settings)
    assert diagnosis.cause.code == "iptable_nat-missing"
    assert diagnosis.namespace == "ci" and diagnosis.node == "worker-3"
    first = cluster.requests()[0]
    assert first.headers["Authorization"].lower() == f"bearer {SA_TOKEN}".lower()
    assert redact(f"token {SA_TOKEN}") == "token [MASKED]"


def test_in_cluster_without_a_token_names_the_runner_setting(tmp_path: Path) -> None:
    settings = KubeSettings(in_cluster=True, service_account_dir=str(tmp_path / "missing"))
    with pytest.raises(KubeUnavailable) as error:
        connect(
            settings,
            environ={"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"},
        )
    assert "automount_service_account_token = true" in error.value.limitation
    assert "Service token file does not exist" in error.value.limitation


def test_in_cluster_untrusted_server_is_unavailable(
    tls_cluster: tuple[FakeCluster, trustme.CA], tmp_path: Path
) -> None:
    cluster, _ = tls_cluster
    other_ca = trustme.CA()
    port = cluster.url.rsplit(":", 1)[1]
    settings = KubeSettings(
        in_cluster=True,
        service_account_dir=str(service_account_dir(tmp_path, other_ca)),
        pod_name=JOB_POD,
    )
    ctx = connect(
        settings, environ={"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": port}
    )
    with pytest.raises(
        KubeUnavailable, match=r"cannot reach the Kubernetes API at https://127\.0\.0\.1"
    ):
        ctx.call(
            permissions.GET_POD,
            ctx.api.read_namespaced_pod,
            JOB_POD,
            "ci",
            timeout=2,
        )


def test_kubeconfig_namespace_and_token_registered(
    cluster: FakeCluster, settings: KubeSettings
) -> None:
    ctx = connect(settings)
    assert ctx.namespace == "ci" and ctx.source == "kubeconfig"
    assert ctx.server == cluster.url
    assert TOKEN not in redact(f"Authorization: Bearer {TOKEN}")
    assert "[MASKED]" in redact(f"token={TOKEN}")
    overridden = connect(dataclasses.replace(settings, namespace="other"))
    assert overridden.namespace == "other"


def test_broken_kubeconfig(tmp_path: Path) -> None:
    bad = tmp_path / "kubeconfig"
    bad.write_text("apiVersion: v1\nkind: Config\nclusters: []\n")
    with pytest.raises(KubeUnavailable, match=f"KUBECONFIG {bad} cannot be used"):
        connect(KubeSettings(kubeconfig=str(bad)))
    with pytest.raises(KubeUnavailable, match="cannot be used"):
        connect(KubeSettings(kubeconfig=str(tmp_path / "nope")))


def test_api_server_down(settings: KubeSettings, tmp_path: Path, cluster: FakeCluster) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    config = (
        Path(settings.kubeconfig or "")
        .read_text()
        .replace(cluster.url, f"http://127.0.0.1:{closed_port}")
    )
    down = tmp_path / "down.yaml"
    down.write_text(config)
    diagnosis = diagnose_in_cluster(None, dataclasses.replace(settings, kubeconfig=str(down)))
    assert diagnosis.limitations[0].startswith(
        f"cannot reach the Kubernetes API at http://127.0.0.1:{closed_port}"
    )
    assert diagnosis.elapsed_s < 5
