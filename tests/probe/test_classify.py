"""What one attempt saw -> verdict, reason, retry. A table of the failures real sockets produce.

The failure values are the ones Python reports against real peers on Linux (captured from
dockerd 20.10, Go's TLS server, closed ports, missing sockets, a ``.invalid`` name); the
real-socket tests in ``test_probe_cli.py`` check the same verdicts end to end.
"""

from __future__ import annotations

import errno

import pytest

from preflight.probe.classify import (
    CONNECT,
    RECEIVE,
    RESOLVE,
    SEND,
    TLS_HANDSHAKE,
    TLS_SETUP,
    Failure,
    HttpResponse,
    classify_failure,
    classify_response,
    classify_sibling,
    sibling_port,
)
from preflight.probe.endpoint import Endpoint, TLSSettings, resolve_endpoint
from preflight.probe.model import Verdict

PLAIN = resolve_endpoint({"DOCKER_HOST": "tcp://docker:2375"})
UNIX = resolve_endpoint({})
WITH_CERT = TLSSettings(True, "/c/ca.pem", "/c/cert.pem", "/c/key.pem", "/c", "DOCKER_TLS_VERIFY")
NO_CERT = TLSSettings(True, "/c/ca.pem", None, None, "/c", "DOCKER_TLS_VERIFY")
TLS = Endpoint("tcp://docker:2376", "tcp", host="docker", port=2376, tls=WITH_CERT)
TLS_NO_CERT = Endpoint("tcp://docker:2376", "tcp", host="docker", port=2376, tls=NO_CERT)

R, T, M = Verdict.REFUSED, Verdict.TIMEOUT, Verdict.TLS_MISMATCH
U, E = Verdict.UNREACHABLE, Verdict.ERROR


def ssl_error(stage: str, reason: str) -> Failure:
    return Failure(stage, "SSLError", f"[SSL: {reason}] ...", errno=1, ssl_reason=reason)


def cert_error(verify_message: str) -> Failure:
    return Failure(
        TLS_HANDSHAKE,
        "SSLCertVerificationError",
        f"[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: {verify_message}",
        errno=1,
        ssl_reason="CERTIFICATE_VERIFY_FAILED",
        verify_message=verify_message,
    )


# What Python reports on Linux for each situation (seen against real peers).
CONN_REFUSED = Failure(CONNECT, "ConnectionRefusedError", "Connection refused", errno.ECONNREFUSED)
NO_SOCKET = Failure(CONNECT, "FileNotFoundError", "No such file or directory", errno.ENOENT)
NO_PERMISSION = Failure(CONNECT, "PermissionError", "Permission denied", errno.EACCES)
NO_ROUTE = Failure(CONNECT, "OSError", "No route to host", errno.EHOSTUNREACH)
NET_DOWN = Failure(CONNECT, "OSError", "Network is unreachable", errno.ENETUNREACH)
SYN_DROPPED = Failure(CONNECT, "TimeoutError", "timed out", timed_out=True)
BAD_ADDRESS = Failure(CONNECT, "OSError", "Invalid argument", errno.EINVAL)
RESET_AT_CONNECT = Failure(CONNECT, "ConnectionResetError", "Connection reset", errno.ECONNRESET)
NO_NAME = Failure(RESOLVE, "gaierror", "Name or service not known", -2)
DNS_DOWN = Failure(RESOLVE, "gaierror", "Temporary failure in name resolution", -3)
DNS_SLOW = Failure(RESOLVE, "TimeoutError", "DNS lookup did not finish in time", timed_out=True)
SILENT = Failure(RECEIVE, "TimeoutError", "timed out", timed_out=True)
SILENT_TLS = Failure(TLS_HANDSHAKE, "TimeoutError", "timed out", timed_out=True)
CLOSED = Failure(RECEIVE, "EOFError", "connection closed without an answer")
RESET = Failure(RECEIVE, "ConnectionResetError", "Connection reset by peer", errno.ECONNRESET)
PIPE = Failure(SEND, "BrokenPipeError", "Broken pipe", errno.EPIPE)
TLS_EOF = Failure(TLS_HANDSHAKE, "SSLEOFError", "EOF occurred in violation of protocol")
SSH = Failure(RECEIVE, "NotHttpError", "not HTTP", first_bytes=b"SSH-2.0-OpenSSH")
TLS_ALERT = Failure(RECEIVE, "NotHttpError", "not HTTP", first_bytes=b"\x15\x03\x01\x00\x02")
CA_MISSING = Failure(TLS_SETUP, "FileNotFoundError", "No such file", errno.ENOENT, path="/c/ca.pem")
CA_NOT_PEM = Failure(TLS_SETUP, "SSLError", "[X509: NO_CERTIFICATE_OR_CRL_FOUND]", path="/c/ca.pem")
KEY_LOCKED = Failure(TLS_SETUP, "PermissionError", "Permission denied", 13, path="/c/key.pem")

