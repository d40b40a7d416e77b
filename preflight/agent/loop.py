"""The agent's life: check at start, after a reboot (boot id change) and every interval; publish
after each check, retrying while the API is away; stop promptly when asked (SIGTERM).

Checking never depends on the API: an agent whose API is down keeps checking and publishes the
latest result, with every transition it saw, when the API answers again.
"""

from __future__ import annotations

import datetime
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from preflight.agent.memory import Memory, observe
from preflight.agent.metrics import AgentMetrics
from preflight.agent.publish import Published, Target, publish
from preflight.errors import PreflightError
from preflight.kube.client import KubeContext, KubeError
from preflight.node.model import NodeReport
from preflight.readiness.model import (
    READY_AFTER_REBOOT,
    READY_NOW,
    NodeReadiness,
    Readiness,
    Status,
)
from preflight.readiness.verdict import UNREADABLE, readiness_of

DEFAULT_INTERVAL_S = 300.0
DEFAULT_RETRY_S = 15.0
BOOT_POLL_S = 10.0
BOOT_ID = "sys/kernel/random/boot_id"


@dataclass(frozen=True)
class AgentSettings:
    target: Target
    root: str = "/host"
    proc: str | None = "/proc"
    interval_s: float = DEFAULT_INTERVAL_S
    retry_s: float = DEFAULT_RETRY_S
    boot_poll_s: float = BOOT_POLL_S
    # The iptables backends this node must serve (default: both, every dind image a project
    # may choose; the admin narrows it with --backends).
    backends: tuple[str, ...] = ("legacy", "nf_tables")


def read_boot_id(proc: str | None) -> str:
    """The kernel's boot id (changes with every boot; the same in every namespace)."""
    try:
        with open(f"{proc or '/proc'}/{BOOT_ID}", encoding="ascii") as handle:
            return handle.read(64).strip()
    except OSError:
        return ""


Analyzer = Callable[[str, str | None], NodeReport]


def analyzer_for(backends: tuple[str, ...]) -> Analyzer:
    """The node analysis for every backend in ``backends`` (the module-fact rule's input)."""

    def analyze(root: str, proc: str | None) -> NodeReport:
        from preflight.node.api import analyze_host_backends

        return analyze_host_backends(root, proc, backends)

    return analyze


def _analyze(root: str, proc: str | None) -> NodeReport:
    """The node analysis for both backends (the default)."""
    return analyzer_for(("legacy", "nf_tables"))(root, proc)


class Agent:
    """One node's agent. ``connect`` makes the API connection (called again after failures)."""

    def __init__(
        self,
        settings: AgentSettings,
        connect: Callable[[], KubeContext],
        *,
        analyze: Analyzer | None = None,
        metrics: AgentMetrics | None = None,
        out: TextIO | None = None,
    ) -> None:
        self.settings = settings
        self._connect = connect
        self._analyze = analyze or analyzer_for(settings.backends)
        self.metrics = metrics or AgentMetrics()
        self.memory = Memory()
        self.out = out or sys.stdout
        self._ctx: KubeContext | None = None

    def check(self) -> NodeReadiness:
        """Analyse the node once and remember the result."""
        started = time.monotonic()
        at = datetime.datetime.now(tz=datetime.UTC)
        report: NodeReport | None = None
        try:
            report = self._analyze(self.settings.root, self.settings.proc)
            readiness = readiness_of(report)
        except PreflightError as exc:
            readiness = _unreadable(str(exc))
        except Exception as exc:  # a bug in one check must not stop the agent: say it, go on
            readiness = _unreadable(f"internal error: {type(exc).__name__}: {exc}")
        seconds = time.monotonic() - started
        self.memory = observe(self.memory, readiness, at)
        self.metrics.record(report, readiness, seconds, at.timestamp())
        self._say(
            f"check: {READY_NOW}={readiness.now.status.value} ({readiness.now.code}) "
            f"{READY_AFTER_REBOOT}={readiness.after_reboot.status.value} "
            f"({readiness.after_reboot.code}) in {seconds:.3f}s"
        )
        return readiness

    def publish(self, *, will_retry: bool = True) -> Published:
        """Publish the latest check; a failure is logged and (``will_retry``) retried by
        :meth:`run`. ``--once`` does not retry, and so does not say it will."""
        try:
            if self._ctx is None:
                self._ctx = self._connect()
            self.memory, result = publish(self._ctx, self.settings.target, self.memory)
        except KubeError as exc:
            result = Published(ok=False, problem=exc.limitation)
        if not result.ok:
            self.metrics.publish_failures.inc()
            then = f"retrying in {self.settings.retry_s:g}s" if will_retry else "not retried"
            self._say(f"publish: not done ({result.problem}); {then}")
        elif result.events or result.taint:
            parts = [f"{result.events} event(s)"] if result.events else []
            parts += [result.taint] if result.taint else []
            self._say(f"publish: {', '.join(parts)}")
        return result

    def close_gate(self) -> str:
        """Put the startup gate back before stopping (see :mod:`.startup_gate`); one line."""
        from preflight.agent.publish import close_gate

        try:
            if self._ctx is None:
                self._ctx = self._connect()
            line = close_gate(self._ctx, self.settings.target)
        except KubeError as exc:
            line = f"startup gate not closed: {exc.limitation}"
        self._say(line)
        return line

    def run(self, stop: threading.Event) -> None:
        """Check and publish until ``stop`` is set."""
        boot = read_boot_id(self.settings.proc)
        next_check = time.monotonic()
        next_publish = next_check
        unpublished = False
        while not stop.is_set():
            now = time.monotonic()
            current = read_boot_id(self.settings.proc)
            if current != boot:
                self._say("boot id changed (the node rebooted): checking now")
                boot = current
                next_check = now
            if now >= next_check:
                self.check()
                next_check = now + self.settings.interval_s
                unpublished = True
                next_publish = now
            if unpublished and now >= next_publish and not stop.is_set():
                if self.publish().ok:
                    unpublished = False
                else:
                    next_publish = time.monotonic() + self.settings.retry_s
            wake = min(
                next_check,
                next_publish if unpublished else next_check,
                time.monotonic() + self.settings.boot_poll_s,
            )
            stop.wait(max(0.0, wake - time.monotonic()))

    def _say(self, line: str) -> None:
        print(f"dind-preflight agent: {line}", file=self.out, flush=True)


def _unreadable(problem: str) -> NodeReadiness:
    message = f"the host root could not be read: {problem}"[:1000]
    return NodeReadiness(
        Readiness(READY_NOW, Status.UNKNOWN, UNREADABLE, message),
        Readiness(READY_AFTER_REBOOT, Status.UNKNOWN, UNREADABLE, message),
    )
