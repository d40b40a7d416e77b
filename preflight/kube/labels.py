"""Kubernetes name and label syntax. Pure."""

from __future__ import annotations

import re

_LABEL_VALUE_BAD = re.compile(r"[^A-Za-z0-9_.-]+")
_DNS_BAD = re.compile(r"[^a-z0-9-]+")


def label_value(text: str | None) -> str:
    """``text`` made a valid label value: [A-Za-z0-9_.-], at most 63, alphanumeric at both ends."""
    value = _LABEL_VALUE_BAD.sub("-", text or "")[:63]
    return value.strip("-_.")


def dns_label(text: str, limit: int = 63) -> str:
    """``text`` made a DNS-1123 label: lower-case alphanumerics and '-', at most ``limit``."""
    return _DNS_BAD.sub("-", text.lower())[:limit].strip("-")
