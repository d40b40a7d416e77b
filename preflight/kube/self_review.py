"""Ask the API server who the job pod's token is (a SelfSubjectReview): the adapter of
:mod:`preflight.admin.identity`."""

from __future__ import annotations

from typing import Any

from preflight.admin.identity import Identity, identity_from_review
from preflight.kube import permissions
from preflight.kube.client import KubeContext

REVIEW = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}


def review_identity(ctx: KubeContext, timeout: float = 5.0) -> Identity:
    """The pod and node the token is bound to; KubeError when the API cannot tell."""
    from kubernetes import client

    api: Any = client.AuthenticationV1Api(ctx.api.api_client)
    body = ctx.get_json(
        permissions.CREATE_SELF_REVIEW,
        api.create_self_subject_review,
        dict(REVIEW),
        timeout=timeout,
    )
    return identity_from_review(body)
