"""The reporter's HTTP endpoint: ``/healthz``, ``/metrics``, ``POST /v1/job-reports``.

Standard library ``http.server`` in a thread: three small routes do not need a web framework.
Bodies larger than :data:`~preflight.reporter.job_report.MAX_BODY_BYTES` are refused before they
are read; reads time out, so a slow client cannot hold a thread.
"""

from __future__ import annotations

import json
import logging
import threading
import time
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


def healthy(reporter: Reporter, now: float | None = None) -> tuple[bool, str]:
    """Alive when a cycle (as leader or standby) started within three intervals."""
    if reporter.last_cycle_at is None:
        return True, "starting"
    age = (now if now is not None else time.monotonic()) - reporter.last_cycle_at
    limit = 3 * reporter.interval_s + 30
    if age > limit:
        return False, f"no cycle for {age:.0f} s"
    return True, "leader" if reporter.lease.holder == reporter.lease.identity else "standby"


def make_handler(reporter: Reporter) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
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

        def do_GET(self) -> None:
            if self.path == "/healthz":
                ok, text = healthy(reporter)
                self._send(200 if ok else 503, (text + "\n").encode(), "text/plain")
            elif self.path == "/metrics":
                from prometheus_client import CONTENT_TYPE_LATEST

                self._send(200, reporter.metrics.render(), CONTENT_TYPE_LATEST)
            else:
                self._json(404, "not found")

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
    """The HTTP server in a daemon thread."""

    def __init__(self, reporter: Reporter, host: str = "0.0.0.0", port: int = 8080) -> None:
        self.httpd = ThreadingHTTPServer((host, port), make_handler(reporter))
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, name="reporter-http", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    def start(self) -> ReporterServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
