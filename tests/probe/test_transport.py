"""The probe's HTTP over real sockets: what daemons (and things that are not daemons) answer.

A loopback server answers each connection with canned bytes and records what it was sent.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from preflight.probe.classify import RECEIVE, Failure, HttpResponse, classify_failure
from preflight.probe.endpoint import resolve_endpoint
from preflight.probe.transport import connect, resolve

# What dockerd 20.10 answers to GET /_ping, byte for byte.
DOCKERD_PING = (
    b"HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nCache-Control: no-cache, no-store, must-revalidate\r\n"
    b"Docker-Experimental: false\r\nOstype: linux\r\nPragma: no-cache\r\n"
    b"Server: Docker/20.10.24+dfsg1 (linux)\r\nDate: Thu, 26 Nov 2026 11:10:00 GMT\r\n"
    b"Content-Length: 2\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nOK"
)
# What Go's TLS server answers to plain HTTP (a body that ends when the connection closes).
GO_TLS_PORT_ANSWER = (
    b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"
)


class CannedServer:
    """Answers the n-th connection with ``answers[n]`` (bytes per request), then closes it."""

    def __init__(self, answers: list[list[bytes]]) -> None:
        self.answers = answers
        self.requests: list[list[bytes]] = []
        self.server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(4)
        self.port = self.server.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        for answers in self.answers:
            conn, _ = self.server.accept()
            seen: list[bytes] = []
            self.requests.append(seen)
            with conn:
                conn.settimeout(5)
                for answer in answers:
                    data = b""
                    while b"\r\n\r\n" not in data:
                        chunk = conn.recv(4096)
                        if not chunk:
                            return
                        data += chunk
                    seen.append(data)
                    conn.sendall(answer)
                time.sleep(0.05)  # let the client read before the close

    @property
    def docker_host(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"


@contextmanager
def canned(*answers: list[bytes]) -> Iterator[CannedServer]:
    server = CannedServer(list(answers))
    server.thread.start()
    try:
        yield server
    finally:
        server.server.close()
        server.thread.join(timeout=5)


def get(server: CannedServer, path: str = "/_ping") -> HttpResponse | Failure:
    endpoint = resolve_endpoint({"DOCKER_HOST": server.docker_host})
    connection = connect(endpoint, time.monotonic() + 5)
    assert not isinstance(connection, Failure), connection
    try:
        return connection.get(path, time.monotonic() + 5)
    finally:
        connection.close()


def test_dockerd_ping_and_the_request_the_probe_sends() -> None:
    with canned([DOCKERD_PING]) as server:
        answer = get(server)
    assert isinstance(answer, HttpResponse)
    assert (answer.status, answer.reason, answer.body) == (200, "OK", b"OK")
    assert answer.headers["api-version"] == "1.41"
    assert answer.headers["server"] == "Docker/20.10.24+dfsg1 (linux)"
    request = server.requests[0][0]
    assert request.startswith(b"GET /_ping HTTP/1.1\r\n")
    assert f"Host: 127.0.0.1:{server.port}\r\n".encode() in request
    assert b"User-Agent: dind-preflight\r\n" in request


def test_a_body_without_length_ends_when_the_connection_closes() -> None:
    with canned([GO_TLS_PORT_ANSWER]) as server:
        answer = get(server)
    assert isinstance(answer, HttpResponse)
    assert answer.status == 400
    assert answer.text == "Client sent an HTTP request to an HTTPS server.\n"


@pytest.mark.parametrize(
    ("data", "body"),
    [
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nOK\r\n0\r\n\r\n", b"OK"),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
            b"abcde",
        ),
        (b"HTTP/1.1 204 No Content\r\n\r\n", b""),
        (b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\nboom", b"boom"),
    ],
)
def test_bodies(data: bytes, body: bytes) -> None:
    with canned([data]) as server:
        answer = get(server)
    assert isinstance(answer, HttpResponse) and answer.body == body


def test_repeated_headers_are_joined() -> None:
    with canned([b"HTTP/1.1 200 OK\r\nX: a\r\nx: b\r\nContent-Length: 0\r\n\r\n"]) as server:
        answer = get(server)
    assert isinstance(answer, HttpResponse)
    assert answer.headers["x"] == "a, b"


@pytest.mark.parametrize(
    ("data", "first_bytes"),
    [
        (b"SSH-2.0-OpenSSH_9.2\r\n", b"SSH-2.0-OpenSSH_"),
        (b"\x15\x03\x03\x00\x02\x02\x46", b"\x15\x03\x03\x00\x02\x02\x46"),  # a TLS alert
        (b"HTTP/2 200\r\n\r\n", b"HTTP/2"),
        (b"HTTP/1.1 2x0 OK\r\n\r\n", b"HTTP/1.1 2x0 OK\r"),
    ],
)
def test_answers_that_are_not_http_keep_their_first_bytes(data: bytes, first_bytes: bytes) -> None:
    with canned([data]) as server:
        answer = get(server)
    assert isinstance(answer, Failure) and answer.stage == RECEIVE
    assert answer.first_bytes == first_bytes
    endpoint = resolve_endpoint({"DOCKER_HOST": server.docker_host})
    expected = "plain-http-to-tls-port" if data.startswith(b"\x15") else "not-http"
    assert classify_failure(answer, endpoint).reason == expected


@pytest.mark.parametrize(
    "data",
    [b"", b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"],
    ids=["nothing", "body-cut-short"],
)
def test_a_connection_closed_before_the_whole_answer(data: bytes) -> None:
    with canned([data]) as server:
        answer = get(server)
    assert isinstance(answer, Failure) and answer.stage == RECEIVE and not answer.first_bytes
    endpoint = resolve_endpoint({"DOCKER_HOST": server.docker_host})
    classification = classify_failure(answer, endpoint)
    assert classification.reason == "closed-without-answer" and classification.retry


def test_keep_alive_reuses_the_connection_and_close_dials_again() -> None:
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK"
    closing = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nOK"
    with canned([ok, closing], [ok]) as server:
        endpoint = resolve_endpoint({"DOCKER_HOST": server.docker_host})
        connection = connect(endpoint, time.monotonic() + 5)
        assert not isinstance(connection, Failure)
        try:
            answers = [connection.get(path, time.monotonic() + 5) for path in ("/a", "/b", "/c")]
        finally:
            connection.close()
    assert [a.status for a in answers if isinstance(a, HttpResponse)] == [200, 200, 200]
    paths = [[r.split(b" ")[1] for r in conn] for conn in server.requests]
    assert paths == [[b"/a", b"/b"], [b"/c"]]


def test_a_silent_peer_is_a_receive_timeout() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        endpoint = resolve_endpoint({"DOCKER_HOST": f"tcp://127.0.0.1:{server.getsockname()[1]}"})
        connection = connect(endpoint, time.monotonic() + 5)
        assert not isinstance(connection, Failure)
        started = time.monotonic()
        answer = connection.get("/_ping", started + 0.3)
        connection.close()
    assert isinstance(answer, Failure) and answer.timed_out and answer.stage == RECEIVE
    assert time.monotonic() - started < 3  # loose: the deadline is 0.3 s


def test_a_missing_unix_socket_is_a_connect_failure(tmp_path: Path) -> None:
    endpoint = resolve_endpoint({"DOCKER_HOST": f"unix://{tmp_path}/docker.sock"})
    failure = connect(endpoint, time.monotonic() + 1)
    assert isinstance(failure, Failure)
    assert (failure.stage, failure.exception, failure.path) == (
        "connect",
        "FileNotFoundError",
        f"{tmp_path}/docker.sock",
    )


def test_ip_literals_need_no_lookup_and_names_are_looked_up() -> None:
    assert resolve("::1", 2375, time.monotonic() + 1) == [(socket.AF_INET6, ("::1", 2375))]
    found = resolve("localhost", 2375, time.monotonic() + 5)
    assert not isinstance(found, Failure)
    assert any(address[0] in ("127.0.0.1", "::1") for _, address in found)
