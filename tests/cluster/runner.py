"""A job pod as gitlab-runner's Kubernetes executor builds it from the runner's configuration.

The configuration is the TOML of ``runners.config`` in deploy/helm/values-runner-wide.yaml, the
file the docs tell admins to install: its service account, ``privileged``, volumes (empty_dir,
secret, config_map with items) and ``pre_build_script``. The executor's shape (gitlab-runner
executors/kubernetes): a ``build`` container running the job's script (here the runner's
``pre_build_script``, which calls ``dind-preflight run``) and one container per service, named
``svc-0``, ... and reachable by alias through ``hostAliases`` (127.0.0.1), with the job's
variables as the containers' environment.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomllib
import yaml

REPO = Path(__file__).resolve().parents[2]
RUNNER_VALUES = REPO / "deploy" / "helm" / "values-runner-wide.yaml"


def runner_config(namespace: str, values: Path = RUNNER_VALUES) -> dict[str, Any]:
    """The first ``[[runners]]`` of the Helm values' ``runners.config`` (the chart's template
    ``{{.Release.Namespace}}`` rendered)."""
    text = yaml.safe_load(values.read_text())["runners"]["config"]
    text = text.replace("{{.Release.Namespace}}", namespace)
    return dict(tomllib.loads(text)["runners"][0])


def _volumes(kube: Mapping[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    volumes: list[dict[str, Any]] = []
    mounts: list[dict[str, Any]] = []
    config = kube.get("volumes", {})
    for item in config.get("empty_dir", []):
        empty: dict[str, Any] = {"medium": item["medium"]} if item.get("medium") else {}
        volumes.append({"name": item["name"], "emptyDir": empty})
        mounts.append({"name": item["name"], "mountPath": item["mount_path"]})
    for kind, source_key, name_key in (
        ("secret", "secret", "secretName"),
        ("config_map", "configMap", "name"),
    ):
        for item in config.get(kind, []):
            source: dict[str, Any] = {name_key: item["name"]}
            if item.get("items"):
                source["items"] = [{"key": k, "path": v} for k, v in item["items"].items()]
            volumes.append({"name": item["name"], source_key: source})
            mounts.append(
                {
                    "name": item["name"],
                    "mountPath": item["mount_path"],
                    "readOnly": bool(item.get("read_only")),
                }
            )
    return volumes, mounts


def job_pod(
    *,
    name: str,
    namespace: str,
    node: str,
    job_image: str,
    variables: Mapping[str, str],
    services: list[dict[str, Any]],
    config: Mapping[str, Any],
) -> dict[str, Any]:
    """The pod of one job. ``services``: ``{"image", "alias", "variables"}`` each."""
    kube = config["kubernetes"]
    privileged = bool(kube.get("privileged"))
    environment = dict(item.split("=", 1) for item in config.get("environment", []))
    env = {**environment, **variables}  # a job's variables override the runner's environment
    volumes, mounts = _volumes(kube)
    containers = [
        {
            "name": "build",
            "image": job_image,
            "command": ["sh", "-c", config.get("pre_build_script", "true")],
            "env": [{"name": k, "value": v} for k, v in env.items()],
            "securityContext": {"privileged": privileged},
            "volumeMounts": mounts,
        }
    ]
    aliases: list[str] = []
    for number, service in enumerate(services):
        containers.append(
            {
                "name": f"svc-{number}",
                "image": service["image"],
                "env": [
                    {"name": k, "value": v}
                    for k, v in {**env, **service.get("variables", {})}.items()
                ],
                "securityContext": {"privileged": privileged},
                "volumeMounts": mounts,
            }
        )
        aliases.append(service["alias"])
    spec: dict[str, Any] = {
        "nodeName": node,
        "restartPolicy": "Never",
        "serviceAccountName": kube.get("service_account", "default"),
        "automountServiceAccountToken": bool(kube.get("automount_service_account_token", True)),
        "containers": containers,
        "volumes": volumes,
        "hostAliases": [{"ip": "127.0.0.1", "hostnames": aliases}],
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"job.runner.gitlab.com/pod": name},
        },
        "spec": spec,
    }
