"""Strict schema validation of manifests with kubernetes-validate (offline schemas)."""

from __future__ import annotations

from typing import Any

import kubernetes_validate

# The oldest Kubernetes release still maintained by most distributions, and the newest schema.
VERSIONS = ("1.30.0", kubernetes_validate.latest_version())


def validate_strict(manifest: dict[str, Any]) -> None:
    """Raise kubernetes_validate.ValidationError if ``manifest`` is invalid for any VERSIONS."""
    for version in VERSIONS:
        kubernetes_validate.validate(manifest, version, strict=True)
