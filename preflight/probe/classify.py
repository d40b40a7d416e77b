"""Turn what one attempt saw (a :class:`Failure` or an :class:`HttpResponse`) into a verdict. Pure.

Which outcomes a waiting probe retries until its timeout (dind takes seconds to start), and which
it returns at once because waiting cannot change them:

============================  ==============  =====================================
reason                        verdict         retried
============================  ==============  =====================================
connection-refused            refused         yes (the daemon may still be starting)
socket-missing                refused         yes
closed-without-answer         timeout         yes (a daemon that is starting or dying)
no-answer                     timeout         (the attempt used the whole budget)
tls-handshake-timeout         timeout         (the attempt used the whole budget)
connect-timeout               unreachable     (the attempt used the whole budget)
dns-temporary                 unreachable     yes
dns-failure                   unreachable     no
no-route                      unreachable     no
connect-failed                unreachable     no (any other error of connect())
tls-files-missing             tls-mismatch    yes (dind writes the client certs at start)
tls-files-invalid             tls-mismatch    no
plain-http-to-tls-port        tls-mismatch    no
tls-to-plain-port             tls-mismatch    no
client-cert-required          tls-mismatch    no
client-cert-rejected          tls-mismatch    no
server-cert-untrusted         tls-mismatch    no
server-cert-name-mismatch     tls-mismatch    no
server-cert-expired           tls-mismatch    no
tls-handshake-failed          tls-mismatch    no
wrong-port                    tls-mismatch    no (refused on 2375/2376, the other port answers
                                              the other way: plain vs TLS)
http-unavailable (502-504)    error           yes (a proxy in front of a starting daemon)
http-error (other statuses)   error           no
not-http                      error           no
permission-denied             error           no
============================  ==============  =====================================
"""

from __future__ import annotations

import errno as errnos
from dataclasses import dataclass, field

from preflight.probe.endpoint import DEFAULT_HTTP_PORT, DEFAULT_TLS_PORT, Endpoint
from preflight.probe.model import Verdict

# What Go's TLS server answers to plain HTTP (docker's TLS port, crypto/tls + net/http).
PLAIN_TO_TLS_MARKER = "Client sent an HTTP request to an HTTPS server"
LOG_HINT = "check the dind service log: it says why the daemon is not running"

CONNECT = "connect"
RESOLVE = "resolve"
TLS_SETUP = "tls-setup"
TLS_HANDSHAKE = "tls-handshake"
SEND = "send"
RECEIVE = "receive"


@dataclass(frozen=True)
class Failure:
    """What went wrong on one attempt, as plain data (no exception objects)."""

    stage: str  # resolve | connect | tls-setup | tls-handshake | send | receive
    exception: str = ""  # exception class name, e.g. "ConnectionRefusedError"
    message: str = ""
    errno: int | None = None  # OS errno, or getaddrinfo's EAI_* code for stage "resolve"
    ssl_reason: str = ""  # ssl.SSLError.reason, e.g. "WRONG_VERSION_NUMBER"
    verify_message: str = ""  # ssl.SSLCertVerificationError.verify_message
    timed_out: bool = False
    first_bytes: bytes = b""  # what the peer sent, when it was not HTTP
    path: str = ""  # the file or socket concerned, when there is one


@dataclass(frozen=True)
class HttpResponse:
    """A complete HTTP answer; header names are lower-case."""

    status: int
    reason: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @property
    def text(self) -> str:
        """The body as text (for messages)."""
        return self.body.decode("utf-8", "replace")


@dataclass(frozen=True)
class Classification:
    """A verdict for one attempt, its stable reason code, and whether waiting may change it."""

    verdict: Verdict
    reason: str
    detail: str
    hint: str = ""
    retry: bool = False


