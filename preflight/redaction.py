"""Secret redaction: every value registered here is replaced in anything we print or write."""

from __future__ import annotations

import re

REDACTED = "[MASKED]"
_secrets: set[str] = set()
# Shapes of GitLab tokens, redacted even when nobody registered them (e.g. inside an error body).
_TOKEN_SHAPES = re.compile(
    r"\b(glpat|glrt|gldt|glptt|glft|glimt|glagent|glcbt|glsoat)-[A-Za-z0-9_.\-]{8,}"
)


def register_secret(value: str | None) -> None:
    """Remember ``value`` so that :func:`redact` hides it; short values are ignored."""
    if value and len(value) >= 6:
        _secrets.add(value)


def redact(text: str) -> str:
    """Return ``text`` with every registered secret and every GitLab-token-shaped string masked."""
    for secret in sorted(_secrets, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return _TOKEN_SHAPES.sub(REDACTED, text)
