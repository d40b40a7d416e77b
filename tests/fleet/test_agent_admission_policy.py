"""deploy/agent/admission-policy.yaml, evaluated by cel-python (as tests/kube/test_admission_policy.py
does for the helper pod): the agent changes only its own node, and there only its conditions and
its taint; metadata is checked on every subresource."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.kube.test_admission_policy import Policy

POLICY_FILE = Path(__file__).resolve().parents[2] / "deploy" / "agent" / "admission-policy.yaml"
AGENT = "system:serviceaccount:dind-preflight:dind-preflight-agent"
NODE = "worker-3"
EXTRA = {"authentication.kubernetes.io/node-name": [NODE]}


@pytest.fixture(scope="module")
def policy() -> Policy:
    documents = [d for d in yaml.safe_load_all(POLICY_FILE.read_text()) if isinstance(d, dict)]
    (spec,) = [d["spec"] for d in documents if d["kind"] == "ValidatingAdmissionPolicy"]
    return Policy(spec)


def node() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": NODE, "labels": {"kubernetes.io/hostname": NODE}},
        "spec": {"podCIDR": "10.244.3.0/24", "taints": []},
        "status": {
            "addresses": [{"type": "InternalIP", "address": "192.0.2.3"}],
            "capacity": {"cpu": "4"},
            "conditions": [
                {"type": "Ready", "status": "True"},
                {"type": "DindReady", "status": "True"},
            ],
        },
    }


def review(
    policy: Policy, new: dict[str, Any], sub: str = "", extra: Any = None
) -> list[str] | None:
    return policy.review(
        {
            "operation": "UPDATE",
            "subResource": sub,
            "userInfo": {"username": AGENT, "extra": EXTRA if extra is None else extra},
            "object": new,
            "oldObject": node(),
        }
    )


def changed(path: list[str | int], value: Any) -> dict[str, Any]:
    new = copy.deepcopy(node())
    target: Any = new
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return new


def test_its_own_condition_and_taint_are_allowed(policy: Policy) -> None:
    down = changed(["status", "conditions", 1], {"type": "DindReady", "status": "False"})
    assert review(policy, down, "status") == []
    taint = {"key": "dind-preflight.io/broken", "value": "x", "effect": "NoSchedule"}
    assert review(policy, changed(["spec", "taints"], [taint])) == []


@pytest.mark.parametrize(
    ("path", "value", "sub"),
    [
        (["metadata", "labels"], {"kubernetes.io/hostname": NODE, "evil": "1"}, "status"),
        (["metadata", "annotations"], {"x": "y"}, "status"),
        (["metadata", "finalizers"], ["example.com/block"], ""),
        (["status", "conditions", 0], {"type": "Ready", "status": "False"}, "status"),
        (["status", "addresses"], [{"type": "InternalIP", "address": "203.0.113.9"}], "status"),
        (["status", "capacity"], {"cpu": "400"}, "status"),
        (["spec", "unschedulable"], True, ""),
        (["spec", "podCIDR"], "10.0.0.0/8", ""),
        (["spec", "taints"], [{"key": "other", "effect": "NoExecute"}], ""),
    ],
)
def test_anything_else_is_denied(
    policy: Policy, path: list[str | int], value: Any, sub: str
) -> None:
    assert review(policy, changed(path, value), sub), f"{path} on /{sub} was admitted"


def test_another_node_or_no_claim_is_denied(policy: Policy) -> None:
    assert review(policy, node(), "status", extra={"authentication.kubernetes.io/node-name": ["x"]})
    assert review(policy, node(), "status", extra={})
