"""Proportional quarantine (pure): pause a runner only when its jobs cannot route around.

On the Kubernetes executor one runner serves every node; the node's taint already keeps new job
pods off a broken node, so pausing the runner helps only when too few nodes are left to take its
jobs: fewer than ``min_healthy_nodes`` schedulable, untainted nodes that match its job pods, or
more than ``max_broken_share`` of those nodes broken. On the shell and docker executors the runner
is the host: its node broken means the runner is paused.

Only a node's own report (``DindReady=False``) counts as broken. ``Unknown`` or no condition is not
evidence: it never pauses a runner (and such a node still counts as able to take jobs).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from preflight.reporter.model import (
    Executor,
    NodeState,
    Policy,
    ReporterPolicy,
    RunnerTarget,
)


@dataclass(frozen=True)
class Verdict:
    """Whether a runner should be paused now, and the numbers behind it."""

    runner_id: int
    pause: bool
    reason: str
    broken: tuple[str, ...] = ()
    available: int = 0
    matching: int = 0


def judge(target: RunnerTarget, nodes: Sequence[NodeState], policy: ReporterPolicy) -> Verdict:
    """The pause verdict for one runner."""
    rid = target.runner_id
    if policy.executor is not Executor.KUBERNETES:
        node = next((n for n in nodes if n.name == target.node), None)
        if node is None:
            return Verdict(rid, False, f"its host {target.node} is not among the nodes")
        if not node.broken:
            return Verdict(rid, False, f"its host {node.name} is not reported broken", (), 1, 1)
        if policy.policy is Policy.REPORT_ONLY:
            return Verdict(rid, False, "policy report-only: never paused", (node.name,), 0, 1)
        return Verdict(
            rid,
            True,
            f"{policy.executor.value} executor: its host {node.name} is broken "
            f"({node.ready.cause}); the pause is the quarantine",
            (node.name,),
            0,
            1,
        )
    matching = [n for n in nodes if n.matches_jobs]
    broken = tuple(n.name for n in matching if n.broken)
    available = sum(1 for n in matching if n.takes_jobs)
    counts = f"{len(broken)} of {len(matching)} matching nodes broken, {available} can take jobs"
    if not broken:
        return Verdict(
            rid, False, f"no matching node is broken ({counts})", broken, available, len(matching)
        )
    share = len(broken) / len(matching)
    too_few = available < policy.min_healthy_nodes
    too_many = share > policy.max_broken_share
    if not (too_few or too_many):
        return Verdict(
            rid,
            False,
            f"jobs route around the broken nodes ({counts}; pause below "
            f"{policy.min_healthy_nodes} or above {policy.max_broken_share:.0%} broken)",
            broken,
            available,
            len(matching),
        )
    why = (
        f"fewer than {policy.min_healthy_nodes} nodes can take jobs"
        if too_few
        else f"more than {policy.max_broken_share:.0%} of matching nodes are broken"
    )
    if policy.policy is Policy.REPORT_ONLY:
        return Verdict(
            rid,
            False,
            f"{why} ({counts}); policy report-only: not paused",
            broken,
            available,
            len(matching),
        )
    return Verdict(rid, True, f"{why} ({counts})", broken, available, len(matching))
