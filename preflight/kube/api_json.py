"""Reading Kubernetes API JSON: small helpers shared by the pure modules. Pure."""

from __future__ import annotations

import json
from typing import Any


def as_int(value: Any) -> int | None:
    """An integer field (``exitCode``, ``restartCount``) or ``None`` when absent or malformed."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def status_message(body: str) -> str:
    """The ``message`` of a ``Status`` response body; the body itself when it is not one."""
    try:
        data = json.loads(body or "")
    except ValueError:
        return body or ""
    return str(data.get("message", "")) if isinstance(data, dict) else str(body)
