"""One node's audit result (the JSON contract of ``audit --json``). Pure data."""

from __future__ import annotations

from dataclasses import dataclass

from preflight.readiness.model import NodeReadiness, Status

AGENT = "agent"
HELPER_POD = "helper-pod"
NONE = "none"


@dataclass(frozen=True)
class NodeAudit:
    node: str
    readiness: NodeReadiness
    source: str  # agent | helper-pod | none
    problem: str | None = None  # why the node could not be checked (one line)

    @property
    def ok(self) -> bool:
        return all(item.status is Status.TRUE for item in self.readiness.conditions)

    @property
    def failed(self) -> bool:
        return any(item.status is Status.FALSE for item in self.readiness.conditions)


def exit_status(results: list[NodeAudit]) -> int:
    """0: every node ready now and after reboot; 1: some node is not; 2: none is known not
    ready, but some could not be checked."""
    if any(r.failed for r in results):
        return 1
    if any(not r.ok for r in results):
        return 2
    return 0
