"""``--deep``: prove the daemon can do what dind jobs need, beyond answering ``/_ping``.

Creates a user-defined bridge network (dockerd programs iptables NAT for it: exactly what breaks
when ``iptable_nat`` is missing) and removes it again, timing each step. The docker SDK is
imported here only, so the plain probe never pays for it.
"""

from __future__ import annotations

import secrets
import time
import warnings
from collections.abc import Callable
from typing import Any

from preflight.probe.endpoint import Endpoint
from preflight.probe.model import DeepStep

CREATE_NETWORK = "create-network"
REMOVE_NETWORK = "remove-network"
LABEL = "dind-preflight"


def run_deep_checks(endpoint: Endpoint, api_version: str | None, timeout: float) -> list[DeepStep]:
    """Create and remove a bridge network; stop at the first failed step."""
    import docker
    from urllib3.exceptions import InsecureRequestWarning

    tls = None
    if endpoint.tls is not None:
        from docker.tls import TLSConfig

        settings = endpoint.tls
        client_cert = (
            (settings.cert_file, settings.key_file)
            if settings.cert_file and settings.key_file
            else None
        )
        tls = TLSConfig(
            client_cert=client_cert,
            ca_cert=settings.ca_file if settings.verify else None,
            verify=settings.verify,
        )
    client = docker.APIClient(
        base_url=endpoint.docker_host,
        version=api_version or "auto",
        timeout=max(timeout, 1.0),
        tls=tls or False,
    )
    # requests would let REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE (set on many CI images) replace
    # the dind CA, and proxy variables reroute a local daemon: the endpoint alone decides here.
    client.trust_env = False
    try:
        with warnings.catch_warnings():
            # DOCKER_TLS without DOCKER_TLS_VERIFY is the user's choice, as in the docker CLI.
            warnings.simplefilter("ignore", InsecureRequestWarning)
            return _create_and_remove(client)
    finally:
        client.close()


def _create_and_remove(client: Any) -> list[DeepStep]:
    name = f"dind-preflight-deep-{secrets.token_hex(4)}"
    created = _step(
        CREATE_NETWORK,
        lambda: client.create_network(name, driver="bridge", labels={LABEL: "deep"}),
        f"bridge network {name} created",
    )
    if not created[0].ok:
        return [created[0]]
    network_id = str(created[1].get("Id", name)) if isinstance(created[1], dict) else name
    removed = _step(
        REMOVE_NETWORK,
        lambda: client.remove_network(network_id),
        f"bridge network {name} removed",
        failure_suffix=f" (network {name} is left behind)",
    )
    return [created[0], removed[0]]


def _step(
    name: str, action: Callable[[], object], success: str, failure_suffix: str = ""
) -> tuple[DeepStep, object]:
    started = time.monotonic()
    try:
        value = action()
    except Exception as exc:
        elapsed = round(time.monotonic() - started, 3)
        return DeepStep(name, False, elapsed, _one_line(exc) + failure_suffix), None
    return DeepStep(name, True, round(time.monotonic() - started, 3), success), value


def _one_line(exc: BaseException) -> str:
    """The daemon's own explanation when there is one, on one line."""
    explanation = getattr(exc, "explanation", None)
    text = str(explanation) if explanation else f"{type(exc).__name__}: {exc}"
    return " ".join(text.split())
