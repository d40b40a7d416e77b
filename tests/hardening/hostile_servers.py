"""Raw TCP servers on loopback that misbehave the way a broken or hostile GitLab can.

Each records every connection's request bytes, so a test can assert what reached it (a second
host must never see a token). Behaviours: ``hang`` (accept, never answer), ``drip`` (an answer
that never ends, one byte every ``drip_every_s``), or a fixed raw ``answer`` (redirects, HTML,
401, 5xx).
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class RawServer:
    """A loopback server with one behaviour; ``requests`` holds the bytes each client sent."""

    host: str = "127.0.0.1"
    behaviour: str = "hang"  # hang | drip | answer
    answer: bytes = b""
    drip_every_s: float = 1.0
    drip_prefix: bytes = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"
    requests: list[bytes] = field(default_factory=list)
    port: int = 0
    tls: ssl.SSLContext | None = None  # https (e.g. the admin's GitLab), else plain http

    def __post_init__(self) -> None:
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((self.host, 0))
        self._sock.listen(16)
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._clients: list[socket.socket] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://{self.host}:{self.port}"

    def all_bytes(self) -> bytes:
        with self._lock:
            return b"".join(self.requests)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()
        for client in self._clients:
            client.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._clients.append(client)
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _read_request(self, client: socket.socket) -> bytes:
        client.settimeout(2.0)
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                chunk = client.recv(65536)
                if not chunk:
                    break
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    want = int(line.split(b":", 1)[1])
                    while len(body) < want:
                        chunk = client.recv(65536)
                        if not chunk:
                            break
                        body += chunk
                        data += chunk
        except OSError:
            pass
        with self._lock:
            self.requests.append(data)
        return data

    def _handle(self, client: socket.socket) -> None:
        try:
            if self.tls is not None:
                client.settimeout(5.0)
                client = self.tls.wrap_socket(client, server_side=True)
            if self.behaviour == "hang":
                self._read_request(client)
                self._stop.wait()
            elif self.behaviour == "drip":
                self._read_request(client)
                client.sendall(self.drip_prefix)
                while not self._stop.wait(self.drip_every_s):
                    client.sendall(b" ")
            else:
                while not self._stop.is_set():
                    if not self._read_request(client):
                        return
                    client.sendall(self.answer)
        except OSError:
            return


def http_answer(status: str, body: bytes = b"", headers: dict[str, str] | None = None) -> bytes:
    """A complete HTTP/1.1 answer (keep-alive)."""
    lines = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@contextmanager
def raw_server(**kwargs: object) -> Iterator[RawServer]:
    server = RawServer(**kwargs)  # type: ignore[arg-type]
    try:
        yield server
    finally:
        server.close()


def wait_for(predicate: object, timeout_s: float = 10.0) -> bool:
    """Poll ``predicate()`` until true or ``timeout_s``."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False
