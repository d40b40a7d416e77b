"""The probe as a library call: ``probe(endpoint, timeout, deep) -> ProbeResult``.

Wires the pure parts (endpoint, classify, wait) to the socket adapter (transport) and, on
request, the docker SDK (deep) and the daemon's log file (daemon_log).
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Mapping

from preflight.probe.classify import (
    LOG_HINT,
    Classification,
    Failure,
    HttpResponse,
    certdir_hint,
    classify_failure,
    classify_response,
    classify_sibling,
    sibling_port,
)
from preflight.probe.endpoint import Endpoint, resolve_endpoint
from preflight.probe.model import DeepStep, ProbeResult, Verdict
from preflight.probe.transport import Connection, exchange, tls_context
from preflight.probe.wait import Attempt, wait_until_settled

TYPE_CHECKING = False  # typing's constant without importing typing: the healthy path
if TYPE_CHECKING:
    import ssl

DEFAULT_TIMEOUT_S = 30.0
# One connection attempt (connect, TLS handshake, /_ping) may take this long: a black-hole
# address must not hold the whole timeout, so that ``give_up`` (the death watch) gets its turn.
ATTEMPT_CAP_S = 1.0
SIBLING_WAIT_S = 0.1  # how long a look at the other dind port may take, per attempt
VERSION_WAIT_S = 1.0  # extra time for GET /version when /_ping did not name the version


def endpoint_from_environment(
    docker_host: str | None = None, env: Mapping[str, str] | None = None
) -> Endpoint:
    """Resolve the endpoint from ``env`` (default: the process environment) like the docker CLI."""
    return resolve_endpoint(os.environ if env is None else env, docker_host, os.path.isfile)


def probe(
    endpoint: Endpoint,
    timeout: float = DEFAULT_TIMEOUT_S,
    *,
    deep: bool = False,
    wait: bool = True,
    daemon_log: str | None = None,
    give_up: Callable[[], str | None] | None = None,
) -> ProbeResult:
    """Probe the daemon at ``endpoint``, waiting up to ``timeout`` seconds for it to be ready.

    ``wait=False`` makes one attempt (still bounded by ``timeout``). ``deep`` adds the bridge
    network check on a healthy daemon. ``daemon_log`` names dockerd's log file: for an unhealthy
    daemon its fatal line is quoted in the result. ``give_up`` is asked, at most once a second
    while the daemon is not answering yet, whether waiting is pointless (e.g. the dind container
    already died); a reason it returns ends the wait and is kept in ``ProbeResult.gave_up``.
    """
    started = time.monotonic()
    contexts = _TLSContexts(endpoint)

    def attempt(deadline: float) -> Attempt:
        capped = min(deadline, time.monotonic() + ATTEMPT_CAP_S)
        answer, connection = exchange(endpoint, capped, contexts.get)
        if isinstance(answer, Failure):
            classification = classify_failure(answer, endpoint)
            if classification.reason == "connection-refused":
                classification = _look_at_sibling(endpoint, deadline) or classification
            if answer.timed_out and capped < deadline and time.monotonic() < deadline:
                # the cap ended this attempt, not the timeout: try again (and let give_up look)
                classification = dataclasses.replace(classification, retry=True)
            return Attempt(classification)
        return Attempt(classify_response(answer, endpoint), answer, connection)

    last, attempts, gave_up = wait_until_settled(attempt, timeout, wait=wait, give_up=give_up)
    verdict = last.classification.verdict
    server_version = api_version = None
    if verdict is Verdict.HEALTHY and last.response is not None and last.connection is not None:
        server_version, api_version = _versions(last.response, last.connection)
    if last.connection is not None:
        last.connection.close()
    steps = None
    if deep and verdict is Verdict.HEALTHY:
        from preflight.probe.deep import run_deep_checks

        steps = run_deep_checks(endpoint, api_version, timeout)
    log_line, log_note = None, ""
    if daemon_log and verdict is not Verdict.HEALTHY:
        from preflight.probe.daemon_log import read_fatal_line

        log_line, log_note = read_fatal_line(daemon_log)
    hint = last.classification.hint
    if log_line and hint == LOG_HINT:
        hint = ""  # the log's own fatal line, quoted, is the better pointer
    if verdict is Verdict.TLS_MISMATCH and certdir_hint(endpoint):
        hint = certdir_hint(endpoint)
    reason = last.classification.reason
    detail = last.classification.detail
    cause = None
    failed = next((step for step in steps or [] if not step.ok), None)
    if failed is not None:
        verdict, reason, detail, hint, cause = _degraded(failed)
    return ProbeResult(
        verdict=verdict,
        docker_host=endpoint.docker_host,
        elapsed_s=round(time.monotonic() - started, 3),
        detail=detail,
        server_version=server_version,
        api_version=api_version,
        tls=endpoint.tls is not None,
        attempts=attempts,
        deep=steps,
        reason=reason,
        hint=hint,
        timeout_s=timeout,
        daemon_log_line=log_line,
        daemon_log_note=log_note,
        gave_up=gave_up,
        cause=cause,
    )


def _degraded(step: DeepStep) -> tuple[Verdict, str, str, str, str | None]:
    """A failed deep step is its own verdict; its error text goes through the log signatures."""
    from preflight.diagnosis import causes, signatures

    match = signatures.strongest(signatures.match_lines(step.detail.splitlines() or [""]))
    detail = f"the daemon answers, but {step.name} failed: {step.detail}"
    if match is None:
        return (
            Verdict.DEGRADED,
            f"deep-{step.name}-failed",
            detail,
            "the daemon's own error above says why; dind jobs that use networks will fail",
            None,
        )
    entry = causes.info(match.cause)
    return (
        Verdict.DEGRADED,
        f"deep-{step.name}-failed",
        detail,
        f"{match.cause}: {entry.fix}" if entry.fix else match.cause,
        match.cause,
    )


class _TLSContexts:
    """The TLS context, built once; rebuilt while its files are missing (dind may write them)."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.settings = endpoint.tls
        self.context: ssl.SSLContext | None = None

    def get(self) -> ssl.SSLContext | Failure | None:
        if self.settings is None:
            return None
        if self.context is None:
            built = tls_context(self.settings)
            if isinstance(built, Failure):
                return built
            self.context = built
        return self.context


