"""Where the helper pod is in its life, from its API object; and reading its output. Pure.

``node-report`` exits 1 when a module is not fine, so a ``Failed`` pod whose container ran to
completion is a result, not an error. A pod pinned with ``nodeName`` skips the scheduler: when
the node cannot take it, the kubelet rejects it (phase ``Failed``, reason ``OutOfcpu``, ...).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum
from typing import Any

from preflight.jsonable import from_json
from preflight.kube.api_json import as_int
from preflight.kube.discovery import container_status
from preflight.kube.helper_pod_manifest import HELPER_CONTAINER
from preflight.node.model import NodeReport

IMAGE_PULL_FAILURES = frozenset(
    {"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"}
)
START_FAILURES = frozenset(
    {"CreateContainerConfigError", "CreateContainerError", "RunContainerError"}
)
# Exit codes of a container whose command could not run at all (not found, not executable).
_EXEC_FAILURE_CODES = frozenset({126, 127, 128})
NODE_REPORT_EXIT_CODES = frozenset({0, 1, 2})  # OK, NOT OK, UNKNOWN: a report was printed


class HelperPhase(str, Enum):
    PENDING = "pending"  # created, not running yet
    RUNNING = "running"
    FINISHED = "finished"  # node-report ran to completion: read the log
    UNSCHEDULABLE = "unschedulable"  # the node cannot or will not run it
    IMAGE_PULL_FAILED = "image-pull-failed"
    START_FAILED = "start-failed"  # the image has no dind-preflight, or the container cannot start
    OOM_KILLED = "oom-killed"  # node-report exceeded the helper's memory limit
    DEADLINE = "deadline-exceeded"
    GONE = "gone"  # deleted or evicted under us
    TIMEOUT = "timeout"  # our own budget ran out first

    @property
    def terminal(self) -> bool:
        return self not in (HelperPhase.PENDING, HelperPhase.RUNNING)


@dataclass(frozen=True)
class HelperState:
    phase: HelperPhase
    detail: str = ""
    exit_code: int | None = None
    image_id: str | None = None  # status.containerStatuses[].imageID: what the node really ran


def helper_state(pod: dict[str, Any] | None) -> HelperState:
    """Classify the helper pod object (``None``: it no longer exists), with the image it ran."""
    state = _classify(pod)
    container = container_status(pod, HELPER_CONTAINER) if pod is not None else None
    image_id = (container or {}).get("imageID")
    if isinstance(image_id, str) and image_id:
        from dataclasses import replace

        return replace(state, image_id=image_id)
    return state


def _classify(pod: dict[str, Any] | None) -> HelperState:
    if pod is None:
        return HelperState(HelperPhase.GONE, "the helper pod was deleted")
    status = pod.get("status") or {}
    phase = status.get("phase") or "Pending"
    container = container_status(pod, HELPER_CONTAINER)
    state = (container or {}).get("state") or {}
    terminated = state.get("terminated")
    waiting = state.get("waiting")
    if terminated:
        code = as_int(terminated.get("exitCode"))
        reason = str(terminated.get("reason") or "")
        if reason == "OOMKilled":
            return HelperState(HelperPhase.OOM_KILLED, _join(reason, f"exit {code}"), code)
        if code in NODE_REPORT_EXIT_CODES:
            return HelperState(HelperPhase.FINISHED, reason, code)
        if code in _EXEC_FAILURE_CODES or reason in ("StartError", "ContainerCannotRun"):
            return HelperState(
                HelperPhase.START_FAILED, _join(reason, terminated.get("message")), code
            )
        return HelperState(
            HelperPhase.FINISHED, _join(reason, terminated.get("message")) or f"exit {code}", code
        )
    if waiting:
        reason = str(waiting.get("reason") or "")
        if reason in IMAGE_PULL_FAILURES:
            return HelperState(HelperPhase.IMAGE_PULL_FAILED, _join(reason, waiting.get("message")))
        if reason in START_FAILURES:
            return HelperState(HelperPhase.START_FAILED, _join(reason, waiting.get("message")))
    if phase == "Failed":
        reason = str(status.get("reason") or "")
        detail = _join(reason, status.get("message"))
        if reason == "DeadlineExceeded":
            return HelperState(HelperPhase.DEADLINE, detail)
        if reason == "Evicted":
            return HelperState(HelperPhase.GONE, detail)
        return HelperState(HelperPhase.UNSCHEDULABLE, detail or "rejected by the node")
    if phase == "Succeeded":
        return HelperState(HelperPhase.FINISHED, "Succeeded", 0)
    scheduled = _condition(status, "PodScheduled")
    if scheduled and scheduled.get("status") == "False":
        detail = _join(scheduled.get("reason"), scheduled.get("message"))
        return HelperState(HelperPhase.UNSCHEDULABLE, detail or "not schedulable")
    if phase == "Running":
        return HelperState(HelperPhase.RUNNING)
    return HelperState(HelperPhase.PENDING, str(phase))


def parse_node_report(text: str) -> NodeReport:
    """The NodeReport in the helper's log; stderr lines around the JSON are tolerated.

    Raises ValueError with a short reason when there is no node report in ``text``.
    """
    decoder = json.JSONDecoder()
    last_error = "empty output"
    for index, char in enumerate(text):
        if char != "{" or (index > 0 and text[index - 1] != "\n"):
            continue
        try:
            data, _ = decoder.raw_decode(text, index)
        except json.JSONDecodeError as exc:
            last_error = f"invalid JSON ({exc.msg})"
            continue
        if isinstance(data, dict) and "modules" in data:
            try:
                return from_json(NodeReport, data)
            except (TypeError, ValueError, KeyError, AttributeError) as exc:
                last_error = f"not a node report ({exc})"
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    hint = f"; output starts: {first[:160]}" if first else ""
    raise ValueError(f"{last_error}{hint}")


def _condition(status: dict[str, Any], kind: str) -> dict[str, Any] | None:
    for entry in status.get("conditions") or []:
        if isinstance(entry, dict) and entry.get("type") == kind:
            return entry
    return None


def _join(*parts: Any) -> str:
    return ": ".join(str(p) for p in parts if p)
