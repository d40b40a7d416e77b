"""Who and where the job pod really is: a SelfSubjectReview with its bound service-account token.

The API server answers ``POST /apis/authentication.k8s.io/v1/selfsubjectreviews`` with the
token's own user; a pod-bound token (Kubernetes 1.30+) carries the pod's and the node's names in
``status.userInfo.extra`` (``authentication.kubernetes.io/pod-name`` and ``.../node-name``). A job
can set ``HOSTNAME`` but cannot mint a token for another pod or node.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

POD_NAME = "authentication.kubernetes.io/pod-name"
NODE_NAME = "authentication.kubernetes.io/node-name"
REVIEW_PATH = "/apis/authentication.k8s.io/v1/selfsubjectreviews"


@dataclass(frozen=True)
class Identity:
    """The token's user and, for a pod-bound token, its pod and node (None: not claimed)."""

    username: str | None
    pod: str | None
    node: str | None

    @property
    def missing(self) -> str | None:
        """Why the identity does not name the pod and node, or None."""
        if self.pod and self.node:
            return None
        absent = " and ".join(
            claim for claim, value in (("pod", self.pod), ("node", self.node)) if not value
        )
        return (
            f"the service-account token does not name its {absent} (a pod-bound token of "
            "Kubernetes 1.30+ does)"
        )


def _first(extra: dict[str, Any], key: str) -> str | None:
    values = extra.get(key)
    if isinstance(values, list) and len(values) == 1 and isinstance(values[0], str):
        return values[0] or None
    return None


def identity_from_review(review: Any) -> Identity:
    """Read a SelfSubjectReview answer (API JSON); anything malformed names nothing."""
    status = review.get("status") if isinstance(review, dict) else None
    info = status.get("userInfo") if isinstance(status, dict) else None
    if not isinstance(info, dict):
        return Identity(None, None, None)
    raw_extra = info.get("extra")
    extra: dict[str, Any] = raw_extra if isinstance(raw_extra, dict) else {}
    username = info.get("username")
    return Identity(
        username if isinstance(username, str) else None,
        _first(extra, POD_NAME),
        _first(extra, NODE_NAME),
    )
