"""The probe's HTTP/1.1 subset: requests as bytes, responses parsed from bytes (incrementally)."""

from __future__ import annotations

import pytest

from preflight.probe.http_message import HttpResponse, NotHttpError, build_request, parse_response

# What dockerd 20.10 answers to GET /_ping, byte for byte.
DOCKERD_PING = (
    b"HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nCache-Control: no-cache, no-store, must-revalidate\r\n"
    b"Docker-Experimental: false\r\nOstype: linux\r\nPragma: no-cache\r\n"
    b"Server: Docker/20.10.24+dfsg1 (linux)\r\nDate: Thu, 26 Nov 2026 11:10:00 GMT\r\n"
    b"Content-Length: 2\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nOK"
)
# What Go's TLS server answers to plain HTTP.
GO_TLS_PORT_ANSWER = (
    b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"
)


def test_build_request_get() -> None:
    assert build_request("GET", "/_ping", "docker") == (
        b"GET /_ping HTTP/1.1\r\nHost: docker\r\nUser-Agent: dind-preflight\r\n\r\n"
    )


def test_build_request_post_has_length_and_type() -> None:
    request = build_request("POST", "/x", "h:1", b'{"a":1}')
    assert request.endswith(b'\r\n\r\n{"a":1}')
    assert b"Content-Length: 7\r\n" in request
    assert b"Content-Type: application/json\r\n" in request


def test_dockerd_ping_parses() -> None:
    response = parse_response(DOCKERD_PING)
    assert response is not None
    assert (response.status, response.reason, response.body) == (200, "OK", b"OK")
    assert response.headers["api-version"] == "1.41"
    assert response.headers["server"] == "Docker/20.10.24+dfsg1 (linux)"
    assert response.keep_alive


@pytest.mark.parametrize("cut", [0, 1, 5, 20, len(DOCKERD_PING) - 3, len(DOCKERD_PING) - 1])
def test_incomplete_responses_need_more_bytes(cut: int) -> None:
    assert parse_response(DOCKERD_PING[:cut]) is None


def test_body_without_length_ends_at_eof() -> None:
    assert parse_response(GO_TLS_PORT_ANSWER) is None
    response = parse_response(GO_TLS_PORT_ANSWER, eof=True)
    assert response is not None
    assert (response.status, response.version) == (400, "HTTP/1.0")
    assert response.text == "Client sent an HTTP request to an HTTPS server.\n"
    assert not response.keep_alive


@pytest.mark.parametrize(
    ("data", "body"),
    [
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nOK\r\n0\r\n\r\n", b"OK"),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
            b"abcde",
        ),
        (b"HTTP/1.1 204 No Content\r\n\r\n", b""),
        (b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\nboomEXTRA", b"boom"),
    ],
)
def test_bodies(data: bytes, body: bytes) -> None:
    response = parse_response(data)
    assert response is not None and response.body == body


def test_chunked_waits_for_the_last_chunk() -> None:
    assert (
        parse_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nOK\r\n") is None
    )


@pytest.mark.parametrize(
    ("data", "eof"),
    [
        (b"SSH-2.0-OpenSSH_9.2\r\n", False),
        (b"\x15\x03\x03\x00\x02\x02\x46", False),  # a TLS alert record
        (b"HTTP/2 200\r\n\r\n", False),
        (b"HTTP/1.1 2x0 OK\r\n\r\n", False),
        (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", False),
        (b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n", False),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", True),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", False),
        (b"HTTP/1.1 200 OK\r\nHost: x", True),
    ],
)
def test_not_http(data: bytes, eof: bool) -> None:
    with pytest.raises(NotHttpError) as caught:
        parse_response(data, eof=eof)
    assert caught.value.first_bytes == data[:16]


def test_repeated_headers_are_joined() -> None:
    response = parse_response(b"HTTP/1.1 200 OK\r\nX: a\r\nx: b\r\nContent-Length: 0\r\n\r\n")
    assert response == HttpResponse(200, "OK", {"x": "a, b", "content-length": "0"}, b"")


def test_keep_alive_rules() -> None:
    assert not HttpResponse(200, "OK", {"connection": "close"}).keep_alive
    assert HttpResponse(200, "OK", {"connection": "keep-alive"}, version="HTTP/1.0").keep_alive
