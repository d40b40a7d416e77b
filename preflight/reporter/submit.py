"""The job's side of a fleet-mode report: POST the probe verdict and the job's own diagnosis to the
reporter with ``CI_JOB_TOKEN``. The job sends no GitLab access token, names no runner and no
GitLab URL the reporter would use; whatever it sends is context, never evidence."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from preflight.errors import UsageError
from preflight.jsonable import to_json

ENV_REPORTER_URL = "DIND_PREFLIGHT_REPORTER_URL"
REPORT_PATH = "/v1/job-reports"
TIMEOUT_S = 5.0


def reporter_endpoint(url: str) -> str:
    """``http(s)://host[:port]`` (the in-cluster Service) -> the report URL."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username:
        raise UsageError(f"{ENV_REPORTER_URL}={url!r} is not an http(s) URL without credentials")
    return f"{parts.scheme}://{parts.netloc}{REPORT_PATH}"


def report_body(probe: Any, diagnosis: Any, exit_code: int) -> bytes:
    """The probe verdict and the diagnosis' cause and node: small, no logs, no tokens."""
    cause = getattr(diagnosis, "cause", None)
    document = {
        "exit_code": exit_code,
        "probe": {"verdict": to_json(getattr(probe, "verdict", None))},
        "diagnosis": {
            "cause": {
                "code": getattr(cause, "code", ""),
                "summary": (getattr(cause, "summary", "") or "")[:300],
            },
            "fault": to_json(getattr(diagnosis, "fault", None)),
            "node": getattr(diagnosis, "node", None),
        },
    }
    return json.dumps(document).encode()


def send(url: str, job_token: str | None, body: bytes) -> str:
    """POST to the reporter; one line saying what it answered (never raises for the network)."""
    import requests

    if not job_token:
        return "not sent: CI_JOB_TOKEN is not set"
    try:
        response = requests.post(
            reporter_endpoint(url),
            data=body,
            headers={"JOB-TOKEN": job_token, "Content-Type": "application/json"},
            timeout=TIMEOUT_S,
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        return f"not delivered: {type(exc).__name__}"
    try:
        message = str(response.json().get("message", ""))[:200]
    except ValueError:
        message = ""
    return f"HTTP {response.status_code}: {message}".rstrip(": ")
