"""The agent's side effects on the API: conditions, Events, the taint. One call per check.

Order: read the node (its conditions and taints), patch the conditions, record the pending
Events, then taint or untaint. A failed read or condition patch stops the round; a refused Event
does not stop the taint (the taint is what keeps jobs off a broken node; the Event only tells).
What was not done stays in the agent's memory for the next round; nothing here raises for API
problems.
"""

from __future__ import annotations

from dataclasses import dataclass

from preflight.actions.taint import GATE, GATE_KEY, TAINT_KEY, Taint, has_taint
from preflight.agent.events import NODE_EVENT_NAMESPACE, event_for
from preflight.agent.memory import Memory, delivered, sync_with_node
from preflight.agent.startup_gate import GateStep, gate_step
from preflight.agent.taint_policy import TaintAction, taint_decision
from preflight.kube.client import KubeContext, KubeError
from preflight.kube.node_status import create_event, patch_conditions, read_node
from preflight.kube.taint_node import taint_node, untaint_node
from preflight.readiness.conditions import ours, status_patch, timestamp, to_conditions


@dataclass(frozen=True)
class Target:
    """Where the agent publishes: its node, and whether it taints."""

    node: str
    taint: bool = True
    gate: bool = True  # open the startup gate after a healthy check (close it on exit)


@dataclass(frozen=True)
class Published:
    ok: bool
    problem: str | None = None
    events: int = 0
    taint: str = ""  # what happened to the taint, for the log line


def publish(ctx: KubeContext, target: Target, memory: Memory) -> tuple[Memory, Published]:
    """Bring the node in line with ``memory.latest``; returns the new memory and what happened."""
    readiness = memory.latest
    checked_at = memory.checked_at
    if readiness is None or checked_at is None:
        return memory, Published(ok=True)
    try:
        node = read_node(ctx, target.node)
        memory = sync_with_node(memory, ours(node))
        previous = {
            kind: {"status": status.value, "lastTransitionTime": timestamp(memory.since[kind])}
            for kind, status in memory.known.items()
            if kind in memory.since
        }
        conditions = to_conditions(readiness, previous, checked_at)
        patch_conditions(ctx, target.node, status_patch(conditions))
    except KubeError as exc:
        return memory, Published(ok=False, problem=exc.limitation)
    uid = (node.get("metadata") or {}).get("uid")
    sent = 0
    event_problem: str | None = None
    try:
        for transition in memory.pending:
            create_event(ctx, NODE_EVENT_NAMESPACE, event_for(transition, target.node, uid))
            sent += 1
    except KubeError as exc:
        event_problem = exc.limitation
    finally:
        memory = delivered(memory, sent)
    current = has_taint((node.get("spec") or {}).get("taints"))
    decision = taint_decision(readiness.now, memory.healthy_streak, current, target.taint)
    taint_text = ""
    if decision.action is TaintAction.TAINT:
        outcome = taint_node(ctx, target.node, Taint(TAINT_KEY, decision.value))
        taint_text = outcome.problem or f"tainted {TAINT_KEY}={decision.value}:NoSchedule"
    elif decision.action is TaintAction.UNTAINT:
        failure = untaint_node(ctx, target.node)
        taint_text = failure or f"removed {TAINT_KEY}"
    taints = (node.get("spec") or {}).get("taints")
    gate = has_taint(taints, GATE_KEY) is not None
    if gate_step(readiness.now, gate, target.gate) is GateStep.OPEN:
        failure = untaint_node(ctx, target.node, key=GATE_KEY)
        opened = failure or f"removed {GATE_KEY} (startup gate open: first healthy check)"
        taint_text = f"{taint_text}; {opened}" if taint_text else opened
    problem = next(
        (
            part
            for part in taint_text.split("; ")
            if part.startswith(("taint node", "untaint node"))
        ),
        None,
    )
    problem = "; ".join(p for p in (event_problem, problem) if p) or None
    return memory, Published(ok=problem is None, problem=problem, events=sent, taint=taint_text)


def close_gate(ctx: KubeContext, target: Target) -> str:
    """Put the startup gate back (the agent is stopping: a reboot, or a rollout); one line."""
    if not target.gate:
        return "startup gate: off"
    outcome = taint_node(ctx, target.node, GATE)
    if outcome.problem:
        return f"startup gate not closed: {outcome.problem}"
    return f"startup gate closed ({GATE_KEY}:NoSchedule until the next healthy check)"