def classify_failure(failure: Failure, endpoint: Endpoint) -> Classification:
    """The verdict for an attempt that got no HTTP answer."""
    where = _where(endpoint)
    if failure.stage == RESOLVE:
        return _classify_resolve(failure, endpoint)
    if failure.stage == TLS_SETUP:
        return _classify_tls_files(failure)
    if failure.ssl_reason or failure.verify_message:
        return _classify_tls(failure, endpoint)
    if failure.first_bytes:
        return _classify_not_http(failure, endpoint)
    code = failure.errno
    if failure.stage == CONNECT:
        if failure.timed_out:
            return Classification(
                Verdict.UNREACHABLE,
                "connect-timeout",
                f"no TCP answer from {where} (packets dropped: firewall, wrong address?)",
            )
        if code == errnos.ECONNREFUSED:
            return Classification(
                Verdict.REFUSED,
                "connection-refused",
                f"connection refused at {where}: nothing listens (daemon not running or crashed)",
                _refused_hint(endpoint),
                retry=True,
            )
        if code == errnos.ENOENT:
            return Classification(
                Verdict.REFUSED,
                "socket-missing",
                f"socket {endpoint.socket_path} does not exist (daemon not running or crashed)",
                _not_running_hint(endpoint),
                retry=True,
            )
        if code in (errnos.EACCES, errnos.EPERM):
            return Classification(
                Verdict.ERROR,
                "permission-denied",
                f"permission denied connecting to {where}",
                "run as a user that may use the Docker socket (root or the docker group)",
            )
        if code in (errnos.EHOSTUNREACH, errnos.ENETUNREACH, errnos.EADDRNOTAVAIL):
            return Classification(
                Verdict.UNREACHABLE, "no-route", f"no route to {where}: {_os_message(failure)}"
            )
        if code not in (errnos.ECONNRESET, errnos.ECONNABORTED):
            return Classification(
                Verdict.UNREACHABLE,
                "connect-failed",
                f"cannot connect to {where}: {_os_message(failure)}",
            )
    if failure.timed_out:
        if failure.stage == TLS_HANDSHAKE:
            return Classification(
                Verdict.TIMEOUT,
                "tls-handshake-timeout",
                f"{where} accepted the connection but never completed the TLS handshake",
            )
        return Classification(
            Verdict.TIMEOUT,
            "no-answer",
            f"{where} accepted the connection but never answered /_ping",
        )
    if failure.stage == TLS_HANDSHAKE and failure.exception in (
        "SSLEOFError",
        "SSLZeroReturnError",
    ):
        return Classification(
            Verdict.TLS_MISMATCH,
            "tls-handshake-failed",
            f"{where} closed the connection during the TLS handshake",
            "check that this port serves TLS and accepts your client certificate",
        )
    return Classification(
        Verdict.TIMEOUT,
        "closed-without-answer",
        f"{where} closed the connection without an HTTP answer ({_os_message(failure)})",
        retry=True,
    )


def classify_response(response: HttpResponse, endpoint: Endpoint) -> Classification:
    """The verdict for an HTTP answer to ``/_ping`` (200 is healthy)."""
    where = _where(endpoint)
    if response.status == 200:
        return Classification(Verdict.HEALTHY, "ok", f"{where} answered /_ping")
    if response.status == 400 and PLAIN_TO_TLS_MARKER in response.text:
        return Classification(
            Verdict.TLS_MISMATCH,
            "plain-http-to-tls-port",
            f"{where} expects TLS but the probe spoke plain HTTP (TLS is off in this job)",
            _hint_enable_tls(endpoint),
        )
    body = " ".join(response.text.split())[:200]
    text = f"{where} answered /_ping with HTTP {response.status} {response.reason}".rstrip()
    if body:
        text += f": {body}"
    if response.status in (502, 503, 504):
        return Classification(Verdict.ERROR, "http-unavailable", text, retry=True)
    return Classification(Verdict.ERROR, "http-error", text)


def _classify_resolve(failure: Failure, endpoint: Endpoint) -> Classification:
    temporary = failure.errno == -3  # EAI_AGAIN: the resolver could not be reached
    if failure.timed_out or temporary:
        return Classification(
            Verdict.UNREACHABLE,
            "dns-temporary",
            f"cannot resolve {endpoint.host!r}: {failure.message or 'lookup timed out'}",
            "is the service alias (e.g. `docker` for the dind service) spelled as in `services:`?",
            retry=True,
        )
    return Classification(
        Verdict.UNREACHABLE,
        "dns-failure",
        f"cannot resolve {endpoint.host!r}: {failure.message}",
        "is the service alias (e.g. `docker` for the dind service) spelled as in `services:`?",
    )


