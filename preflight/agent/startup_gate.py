"""The startup gate: no dind job lands on a node before the agent has checked it. Pure.

A node carries the gate taint ``dind-preflight.io/unchecked:NoSchedule`` until the agent's first
healthy check (``DindReady=True``) on it:

- a new node registers with it (the kubelet's ``registerWithTaints``: kubeadm's
  ``nodeRegistration.taints``, the taints of an EKS/GKE/AKS node pool);
- the agent puts it back when it stops (a reboot stops it first; so does a rollout, for the
  seconds until the new agent's first check), because the kubelet applies
  ``registerWithTaints`` only when it creates the Node object, never again after a reboot;
- only the agent removes it, after a check that finds the node ready now. A broken node keeps
  it (and gets ``dind-preflight.io/broken`` as well); Unknown changes nothing.

The agent's DaemonSet tolerates it; job pods must not (no ``operator: Exists`` without a key).
"""

from __future__ import annotations

from enum import Enum

from preflight.readiness.model import Readiness, Status


class GateStep(str, Enum):
    KEEP = "keep"
    OPEN = "open"  # remove the gate taint


def gate_step(now: Readiness, gate_present: bool, enabled: bool = True) -> GateStep:
    """Open the gate after a healthy check; never on False or Unknown."""
    if enabled and gate_present and now.status is Status.TRUE:
        return GateStep.OPEN
    return GateStep.KEEP
