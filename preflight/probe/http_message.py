"""HTTP/1.1 requests and responses as bytes: build one, parse one. Pure, no sockets.

The probe needs three things from the Docker API (``/_ping``, ``/version``, the answer of a
TLS port to plain HTTP); ``http.client`` would cost ~15 ms of imports (``email.*``) on every run,
a third of the healthy-path budget, so the probe speaks this small subset itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_HEADER_BYTES = 64 * 1024


class NotHttpError(ValueError):
    """The peer's bytes are not an HTTP/1.x response."""

    def __init__(self, message: str, first_bytes: bytes) -> None:
        super().__init__(message)
        self.first_bytes = first_bytes


@dataclass(frozen=True)
class HttpResponse:
    """A complete response; header names are lower-case."""

    status: int
    reason: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    version: str = "HTTP/1.1"

    @property
    def keep_alive(self) -> bool:
        """True when the connection may carry another request."""
        connection = self.headers.get("connection", "").lower()
        if self.version == "HTTP/1.0":
            return connection == "keep-alive"
        return connection != "close"

    @property
    def text(self) -> str:
        """The body as text (for messages)."""
        return self.body.decode("utf-8", "replace")


def build_request(method: str, path: str, host: str, body: bytes = b"") -> bytes:
    """A minimal HTTP/1.1 request (JSON body when ``body`` is given)."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "User-Agent: dind-preflight"]
    if body or method in ("POST", "PUT"):
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def parse_response(data: bytes, *, eof: bool = False) -> HttpResponse | None:
    """The response in ``data``, or ``None`` while more bytes are needed.

    ``eof`` says the peer closed the connection (a body without length ends there).
    Raises :class:`NotHttpError` when ``data`` cannot be the start of an HTTP/1.x response.
    """
    _check_looks_like_http(data)
    head_end = data.find(b"\r\n\r\n")
    if head_end < 0:
        if len(data) > MAX_HEADER_BYTES or (eof and data):
            raise NotHttpError("incomplete HTTP header", data[:16])
        return None
    status_line, *header_lines = data[:head_end].decode("latin-1").split("\r\n")
    version, status, reason = _parse_status_line(status_line, data)
    headers: dict[str, str] = {}
    for line in header_lines:
        name, colon, value = line.partition(":")
        if not colon:
            raise NotHttpError(f"malformed header line {line[:40]!r}", data[:16])
        key = name.strip().lower()
        headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
    rest = data[head_end + 4 :]
    body = _body(status, headers, rest, eof=eof, first_bytes=data[:16])
    if body is None:
        return None
    return HttpResponse(status, reason, headers, body, version)


def _check_looks_like_http(data: bytes) -> None:
    prefix = b"HTTP/1."
    if data[: len(prefix)] != prefix[: len(data)]:
        raise NotHttpError("the answer is not HTTP", data[:16])


def _parse_status_line(line: str, data: bytes) -> tuple[str, int, str]:
    version, _, rest = line.partition(" ")
    code, _, reason = rest.partition(" ")
    if version not in ("HTTP/1.0", "HTTP/1.1") or len(code) != 3 or not code.isdigit():
        raise NotHttpError(f"malformed status line {line[:40]!r}", data[:16])
    return version, int(code), reason


def _body(
    status: int, headers: dict[str, str], rest: bytes, *, eof: bool, first_bytes: bytes
) -> bytes | None:
    if status < 200 or status in (204, 304):
        return b""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return _dechunk(rest, first_bytes)
    length_text = headers.get("content-length")
    if length_text is not None:
        if not length_text.isdigit():
            raise NotHttpError(f"bad Content-Length {length_text!r}", first_bytes)
        length = int(length_text)
        if len(rest) >= length:
            return rest[:length]
        if eof:
            raise NotHttpError("connection closed inside the body", first_bytes)
        return None
    return rest if eof else None


def _dechunk(data: bytes, first_bytes: bytes) -> bytes | None:
    body = bytearray()
    pos = 0
    while True:
        line_end = data.find(b"\r\n", pos)
        if line_end < 0:
            return None
        size_text = data[pos:line_end].split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise NotHttpError(f"bad chunk size {size_text[:20]!r}", first_bytes) from None
        start = line_end + 2
        if size == 0:
            return bytes(body) if data.find(b"\r\n", start) >= 0 else None
        if len(data) < start + size + 2:
            return None
        body += data[start : start + size]
        pos = start + size + 2
