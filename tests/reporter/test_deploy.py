"""deploy/reporter/: the reporter's and the resolve CronJob's grants are exactly what their code
uses; the token arrives as a file from a Secret; the Deployment runs the reporter command with
flags the program accepts. (Every manifest is validated strictly in tests/kube.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from preflight.cli import build_parser
from preflight.kube import permissions
from preflight.reporter import cluster, lease

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "reporter"


def docs(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((DEPLOY / name).read_text()) if isinstance(d, dict)]


def grants(documents: list[dict[str, Any]], kinds: tuple[str, ...]) -> set[tuple[str, str]]:
    return {
        (verb, resource)
        for doc in documents
        if doc["kind"] in kinds
        for rule in doc["rules"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def test_the_reporter_is_granted_exactly_what_it_uses() -> None:
    used = {
        (p.verb, p.resource)
        for module in (cluster, lease)
        for p in vars(module).values()
        if isinstance(p, permissions.Permission)
    }
    assert grants(docs("rbac.yaml"), ("Role", "ClusterRole")) == used
    assert ("create", "pods") not in used and ("patch", "nodes") not in used


def test_resolve_is_granted_what_the_helper_pod_and_the_untaint_use() -> None:
    every = {
        (p.verb, p.resource)
        for p in vars(permissions).values()
        if isinstance(p, permissions.Permission)
        # SelfSubjectReview: every authenticated user may (Kubernetes' system:basic-user)
        and not p.granted_in.startswith("the system:basic-user")
    }
    assert grants(docs("cronjob-resolve.yaml"), ("Role", "ClusterRole")) == every


def test_commands_and_token_file_match_the_program() -> None:
    for name, command in (("deployment.yaml", "reporter"), ("cronjob-resolve.yaml", "resolve")):
        workload = next(d for d in docs(name) if d["kind"] in ("Deployment", "CronJob"))
        pod = (
            workload["spec"]["template"]["spec"]
            if command == "reporter"
            else (workload["spec"]["jobTemplate"]["spec"]["template"]["spec"])
        )
        container = pod["containers"][0]
        args = container["args"]
        assert args[:2] == ["dind-preflight", command]
        parsed = build_parser(command).parse_args(args[1:])
        mount = container["volumeMounts"][0]["mountPath"]
        assert parsed.token_file.startswith(mount + "/")
        assert pod["volumes"][0]["secret"]["secretName"] == "dind-preflight-gitlab"
        assert not any("TOKEN" in env.get("name", "") for env in container.get("env", []))
        assert container["securityContext"]["readOnlyRootFilesystem"] is True


def test_the_network_policy_admits_only_job_pods_to_the_reporters_port() -> None:
    (policy,) = docs("networkpolicy.yaml")
    deployment = next(d for d in docs("deployment.yaml") if d["kind"] == "Deployment")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    selected = policy["spec"]["podSelector"]["matchLabels"]
    assert selected.items() <= labels.items()
    ports = {
        p["containerPort"] for p in deployment["spec"]["template"]["spec"]["containers"][0]["ports"]
    }
    rule, health = policy["spec"]["ingress"]
    assert {p["port"] for p in rule["ports"] + health["ports"]} == ports
    assert [p["port"] for p in health["ports"]] == [8081]  # probes and metrics only
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--health-port=8081" in args and "--listen=0.0.0.0:8080" in args
    (source,) = rule["from"]
    assert source["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "gitlab-runner"
    }
    assert source["podSelector"]["matchExpressions"][0]["key"] == "job.runner.gitlab.com/pod"
    assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
