"""Reading and writing a Node's dind conditions, and recording Events about it.

The conditions go to ``nodes/{name}/status`` as a strategic merge patch (the list merges by
condition ``type``, so the kubelet's own conditions are untouched: node-problem-detector's way).
Needs ``patch`` on ``nodes/status`` and ``create`` on ``events`` (``deploy/agent/rbac.yaml``).
"""

from __future__ import annotations

from typing import Any

from preflight.kube import fleet_permissions, permissions
from preflight.kube.client import KubeContext

STRATEGIC_MERGE = "application/strategic-merge-patch+json"


def read_node(ctx: KubeContext, name: str, timeout: float = 10.0) -> dict[str, Any]:
    """The Node object as plain JSON."""
    node: dict[str, Any] = ctx.get_json(
        permissions.GET_NODE, ctx.api.read_node, name, timeout=timeout
    )
    return node


def list_nodes(ctx: KubeContext, selector: str | None = None) -> list[dict[str, Any]]:
    """Every Node (matching the label ``selector``) as plain JSON."""
    kwargs: dict[str, Any] = {"label_selector": selector} if selector else {}
    body = ctx.get_json(fleet_permissions.LIST_NODES, ctx.api.list_node, **kwargs)
    return [item for item in body.get("items") or [] if isinstance(item, dict)]


def patch_conditions(ctx: KubeContext, name: str, patch: dict[str, Any]) -> None:
    """Apply a ``{"status": {"conditions": [...]}}`` strategic merge patch to the node."""
    ctx.call(
        fleet_permissions.PATCH_NODE_STATUS,
        ctx.api.patch_node_status,
        name,
        patch,
        _content_type=STRATEGIC_MERGE,
        _preload_content=False,
    )


def create_event(ctx: KubeContext, namespace: str, event: dict[str, Any]) -> None:
    """Record ``event`` (a core/v1 Event object) in ``namespace``."""
    ctx.call(
        fleet_permissions.CREATE_EVENT,
        ctx.api.create_namespaced_event,
        namespace,
        event,
        _preload_content=False,
    )
