"""How a probe result reads: a short human summary for CI logs, and the JSON document. Pure."""

from __future__ import annotations

from preflight.exitcodes import ExitCode
from preflight.probe.model import ProbeResult

TYPE_CHECKING = False  # typing's constant without importing typing: the healthy path
if TYPE_CHECKING:
    from typing import Any

PREFIX = "dind-preflight"

_EXIT_MEANING = {
    ExitCode.OK: "healthy",
    ExitCode.UNAVAILABLE: "daemon unhealthy",
    ExitCode.CONFIG: "the job's TLS/port configuration does not match the daemon",
}


def human_summary(result: ProbeResult) -> str:
    """A few lines a CI log reader understands at a glance (no trailing newline)."""
    if result.verdict.value in ("healthy", "degraded"):
        lines = [_healthy_line(result)]
        if result.verdict.value == "degraded":
            lines.append(f"  {result.detail}")
    else:
        lines = [
            f"{PREFIX}: docker daemon at {result.docker_host} is NOT usable: {result.verdict.value}",
            f"  {result.detail}",
        ]
        waited = f"  gave up after {result.elapsed_s:.1f} s"
        if result.timeout_s is not None:
            waited += f" (timeout {result.timeout_s:g} s)"
        lines.append(f"{waited}, {result.attempts} attempt{'s' if result.attempts != 1 else ''}")
        if result.gave_up:
            lines.append(f"  stopped waiting: {result.gave_up}")
    if result.daemon_log_line:
        lines.append(f"  daemon log: {result.daemon_log_line}")
    elif result.daemon_log_note:
        lines.append(f"  daemon log: {result.daemon_log_note}")
    for step in result.deep or []:
        state = "ok" if step.ok else "FAILED"
        lines.append(f"  deep check {step.name}: {state} ({step.elapsed_s:.3f} s) {step.detail}")
    if result.hint and not result.healthy:
        lines.append(f"  hint: {result.hint}")
    code = result.exit_code
    if code != ExitCode.OK:
        lines.append(f"  exit code {int(code)} ({_EXIT_MEANING.get(code, code.name.lower())})")
    return "\n".join(lines)


def _healthy_line(result: ProbeResult) -> str:
    facts = []
    if result.server_version:
        facts.append(f"Docker {result.server_version}")
    if result.api_version:
        facts.append(f"API {result.api_version}")
    facts.append("TLS" if result.tls else "plain HTTP")
    ok = "is healthy" if result.healthy else "answers, but a deep check FAILED"
    return (
        f"{PREFIX}: docker daemon at {result.docker_host} {ok} ({', '.join(facts)}) "
        f"in {result.elapsed_s:.3f} s"
    )


def result_document(result: ProbeResult) -> dict[str, Any]:
    """The ``--json`` document: every :class:`ProbeResult` field plus ``healthy`` and ``exit_code``."""
    from preflight.jsonable import to_json

    document: dict[str, Any] = to_json(result)
    document["healthy"] = result.healthy
    document["exit_code"] = int(result.exit_code)
    return document
