"""HTTP with the daemon over a unix socket, TCP or TLS; every wait bounded by a deadline.

This module dials (the unix socket; TCP after a DNS lookup that also ends by the deadline; the TLS
handshake) so that the stage that failed is known, speaks the little HTTP/1.1 a probe needs, and
returns errors as :class:`~preflight.probe.classify.Failure` data, never raised.
"""

from __future__ import annotations

import errno as errnos
import socket
import sys
import threading
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
    HttpResponse,
)
from preflight.probe.endpoint import Endpoint, TLSSettings

TYPE_CHECKING = False  # typing's constant without importing typing: the healthy path
if TYPE_CHECKING:
    import ssl  # imported where TLS is used: a plain-tcp probe never loads it
    from typing import Any

MIN_WAIT_S = 0.001
USER_AGENT = "dind-preflight"


class DialError(Exception):
    """Dialling failed; ``failure`` says at which stage and why."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure


class ProtocolError(Exception):
    """The answer is not HTTP/1.x, or it ended early: ``failure`` says how (never raised out)."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure


class Connection:
    """One HTTP/1.1 connection to the daemon, kept alive between requests; dials by :func:`dial`.

    Only what a probe needs: ``GET`` and reading the whole answer (``Content-Length``, chunked, or
    until the peer closes). Written on the socket module rather than ``http.client``, which loads
    ``email`` and ``ssl`` on import and so doubled the healthy path's start-up (``make bench``).
    After a ``Connection: close`` answer (or an HTTP/1.0 one) the next request dials again,
    within that request's deadline.
    """

    def __init__(
        self, endpoint: Endpoint, tls_context: ssl.SSLContext | None, deadline: float
    ) -> None:
        self.endpoint = endpoint
        self.tls_context = tls_context
        self.deadline = deadline
        self.sock: socket.socket | None = None
        self._buffer = b""
        if endpoint.scheme == "unix":
            self.host_header = "docker"  # the Host header the docker CLI sends over a socket
        else:
            host = f"[{endpoint.host}]" if ":" in endpoint.host else endpoint.host
            self.host_header = host if endpoint.port == 80 else f"{host}:{endpoint.port}"

    def connect(self) -> None:
        """Dial within ``self.deadline``; raises :class:`DialError`."""
        self.sock = dial(self.endpoint, self.tls_context, self.deadline)
        self._buffer = b""

    def close(self) -> None:
        """Close the socket (the next request dials again)."""
        sock, self.sock, self._buffer = self.sock, None, b""
        if sock is not None:
            sock.close()

    def get(self, path: str, deadline: float) -> HttpResponse | Failure:
        """``GET path`` and read the whole answer before ``deadline`` (``time.monotonic``)."""
        self.deadline = deadline
        request = (
            f"GET {self.endpoint.base_path}{path} HTTP/1.1\r\nHost: {self.host_header}\r\n"
            f"User-Agent: {USER_AGENT}\r\nAccept-Encoding: identity\r\n\r\n"
        ).encode("ascii", "replace")
        try:
            if self.sock is None:
                self.connect()
            assert self.sock is not None
            self.sock.settimeout(_remaining(deadline))
            self.sock.sendall(request)
        except DialError as exc:
            return exc.failure
        except OSError as exc:
            self.close()
            return failure_from_exception(SEND, exc)
        try:
            return self._read_answer(deadline)
        except ProtocolError as exc:
            self.close()
            return exc.failure
        except OSError as exc:
            self.close()
            return failure_from_exception(RECEIVE, exc)

    # -- reading -------------------------------------------------------------------------------

    def _fill(self, deadline: float) -> bool:
        """Read more into the buffer; False when the peer closed the connection."""
        assert self.sock is not None
        self.sock.settimeout(_remaining(deadline))
        chunk = self.sock.recv(65536)
        self._buffer += chunk
        return bool(chunk)

    def _line(self, deadline: float, *, first: bool = False) -> bytes:
        """One line with its line break (or what came before the peer closed)."""
        while b"\n" not in self._buffer:
            if len(self._buffer) > MAX_LINE:
                raise ProtocolError(Failure(RECEIVE, "LineTooLong", "an answer line is too long"))
            if not self._fill(deadline):
                line, self._buffer = self._buffer, b""
                if first and not line:
                    raise ProtocolError(
                        Failure(
                            RECEIVE, "RemoteDisconnected", "connection closed without an answer"
                        )
                    )
                return line
        cut = self._buffer.index(b"\n") + 1
        line, self._buffer = self._buffer[:cut], self._buffer[cut:]
        return line

    def _exactly(self, size: int, deadline: float) -> bytes:
        while len(self._buffer) < size:
            if not self._fill(deadline):
                raise ProtocolError(
                    Failure(RECEIVE, "IncompleteRead", "connection closed inside the answer's body")
                )
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def _read_answer(self, deadline: float) -> HttpResponse:
        while True:
            version, status, reason = _status_line(self._line(deadline, first=True))
            headers = self._headers(deadline)
            if not 100 <= status < 200 or status == 101:
                break  # an interim 1xx answer is followed by the real one
        chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        length = headers.get("content-length")
        closes = "close" in headers.get("connection", "").lower() or (
            version == "HTTP/1.0" and "keep-alive" not in headers.get("connection", "").lower()
        )
        if status in (204, 304) or 100 <= status < 200:
            body = b""
        elif chunked:
            body = self._chunked(deadline)
        elif length is not None and length.strip().isdigit():
            body = self._exactly(int(length.strip()), deadline)
        else:  # no length: the body ends when the peer closes
            while self._fill(deadline):
                pass
            body, self._buffer, closes = self._buffer, b"", True
        if closes:
            self.close()
        return HttpResponse(status, reason, headers, body)

    def _headers(self, deadline: float) -> dict[str, str]:
        headers: dict[str, str] = {}
        for _ in range(MAX_HEADERS):
            line = self._line(deadline)
            if line in (b"\r\n", b"\n", b""):
                return headers
            name, colon, value = line.decode("latin-1").partition(":")
            if not colon:
                continue  # not a header (http.client also skips such lines)
            key = name.strip().lower()
            text = value.strip()
            headers[key] = f"{headers[key]}, {text}" if key in headers else text
        raise ProtocolError(Failure(RECEIVE, "HTTPException", "more than 100 headers"))

    def _chunked(self, deadline: float) -> bytes:
        parts: list[bytes] = []
        while True:
            size_text = self._line(deadline).split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise ProtocolError(
                    Failure(RECEIVE, "IncompleteRead", "connection closed inside the answer's body")
                ) from None
            if size == 0:
                while self._line(deadline) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts)
            parts.append(self._exactly(size, deadline))
            self._exactly(2, deadline)  # the CRLF after each chunk


