"""Wake the reporter when a node changes (adapter): a watch on ``nodes``, restarted on errors.

The reporter converges every ``--interval`` anyway (a missed event costs one interval at most);
the watch only makes it react within a second. A burst of changes (20 nodes turning False at
once) wakes it once: the loop settles briefly before it reads the nodes.

Only a change the reporter acts on wakes it (:func:`signature`): a ``DindReady*`` condition's
status or reason, our taint, ``spec.unschedulable``, a node added or deleted. Heartbeats (the
agent's every interval, the kubelet's every few seconds) change none of these and wake nothing:
a fleet of 1000 nodes would otherwise start a GitLab cycle every settle period.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from preflight.actions.taint import TAINT_KEY
from preflight.kube.client import KubeContext
from preflight.readiness.model import CONDITION_TYPES

log = logging.getLogger("dind-preflight.reporter")
WATCH_TIMEOUT_S = 300
RETRY_S = 5.0


Signature = tuple[tuple[tuple[str, str, str], ...], tuple[str, ...], bool]


def signature(node: dict[str, Any]) -> Signature:
    """What the reporter's decision reads from a node: our conditions' status and reason, our
    taints, and whether it is cordoned. Pure."""
    status = node.get("status") or {}
    spec = node.get("spec") or {}
    conditions = tuple(
        sorted(
            (str(c.get("type")), str(c.get("status")), str(c.get("reason")))
            for c in status.get("conditions") or []
            if isinstance(c, dict) and c.get("type") in CONDITION_TYPES
        )
    )
    taints = tuple(
        sorted(
            f"{t.get('key')}={t.get('value')}:{t.get('effect')}"
            for t in spec.get("taints") or []
            if isinstance(t, dict) and t.get("key") == TAINT_KEY
        )
    )
    return conditions, taints, bool(spec.get("unschedulable"))


class Changes:
    """Which node events change a :func:`signature` (the first sight of a node does). Pure."""

    def __init__(self) -> None:
        self.seen: dict[str, Signature] = {}

    def changed(self, kind: str, node: dict[str, Any]) -> bool:
        name = str((node.get("metadata") or {}).get("name") or "")
        if kind == "DELETED":
            return self.seen.pop(name, None) is not None or not name
        now = signature(node)
        before = self.seen.get(name)
        self.seen[name] = now
        return before != now


class NodeWatcher:
    """Sets ``wake`` on every node event that changes what the reporter acts on, until ``stop``
    is set."""

    def __init__(self, ctx: KubeContext, wake: threading.Event, stop: threading.Event) -> None:
        self.ctx, self.wake, self.stop = ctx, wake, stop
        self.events = 0  # node events that woke the reporter
        self.ignored = 0  # node events that changed nothing it acts on (heartbeats)
        self.changes = Changes()
        self.thread = threading.Thread(target=self._run, name="reporter-node-watch", daemon=True)

    def start(self) -> NodeWatcher:
        self.thread.start()
        return self

    def _run(self) -> None:
        from kubernetes import watch

        make_watch: Any = watch.Watch
        while not self.stop.is_set():
            stream: Any = make_watch()
            try:
                for event in stream.stream(self.ctx.api.list_node, timeout_seconds=WATCH_TIMEOUT_S):
                    if self.stop.is_set():
                        stream.stop()
                        break
                    kind = event.get("type")
                    if kind not in ("ADDED", "MODIFIED", "DELETED"):
                        continue
                    raw = event.get("raw_object")
                    if isinstance(raw, dict) and not self.changes.changed(str(kind), raw):
                        self.ignored += 1
                        continue
                    self.events += 1
                    self.wake.set()
            except Exception as exc:  # the API went away, 410 Gone, a forbidden watch: retry
                log.debug("node watch ended: %s", type(exc).__name__)
                self.stop.wait(RETRY_S)
