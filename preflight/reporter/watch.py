"""Wake the reporter when a node changes (adapter): a watch on ``nodes``, restarted on errors.

The reporter converges every ``--interval`` anyway (a missed event costs one interval at most);
the watch only makes it react within a second. A burst of changes (20 nodes turning False at
once) wakes it once: the loop settles briefly before it reads the nodes.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from preflight.kube.client import KubeContext

log = logging.getLogger("dind-preflight.reporter")
WATCH_TIMEOUT_S = 300
RETRY_S = 5.0


class NodeWatcher:
    """Sets ``wake`` on every node event until ``stop`` is set."""

    def __init__(self, ctx: KubeContext, wake: threading.Event, stop: threading.Event) -> None:
        self.ctx, self.wake, self.stop = ctx, wake, stop
        self.events = 0
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
                    if event.get("type") in ("ADDED", "MODIFIED", "DELETED"):
                        self.events += 1
                        self.wake.set()
            except Exception as exc:  # the API went away, 410 Gone, a forbidden watch: retry
                log.debug("node watch ended: %s", type(exc).__name__)
                self.stop.wait(RETRY_S)