MAX_LINE = 65536
MAX_HEADERS = 100


def _status_line(line: bytes) -> tuple[str, int, str]:
    """(version, status, reason) of ``HTTP/1.x NNN reason``; :class:`ProtocolError` otherwise.

    What is not HTTP keeps its first 16 bytes (an SSH banner, a TLS alert) for the verdict.
    """
    text = line.decode("latin-1")
    version, _, rest = text.rstrip("\r\n").partition(" ")
    status_text, _, reason = rest.partition(" ")
    if not version.startswith("HTTP/"):
        raise ProtocolError(
            Failure(RECEIVE, "BadStatusLine", "the answer is not HTTP", first_bytes=line[:16])
        )
    if not version.startswith("HTTP/1."):  # e.g. "HTTP/2 200"
        raise ProtocolError(
            Failure(RECEIVE, "UnknownProtocol", "not HTTP/1.x", first_bytes=version.encode()[:16])
        )
    if len(status_text) != 3 or not status_text.isdigit() or int(status_text) < 100:
        raise ProtocolError(
            Failure(RECEIVE, "BadStatusLine", "the answer is not HTTP", first_bytes=line[:16])
        )
    return version, int(status_text), reason.strip()


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
    """Describe ``exc`` as plain data."""
    code = getattr(exc, "errno", None)
    # No TLS without ssl loaded: when it is not, exc is no ssl error (and ssl stays unloaded).
    tls = sys.modules.get("ssl")
    reason = exc.reason if tls is not None and isinstance(exc, tls.SSLError) else None
    verify_message = (
        exc.verify_message
        if tls is not None and isinstance(exc, tls.SSLCertVerificationError)
        else None
    )
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
