"""Taint a node through the API: read its taints, add ours, patch; idempotent, others kept.

The patch carries the ``resourceVersion`` it was computed from, so a concurrent change to the
node makes the API answer 409 and we read and try again instead of overwriting someone's taint.
Needs ``get`` and ``patch`` on ``nodes`` (the optional ClusterRole in ``deploy/rbac/``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from preflight.actions.taint import TAINT_KEY, Taint, taint_for, with_taint, without_taint
from preflight.diagnosis.model import Diagnosis
from preflight.kube import permissions
from preflight.kube.client import KubeConflict, KubeContext, KubeError, connect
from preflight.kube.settings import KubeSettings

ATTEMPTS = 3
NOT_APPLIED = "taint: not applied"  # how every line of a taint that did not happen starts


@dataclass(frozen=True)
class TaintOutcome:
    node: str
    taint: Taint
    changed: bool  # False: it was there already, or it could not be applied (see problem)
    problem: str | None = None


def taint_node(ctx: KubeContext, node: str, taint: Taint, attempts: int = ATTEMPTS) -> TaintOutcome:
    """Make sure ``node`` carries ``taint``; never raises for API problems."""
    changed, problem = _rewrite_taints(
        ctx, node, lambda taints: with_taint(taints, taint), attempts, f"taint node {node}"
    )
    return TaintOutcome(node, taint, changed=changed, problem=problem)


def untaint_node(
    ctx: KubeContext, node: str, attempts: int = ATTEMPTS, key: str = TAINT_KEY
) -> str | None:
    """Remove our taint ``key`` from ``node`` (others kept); None when done or absent, else the
    problem."""
    return _rewrite_taints(
        ctx, node, lambda taints: without_taint(taints, key), attempts, f"untaint node {node}"
    )[1]


def _rewrite_taints(
    ctx: KubeContext,
    node: str,
    rewrite: Callable[[Any], list[dict[str, Any]] | None],
    attempts: int,
    what: str,
) -> tuple[bool, str | None]:
    """Read the node's taints, ``rewrite`` them (None: nothing to change), patch with the
    ``resourceVersion`` read, and read again on 409. Returns (changed, problem)."""
    for _ in range(max(1, attempts)):
        try:
            current = ctx.get_json(permissions.GET_NODE, ctx.api.read_node, node)
            taints = rewrite((current.get("spec") or {}).get("taints"))
            if taints is None:
                return False, None
            version = (current.get("metadata") or {}).get("resourceVersion")
            patch: dict[str, object] = {"spec": {"taints": taints}}
            if version:
                patch["metadata"] = {"resourceVersion": version}
            ctx.call(
                permissions.PATCH_NODE,
                ctx.api.patch_node,
                node,
                patch,
                _content_type="application/merge-patch+json",
                _preload_content=False,
            )
            return True, None
        except KubeConflict:
            continue
        except KubeError as exc:
            return False, f"{what}: {exc.limitation}"
    return False, f"{what}: the node kept changing (409)"


def taint_diagnosed_node(
    diagnosis: Diagnosis, settings: KubeSettings, context: KubeContext | None = None
) -> str:
    """Taint the node of a node-fault diagnosis; one line saying what was (not) done. Never raises
    for API problems (they are in the line)."""
    taint = taint_for(diagnosis)
    if taint is None or not diagnosis.node:
        if not diagnosis.node:
            why = "no node name"
        elif not diagnosis.quarantine.allowed:
            why = f"no quarantine: {diagnosis.quarantine.reason}"
        else:
            why = f"a {diagnosis.fault.value} fault, not a node fault we are sure of"
        return f"{NOT_APPLIED} ({why})"
    try:
        ctx = context or connect(settings)
    except KubeError as exc:
        return f"{NOT_APPLIED} ({exc.limitation})"
    outcome = taint_node(ctx, diagnosis.node, taint)
    if outcome.problem:
        return f"{NOT_APPLIED} ({outcome.problem})"
    state = "added" if outcome.changed else "already present"
    return (
        f"taint: {taint.key}={taint.value}:{taint.effect} {state} on node {diagnosis.node} "
        f"(remove after the fix: {taint.untaint_command(diagnosis.node)})"
    )
