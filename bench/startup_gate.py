"""The startup gate under a job stream (part of ``make bench``): how many dind jobs a node that
reboots broken receives, with the gate and without it.

A discrete-event simulation on a fake clock: a fleet of nodes, dind jobs arriving at random
(a fixed seed), a scheduler that places each job on a random Ready node whose NoSchedule taints
it does not tolerate (job pods tolerate none of ours). One node reboots into the field report's
state. What the agent decides is not modelled but computed by the project's own code: the
readiness of the demo roots (``node-report``'s analysis and the module-fact rule), the taint
decision (:func:`preflight.agent.taint_policy.taint_decision`) and the gate decision
(:func:`preflight.agent.startup_gate.gate_step`). Timings: the node is down ``BOOT_S``, the
kubelet reports Ready, the agent's pod starts ``AGENT_START_S`` later (drawn per reboot: image
cached or pulled), checks and publishes.

Run alone: ``python bench/startup_gate.py``.
"""

from __future__ import annotations

import random
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from preflight.actions.taint import GATE_KEY, TAINT_KEY  # noqa: E402
from preflight.agent.startup_gate import GateStep, gate_step  # noqa: E402
from preflight.agent.taint_policy import TaintAction, taint_decision  # noqa: E402
from preflight.node.api import analyze_host_backends  # noqa: E402
from preflight.readiness.model import NodeReadiness  # noqa: E402
from preflight.readiness.verdict import readiness_of  # noqa: E402

NODES = 20
JOBS_PER_S = 2.0  # across the fleet
BOOT_S = 60.0  # node down: shutdown to kubelet Ready
AGENT_START_S = (2.0, 40.0)  # kubelet Ready -> the agent's first check published
CHECK_S = 0.05
REBOOTS = 200  # independent reboots (seeds)
HORIZON_S = 300.0  # simulated time after each reboot


@dataclass
class Node:
    name: str
    ready: bool = True
    taints: dict[str, str] = field(default_factory=dict)  # key -> value (all NoSchedule)
    streak: int = 0


def roots() -> tuple[NodeReadiness, NodeReadiness]:
    """The readiness of the field report's node and of the fixed one (the real analysis)."""
    demo = ROOT / "demo" / "roots"
    broken = readiness_of(analyze_host_backends(str(demo / "centos8-field-report")))
    fixed = readiness_of(analyze_host_backends(str(demo / "centos8-fixed")))
    return broken, fixed


def agent_check(node: Node, readiness: NodeReadiness, gate: bool) -> None:
    """What the agent's publish does with the node's taints (the project's decisions)."""
    node.streak = node.streak + 1 if readiness.now.status.value == "True" else 0
    decision = taint_decision(readiness.now, node.streak, node.taints.get(TAINT_KEY))
    if decision.action is TaintAction.TAINT:
        node.taints[TAINT_KEY] = decision.value
    elif decision.action is TaintAction.UNTAINT:
        node.taints.pop(TAINT_KEY, None)
    if gate_step(readiness.now, GATE_KEY in node.taints, gate) is GateStep.OPEN:
        node.taints.pop(GATE_KEY, None)


def one_reboot(seed: int, broken: NodeReadiness, gate: bool) -> int:
    """Dind jobs the rebooted (broken) node receives between its reboot and the horizon."""
    rng = random.Random(seed)
    fleet = [Node(f"node-{i:02d}") for i in range(NODES)]
    victim = fleet[0]
    start = rng.uniform(*AGENT_START_S)
    events: list[tuple[float, str]] = [(0.0, "shutdown"), (BOOT_S, "kubelet-ready")]
    events.append((BOOT_S + start + CHECK_S, "agent-check"))
    events.sort()
    landed = 0
    now = 0.0
    while now < HORIZON_S:
        now += rng.expovariate(JOBS_PER_S)
        while events and events[0][0] <= now:
            _, what = events.pop(0)
            if what == "shutdown":
                victim.ready = False
                if gate:  # the agent's SIGTERM handler (preflight.agent.publish.close_gate)
                    victim.taints[GATE_KEY] = ""
            elif what == "kubelet-ready":
                victim.ready = True
            else:
                agent_check(victim, broken, gate)
        schedulable = [n for n in fleet if n.ready and not n.taints]
        if schedulable and rng.choice(schedulable) is victim:
            landed += 1
    return landed


@dataclass(frozen=True)
class GateFigures:
    with_gate: int  # jobs on the broken node over every reboot
    without_gate: int
    worst_without: int  # the most jobs one reboot sent there without the gate
    reboots: int


def simulate(reboots: int = REBOOTS) -> GateFigures:
    broken, fixed = roots()
    assert broken.now.status.value == "False", broken.now  # the field report's node is broken
    assert fixed.now.status.value == "True", fixed.now
    gated = [one_reboot(seed, broken, gate=True) for seed in range(reboots)]
    open_ = [one_reboot(seed, broken, gate=False) for seed in range(reboots)]
    return GateFigures(sum(gated), sum(open_), max(open_), reboots)


def gate_rows() -> list[tuple[str, str, str, bool]]:
    """(measure, value, target, ok) rows for the bench table."""
    figures = simulate()
    return [
        (
            f"startup gate: dind jobs a node that reboots broken receives ({figures.reboots} "
            f"reboots, {NODES} nodes, {JOBS_PER_S:g} jobs/s, agent up {AGENT_START_S[0]:g}-"
            f"{AGENT_START_S[1]:g} s after the kubelet)",
            f"{figures.with_gate} with the gate; {figures.without_gate} without "
            f"(worst reboot {figures.worst_without})",
            "0 with the gate",
            figures.with_gate == 0,
        )
    ]


def main() -> int:
    rows = gate_rows()
    for measure, value, target, ok in rows:
        print(f"{'ok    ' if ok else 'MISSED'} {measure}: {value} (target {target})")
    return 0 if all(ok for *_, ok in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
