"""The permissions of fleet mode's agent and audit, kept apart from the job's
(:mod:`preflight.kube.permissions`, which job mode's Role must match exactly).

The agent also uses ``GET_NODE`` and ``PATCH_NODE`` (its node's conditions and taint).
"""

from __future__ import annotations

from preflight.kube.permissions import Permission

AGENT_RBAC = "deploy/agent/rbac.yaml"

PATCH_NODE_STATUS = Permission(
    "patch",
    "nodes/status",
    cluster_scoped=True,
    why="publish the node's dind conditions",
    granted_in=AGENT_RBAC,
)
CREATE_EVENT = Permission(
    "create", "events", why="record a readiness transition on the node", granted_in=AGENT_RBAC
)
# The audit runs with an administrator's credentials (docs/fleet-mode.md, "The audit").
LIST_NODES = Permission("list", "nodes", cluster_scoped=True, why="list the nodes to audit")
LIST_PODS = Permission("list", "pods", why="find helper pods left by an interrupted audit")
