"""The Kubernetes API adapter: connect (in-cluster or ``KUBECONFIG``) and make calls whose
failures become one-line limitations naming the RBAC rule to add.

The ``kubernetes`` package is imported only here, and only when a diagnosis needs the API.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from preflight.admin.identity import Identity
from preflight.kube.api_json import status_message
from preflight.kube.permissions import Permission, forbidden_advice
from preflight.kube.settings import KubeSettings
from preflight.redaction import register_secret

CONNECT_TIMEOUT_S = 3.0
CALL_TIMEOUT_S = 10.0


class KubeError(Exception):
    """The API could not be used for something; ``limitation`` says what and what to do."""

    def __init__(self, limitation: str, status: int | None = None) -> None:
        super().__init__(limitation)
        self.limitation = limitation
        self.status = status


class KubeUnavailable(KubeError):
    """No API at all: not in a cluster, no KUBECONFIG, no token, or the server is unreachable."""


class KubeForbidden(KubeError):
    """401/403: the job's service account lacks a permission."""


class KubeNotFound(KubeError):
    """404: the object is not there (any more)."""


class KubeConflict(KubeError):
    """409: the object changed under us (or already exists)."""


@dataclass(frozen=True)
class KubeContext:
    """A connected API client and the namespace the job runs in."""

    api: Any  # kubernetes.client.CoreV1Api (typed Any: the package ships no type hints)
    namespace: str
    server: str
    source: str  # in-cluster | kubeconfig
    identity: Identity | None = None  # from a SelfSubjectReview (settings.anchors set)
    identity_problem: str | None = None  # why there is no identity

    def call(
        self,
        permission: Permission,
        fn: Callable[..., Any],
        *args: Any,
        timeout: float = CALL_TIMEOUT_S,
        **kwargs: Any,
    ) -> Any:
        """``fn(*args, **kwargs)`` with a timeout; API errors become :class:`KubeError`."""
        from urllib3.exceptions import HTTPError

        from preflight.time_limit import TimeLimitExceeded, time_limit

        read = max(0.05, timeout)
        kwargs.setdefault("_request_timeout", (min(CONNECT_TIMEOUT_S, read), read))
        total = min(CONNECT_TIMEOUT_S, read) + read  # idle timeouts alone let a drip go on
        try:
            with time_limit(total, "Kubernetes API call") as limit:
                try:
                    return fn(*args, **kwargs)
                except TimeLimitExceeded as exc:
                    if exc.limit is not limit:
                        raise
                    raise KubeUnavailable(
                        f"the Kubernetes API at {self.server} did not answer completely "
                        f"within {total:g} s"
                    ) from None
        except _api_exceptions() as exc:
            raise _api_error(exc, permission, self.namespace) from None
        except (HTTPError, OSError) as exc:
            raise KubeUnavailable(
                f"cannot reach the Kubernetes API at {self.server}: {_short(exc)}"
            ) from None

    def get_json(
        self, permission: Permission, fn: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> Any:
        """Like :meth:`call`, returning the response body as parsed JSON (plain dicts)."""
        response = self.call(permission, fn, *args, _preload_content=False, **kwargs)
        try:
            return json.loads(response.data)
        except ValueError:
            raise KubeError(
                f"{permission.verb} {permission.resource}: the API answered something "
                "that is not JSON"
            ) from None

    def get_text(
        self, permission: Permission, fn: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> str:
        """Like :meth:`call`, returning the response body as text (for ``pods/log``)."""
        response = self.call(permission, fn, *args, _preload_content=False, **kwargs)
        return bytes(response.data).decode("utf-8", errors="replace")


class ApiStatusError(Exception):
    """An API answer >= 400 from a client other than the ``kubernetes`` package's (the agent's
    :mod:`preflight.kube.node_api`); the same attributes as its ``ApiException``."""

    def __init__(self, status: int, reason: str, body: str) -> None:
        super().__init__(f"({status}) {reason}")
        self.status = status
        self.reason = reason
        self.body = body


def _api_exceptions() -> tuple[type[Exception], ...]:
    """The exception types that carry an API answer. The ``kubernetes`` package's is included
    only when it is loaded (no import just for the ``except``: it costs ~40 MiB)."""
    module = sys.modules.get("kubernetes.client.exceptions")
    if module is None:
        return (ApiStatusError,)
    return (ApiStatusError, module.ApiException)


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]


def _api_error(exc: Any, permission: Permission, namespace: str) -> KubeError:
    status = int(exc.status or 0)
    body = str(exc.body or "")
    if status in (401, 403):
        return KubeForbidden(forbidden_advice(permission, namespace, status, body), status)
    first = status_message(body).strip().splitlines()[:1]
    message = first[0][:300] if first else str(exc.reason or "")
    text = f"{permission.verb} {permission.resource}: HTTP {status} {message}".strip()
    if status == 404:
        return KubeNotFound(text, status)
    if status == 409:
        return KubeConflict(text, status)
    return KubeError(text, status)


def connect(settings: KubeSettings, environ: dict[str, str] | None = None) -> KubeContext:
    """Connect the way a pod does (service-account token), else through ``KUBECONFIG``."""
    env = dict(os.environ if environ is None else environ)
    if settings.in_cluster:
        return _with_identity(_connect_in_cluster(settings, env), settings)
    if settings.kubeconfig:
        return _with_identity(_connect_kubeconfig(settings), settings)
    raise KubeUnavailable(
        "no Kubernetes API: not running in a pod (KUBERNETES_SERVICE_HOST unset) and "
        "KUBECONFIG unset"
    )


def _with_identity(ctx: KubeContext, settings: KubeSettings) -> KubeContext:
    """Job mode (the admin's anchors are set): who the token is, from the API server."""
    if settings.anchors is None:
        return ctx
    from dataclasses import replace

    from preflight.kube.self_review import review_identity

    try:
        identity = review_identity(ctx, timeout=min(5.0, settings.timeout))
    except KubeError as exc:
        return replace(ctx, identity_problem=f"no SelfSubjectReview: {exc.limitation}")
    return replace(ctx, identity=identity, identity_problem=identity.missing)


def _new_configuration() -> Any:
    from kubernetes import client

    return client.Configuration()


def _context(configuration: Any, namespace: str | None, source: str) -> KubeContext:
    """The connected context; the credentials are registered for redaction first."""
    from kubernetes import client

    for value in dict(getattr(configuration, "api_key", {}) or {}).values():
        register_secret(str(value))
        register_secret(str(value).split(" ", 1)[-1])  # the token without "Bearer "
    return KubeContext(
        api=client.CoreV1Api(client.ApiClient(configuration)),
        namespace=namespace or "default",
        server=str(configuration.host),
        source=source,
    )


def _connect_in_cluster(settings: KubeSettings, env: dict[str, str]) -> KubeContext:
    from kubernetes.config import incluster_config
    from kubernetes.config.config_exception import ConfigException

    loader_class: Any = incluster_config.InClusterConfigLoader
    sa_dir = settings.service_account_dir
    if settings.api_server:  # the admin's API server, not KUBERNETES_SERVICE_HOST
        host, port = settings.api_server.rsplit(":", 1)
        env = {**env, "KUBERNETES_SERVICE_HOST": host.strip("[]"), "KUBERNETES_SERVICE_PORT": port}
    configuration = _new_configuration()
    loader: Any = loader_class(
        token_filename=os.path.join(sa_dir, "token"),
        cert_filename=os.path.join(sa_dir, "ca.crt"),
        environ=env,
    )
    try:
        loader.load_and_set(configuration)
    except (ConfigException, OSError) as exc:
        raise KubeUnavailable(
            f"no service-account token in the job pod ({_short(exc)}): set "
            "automount_service_account_token = true and service_account under "
            "[runners.kubernetes] (see deploy/helm/values-service-account.yaml)"
        ) from None
    namespace = settings.namespace or _read_first_line(os.path.join(sa_dir, "namespace"))
    return _context(configuration, namespace, "in-cluster")


def _connect_kubeconfig(settings: KubeSettings) -> KubeContext:
    from kubernetes.config import kube_config
    from kubernetes.config.config_exception import ConfigException

    config: Any = kube_config
    path = settings.kubeconfig or ""
    configuration = _new_configuration()
    try:
        config.load_kube_config(
            config_file=path, client_configuration=configuration, persist_config=False
        )
        _, active = config.list_kube_config_contexts(config_file=path)
    except (ConfigException, OSError, ValueError, TypeError, KeyError) as exc:
        raise KubeUnavailable(f"KUBECONFIG {path} cannot be used: {_short(exc)}") from None
    namespace = settings.namespace or (active or {}).get("context", {}).get("namespace")
    return _context(configuration, namespace, "kubeconfig")


def _read_first_line(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.readline().strip() or None
    except OSError:
        return None


def remaining(deadline: float) -> float:
    """Seconds left until ``deadline`` (a ``time.monotonic()`` value), never negative."""
    return max(0.0, deadline - time.monotonic())
