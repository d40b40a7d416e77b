"""The audit of many nodes: conditions first, helper pods for the rest, at most ``parallel`` at
a time, each within its own timeout; an interrupt (SIGINT, SIGTERM) deletes every helper pod
this run started before it returns.
"""

from __future__ import annotations

import concurrent.futures
import datetime
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from preflight.audit.helper import UNCHECKED, audit_with_helper, unknown
from preflight.audit.model import AGENT, HELPER_POD, NodeAudit
from preflight.kube import fleet_permissions
from preflight.kube.client import KubeContext, KubeError
from preflight.kube.helper_pod import delete_helper
from preflight.kube.helper_pod_manifest import JOB_ID_LABEL
from preflight.kube.settings import KubeSettings
from preflight.kube.signals import signals_as_exceptions
from preflight.readiness.conditions import STALE, observe

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class AuditSettings:
    helper: KubeSettings  # helper image, pull policy, run id (job_id), per-node timeout
    parallel: int = 10
    per_node_timeout_s: float = 60.0
    agent_interval_s: float = 300.0
    use_helper: bool = True
    backends: tuple[str, ...] = ("legacy", "nf_tables")  # what a node must serve (--backends)


def from_conditions(
    nodes: list[dict[str, Any]], interval_s: float
) -> tuple[list[NodeAudit], list[str], dict[str, NodeAudit]]:
    """Nodes whose agent conditions are fresh, the names of the others, and for those whose
    agent did publish but whose last heartbeat is stale, that finding (``agent-heartbeat-stale``:
    distinct from a node no agent ever checked, ``not-checked``)."""
    now = datetime.datetime.now(tz=datetime.UTC)
    known: list[NodeAudit] = []
    rest: list[str] = []
    stale: dict[str, NodeAudit] = {}
    for node in nodes:
        name = str((node.get("metadata") or {}).get("name") or "")
        if not name:
            continue
        observed = observe(node, now, interval_s)
        if observed.fresh:
            known.append(NodeAudit(name, observed.readiness, AGENT))
            continue
        rest.append(name)
        if observed.age_s is not None:
            message = observed.readiness.now.message
            stale[name] = NodeAudit(name, observed.readiness, AGENT, message)
    return known, rest, stale


def _stale_note(found: NodeAudit, stale: NodeAudit | None) -> NodeAudit:
    """A helper pod's result for a node whose agent is stale keeps saying so."""
    if stale is None or found.source != HELPER_POD:
        return found
    note = f"{STALE}: {stale.problem}"
    return replace(found, problem=f"{found.problem}; {note}" if found.problem else note)


def audit_nodes(
    ctx: KubeContext,
    nodes: list[dict[str, Any]],
    settings: AuditSettings,
    progress: Progress | None = None,
) -> list[NodeAudit]:
    """Every node's result, sorted by name. Raises ``KeyboardInterrupt``/``Terminated`` after
    cleaning up when interrupted."""
    known, rest, stale = from_conditions(nodes, settings.agent_interval_s)
    total = len(known) + len(rest)
    done = len(known)
    if progress:
        progress(done, total)
    if not settings.use_helper or not settings.helper.helper_image:
        why = (
            "no fresh agent condition and helper pods are off (--no-helper)"
            if not settings.use_helper
            else "no fresh agent condition and no --helper-image to check it with"
        )
        return sorted(
            [*known, *(stale.get(n) or unknown(n, why) for n in rest)], key=lambda r: r.node
        )
    results = list(known)
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, settings.parallel))
    futures = {
        pool.submit(
            audit_with_helper,
            ctx,
            name,
            settings.helper,
            settings.per_node_timeout_s,
            settings.backends,
        ): name
        for name in rest
    }
    with signals_as_exceptions() as guard:
        try:
            pending = set(futures)
            while pending:
                finished, pending = concurrent.futures.wait(
                    pending, timeout=0.2, return_when=concurrent.futures.FIRST_COMPLETED
                )
                for future in finished:
                    name = futures[future]
                    found = _result(future, name)
                    if found.readiness.now.code == UNCHECKED and name in stale:
                        found = replace(
                            stale[name], problem=f"{stale[name].problem}; {found.problem}"
                        )
                    results.append(_stale_note(found, stale.get(name)))
                    done += 1
                    if progress:
                        progress(done, total)
        except BaseException:
            with guard.deferred():
                pool.shutdown(wait=False, cancel_futures=True)
                sweep_until_done(ctx, settings.helper.job_id or "", list(futures))
            raise
        finally:
            pool.shutdown(wait=True)
    return sorted(results, key=lambda r: r.node)


def _result(future: concurrent.futures.Future[NodeAudit], node: str) -> NodeAudit:
    try:
        return future.result()
    except KubeError as exc:
        return unknown(node, exc.limitation)
    except Exception as exc:  # one node's bug must not lose the others' results
        return unknown(node, f"internal error: {type(exc).__name__}: {exc}")


def sweep_until_done(
    ctx: KubeContext,
    run_id: str,
    futures: list[concurrent.futures.Future[NodeAudit]],
    limit_s: float = 30.0,
) -> None:
    """Delete this run's helper pods until no worker is left that could create another one."""
    deadline = time.monotonic() + limit_s
    while True:
        sweep(ctx, run_id)
        if all(f.done() for f in futures) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    sweep(ctx, run_id)


def sweep(ctx: KubeContext, run_id: str) -> int:
    """Delete every helper pod labelled with ``run_id``; returns how many were found."""
    try:
        body = ctx.get_json(
            fleet_permissions.LIST_PODS,
            ctx.api.list_namespaced_pod,
            ctx.namespace,
            label_selector=f"{JOB_ID_LABEL}={run_id}",
            timeout=5.0,
        )
    except KubeError:
        return 0
    names = [
        str((item.get("metadata") or {}).get("name"))
        for item in body.get("items") or []
        if isinstance(item, dict)
    ]
    for name in names:
        delete_helper(ctx, name)
    return len(names)
