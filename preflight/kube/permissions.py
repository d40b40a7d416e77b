"""The RBAC permissions the diagnosis uses, and the one-line advice when one is missing. Pure.

Every API call names the permission it needs, so that a 401/403 becomes a limitation that says
exactly which rule to add (and where ``deploy/rbac/`` already has it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from preflight.kube.api_json import status_message

_USER = re.compile(r'User "([^"]+)"')


@dataclass(frozen=True)
class Permission:
    """One RBAC rule: a verb on a resource (``pods``, ``pods/log``, ``nodes``)."""

    verb: str
    resource: str
    cluster_scoped: bool = False
    why: str = ""
    granted_in: str = ""  # the manifest that grants it, when not job mode's deploy/rbac/

    @property
    def manifest(self) -> str:
        """The file in ``deploy/rbac/`` that grants it."""
        if self.granted_in:
            return self.granted_in
        return (
            "deploy/rbac/clusterrole-taint.yaml" if self.cluster_scoped else "deploy/rbac/role.yaml"
        )


GET_POD = Permission("get", "pods", why="find the job's node and the dind service's state")
GET_POD_LOG = Permission("get", "pods/log", why="read the dind service's log")
CREATE_POD = Permission("create", "pods", why="start the helper pod on the job's node")
WATCH_POD = Permission("watch", "pods", why="wait for the helper pod without polling")
DELETE_POD = Permission("delete", "pods", why="remove the helper pod")
GET_NODE = Permission("get", "nodes", cluster_scoped=True, why="read the node's taints")
CREATE_SELF_REVIEW = Permission(
    "create",
    "selfsubjectreviews",
    cluster_scoped=True,
    why="learn the job's pod and node from its own token (every authenticated user may)",
    granted_in="the system:basic-user ClusterRole (Kubernetes default)",
)
PATCH_NODE = Permission("patch", "nodes", cluster_scoped=True, why="taint a broken node")


def forbidden_advice(
    permission: Permission, namespace: str | None, status: int, body: str = ""
) -> str:
    """One line: what was denied, to whom, and the rule to add."""
    text = status_message(body)
    if "violates PodSecurity" in text:
        detail = text[text.index("violates PodSecurity") :][:250]
        return (
            f"the namespace's Pod Security admission rejected the pod ({status}): "
            f"{detail}; the helper pod needs a "
            "read-only hostPath volume (the namespace already runs privileged dind pods: "
            "label it pod-security.kubernetes.io/enforce=privileged)"
        )
    found = _USER.search(text)
    who = f" for {found.group(1)}" if found else ""
    scope = "cluster-wide" if permission.cluster_scoped else f"in namespace {namespace or '?'}"
    denied = "unauthorized (401)" if status == 401 else f"forbidden ({status})"
    head = f"cannot {permission.verb} {permission.resource} {scope}: {denied}{who}"
    if status == 401:
        return f"{head}; the service-account token is missing, expired or not accepted"
    why = f" to {permission.why}" if permission.why else ""
    return (
        f"{head}; grant verb '{permission.verb}' on '{permission.resource}' {scope}{why} "
        f"(see {permission.manifest})"
    )
