"""The shipped admin ConfigMap is a valid admin file, the runner mounts it at the fixed path,
and the helper admission policy pins the same helper digests."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import tomllib
import yaml

from preflight.admin.config import ADMIN_CONFIG_PATH, parse_admin_config

REPO = Path(__file__).resolve().parents[2]


def _docs(path: str) -> list[dict[str, Any]]:
    text = (REPO / path).read_text()
    return [d for d in yaml.safe_load_all(text) if isinstance(d, dict)]


def _admin_data() -> dict[str, Any]:
    (configmap,) = _docs("deploy/admin/configmap.yaml")
    data: dict[str, Any] = json.loads(configmap["data"]["config.json"])
    return data


def test_the_shipped_configmap_is_a_valid_admin_file() -> None:
    data = dict(_admin_data())
    data.pop("token_file")  # a Secret key in a job pod, not a file here
    admin = parse_admin_config(data)
    assert admin.gitlab_url.startswith("https://")
    assert admin.helper_images


def test_the_runner_mounts_it_at_the_fixed_path() -> None:
    values = yaml.safe_load((REPO / "deploy/helm/values-runner-wide.yaml").read_text())
    config = tomllib.loads(values["runners"]["config"])
    volumes = config["runners"][0]["kubernetes"]["volumes"]
    (mount,) = [v for v in volumes["config_map"] if v["name"] == "dind-preflight-admin"]
    path = Path(mount["mount_path"]) / mount["items"]["config.json"]
    assert str(path) == ADMIN_CONFIG_PATH
    (secret,) = volumes["secret"]
    assert _admin_data()["token_file"].startswith(secret["mount_path"] + "/")


def test_the_admission_policy_pins_the_same_helper_digests() -> None:
    policy = next(
        d
        for d in _docs("deploy/admission/helper-pod-policy.yaml")
        if d["kind"] == "ValidatingAdmissionPolicy"
    )
    (expression,) = [
        v["expression"] for v in policy["spec"]["variables"] if v["name"] == "allowedImages"
    ]
    pinned = set(re.findall(r'"([^"]+)"', expression))
    assert pinned == set(_admin_data()["helper_images"])


def test_resolves_helper_image_is_one_the_policy_admits() -> None:
    cronjob = next(
        d for d in _docs("deploy/reporter/cronjob-resolve.yaml") if d["kind"] == "CronJob"
    )
    pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (image,) = [
        a.split("=", 1)[1] for a in pod["containers"][0]["args"] if a.startswith("--helper-image=")
    ]
    assert image in _admin_data()["helper_images"]