CASES = [
    # (failure, endpoint, verdict, reason, retried)
    (CONN_REFUSED, PLAIN, R, "connection-refused", True),
    (CONN_REFUSED, UNIX, R, "connection-refused", True),
    (NO_SOCKET, UNIX, R, "socket-missing", True),
    (NO_PERMISSION, UNIX, E, "permission-denied", False),
    (NO_ROUTE, PLAIN, U, "no-route", False),
    (NET_DOWN, PLAIN, U, "no-route", False),
    (SYN_DROPPED, PLAIN, U, "connect-timeout", False),
    (BAD_ADDRESS, PLAIN, U, "connect-failed", False),
    (RESET_AT_CONNECT, PLAIN, T, "closed-without-answer", True),
    (NO_NAME, PLAIN, U, "dns-failure", False),
    (DNS_DOWN, PLAIN, U, "dns-temporary", True),
    (DNS_SLOW, PLAIN, U, "dns-temporary", True),
    (SILENT, PLAIN, T, "no-answer", False),
    (SILENT_TLS, TLS, T, "tls-handshake-timeout", False),
    (CLOSED, PLAIN, T, "closed-without-answer", True),
    (RESET, PLAIN, T, "closed-without-answer", True),
    (PIPE, PLAIN, T, "closed-without-answer", True),
    (TLS_EOF, TLS, M, "tls-handshake-failed", False),
    (SSH, PLAIN, E, "not-http", False),
    (TLS_ALERT, PLAIN, M, "plain-http-to-tls-port", False),
    (ssl_error(TLS_HANDSHAKE, "WRONG_VERSION_NUMBER"), TLS, M, "tls-to-plain-port", False),
    (ssl_error(TLS_HANDSHAKE, "RECORD_LAYER_FAILURE"), TLS, M, "tls-to-plain-port", False),
    (ssl_error(RECEIVE, "SSLV3_ALERT_BAD_CERTIFICATE"), TLS_NO_CERT, M, "client-cert-required", False),
    (ssl_error(RECEIVE, "TLSV13_ALERT_CERTIFICATE_REQUIRED"), TLS_NO_CERT, M, "client-cert-required", False),
    (ssl_error(TLS_HANDSHAKE, "SSLV3_ALERT_HANDSHAKE_FAILURE"), TLS_NO_CERT, M, "client-cert-required", False),
    (ssl_error(RECEIVE, "SSLV3_ALERT_BAD_CERTIFICATE"), TLS, M, "client-cert-rejected", False),
    (ssl_error(TLS_HANDSHAKE, "TLSV1_ALERT_UNKNOWN_CA"), TLS, M, "client-cert-rejected", False),
    (ssl_error(TLS_HANDSHAKE, "SOMETHING_NEW"), TLS, M, "tls-handshake-failed", False),
    (cert_error("unable to get local issuer certificate"), TLS, M, "server-cert-untrusted", False),
    (cert_error("self-signed certificate"), TLS, M, "server-cert-untrusted", False),
    (cert_error("Hostname mismatch, certificate is not valid for 'docker'."), TLS, M, "server-cert-name-mismatch", False),
    (cert_error("IP address mismatch, certificate is not valid for '127.0.0.1'."), TLS, M, "server-cert-name-mismatch", False),
    (cert_error("certificate has expired"), TLS, M, "server-cert-expired", False),
    (CA_MISSING, TLS, M, "tls-files-missing", True),
    (CA_NOT_PEM, TLS, M, "tls-files-invalid", False),
    (KEY_LOCKED, TLS, M, "tls-files-invalid", False),
]  # fmt: skip


@pytest.mark.parametrize(("failure", "endpoint", "verdict", "reason", "retry"), CASES)
def test_classify_failure(
    failure: Failure, endpoint: Endpoint, verdict: Verdict, reason: str, retry: bool
) -> None:
    result = classify_failure(failure, endpoint)
    assert (result.verdict, result.reason, result.retry) == (verdict, reason, retry)
    assert result.detail and "\n" not in result.detail


