"""The cluster's side of the picture (adapter): nodes, and where the runner's job pods may land.

``GET /api/v1/nodes``; which nodes the runner's next job can use comes from the reporter's own
flags (``--node-selector``, ``--toleration``: the runner's ``[runners.kubernetes]`` node_selector
and node_tolerations), never from a job pod: a job can shape its own pod (its variables
override the runner's ``KUBERNETES_NODE_SELECTOR_*`` overwrites) and so would steer which nodes
count as the runner's. Parsing is in :mod:`preflight.reporter.conditions`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from preflight.kube.client import KubeContext, KubeError, KubeNotFound
from preflight.kube.permissions import Permission
from preflight.reporter.conditions import node_state
from preflight.reporter.model import ClusterView

LIST_NODES = Permission("list", "nodes", cluster_scoped=True, why="read the nodes' DindReady")
WATCH_NODES = Permission("watch", "nodes", cluster_scoped=True, why="react to node changes")
LIST_PODS = Permission("list", "pods", why="learn where the runner's job pods may land")
JOB_POD_LABEL = "job.runner.gitlab.com/pod"  # every job pod of the Kubernetes executor has it
JOB_ID_ANNOTATION = "job.runner.gitlab.com/id"
MAX_NODES = 5000


@dataclass(frozen=True)
class ClusterSource:
    """Where to look: the namespace of the runner's job pods and a fallback node selector."""

    job_namespace: str = "gitlab-runner"
    job_pod_selector: str = JOB_POD_LABEL
    node_selector: tuple[tuple[str, str], ...] = ()
    tolerations: tuple[tuple[tuple[str, str], ...], ...] = ()  # each a toleration's fields


def read_cluster(ctx: KubeContext, source: ClusterSource, errors: list[str]) -> ClusterView:
    """The nodes as :class:`NodeState`; ``complete=False`` when they could not be read."""
    try:
        body = ctx.get_json(LIST_NODES, ctx.api.list_node, limit=MAX_NODES)
    except KubeError as exc:
        errors.append(exc.limitation)
        return ClusterView((), complete=False)
    selector: dict[str, str] = dict(source.node_selector)
    tolerations = [dict(t) for t in source.tolerations]
    nodes = tuple(
        node_state(item, node_selector=selector, tolerations=tolerations) for item in _items(body)
    )
    return ClusterView(nodes, complete=not body.get("metadata", {}).get("continue"))


def _items(body: Any) -> list[Mapping[str, Any]]:
    items = body.get("items") if isinstance(body, dict) else None
    return [item for item in items or [] if isinstance(item, dict)]


def node_of_job(ctx: KubeContext, namespace: str, job_id: int) -> str | None:
    """The node the job's pod runs on, from Kubernetes (never from the job's own word)."""
    try:
        pods = ctx.get_json(
            LIST_PODS,
            ctx.api.list_namespaced_pod,
            namespace,
            label_selector=JOB_POD_LABEL,
            limit=500,
        )
    except KubeNotFound:
        return None
    for pod in _items(pods):
        annotations = (pod.get("metadata") or {}).get("annotations") or {}
        if str(annotations.get(JOB_ID_ANNOTATION, "")) == str(job_id):
            node = (pod.get("spec") or {}).get("nodeName")
            return str(node) if node else None
    return None


def parse_toleration(text: str) -> tuple[tuple[str, str], ...]:
    """``KEY[=VALUE]:EFFECT`` (or ``:EFFECT`` for every key) -> a toleration's fields, as
    ``kubectl taint`` spells taints; without ``=VALUE`` the operator is Exists."""
    from preflight.errors import UsageError

    head, sep, effect = text.strip().rpartition(":")
    if not sep or effect not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
        raise UsageError(
            f"--toleration {text.strip()!r}: expected KEY[=VALUE]:EFFECT "
            "(NoSchedule, PreferNoSchedule or NoExecute)"
        )
    key, has_value, value = head.partition("=")
    fields = [("effect", effect), ("operator", "Equal" if has_value else "Exists")]
    if key.strip():
        fields.append(("key", key.strip()))
    if has_value:
        fields.append(("value", value.strip()))
    return tuple(sorted(fields))


def parse_selector(text: str) -> tuple[tuple[str, str], ...]:
    """``key=value,key2=value2`` -> pairs (equality selectors only)."""
    pairs: list[tuple[str, str]] = []
    for part in text.split(","):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            from preflight.errors import UsageError

            raise UsageError(f"--node-selector: {part.strip()!r} is not key=value")
        pairs.append((key.strip(), value.strip()))
    return tuple(pairs)
