"""Classifying the helper pod from its API object, and reading node-report's output from its log."""

from __future__ import annotations

import json
from typing import Any

import pytest

from preflight.jsonable import to_json
from preflight.kube.helper_pod_state import HelperPhase, helper_state, parse_node_report
from tests.diagnosis.evidence import node


def pod(
    phase: str | None = None, container: dict[str, Any] | None = None, **status: Any
) -> dict[str, Any]:
    body: dict[str, Any] = dict(status)
    if phase:
        body["phase"] = phase
    if container is not None:
        body["containerStatuses"] = [{"name": "node-report", "restartCount": 0, "state": container}]
    return {"metadata": {"name": "h"}, "status": body}


CASES = [
    ("just created", pod(), HelperPhase.PENDING),
    (
        "node-report OOM-killed (its empty log is not 'no output')",
        pod("Failed", {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}),
        HelperPhase.OOM_KILLED,
    ),
    ("pulling", pod("Pending", {"waiting": {"reason": "ContainerCreating"}}), HelperPhase.PENDING),
    ("running", pod("Running", {"running": {}}), HelperPhase.RUNNING),
    (
        "node-report ok",
        pod("Succeeded", {"terminated": {"exitCode": 0, "reason": "Completed"}}),
        HelperPhase.FINISHED,
    ),
    (
        "node-report found problems (exit 1)",
        pod("Failed", {"terminated": {"exitCode": 1, "reason": "Error"}}),
        HelperPhase.FINISHED,
    ),
    (
        "node-report crashed (exit 70)",
        pod("Failed", {"terminated": {"exitCode": 70, "reason": "Error"}}),
        HelperPhase.FINISHED,
    ),
    ("succeeded without container status", pod("Succeeded"), HelperPhase.FINISHED),
    (
        "no dind-preflight in the image",
        pod("Failed", {"terminated": {"exitCode": 128, "reason": "StartError"}}),
        HelperPhase.START_FAILED,
    ),
    (
        "command not found (127)",
        pod("Failed", {"terminated": {"exitCode": 127, "reason": "Error"}}),
        HelperPhase.START_FAILED,
    ),
    (
        "ErrImagePull",
        pod("Pending", {"waiting": {"reason": "ErrImagePull"}}),
        HelperPhase.IMAGE_PULL_FAILED,
    ),
    (
        "ImagePullBackOff",
        pod("Pending", {"waiting": {"reason": "ImagePullBackOff"}}),
        HelperPhase.IMAGE_PULL_FAILED,
    ),
    (
        "InvalidImageName",
        pod("Pending", {"waiting": {"reason": "InvalidImageName"}}),
        HelperPhase.IMAGE_PULL_FAILED,
    ),
    (
        "CreateContainerConfigError",
        pod("Pending", {"waiting": {"reason": "CreateContainerConfigError"}}),
        HelperPhase.START_FAILED,
    ),
    (
        "kubelet rejects: OutOfcpu",
        pod("Failed", reason="OutOfcpu", message="Node didn't have enough resource: cpu"),
        HelperPhase.UNSCHEDULABLE,
    ),
    (
        "kubelet rejects: NodeAffinity",
        pod("Failed", reason="NodeAffinity"),
        HelperPhase.UNSCHEDULABLE,
    ),
    (
        "scheduler: Unschedulable",
        pod(
            "Pending",
            conditions=[{"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}],
        ),
        HelperPhase.UNSCHEDULABLE,
    ),
    (
        "scheduled",
        pod("Pending", conditions=[{"type": "PodScheduled", "status": "True"}]),
        HelperPhase.PENDING,
    ),
    (
        "deadline",
        pod(
            "Failed",
            reason="DeadlineExceeded",
            message="Pod was active on the node longer than the specified deadline",
        ),
        HelperPhase.DEADLINE,
    ),
    ("evicted", pod("Failed", reason="Evicted"), HelperPhase.GONE),
    ("deleted", None, HelperPhase.GONE),
]


@pytest.mark.parametrize(("obj", "phase"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_helper_state(obj: dict[str, Any] | None, phase: HelperPhase) -> None:
    state = helper_state(obj)
    assert state.phase is phase
    assert state.phase.terminal is (phase not in (HelperPhase.PENDING, HelperPhase.RUNNING))


def test_details_carry_kubernetes_words() -> None:
    state = helper_state(
        pod("Failed", reason="OutOfcpu", message="Node didn't have enough resource: cpu")
    )
    assert state.detail == "OutOfcpu: Node didn't have enough resource: cpu"
    started = helper_state(
        pod(
            "Failed",
            {"terminated": {"exitCode": 128, "reason": "StartError", "message": "exec: not found"}},
        )
    )
    assert started.detail == "StartError: exec: not found" and started.exit_code == 128


REPORT_JSON = json.dumps(to_json(node(nat=False)), indent=2)


@pytest.mark.parametrize(
    "text",
    [
        REPORT_JSON,
        REPORT_JSON + "\n",
        "warning: something on stderr\n" + REPORT_JSON + "\ntrailing stderr line\n",
        json.dumps(to_json(node(nat=False))),
    ],
    ids=["plain", "newline", "stderr-around", "one-line"],
)
def test_parse_node_report(text: str) -> None:
    report = parse_node_report(text)
    assert report == node(nat=False)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty output"),
        ('exec: "dind-preflight": executable file not found in $PATH\n', "output starts: exec"),
        ('{"modules": ', "invalid JSON"),
        ('{"other": 1}\n', "empty output"),
        ('{"modules": 5, "root": "/"}\n', "not a node report"),
    ],
)
def test_parse_node_report_errors(text: str, fragment: str) -> None:
    with pytest.raises(ValueError) as error:
        parse_node_report(text)
    assert fragment in str(error.value)
