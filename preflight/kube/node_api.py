"""The node agent's own API client: the four calls it makes, over urllib3, in-cluster only.

The ``kubernetes`` package loads every API model at import (~40 MiB of RSS); an agent runs on
every node, so it talks to the API with this small client instead, with the same method names
and keyword arguments as ``CoreV1Api`` for these four calls, so that :class:`KubeContext` and
:mod:`preflight.kube.node_status` work with either. Outside a cluster (tests, ``--once`` from a
workstation) the agent uses the ``kubernetes`` client through ``KUBECONFIG``.

The service-account token is read again for every request: bound tokens are rotated by the
kubelet (hourly by default), and a token read once would expire. Redirects are never followed.
"""

from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import quote

from preflight.kube.client import ApiStatusError, KubeContext, KubeUnavailable, connect
from preflight.kube.settings import KubeSettings
from preflight.redaction import register_secret


class NodeApi:
    """``read_node``, ``patch_node``, ``patch_node_status``, ``create_namespaced_event``."""

    def __init__(self, server: str, token_file: str, ca_file: str) -> None:
        import urllib3

        self.server = server.rstrip("/")
        self.token_file = token_file
        self.pool = urllib3.PoolManager(
            num_pools=1, maxsize=2, cert_reqs="CERT_REQUIRED", ca_certs=ca_file, retries=False
        )

    def _token(self) -> str:
        with open(self.token_file, encoding="utf-8") as handle:
            token = handle.read().strip()
        register_secret(token)
        return token

    def _request(
        self,
        method: str,
        path: str,
        body: Any = None,
        content_type: str = "application/json",
        _request_timeout: tuple[float, float] | float | None = None,
        _preload_content: bool = False,
    ) -> Any:
        import urllib3

        headers = {"Authorization": f"Bearer {self._token()}", "Accept": "application/json"}
        data = None
        if body is not None:
            headers["Content-Type"] = content_type
            data = json.dumps(body).encode()
        if isinstance(_request_timeout, tuple):
            timeout = urllib3.Timeout(connect=_request_timeout[0], read=_request_timeout[1])
        else:
            timeout = urllib3.Timeout(total=_request_timeout)
        response = self.pool.request(
            method,
            self.server + path,
            body=data,
            headers=headers,
            timeout=timeout,
            redirect=False,
        )
        if response.status >= 300:
            text = bytes(response.data).decode("utf-8", errors="replace")
            raise ApiStatusError(int(response.status), str(response.reason or ""), text)
        return response

    def read_node(self, name: str, **kwargs: Any) -> Any:
        return self._request("GET", f"/api/v1/nodes/{quote(name, safe='')}", **kwargs)

    def patch_node(self, name: str, body: Any, _content_type: str, **kwargs: Any) -> Any:
        return self._request(
            "PATCH", f"/api/v1/nodes/{quote(name, safe='')}", body, _content_type, **kwargs
        )

    def patch_node_status(self, name: str, body: Any, _content_type: str, **kwargs: Any) -> Any:
        return self._request(
            "PATCH", f"/api/v1/nodes/{quote(name, safe='')}/status", body, _content_type, **kwargs
        )

    def create_namespaced_event(self, namespace: str, body: Any, **kwargs: Any) -> Any:
        return self._request(
            "POST", f"/api/v1/namespaces/{quote(namespace, safe='')}/events", body, **kwargs
        )


def connect_agent(settings: KubeSettings, environ: dict[str, str] | None = None) -> KubeContext:
    """In a pod: the small client with the pod's service-account token; elsewhere
    :func:`preflight.kube.client.connect` (``KUBECONFIG``)."""
    env = dict(os.environ if environ is None else environ)
    if not settings.in_cluster:
        return connect(settings, env)
    host = env.get("KUBERNETES_SERVICE_HOST", "")
    port = env.get("KUBERNETES_SERVICE_PORT", "443")
    token_file = os.path.join(settings.service_account_dir, "token")
    ca_file = os.path.join(settings.service_account_dir, "ca.crt")
    for path in (token_file, ca_file):
        if not os.path.isfile(path):
            raise KubeUnavailable(
                f"no service-account token in the agent pod ({path} missing): set "
                "automountServiceAccountToken (deploy/agent/daemonset.yaml does)"
            )
    server = f"https://{'[' + host + ']' if ':' in host else host}:{port}"
    namespace = settings.namespace or _first_line(
        os.path.join(settings.service_account_dir, "namespace")
    )
    return KubeContext(
        api=NodeApi(server, token_file, ca_file),
        namespace=namespace or "default",
        server=server,
        source="in-cluster",
    )


def _first_line(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.readline().strip() or None
    except OSError:
        return None
