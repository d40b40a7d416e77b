"""HTTP with the daemon over a unix socket, TCP or TLS; every wait bounded by a deadline.

``http.client`` speaks HTTP. This module dials (the unix socket; TCP after a DNS lookup that also
ends by the deadline; the TLS handshake) so that the stage that failed is known, and returns
errors as :class:`~preflight.probe.classify.Failure` data, never raised.
"""

from __future__ import annotations

import errno as errnos
import http.client
import socket
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any

from preflight.probe.classify import (
    CONNECT,
    RECEIVE,
    RESOLVE,
    SEND,
    TLS_HANDSHAKE,
    TLS_SETUP,
    Failure,
    HttpResponse,
)
from preflight.probe.endpoint import Endpoint, TLSSettings

MIN_WAIT_S = 0.001
USER_AGENT = "dind-preflight"


class DialError(Exception):
    """Dialling failed; ``failure`` says at which stage and why."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure


class Connection(http.client.HTTPConnection):
    """``http.client`` over the endpoint's socket; (re)connecting dials by :func:`dial`.

    Keep-alive is ``http.client``'s: after a ``Connection: close`` answer the next request dials
    again, within that request's deadline.
    """

    def __init__(
        self, endpoint: Endpoint, tls_context: ssl.SSLContext | None, deadline: float
    ) -> None:
        if endpoint.scheme == "unix":
            super().__init__("docker")  # the Host header the docker CLI sends over a socket
        else:
            super().__init__(endpoint.host, endpoint.port)
        self.endpoint = endpoint
        self.tls_context = tls_context
        self.deadline = deadline

    def connect(self) -> None:
        """Dial within ``self.deadline``; raises :class:`DialError`."""
        self.sock = dial(self.endpoint, self.tls_context, self.deadline)

    def get(self, path: str, deadline: float) -> HttpResponse | Failure:
        """``GET path`` and read the whole answer before ``deadline`` (``time.monotonic``)."""
        self.deadline = deadline
        try:
            if self.sock is not None:
                self.sock.settimeout(_remaining(deadline))
            self.request("GET", self.endpoint.base_path + path, headers={"User-Agent": USER_AGENT})
        except DialError as exc:
            return exc.failure
        except OSError as exc:
            self.close()
            return failure_from_exception(SEND, exc)
        try:
            assert self.sock is not None
            self.sock.settimeout(_remaining(deadline))
            response = self.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            return _receive_failure(exc)
        headers: dict[str, str] = {}
        for name, value in response.getheaders():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        return HttpResponse(response.status, response.reason, headers, body)


def _receive_failure(exc: OSError | http.client.HTTPException) -> Failure:
    if isinstance(exc, http.client.RemoteDisconnected):
        return Failure(RECEIVE, type(exc).__name__, "connection closed without an answer")
    if isinstance(exc, http.client.BadStatusLine):
        # the first line of the answer, as received: not "HTTP/1.x <code> ..."
        first = str(exc.args[0] if exc.args else "").encode("latin-1", "replace")
        return Failure(
            RECEIVE, type(exc).__name__, "the answer is not HTTP", first_bytes=first[:16]
        )
    if isinstance(exc, http.client.UnknownProtocol):  # e.g. "HTTP/2 200"
        first = str(exc.args[0]).encode("latin-1", "replace")
        return Failure(RECEIVE, type(exc).__name__, "not HTTP/1.x", first_bytes=first[:16])
    if isinstance(exc, http.client.IncompleteRead):
        return Failure(RECEIVE, type(exc).__name__, "connection closed inside the answer's body")
    if isinstance(exc, http.client.HTTPException):
        return Failure(RECEIVE, type(exc).__name__, str(exc) or "malformed HTTP answer")
    return failure_from_exception(RECEIVE, exc)


def dial(endpoint: Endpoint, tls_context: ssl.SSLContext | None, deadline: float) -> socket.socket:
    """A connected socket (TLS handshake done) before ``deadline``; raises :class:`DialError`."""
    if endpoint.scheme == "unix":
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(_remaining(deadline))
            sock.connect(endpoint.socket_path)
        except OSError as exc:
            sock.close()
            raise DialError(
                failure_from_exception(CONNECT, exc, path=endpoint.socket_path)
            ) from None
        return sock
    addresses = resolve(endpoint.host, endpoint.port, deadline)
    if isinstance(addresses, Failure):
        raise DialError(addresses)
    last = Failure(CONNECT, "OSError", "no address")
    for family, address in addresses:
        tcp = socket.socket(family, socket.SOCK_STREAM)
        try:
            tcp.settimeout(_remaining(deadline))
            tcp.connect(address)
            tcp.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError as exc:
            tcp.close()
            last = failure_from_exception(CONNECT, exc)
            if last.timed_out:
                break
            continue
        if tls_context is None:
            return tcp
        try:
            tcp.settimeout(_remaining(deadline))
            return tls_context.wrap_socket(tcp, server_hostname=endpoint.host)
        except OSError as exc:
            tcp.close()
            raise DialError(failure_from_exception(TLS_HANDSHAKE, exc)) from None
    raise DialError(last)


def connect(
    endpoint: Endpoint, deadline: float, tls_context: ssl.SSLContext | None = None
) -> Connection | Failure:
    """Open a connection (TLS handshake included) before ``deadline``."""
    connection = Connection(endpoint, tls_context, deadline)
    try:
        connection.connect()
    except DialError as exc:
        return exc.failure
    return connection


def resolve(host: str, port: int, deadline: float) -> list[tuple[int, Any]] | Failure:
    """The addresses of ``host``; IP literals without a lookup, names within the deadline."""
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, host)
        except OSError:
            continue
        return [(family, (host, port))]
    found: list[Any] = []
    error: list[BaseException] = []

    def lookup() -> None:
        try:
            found.extend(socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM))
        except (OSError, UnicodeError) as exc:
            error.append(exc)

    # getaddrinfo cannot be interrupted: a lookup that outlives the deadline is abandoned.
    thread = threading.Thread(target=lookup, name="dns-lookup", daemon=True)
    thread.start()
    thread.join(_remaining(deadline))
    if thread.is_alive():
        return Failure(RESOLVE, "TimeoutError", "DNS lookup did not finish in time", timed_out=True)
    if error:
        exc = error[0]
        code = exc.errno if isinstance(exc, OSError) else None
        message = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return Failure(RESOLVE, type(exc).__name__, message, errno=code)
    return [(family, sockaddr) for family, _, _, _, sockaddr in found]


def tls_context(settings: TLSSettings) -> ssl.SSLContext | Failure:
    """The client context the docker CLI would build: its CA, and the client cert when present."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    for path in (settings.ca_file, settings.cert_file, settings.key_file):
        if path is None:
            continue
        try:
            with open(path, "rb"):
                pass
        except OSError as exc:
            return failure_from_exception(TLS_SETUP, exc, path=path)
    try:
        context.load_verify_locations(cafile=settings.ca_file)
    except (OSError, ValueError) as exc:
        return failure_from_exception(TLS_SETUP, exc, path=settings.ca_file)
    if settings.cert_file and settings.key_file:
        try:
            context.load_cert_chain(settings.cert_file, settings.key_file)
        except (OSError, ValueError) as exc:
            return failure_from_exception(TLS_SETUP, exc, path=settings.cert_file)
    elif settings.cert_file or settings.key_file:
        present = settings.cert_file or settings.key_file or ""
        return Failure(
            TLS_SETUP,
            "ValueError",
            "cert.pem and key.pem must both be present",
            path=present,
        )
    if not settings.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def failure_from_exception(stage: str, exc: BaseException, path: str = "") -> Failure:
    """Describe ``exc`` as plain data."""
    code = getattr(exc, "errno", None)
    reason = exc.reason if isinstance(exc, ssl.SSLError) else None
    verify_message = exc.verify_message if isinstance(exc, ssl.SSLCertVerificationError) else None
    message = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    if reason or verify_message:
        message = str(exc)
    return Failure(
        stage=stage,
        exception=type(exc).__name__,
        message=message,
        errno=code if isinstance(code, int) else None,
        ssl_reason=reason if isinstance(reason, str) else "",
        verify_message=str(verify_message) if verify_message else "",
        timed_out=isinstance(exc, TimeoutError) or code == errnos.ETIMEDOUT,
        path=path,
    )


def exchange(
    endpoint: Endpoint,
    deadline: float,
    context_for: Callable[[], ssl.SSLContext | Failure | None],
) -> tuple[HttpResponse | Failure, Connection | None]:
    """Connect and ``GET /_ping``; the open connection is returned with a 200 answer."""
    context = context_for()
    if isinstance(context, Failure):
        return context, None
    connection = connect(endpoint, deadline, context)
    if isinstance(connection, Failure):
        return connection, None
    answer = connection.get("/_ping", deadline)
    if isinstance(answer, HttpResponse) and answer.status == 200:
        return answer, connection
    connection.close()
    return answer, None


def _remaining(deadline: float) -> float:
    return max(deadline - time.monotonic(), MIN_WAIT_S)
