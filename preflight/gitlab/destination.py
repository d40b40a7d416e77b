"""Which GitLab the tokens may be sent to (pure): pinned with the token, or the job's own server.

A job sets its own variables, ``CI_API_V4_URL`` included. The URL a token goes to is therefore
taken, in order, from where the token itself comes from:

1. a ``gitlab-url`` file beside the token file (a second key of the same Kubernetes Secret),
   ``--gitlab-url``, or ``DIND_PREFLIGHT_GITLAB_URL`` (a CI/CD variable set beside the token):
   the **pinned** URL; every source that is set must name the same URL;
2. otherwise ``CI_API_V4_URL`` (or ``CI_SERVER_URL``), accepted only on ``CI_SERVER_HOST``
   (and ``CI_SERVER_PORT`` when set).

https only, unless ``DIND_PREFLIGHT_ALLOW_HTTP=1``. URLs with credentials, a query or a fragment
are refused. (The transport never follows a redirect with a token: a 3xx is a configuration
error, see :mod:`preflight.gitlab.transport`.)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from preflight import inputs
from preflight.errors import UsageError
from preflight.shown import shown

ENV_PINNED_URL = "DIND_PREFLIGHT_GITLAB_URL"
ENV_ALLOW_HTTP = "DIND_PREFLIGHT_ALLOW_HTTP"


@dataclass(frozen=True)
class Destination:
    """The server URL (no ``/api/v4``) and where it came from."""

    server_url: str
    source: str
    pinned: bool


def parse_server_url(value: str, source: str, *, allow_http: bool = True) -> str:
    """``https://host[:port][/prefix]`` with any trailing ``/api/v4`` removed."""
    text = value.strip()
    parts = inputs.http_url(text, source)
    if parts.scheme == "http" and not allow_http:
        raise UsageError(
            f"{source}={shown(text, 60)} is plain http: the token would travel in clear text "
            f"(use https, or set {ENV_ALLOW_HTTP}=1 for a test server)"
        )
    if parts.query or parts.fragment:
        raise UsageError(f"{source}={shown(text, 60)} must not have a query or fragment")
    path = parts.path.rstrip("/")
    if path.endswith("/api/v4"):
        path = path[: -len("/api/v4")]
    return urlunsplit((parts.scheme, parts.netloc.lower(), path, "", ""))


def allow_http(env: Mapping[str, str]) -> bool:
    """True only for ``DIND_PREFLIGHT_ALLOW_HTTP=1`` (or ``true``)."""
    return env.get(ENV_ALLOW_HTTP, "").strip().lower() in ("1", "true")


def resolve_destination(
    env: Mapping[str, str],
    *,
    pinned: tuple[tuple[str | None, str], ...] = (),
    sending: bool = True,
) -> Destination | None:
    """The GitLab URL for the tokens, or None when no URL is known.

    ``pinned``: (value, source) pairs that pin the URL, strongest first (a ``gitlab-url`` file
    beside the token file, ``--gitlab-url``); ``DIND_PREFLIGHT_GITLAB_URL`` is added last.
    ``sending``: a token will be sent; otherwise (dry run) only the syntax is checked.
    """
    http_ok = allow_http(env) or not sending
    candidates = [
        (value.strip(), source) for value, source in pinned if value is not None and value.strip()
    ]
    env_pin = env.get(ENV_PINNED_URL, "").strip()
    if env_pin:
        candidates.append((env_pin, ENV_PINNED_URL))
    if candidates:
        first_value, first_source = candidates[0]
        chosen = parse_server_url(first_value, first_source, allow_http=http_ok)
        for value, source in candidates[1:]:
            other = parse_server_url(value, source, allow_http=True)
            if other != chosen:
                raise UsageError(
                    f"{first_source} and {source} name different GitLab URLs "
                    f"({shown(chosen, 80)} and {shown(other, 80)}); the token goes only to "
                    f"the URL pinned with it"
                )
        return Destination(chosen, first_source, pinned=True)
    for name in ("CI_API_V4_URL", "CI_SERVER_URL"):
        value = env.get(name, "").strip()
        if value:
            server = parse_server_url(value, name, allow_http=http_ok)
            if sending:
                _check_job_server(server, name, env)
            return Destination(server, name, pinned=False)
    return None


def _check_job_server(server: str, source: str, env: Mapping[str, str]) -> None:
    """An unpinned URL must be the job's own GitLab (``CI_SERVER_HOST``/``CI_SERVER_PORT``)."""
    parts = urlsplit(server)
    host = env.get("CI_SERVER_HOST", "").strip().lower()
    if not host:
        raise UsageError(
            f"the GitLab URL from {source} is not pinned and CI_SERVER_HOST is not set: set "
            f"{ENV_PINNED_URL} beside the token (or a gitlab-url key beside the token file)"
        )
    if (parts.hostname or "").lower() != host:
        raise UsageError(
            f"{source} points at {shown(parts.hostname, 80)}, not at this job's GitLab "
            f"{shown(host, 80)} (CI_SERVER_HOST): the token is not sent; set {ENV_PINNED_URL} "
            "beside the token to use another GitLab"
        )
    port_text = env.get("CI_SERVER_PORT", "").strip()
    if port_text:
        default = 443 if parts.scheme == "https" else 80
        if not port_text.isdigit() or int(port_text) != (parts.port or default):
            raise UsageError(
                f"{source} uses port {parts.port or default}, not this job's GitLab port "
                f"{shown(port_text, 10)} (CI_SERVER_PORT): the token is not sent"
            )
