"""One HTTP exchange with a daemon over a unix socket, TCP or TLS; every wait bounded by a deadline.

Stdlib only, and cheap to import, because every CI job pays for it: plain connections use the
``_socket`` extension that ``socket.py`` wraps (``socket.py`` builds its enums at import: 3-7 ms,
a tenth of the whole healthy path, see bench/), ``ssl`` and ``socket`` are imported only for TLS
endpoints, and a DNS lookup runs on a ``_thread`` so that it too ends by the deadline.
Errors are returned as :class:`~preflight.probe.classify.Failure` data, never raised.
"""

from __future__ import annotations

import _socket
import _thread
import errno as errnos
import time
from collections.abc import Callable

from preflight.probe.classify import (
    CONNECT,
    RECEIVE,
    RESOLVE,
    SEND,
    TLS_HANDSHAKE,
    TLS_SETUP,
    Failure,
)
from preflight.probe.endpoint import Endpoint, TLSSettings
from preflight.probe.http_message import HttpResponse, NotHttpError, build_request, parse_response

TYPE_CHECKING = False  # typing costs import time on the healthy path; mypy knows this name
if TYPE_CHECKING:
    import ssl
    from typing import Any

MIN_WAIT_S = 0.001


class Connection:
    """An open connection to the daemon, good for several requests while the daemon keeps it."""

    def __init__(self, endpoint: Endpoint, sock: _socket.socket) -> None:
        self.endpoint = endpoint
        self.sock = sock

    def close(self) -> None:
        """Close the socket (idempotent)."""
        self.sock.close()

    def request(
        self, method: str, path: str, deadline: float, body: bytes = b""
    ) -> HttpResponse | Failure:
        """Send one request and read its response before ``deadline`` (``time.monotonic``)."""
        host = "docker" if self.endpoint.scheme == "unix" else self.endpoint.address
        payload = build_request(method, self.endpoint.base_path + path, host, body)
        try:
            self.sock.settimeout(_remaining(deadline))
            self.sock.sendall(payload)
        except OSError as exc:
            return failure_from_exception(SEND, exc)
        data = b""
        eof = False
        while True:
            try:
                response = parse_response(data, eof=eof)
            except NotHttpError as exc:
                return Failure(RECEIVE, "NotHttpError", str(exc), first_bytes=exc.first_bytes)
            if response is not None:
                return response
            if eof:
                return Failure(RECEIVE, "EOFError", "connection closed without an answer")
            try:
                self.sock.settimeout(_remaining(deadline))
                chunk = self.sock.recv(65536)
            except OSError as exc:
                return failure_from_exception(RECEIVE, exc)
            eof = not chunk
            data += chunk


def connect(
    endpoint: Endpoint, deadline: float, tls_context: ssl.SSLContext | None = None
) -> Connection | Failure:
    """Open a connection (and complete the TLS handshake) before ``deadline``."""
    if endpoint.scheme == "unix":
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        try:
            sock.settimeout(_remaining(deadline))
            sock.connect(endpoint.socket_path)
        except OSError as exc:
            sock.close()
            return failure_from_exception(CONNECT, exc, path=endpoint.socket_path)
        return Connection(endpoint, sock)
    addresses = resolve(endpoint.host, endpoint.port, deadline)
    if isinstance(addresses, Failure):
        return addresses
    last: Failure = Failure(CONNECT, "OSError", "no address")
    for family, address in addresses:
        tcp = _tcp_socket(family, for_tls=tls_context is not None)
        try:
            tcp.settimeout(_remaining(deadline))
            tcp.connect(address)
            tcp.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
        except OSError as exc:
            tcp.close()
            last = failure_from_exception(CONNECT, exc)
            if last.timed_out:
                return last
            continue
        if tls_context is None:
            return Connection(endpoint, tcp)
        return _handshake(endpoint, tcp, tls_context, deadline)
    return last


def _tcp_socket(family: int, *, for_tls: bool) -> _socket.socket:
    if for_tls:
        import socket  # ssl wraps socket.socket objects only

        return socket.socket(family, socket.SOCK_STREAM)
    return _socket.socket(family, _socket.SOCK_STREAM)


def _handshake(
    endpoint: Endpoint, tcp: _socket.socket, context: ssl.SSLContext, deadline: float
) -> Connection | Failure:
    import socket

    assert isinstance(tcp, socket.socket), "TLS needs a socket.socket (see _tcp_socket)"
    try:
        tcp.settimeout(_remaining(deadline))
        wrapped = context.wrap_socket(tcp, server_hostname=endpoint.host)
    except OSError as exc:
        tcp.close()
        return failure_from_exception(TLS_HANDSHAKE, exc)
    return Connection(endpoint, wrapped)


def resolve(host: str, port: int, deadline: float) -> list[tuple[int, Any]] | Failure:
    """The addresses of ``host``; IP literals without a lookup, names within the deadline."""
    for family in (_socket.AF_INET, _socket.AF_INET6):
        try:
            _socket.inet_pton(family, host)
        except OSError:
            continue
        return [(family, (host, port))]
    found: list[Any] = []
    error: list[BaseException] = []
    done = _thread.allocate_lock()
    done.acquire()

    def lookup() -> None:
        try:
            found.extend(_socket.getaddrinfo(host, port, 0, _socket.SOCK_STREAM))
        except (OSError, UnicodeError) as exc:
            error.append(exc)
        finally:
            done.release()

    # getaddrinfo cannot be interrupted: a lookup that outlives the deadline is abandoned.
    _thread.start_new_thread(lookup, ())
    if not done.acquire(timeout=_remaining(deadline)):
        return Failure(RESOLVE, "TimeoutError", "DNS lookup did not finish in time", timed_out=True)
    if error:
        exc = error[0]
        code = exc.errno if isinstance(exc, OSError) else None
        message = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return Failure(RESOLVE, type(exc).__name__, message, errno=code)
    return [(family, sockaddr) for family, _, _, _, sockaddr in found]


def tls_context(settings: TLSSettings) -> ssl.SSLContext | Failure:
    """The client context the docker CLI would build: its CA, and the client cert when present."""
    import ssl

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
    """Describe ``exc`` as plain data (reads ssl attributes without importing ssl)."""
    code = getattr(exc, "errno", None)
    timed_out = isinstance(exc, TimeoutError) or code == errnos.ETIMEDOUT
    reason = getattr(exc, "reason", None)
    verify_message = getattr(exc, "verify_message", None)
    message = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    if reason or verify_message:
        message = str(exc)
    return Failure(
        stage=stage,
        exception=type(exc).__name__,
        message=message,
        errno=code if isinstance(code, int) else None,
        ssl_reason=str(reason) if isinstance(reason, str) else "",
        verify_message=str(verify_message) if verify_message else "",
        timed_out=timed_out,
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
    answer = connection.request("GET", "/_ping", deadline)
    if isinstance(answer, HttpResponse) and answer.status == 200:
        return answer, connection
    connection.close()
    return answer, None


def _remaining(deadline: float) -> float:
    return max(deadline - time.monotonic(), MIN_WAIT_S)
