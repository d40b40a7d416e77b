"""deploy/: every Kubernetes manifest is schema-valid (strict), the Role grants exactly what the
code uses, and the runner Helm values bind the service account."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import tomllib
import yaml

from preflight.kube import permissions
from tests.kube.validation import validate_strict

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if isinstance(doc, dict)]


MANIFESTS = [
    (path, doc)
    for path in sorted(DEPLOY.rglob("*.yaml"))
    for doc in documents(path)
    if "apiVersion" in doc and "kind" in doc
]


# Job mode's RBAC (deploy/rbac/); fleet mode's components have their own tests.
JOB_MODE = [(path, doc) for path, doc in MANIFESTS if path.parent.name == "rbac"]


def test_there_are_manifests() -> None:
    kinds = sorted({doc["kind"] for path, doc in MANIFESTS if path.parent.name == "rbac"})
    assert kinds == ["ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "ServiceAccount"]


@pytest.mark.parametrize(
    ("path", "doc"), MANIFESTS, ids=[f"{p.relative_to(DEPLOY)}:{d['kind']}" for p, d in MANIFESTS]
)
def test_manifest_is_valid_in_strict_mode(path: Path, doc: dict[str, Any]) -> None:
    validate_strict(doc)


def _rules(
    kind: str, manifests: list[tuple[Path, dict[str, Any]]] = JOB_MODE
) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for _, doc in manifests:
        if doc["kind"] == kind:
            for rule in doc["rules"]:
                assert rule["apiGroups"] == [""]
                found |= {
                    (verb, resource) for resource in rule["resources"] for verb in rule["verbs"]
                }
    return found


def _used(cluster_scoped: bool) -> set[tuple[str, str]]:
    every = [getattr(permissions, name) for name in dir(permissions) if name.isupper()]
    return {
        (p.verb, p.resource)
        for p in every
        if isinstance(p, permissions.Permission)
        and p.cluster_scoped is cluster_scoped
        # SelfSubjectReview: every authenticated user may (Kubernetes' system:basic-user)
        and not p.granted_in.startswith("the system:basic-user")
    }


def test_role_grants_exactly_what_the_code_uses() -> None:
    assert _rules("Role") == _used(cluster_scoped=False)
    assert _rules("Role") == {
        ("get", "pods"),
        ("create", "pods"),
        ("watch", "pods"),
        ("delete", "pods"),
        ("get", "pods/log"),
    }


def test_cluster_role_is_only_for_the_taint() -> None:
    assert (
        _rules("ClusterRole")
        == _used(cluster_scoped=True)
        == {("get", "nodes"), ("patch", "nodes")}
    )


def test_bindings_point_at_the_service_account() -> None:
    accounts = {
        (d["metadata"]["namespace"], d["metadata"]["name"])
        for _, d in JOB_MODE
        if d["kind"] == "ServiceAccount"
    }
    for _, doc in JOB_MODE:
        if doc["kind"] in ("RoleBinding", "ClusterRoleBinding"):
            subjects = {(s["namespace"], s["name"]) for s in doc["subjects"]}
            assert subjects <= accounts
            roles = {
                d["metadata"]["name"] for _, d in JOB_MODE if d["kind"] == doc["roleRef"]["kind"]
            }
            assert doc["roleRef"]["name"] in roles


def test_helm_values_bind_the_service_account() -> None:
    values = yaml.safe_load((DEPLOY / "helm/values-service-account.yaml").read_text())
    rendered = values["runners"]["config"].replace("{{.Release.Namespace}}", "gitlab-runner")
    config = tomllib.loads(rendered)
    kube = config["runners"][0]["kubernetes"]
    (account,) = [d["metadata"]["name"] for _, d in JOB_MODE if d["kind"] == "ServiceAccount"]
    assert kube["service_account"] == account
    assert kube["automount_service_account_token"] is True
    assert kube["privileged"] is True
    assert kube["namespace"] == "gitlab-runner"


def test_the_role_is_enough_for_a_whole_diagnosis_and_the_taint(tmp_path: Path) -> None:
    """With exactly deploy/rbac/ granted (everything else 403), nothing is missing."""
    import dataclasses

    from preflight.actions.taint import taint_for
    from preflight.kube.client import connect
    from preflight.kube.diagnose import diagnose_in_cluster
    from preflight.kube.settings import KubeSettings
    from preflight.kube.taint_node import taint_node
    from tests.admin.support import trusted_anchors
    from tests.kube.conftest import HELPER_IMAGE, JOB_ID, JOB_POD, TERMINATED_NAT, job_pod_manifest
    from tests.kube.failing_daemons import saved_log
    from tests.kube.fake_cluster import FakeKubelet, finishes, running_cluster
    from tests.kube.node_roots import centos8_node, node_report_output

    output = node_report_output(centos8_node(tmp_path / "node"))[1]
    with running_cluster(tmp_path) as cluster:
        cluster.allow_only(_rules("Role") | _rules("ClusterRole"))
        cluster.add("v1/pods", "ci", job_pod_manifest(service_state=TERMINATED_NAT))
        cluster.add(
            "v1/nodes", None, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "worker-3"}}
        )
        cluster.set_log(JOB_POD, "svc-0", saved_log("legacy-nat-missing"))
        settings = KubeSettings(
            pod_name=JOB_POD,
            job_id=JOB_ID,
            kubeconfig=str(cluster.kubeconfig()),
            proc="/x",
            helper_image=HELPER_IMAGE,
            anchors=trusted_anchors(helper_images=[HELPER_IMAGE]),
        )
        cluster.identity = (JOB_POD, "worker-3")
        with FakeKubelet(cluster, finishes(output, exit_code=1)):
            diagnosis = diagnose_in_cluster(None, settings)
        assert diagnosis.limitations == []
        assert diagnosis.evidence_source == "helper-pod"
        taint = taint_for(diagnosis)
        assert taint is not None
        outcome = taint_node(connect(settings), "worker-3", taint)
        assert outcome.changed and outcome.problem is None
        assert cluster.helper_pods() == []
        # ... and without the optional ClusterRole, only the taint is refused.
        cluster.allow_only(_rules("Role"))
        refused = taint_node(connect(dataclasses.replace(settings)), "worker-3", taint)
        assert refused.problem is not None and "cannot get nodes cluster-wide" in refused.problem


def _agent_docs(name: str) -> list[tuple[Path, dict[str, Any]]]:
    return [(p, d) for p, d in MANIFESTS if p.parent.name == "agent" and p.name == name]


def test_agent_rbac_is_what_the_agent_uses() -> None:
    docs = _agent_docs("rbac.yaml")
    assert _rules("ClusterRole", docs) == {
        ("get", "nodes"),
        ("patch", "nodes"),
        ("patch", "nodes/status"),
    }
    assert _rules("Role", docs) == {("create", "events")}


def test_fleet_mode_jobs_cannot_create_pods() -> None:
    docs = [(p, d) for p, d in MANIFESTS if p.name == "job-readonly.yaml"]
    granted = _rules("ClusterRole", docs) | _rules("Role", docs)
    assert granted == {("get", "nodes"), ("get", "pods"), ("watch", "pods"), ("get", "pods/log")}


def test_agent_reads_the_host_read_only_without_privileges() -> None:
    ((_, daemonset),) = [(p, d) for p, d in _agent_docs("daemonset.yaml")]
    spec = daemonset["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    (mount,) = container["volumeMounts"]
    assert mount["readOnly"] is True and mount["recursiveReadOnly"] in ("Enabled", "IfPossible")
    assert container["securityContext"]["privileged"] is False
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert spec["securityContext"]["runAsUser"] == 65534
    assert container["command"][:2] == ["dind-preflight", "agent"]


def test_npd_plugin_config_calls_node_report_npd() -> None:
    import json

    config = json.loads((DEPLOY / "npd/custom-plugin-dind.json").read_text())
    assert config["plugin"] == "custom"
    conditions = {c["type"] for c in config["conditions"]}
    for rule in config["rules"]:
        assert rule["condition"] in conditions and rule["type"] == "permanent"
        assert rule["args"][:1] == ["node-report"] and "--npd" in rule["args"]


def test_fleet_mode_helm_values() -> None:
    values = yaml.safe_load((DEPLOY / "helm/values-fleet-mode.yaml").read_text())
    config = tomllib.loads(values["runners"]["config"].replace("{{.Release.Namespace}}", "ci"))
    runner = config["runners"][0]
    (account,) = [d["metadata"]["name"] for _, d in JOB_MODE if d["kind"] == "ServiceAccount"]
    assert runner["kubernetes"]["service_account"] == account
    assert "DIND_PREFLIGHT_NO_HELPER=1" in runner["environment"]
    bound = {
        s["name"]
        for p, d in MANIFESTS
        if p.name == "job-readonly.yaml"
        if d["kind"].endswith("Binding")
        for s in d["subjects"]
    }
    assert bound == {account}


def test_agent_and_reporter_share_one_namespace_definition() -> None:
    (agent,) = [d for p, d in _agent_docs("00-namespace.yaml")]
    (reporter,) = [
        d for p, d in MANIFESTS if p.parent.name == "reporter" and p.name == "namespace.yaml"
    ]
    assert agent == reporter