def _look_at_sibling(endpoint: Endpoint, deadline: float) -> Classification | None:
    """The configured dind port refuses: does the other one (2375/2376) answer the other way?"""
    port = sibling_port(endpoint)
    if port is None:
        return None
    sibling = dataclasses.replace(endpoint, port=port, tls=None)
    answer, connection = exchange(
        sibling, min(deadline, time.monotonic() + SIBLING_WAIT_S), lambda: None
    )
    if connection is not None:
        connection.close()
    if isinstance(answer, HttpResponse):
        return classify_sibling(endpoint, port, answer)
    return None


def _versions(ping: HttpResponse, connection: Connection) -> tuple[str | None, str | None]:
    """Server and API version: from /_ping's headers, else from ``GET /version``."""
    api_version = ping.headers.get("api-version") or None
    server = ping.headers.get("server", "")
    if server.startswith("Docker/"):
        return server[len("Docker/") :].split(" ", 1)[0] or None, api_version
    answer = connection.get("/version", time.monotonic() + VERSION_WAIT_S)
    if not isinstance(answer, HttpResponse) or answer.status != 200:
        return None, api_version
    import json

    try:
        info = json.loads(answer.body)
    except ValueError:
        return None, api_version
    version = info.get("Version") if isinstance(info, dict) else None
    api = info.get("ApiVersion") if isinstance(info, dict) else None
    return (str(version) if version else None), api_version or (str(api) if api else None)
