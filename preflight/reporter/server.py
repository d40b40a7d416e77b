"""The reporter's HTTP endpoints: ``POST /v1/job-reports`` on one port (what jobs reach), and
``/healthz`` and ``/metrics`` on a port of their own (what the kubelet and Prometheus reach), so
that a flood of job reports cannot make the reporter look dead.

Standard library ``http.server`` in threads: three small routes do not need a web framework.
The job-report port is bounded three ways, cheapest first: a request for another path, without
``Content-Length`` or larger than :data:`~preflight.reporter.job_report.MAX_BODY_BYTES` is
refused before its body is read; then each source address has its own token bucket
(:class:`PerSource`: one noisy job pod cannot use up everyone's budget, and never reaches GitLab);
at most :data:`MAX_WORKERS` requests are served at once (:class:`BoundedServer`, the rest get
503 at once). Reads time out, so a slow client cannot hold a thread for long.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from preflight.reporter.job_report import (
    JOB_TOKEN_HEADER,
    MAX_BODY_BYTES,
    ReportRejected,
    parse_report,
)
from preflight.reporter.service import Reporter

log = logging.getLogger("dind-preflight.reporter")
REPORT_PATH = "/v1/job-reports"
MAX_WORKERS = 16  # job-report requests served at once
MAX_SOURCES = 4096  # source addresses remembered by the per-source limit


class PerSource:
    """A token bucket per source address (``rate_per_s``, ``burst``), at most ``MAX_SOURCES``
    remembered (the least recently seen is forgotten)."""

    def __init__(
        self,
        rate_per_s: float = 0.2,
        burst: int = 5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        from collections import OrderedDict

        self.rate, self.burst, self.clock = rate_per_s, burst, clock
        self.buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self.lock = threading.Lock()

    def admit(self, source: str) -> bool:
        with self.lock:
            now = self.clock()
            tokens, last = self.buckets.pop(source, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            admitted = bool(tokens >= 1)
            self.buckets[source] = (tokens - 1 if admitted else tokens, now)
            while len(self.buckets) > MAX_SOURCES:
                self.buckets.popitem(last=False)
            return admitted


class BoundedServer(ThreadingHTTPServer):
    """A threading server that serves at most ``workers`` requests at once; the others get a
    503 without a thread."""

    daemon_threads = True
    BUSY = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"

    def __init__(self, address: tuple[str, int], handler: Any, workers: int) -> None:
        super().__init__(address, handler)
        self.slots = threading.BoundedSemaphore(workers)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.slots.acquire(blocking=False):
            with contextlib.suppress(OSError):
                request.sendall(self.BUSY)
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()


def healthy(reporter: Reporter, now: float | None = None) -> tuple[bool, str]:
    """Alive when a cycle (as leader or standby) started within three intervals."""
    if reporter.last_cycle_at is None:
        return True, "starting"
    age = (now if now is not None else time.monotonic()) - reporter.last_cycle_at
    limit = 3 * reporter.interval_s + 30
    if age > limit:
        return False, f"no cycle for {age:.0f} s"
    return True, "leader" if reporter.lease.holder == reporter.lease.identity else "standby"


class _Handler(BaseHTTPRequestHandler):
    timeout = 10
    server_version = "dind-preflight-reporter"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("http: " + format, *args)

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, message: str) -> None:
        self._send(status, json.dumps({"message": message}).encode() + b"\n")


def make_health_handler(reporter: Reporter) -> type[BaseHTTPRequestHandler]:
    """``GET /healthz`` and ``GET /metrics`` (the health port)."""

    class Handler(_Handler):
        def do_GET(self) -> None:
            if self.path == "/healthz":
                ok, text = healthy(reporter)
                self._send(200 if ok else 503, (text + "\n").encode(), "text/plain")
            elif self.path == "/metrics":
                from prometheus_client import CONTENT_TYPE_LATEST

                self._send(200, reporter.metrics.render(), CONTENT_TYPE_LATEST)
            else:
                self._json(404, "not found")

    return Handler


def make_handler(
    reporter: Reporter, per_source: PerSource | None = None
) -> type[BaseHTTPRequestHandler]:
    """``POST /v1/job-reports`` (the job-report port)."""
    limit = per_source or PerSource()

    class Handler(_Handler):
        def do_GET(self) -> None:
            self._json(404, "not found (health and metrics are on the health port)")

        def do_POST(self) -> None:
            if self.path != REPORT_PATH:
                self._json(404, "not found")
                return
            try:
                length = int(self.headers.get("Content-Length") or "-1")
            except ValueError:
                length = -1
            if length < 0:
                self._json(411, "Content-Length required")
                return
            if length > MAX_BODY_BYTES:
                reporter.metrics.job_reports.labels("too-large").inc()
                self.close_connection = True
                self._json(413, f"report larger than {MAX_BODY_BYTES} bytes")
                return
            if not limit.admit(str(self.client_address[0])):
                reporter.metrics.job_reports.labels("rate-limited").inc()
                self.close_connection = True
                self._json(429, "too many job reports from this address")
                return
            body = self.rfile.read(length)
            try:
                report = parse_report(body)
                status, message = reporter.receive(self.headers.get(JOB_TOKEN_HEADER), report)
            except ReportRejected as exc:
                if exc.status in (400, 413):
                    reporter.metrics.job_reports.labels("malformed").inc()
                self._json(exc.status, str(exc))
                return
            self._json(status, message)

    return Handler


class ReporterServer:
    """The job-report server and the health server, each in a daemon thread."""

    def __init__(
        self,
        reporter: Reporter,
        host: str = "0.0.0.0",
        port: int = 8080,
        health_port: int = 8081,
        *,
        workers: int = MAX_WORKERS,
        per_source: PerSource | None = None,
    ) -> None:
        self.httpd = BoundedServer((host, port), make_handler(reporter, per_source), workers)
        self.health = ThreadingHTTPServer((host, health_port), make_health_handler(reporter))
        self.health.daemon_threads = True
        self.threads = [
            threading.Thread(target=server.serve_forever, name=name, daemon=True)
            for server, name in ((self.httpd, "reporter-http"), (self.health, "reporter-health"))
        ]

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def health_port(self) -> int:
        return int(self.health.server_address[1])

    def start(self) -> ReporterServer:
        for thread in self.threads:
            thread.start()
        return self

    def stop(self) -> None:
        for server in (self.httpd, self.health):
            server.shutdown()
            server.server_close()