def _classify_tls_files(failure: Failure) -> Classification:
    if failure.errno == errnos.ENOENT:
        return Classification(
            Verdict.TLS_MISMATCH,
            "tls-files-missing",
            f"TLS file {failure.path} does not exist",
            "set DOCKER_CERT_PATH to the dind client certificates "
            "(DOCKER_TLS_CERTDIR/client, shared with the job), or turn TLS off",
            retry=True,
        )
    return Classification(
        Verdict.TLS_MISMATCH,
        "tls-files-invalid",
        f"cannot use TLS file {failure.path or '(certificates)'}: {failure.message}",
        "DOCKER_CERT_PATH must hold ca.pem, cert.pem and key.pem in PEM format",
    )


def _classify_tls(failure: Failure, endpoint: Endpoint) -> Classification:
    where = _where(endpoint)
    reason = failure.ssl_reason.upper()
    verify = failure.verify_message
    tls = endpoint.tls
    sent_cert = tls is not None and tls.cert_file is not None and tls.key_file is not None
    if reason in (
        "WRONG_VERSION_NUMBER",
        "RECORD_LAYER_FAILURE",
        "HTTP_REQUEST",
        "UNKNOWN_PROTOCOL",
    ):
        return Classification(
            Verdict.TLS_MISMATCH,
            "tls-to-plain-port",
            f"{where} speaks plain HTTP but the probe spoke TLS (TLS is on in this job)",
            _hint_disable_tls(endpoint),
        )
    if verify or reason == "CERTIFICATE_VERIFY_FAILED":
        lowered = verify.lower()
        if "mismatch" in lowered or "hostname" in lowered:
            return Classification(
                Verdict.TLS_MISMATCH,
                "server-cert-name-mismatch",
                f"the daemon's certificate is not valid for {endpoint.host!r}: {verify}",
                "use the host name the dind certificate was made for (dind adds `docker` "
                "and its own host names; add others with DOCKER_TLS_SAN)",
            )
        if "expired" in lowered or "not yet valid" in lowered:
            return Classification(
                Verdict.TLS_MISMATCH,
                "server-cert-expired",
                f"the daemon's certificate is outside its validity period: {verify}",
                "check the clocks, or let dind regenerate its certificates",
            )
        ca_file = tls.ca_file if tls else "the CA"
        return Classification(
            Verdict.TLS_MISMATCH,
            "server-cert-untrusted",
            f"the daemon's certificate is not signed by {ca_file}: {verify or failure.message}",
            "DOCKER_CERT_PATH must be the client directory of this very dind service "
            "(each dind start makes a new CA)",
        )
    if "CERTIFICATE_REQUIRED" in reason or (
        not sent_cert and ("BAD_CERTIFICATE" in reason or "HANDSHAKE_FAILURE" in reason)
    ):
        return Classification(
            Verdict.TLS_MISMATCH,
            "client-cert-required",
            f"{where} requires a client certificate and the probe has none "
            f"(no cert.pem/key.pem in {tls.cert_path if tls else 'DOCKER_CERT_PATH'})",
            "set DOCKER_CERT_PATH to the dind client certificates (DOCKER_TLS_CERTDIR/client)",
        )
    if any(word in reason for word in ("BAD_CERTIFICATE", "UNKNOWN_CA", "CERTIFICATE_UNKNOWN")):
        return Classification(
            Verdict.TLS_MISMATCH,
            "client-cert-rejected",
            f"{where} rejected the client certificate {tls.cert_file if tls else ''} "
            f"({failure.ssl_reason.lower().replace('_', ' ')})",
            "the client certificate must come from the same dind service as the CA",
        )
    return Classification(
        Verdict.TLS_MISMATCH,
        "tls-handshake-failed",
        f"TLS with {where} failed: {failure.message or failure.ssl_reason}",
        "check that this port serves TLS and that DOCKER_CERT_PATH matches the daemon",
    )


def _classify_not_http(failure: Failure, endpoint: Endpoint) -> Classification:
    where = _where(endpoint)
    first = failure.first_bytes
    if endpoint.tls is None and len(first) >= 2 and first[0] in (0x15, 0x16) and first[1] == 3:
        return Classification(
            Verdict.TLS_MISMATCH,
            "plain-http-to-tls-port",
            f"{where} answered with TLS but the probe spoke plain HTTP (TLS is off in this job)",
            _hint_enable_tls(endpoint),
        )
    return Classification(
        Verdict.ERROR,
        "not-http",
        f"{where} answered, but not with HTTP (first bytes {first[:16]!r}): not a Docker daemon?",
    )


def _where(endpoint: Endpoint) -> str:
    return endpoint.docker_host


def _os_message(failure: Failure) -> str:
    return failure.message or failure.exception or "connection closed"


