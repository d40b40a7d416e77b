"""Probe results: plain data, JSON round-trip through :mod:`preflight.jsonable`."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from preflight.exitcodes import ExitCode


class Verdict(str, Enum):
    """How the daemon answered (or did not)."""

    HEALTHY = "healthy"
    REFUSED = "refused"  # nothing listening: daemon not running or crashed
    TIMEOUT = "timeout"  # listening, but no usable answer within the timeout
    TLS_MISMATCH = "tls-mismatch"  # plain vs TLS, wrong port for the TLS setting, bad certs
    UNREACHABLE = "unreachable"  # name does not resolve, no route
    ERROR = "error"  # daemon answered with an HTTP error
    DEGRADED = "degraded"  # answers /_ping, but a --deep step (e.g. a bridge network) failed

    @property
    def exit_code(self) -> ExitCode:
        """The probe's exit code for this verdict."""
        if self is Verdict.HEALTHY:
            return ExitCode.OK
        if self is Verdict.TLS_MISMATCH:
            return ExitCode.CONFIG
        return ExitCode.UNAVAILABLE


@dataclass(frozen=True)
class DeepStep:
    """One step of ``--deep`` (``create-network``: a bridge network, which needs iptables NAT;
    ``remove-network``)."""

    name: str
    ok: bool
    elapsed_s: float
    detail: str = ""


@dataclass(frozen=True)
class ProbeResult:
    """The probe's answer for one daemon."""

    verdict: Verdict
    docker_host: str
    elapsed_s: float
    detail: str
    server_version: str | None = None
    api_version: str | None = None
    tls: bool = False
    attempts: int = 1
    deep: list[DeepStep] | None = None
    # Added by the probe (issue 2); all optional so older JSON still reads.
    reason: str | None = None  # stable code of what was seen, e.g. "connection-refused"
    hint: str = ""  # what to change, for a human ("" when healthy or nothing to suggest)
    timeout_s: float | None = None  # the readiness budget the probe waited for
    daemon_log_line: str | None = None  # the daemon's fatal line, when its log was visible
    daemon_log_note: str = ""  # why no line was quoted from a log that was asked for
    gave_up: str | None = None  # why the wait stopped before the timeout (e.g. dind died)
    cause: str | None = None  # the cause code a failed deep step's error text matched, if any

    @property
    def healthy(self) -> bool:
        """True when the daemon answered and every deep step (if any) passed."""
        deep_ok = self.deep is None or all(step.ok for step in self.deep)
        return self.verdict is Verdict.HEALTHY and deep_ok

    @property
    def exit_code(self) -> ExitCode:
        """Exit code of ``dind-preflight probe`` for this result."""
        if self.verdict is Verdict.HEALTHY and not self.healthy:
            return ExitCode.UNAVAILABLE  # a result written before DEGRADED existed
        return self.verdict.exit_code
