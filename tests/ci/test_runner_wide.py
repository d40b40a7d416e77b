"""Runner-wide install: the gitlab-runner chart values (its ``runners.config`` TOML, parsed with
tomllib as the runner parses its config.toml), their agreement with the component and with the
RBAC in deploy/rbac/, and the Kubernetes manifests of docs/runner-wide.md (strict validation)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import tomllib
import yaml

from tests.ci.gitlab_ci_local import REPO_ROOT

VALUES = REPO_ROOT / "deploy" / "helm" / "values-runner-wide.yaml"
DOC = REPO_ROOT / "docs" / "runner-wide.md"
KUBERNETES_VERSION = "1.31.0"
ACTIONS = {"auto", "pause-runner", "taint-node", "none"}


def _values() -> dict[str, Any]:
    values = yaml.safe_load(VALUES.read_text())
    assert isinstance(values, dict)
    return values


def _runner() -> dict[str, Any]:
    config = tomllib.loads(_values()["runners"]["config"])
    assert len(config["runners"]) == 1, "one [[runners]] section"
    runner = config["runners"][0]
    assert isinstance(runner, dict)
    return runner


def _component_defaults() -> dict[str, Any]:
    header = next(yaml.safe_load_all((REPO_ROOT / "templates/dind-preflight.yml").read_text()))
    inputs = header["spec"]["inputs"]
    assert isinstance(inputs, dict)
    return inputs


def _rbac_documents() -> list[dict[str, Any]]:
    documents = [
        document
        for path in sorted((REPO_ROOT / "deploy" / "rbac").glob("*.y*ml"))
        for document in yaml.safe_load_all(path.read_text())
        if isinstance(document, dict)
    ]
    if not documents:
        pytest.fail("deploy/rbac/ has no manifests: the job service account must be defined there")
    return documents


def test_the_values_set_only_the_runner_config() -> None:
    # Everything else (gitlabUrl, the runner token, rbac for the manager) is the admin's own.
    assert set(_values()) == {"runners"}
    assert set(_values()["runners"]) == {"config"}


def test_the_only_template_expression_is_the_release_namespace() -> None:
    expressions = re.findall(r"\{\{.*?\}\}", _values()["runners"]["config"])
    assert expressions == ["{{.Release.Namespace}}"]


def test_the_pre_build_script_runs_the_preflight() -> None:
    script = _runner()["pre_build_script"]
    assert "dind-preflight run" in script
    assert "exit" in script and "69|75|78)" in script


def test_the_environment_gives_valid_preflight_settings() -> None:
    environment = dict(entry.split("=", 1) for entry in _runner()["environment"])
    assert set(environment) <= {
        "DIND_PREFLIGHT_ACTION",
        "DIND_PREFLIGHT_TIMEOUT",
        "DIND_PREFLIGHT_REPORT_PROJECT",
        "DIND_PREFLIGHT_HELPER_IMAGE",
    }
    assert environment["DIND_PREFLIGHT_ACTION"] in ACTIONS
    assert environment["DIND_PREFLIGHT_ACTION"] == _component_defaults()["action"]["default"]
    assert int(environment["DIND_PREFLIGHT_TIMEOUT"]) == _component_defaults()["timeout"]["default"]
    # The token is never a plain value in config.toml (the chart renders it into a ConfigMap).
    assert "DIND_PREFLIGHT_GITLAB_TOKEN" not in environment


def test_the_job_pods_can_run_tls_dind_with_the_preflight_service_account() -> None:
    kubernetes = _runner()["kubernetes"]
    assert kubernetes["namespace"] == "{{.Release.Namespace}}"
    assert kubernetes["privileged"] is True
    assert kubernetes["service_account"]
    # The preflight talks to the Kubernetes API with the service account's token.
    assert kubernetes["automount_service_account_token"] is True
    assert kubernetes["image"] == _component_defaults()["image"]["default"]
    (certs,) = kubernetes["volumes"]["empty_dir"]
    # The component's TLS variant reads its client certificates there (DOCKER_CERT_PATH).
    assert certs["mount_path"] == "/certs/client"
    (secret,) = kubernetes["volumes"]["secret"]
    assert secret["read_only"] is True
    assert secret["name"] == "dind-preflight-gitlab-token"


def test_the_runner_wide_values_include_the_service_account_values() -> None:
    # values-service-account.yaml is the diagnosis-only subset; ours must not drift from it.
    subset_values = yaml.safe_load((VALUES.parent / "values-service-account.yaml").read_text())
    subset = tomllib.loads(subset_values["runners"]["config"])["runners"][0]["kubernetes"]
    ours = _runner()["kubernetes"]
    for key, value in subset.items():
        if key == "volumes":  # ours adds the token's Secret volume to the subset's
            for kind, entries in value.items():
                for entry in entries:
                    assert entry in ours["volumes"].get(kind, []), f"volume {kind} {entry}"
            continue
        assert ours.get(key) == value, f"[runners.kubernetes] {key}"


@pytest.mark.parametrize(
    "name", ["values-fleet-mode.yaml", "values-service-account.yaml", "values-runner-wide.yaml"]
)
def test_each_helm_values_file_is_a_complete_config_for_tls_dind(name: str) -> None:
    """Helm replaces `runners.config` whole: each file is a complete example for its mode (it says
    so), so a TLS dind job keeps its client certificates whichever file is used."""
    path = VALUES.parent / name
    text = path.read_text()
    assert "A COMPLETE `runners.config`" in text and "not a layer" in text
    runner = tomllib.loads(yaml.safe_load(text)["runners"]["config"])["runners"][0]
    kubernetes = runner["kubernetes"]
    assert kubernetes["privileged"] is True
    certs = kubernetes["volumes"]["empty_dir"]
    assert {"name": "docker-certs", "mount_path": "/certs/client", "medium": "Memory"} in certs


def test_the_service_account_is_the_one_deploy_rbac_defines_and_binds() -> None:
    account = _runner()["kubernetes"]["service_account"]
    documents = _rbac_documents()
    accounts = {d["metadata"]["name"] for d in documents if d.get("kind") == "ServiceAccount"}
    assert account in accounts, f"{account} is not a ServiceAccount in deploy/rbac ({accounts})"
    bound = {
        subject["name"]
        for d in documents
        if d.get("kind") in ("RoleBinding", "ClusterRoleBinding")
        for subject in d.get("subjects", [])
        if subject.get("kind") == "ServiceAccount"
    }
    assert account in bound, f"no binding in deploy/rbac grants {account} anything"


def _doc_manifests() -> list[dict[str, Any]]:
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    return [
        document
        for block in blocks
        for document in yaml.safe_load_all(block)
        if isinstance(document, dict) and "apiVersion" in document and "kind" in document
    ]


def test_the_documented_manifests_are_valid_kubernetes_objects() -> None:
    manifests = _doc_manifests()
    assert {m["kind"] for m in manifests} >= {"Secret"}
    for manifest in manifests:
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


def test_the_documented_secret_is_the_one_the_runner_mounts() -> None:
    (secret,) = [m for m in _doc_manifests() if m["kind"] == "Secret"]
    mounted = _runner()["kubernetes"]["volumes"]["secret"][0]
    assert secret["metadata"]["name"] == mounted["name"]
    assert set(secret["stringData"]) == {"gitlab-token", "gitlab-url"}


def test_strict_validation_rejects_a_misspelled_field() -> None:
    # Strict mode is what makes the check above worth something.
    bad = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}, "stringdata": {}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, KUBERNETES_VERSION, strict=True)


def test_the_documented_values_file_is_this_one() -> None:
    text = DOC.read_text()
    assert "deploy/helm/values-runner-wide.yaml" in text
    assert "pre_build_script" in text
    assert Path("deploy/rbac").as_posix() in text


def test_the_documented_runner_configurations_are_valid_toml() -> None:
    blocks = re.findall(r"```toml\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    blocks += re.findall(
        r"```toml\n(.*?)```", (REPO_ROOT / "docs" / "component.md").read_text(), flags=re.DOTALL
    )
    assert len(blocks) >= 3
    for block in blocks:
        config = tomllib.loads(block)
        runners = config.get("runners", [])
        for runner in runners if isinstance(runners, list) else []:
            for entry in runner.get("environment", []):
                key, _, value = entry.partition("=")
                if key == "DIND_PREFLIGHT_ACTION":
                    assert value in ACTIONS