def _not_running_hint(endpoint: Endpoint) -> str:
    """Where to look when nothing answers: dind's log, unless no dind was configured at all."""
    if endpoint.host_source == "default":
        return (
            "DOCKER_HOST is not set, so this is the local default daemon, not a dind service; "
            "a job with a docker:dind service sets DOCKER_HOST=tcp://docker:2376 (TLS) or "
            "tcp://docker:2375"
        )
    return LOG_HINT


def _refused_hint(endpoint: Endpoint) -> str:
    if endpoint.tls is None and endpoint.port == DEFAULT_HTTP_PORT:
        return (
            "if dind runs with TLS (DOCKER_TLS_CERTDIR set, the image default) it listens on "
            f"2376 only; otherwise {LOG_HINT}"
        )
    if endpoint.tls is not None and endpoint.port == DEFAULT_TLS_PORT:
        return (
            'if dind runs without TLS (DOCKER_TLS_CERTDIR="") it listens on 2375 only; '
            f"otherwise {LOG_HINT}"
        )
    return _not_running_hint(endpoint)


def _hint_enable_tls(endpoint: Endpoint) -> str:
    return (
        "set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH=$DOCKER_TLS_CERTDIR/client "
        '(share the dind certs volume with the job), or run dind with DOCKER_TLS_CERTDIR="" '
        f"and use port {DEFAULT_HTTP_PORT}"
    )


def _hint_disable_tls(endpoint: Endpoint) -> str:
    source = endpoint.tls.source if endpoint.tls else "DOCKER_TLS_VERIFY"
    return (
        f"this port is not a TLS port: unset {source} to talk plain HTTP, or point DOCKER_HOST "
        f"at the daemon's TLS port ({DEFAULT_TLS_PORT} for dind with DOCKER_TLS_CERTDIR set)"
    )


def certdir_hint(endpoint: Endpoint) -> str:
    """The exit-78 hint when dind's client certificates exist but the CLI will not use them."""
    if endpoint.tls is not None or not endpoint.unused_certdir:
        return ""
    return (
        f"certificates exist in {endpoint.unused_certdir} ($DOCKER_TLS_CERTDIR/client) but your "
        "docker CLI will not use them: set DOCKER_TLS_VERIFY=1 and "
        f"DOCKER_CERT_PATH={endpoint.unused_certdir}"
    )


def sibling_port(endpoint: Endpoint) -> int | None:
    """The other dind port (2375 <-> 2376) worth a look when the configured one refuses."""
    if endpoint.scheme != "tcp":
        return None
    return {DEFAULT_HTTP_PORT: DEFAULT_TLS_PORT, DEFAULT_TLS_PORT: DEFAULT_HTTP_PORT}.get(
        endpoint.port
    )


def classify_sibling(
    endpoint: Endpoint, port: int, response: HttpResponse
) -> Classification | None:
    """A wrong-port verdict when the sibling port answers plain HTTP the other way round.

    ``response`` is the sibling's answer to a plain ``GET /_ping``: Go's TLS server answers
    400 "Client sent an HTTP request to an HTTPS server", a plain daemon answers 200.
    """
    sibling_is_tls = response.status == 400 and PLAIN_TO_TLS_MARKER in response.text
    host = endpoint.host if ":" not in endpoint.host else f"[{endpoint.host}]"
    if endpoint.tls is None and sibling_is_tls:
        return Classification(
            Verdict.TLS_MISMATCH,
            "wrong-port",
            f"nothing listens on {endpoint.docker_host}, but a TLS daemon answers on port {port}",
            f"dind runs with TLS: use DOCKER_HOST=tcp://{host}:{port} with DOCKER_TLS_VERIFY=1 and "
            'DOCKER_CERT_PATH=$DOCKER_TLS_CERTDIR/client, or run dind with DOCKER_TLS_CERTDIR=""',
        )
    if endpoint.tls is not None and response.status == 200:
        return Classification(
            Verdict.TLS_MISMATCH,
            "wrong-port",
            f"nothing listens on {endpoint.docker_host}, but a plain-HTTP daemon answers on "
            f"port {port}",
            f"dind runs without TLS: use DOCKER_HOST=tcp://{host}:{port} and unset "
            f"{endpoint.tls.source}, or enable TLS in dind (DOCKER_TLS_CERTDIR=/certs)",
        )
    return None
