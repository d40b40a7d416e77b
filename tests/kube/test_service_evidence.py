"""The dind service's evidence from its container status (API JSON) and log tail."""

from __future__ import annotations

from typing import Any

import pytest

from preflight.kube.discovery import ServiceContainer
from preflight.kube.service_evidence import (
    absent_service,
    is_stuck,
    log_lines,
    service_evidence,
    wants_previous_log,
)
from tests.kube.failing_daemons import saved_log

SVC = ServiceContainer("svc-0", "docker:24.0-dind")


def status(
    state: dict[str, Any], restarts: int = 0, last: dict[str, Any] | None = None
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": "svc-0",
        "image": "docker:24.0-dind",
        "restartCount": restarts,
        "state": state,
    }
    if last is not None:
        entry["lastState"] = last
    return entry


TERMINATED = {
    "terminated": {"exitCode": 1, "reason": "Error", "finishedAt": "2026-01-01T10:00:02Z"}
}
CASES = [
    ("running", status({"running": {"startedAt": "t"}}), "running", None, None, False, False),
    ("terminated", status(TERMINATED), "terminated", 1, "Error", True, True),
    (
        "OOM-killed",
        status({"terminated": {"exitCode": 137, "reason": "OOMKilled"}}),
        "terminated",
        137,
        "OOMKilled",
        True,
        True,
    ),
    (
        "crash loop",
        status(
            {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 10s"}}, 3, TERMINATED
        ),
        "waiting",
        1,
        "CrashLoopBackOff",
        True,
        True,
    ),
    (
        "image pull",
        status({"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image"}}),
        "waiting",
        None,
        "ImagePullBackOff",
        False,
        True,
    ),
    (
        "creating",
        status({"waiting": {"reason": "ContainerCreating"}}),
        "waiting",
        None,
        "ContainerCreating",
        False,
        False,
    ),
    ("no state yet", status({}), "unknown", None, None, False, False),
    ("not reported", None, "unknown", None, None, False, False),
]


@pytest.mark.parametrize(
    ("entry", "state", "exit_code", "reason", "dead", "stuck"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_states(
    entry: dict[str, Any] | None,
    state: str,
    exit_code: int | None,
    reason: str | None,
    dead: bool,
    stuck: bool,
) -> None:
    evidence = service_evidence(SVC, entry)
    assert (evidence.state, evidence.exit_code, evidence.reason) == (state, exit_code, reason)
    assert evidence.dead is dead
    assert is_stuck(evidence) is stuck
    assert evidence.container == "svc-0" and evidence.image == "docker:24.0-dind"


def test_real_field_report_log_is_matched() -> None:
    evidence = service_evidence(SVC, status(TERMINATED), saved_log("legacy-nat-missing"), tail=200)
    assert evidence.finished_at == "2026-01-01T10:00:02Z"
    assert [m.cause for m in evidence.matches] == ["iptable_nat-missing", "iptable_nat-missing"]
    assert evidence.log_tail[-1].strip() == "(exit status 3)"


def test_tail_limits_what_is_kept() -> None:
    text = "\n".join(f"line {i}" for i in range(500))
    assert log_lines(text, 3) == ["line 497", "line 498", "line 499"]
    assert log_lines(text, 0) == []
    assert len(service_evidence(SVC, None, text, tail=200).log_tail) == 200


def test_previous_log_only_for_a_restarted_waiting_container() -> None:
    assert wants_previous_log(status({"waiting": {"reason": "CrashLoopBackOff"}}, 2, TERMINATED))
    assert not wants_previous_log(status({"waiting": {"reason": "CrashLoopBackOff"}}, 0))
    assert not wants_previous_log(status(TERMINATED, 1))
    assert not wants_previous_log(status({"running": {}}, 1))
    assert not wants_previous_log(None)


def test_absent_service() -> None:
    evidence = absent_service()
    assert evidence.state == "absent" and not evidence.dead and not is_stuck(evidence)