def test_certain_tls_problems_are_never_retried() -> None:
    retried = {
        c[3] for c in CASES if c[2] is Verdict.TLS_MISMATCH and classify_failure(c[0], c[1]).retry
    }
    assert retried == {"tls-files-missing"}  # only files dind has not written yet


def test_details_say_which_tls_problem() -> None:
    assert "/c/ca.pem" in classify_failure(CA_MISSING, TLS).detail
    no_cert = classify_failure(ssl_error(RECEIVE, "SSLV3_ALERT_BAD_CERTIFICATE"), TLS_NO_CERT)
    assert "requires a client certificate" in no_cert.detail and "/c" in no_cert.detail
    untrusted = classify_failure(cert_error("unable to get local issuer certificate"), TLS)
    assert "not signed by /c/ca.pem" in untrusted.detail
    rejected = classify_failure(ssl_error(RECEIVE, "SSLV3_ALERT_BAD_CERTIFICATE"), TLS)
    assert "rejected the client certificate /c/cert.pem" in rejected.detail


@pytest.mark.parametrize(
    ("response", "endpoint", "verdict", "reason", "retry"),
    [
        (HttpResponse(200, "OK", body=b"OK"), PLAIN, Verdict.HEALTHY, "ok", False),
        (
            HttpResponse(
                400, "Bad Request", body=b"Client sent an HTTP request to an HTTPS server.\n"
            ),
            PLAIN,
            M,
            "plain-http-to-tls-port",
            False,
        ),
        (HttpResponse(400, "Bad Request", body=b"bad"), PLAIN, E, "http-error", False),
        (HttpResponse(404, "Not Found", body=b"page not found"), PLAIN, E, "http-error", False),
        (HttpResponse(500, "Internal Server Error", body=b"boom"), PLAIN, E, "http-error", False),
        (HttpResponse(503, "Service Unavailable"), PLAIN, E, "http-unavailable", True),
        (HttpResponse(502, "Bad Gateway"), PLAIN, E, "http-unavailable", True),
    ],
)
def test_classify_response(
    response: HttpResponse, endpoint: Endpoint, verdict: Verdict, reason: str, retry: bool
) -> None:
    result = classify_response(response, endpoint)
    assert (result.verdict, result.reason, result.retry) == (verdict, reason, retry)


def test_http_error_detail_quotes_status_and_body() -> None:
    result = classify_response(
        HttpResponse(500, "Internal Server Error", body=b"boom\nbang"), PLAIN
    )
    assert (
        result.detail
        == "tcp://docker:2375 answered /_ping with HTTP 500 Internal Server Error: boom bang"
    )


def test_refused_hint_names_the_other_dind_port() -> None:
    refused = Failure(CONNECT, "ConnectionRefusedError", "Connection refused", errno.ECONNREFUSED)
    assert "2376" in classify_failure(refused, PLAIN).hint
    assert "2375" in classify_failure(refused, TLS).hint


@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [(PLAIN, 2376), (TLS, 2375), (UNIX, None), (resolve_endpoint({}, "tcp://d:1234"), None)],
)
def test_sibling_port(endpoint: Endpoint, expected: int | None) -> None:
    assert sibling_port(endpoint) == expected


TLS_ANSWER = HttpResponse(
    400, "Bad Request", body=b"Client sent an HTTP request to an HTTPS server.\n"
)
PLAIN_ANSWER = HttpResponse(200, "OK", body=b"OK")


@pytest.mark.parametrize(
    ("endpoint", "answer", "wrong_port"),
    [
        (PLAIN, TLS_ANSWER, True),  # job: plain 2375; dind: TLS on 2376
        (TLS, PLAIN_ANSWER, True),  # job: TLS 2376; dind: plain on 2375
        (PLAIN, PLAIN_ANSWER, False),  # a plain daemon on 2376: not the dind mix-up
        (TLS, TLS_ANSWER, False),
        (PLAIN, HttpResponse(500, "Internal Server Error"), False),
    ],
)
def test_classify_sibling(endpoint: Endpoint, answer: HttpResponse, wrong_port: bool) -> None:
    port = sibling_port(endpoint)
    assert port is not None
    result = classify_sibling(endpoint, port, answer)
    if not wrong_port:
        assert result is None
        return
    assert result is not None
    assert (result.verdict, result.reason, result.retry) == (M, "wrong-port", False)
    assert f"tcp://docker:{port}" in result.hint
