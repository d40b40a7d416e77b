"""The admin's configuration for job mode: one JSON file at a fixed path. Pure, but for the read.

A job sets its own variables, so nothing that decides where a token goes or whether a runner is
paused may come from one. The admin writes those decisions into a ConfigMap (or Secret) that the
runner's configuration mounts into every job pod at :data:`ADMIN_CONFIG_PATH`; the path is a
constant of the program, not a setting, so no variable can point it elsewhere. Where the file
exists no variable can loosen it; where it does not, job mode reports and retries and never
quarantines (:func:`absent_reason`).

Keys (all but ``gitlab_url`` optional; an unknown key is an error, so a typo is not silently
ignored)::

    {
      "gitlab_url": "https://gitlab.example.com",         # where tokens may go (https only)
      "gitlab_ca_file": "/etc/dind-preflight/gitlab-ca.crt",  # a private CA for it
      "token_file": "/etc/dind-preflight/token/gitlab-token", # the runner (pause) token
      "helper_images": ["registry.example.com/dind-preflight@sha256:<64 hex>"],
      "actions": ["pause-runner", "taint-node"],             # what job mode may do
      "reporter_url": "http://dind-preflight-reporter.dind-preflight.svc:8080",
      "node_root": "/host",                                  # the node's / mounted read-only
      "api_server": "kubernetes.default.svc:443",            # the Kubernetes API
      "agent_interval_seconds": 300                          # the node agent's interval
    }
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from preflight import inputs
from preflight.actions.action import Action
from preflight.errors import InputError, UsageError
from preflight.shown import shown

TYPE_CHECKING = False  # typing's constant without importing typing: the healthy path
if TYPE_CHECKING:
    from typing import Any

ADMIN_CONFIG_PATH = "/etc/dind-preflight/config.json"
MAX_CONFIG_BYTES = 64 * 1024
DEFAULT_API_SERVER = "kubernetes.default.svc:443"
DEFAULT_AGENT_INTERVAL_S = 300.0
# Actions the admin may allow; "none" is always allowed (it takes nothing out of rotation).
QUARANTINE_ACTIONS = (Action.PAUSE_RUNNER, Action.TAINT_NODE)
# Patterns, compiled (and cached by re) when an admin file is read.
_DIGEST_IMAGE = r"^[a-z0-9][a-z0-9._\-/:]*@(sha256:[0-9a-f]{64})$"
_HOST_PORT = r"^(?P<host>[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:]+\]):(?P<port>[0-9]{1,5})$"
KEYS = (
    "gitlab_url",
    "gitlab_ca_file",
    "token_file",
    "helper_images",
    "actions",
    "reporter_url",
    "node_root",
    "api_server",
    "agent_interval_seconds",
)


@dataclass(frozen=True)
class AdminConfig:
    """The admin's decisions for job mode (see the module documentation for the keys)."""

    path: str
    gitlab_url: str  # https://host[:port][/prefix], no /api/v4
    gitlab_ca_file: str | None = None
    token_file: str | None = None
    helper_images: tuple[str, ...] = ()  # name@sha256:<64 hex>, as the admission policy pins
    actions: tuple[Action, ...] = QUARANTINE_ACTIONS
    reporter_url: str | None = None
    node_root: str | None = None
    api_server: str = DEFAULT_API_SERVER  # host:port
    agent_interval_s: float = DEFAULT_AGENT_INTERVAL_S

    @property
    def helper_digests(self) -> frozenset[str]:
        """The ``sha256:...`` digests of :attr:`helper_images` (what an ``imageID`` ends with)."""
        return frozenset(image.rsplit("@", 1)[1] for image in self.helper_images)

    @property
    def api_host_port(self) -> tuple[str, str]:
        """(host, port) of :attr:`api_server`, IPv6 brackets removed."""
        host, port = self.api_server.rsplit(":", 1)
        return host.strip("[]"), port


def absent_reason(path: str = ADMIN_CONFIG_PATH) -> str:
    """The one line job mode prints when the admin's file is missing."""
    return (
        f"no admin configuration at {path} (mount it from a ConfigMap in the runner's "
        "configuration, docs/runner-wide.md): report and retry only, no quarantine, no token sent"
    )


def load_admin_config(path: str = ADMIN_CONFIG_PATH) -> AdminConfig | None:
    """The admin's file, or None when there is none. A bad file is exit 64 (66 for a file it
    names that is missing), with one line naming the key."""
    if not os.path.lexists(path):
        return None
    from preflight.input_files import load_json, read_text

    data = load_json(read_text(path, "the admin configuration", MAX_CONFIG_BYTES), path)
    return parse_admin_config(data, path)


def parse_admin_config(data: Any, path: str = ADMIN_CONFIG_PATH) -> AdminConfig:
    """Validate the parsed JSON of the admin's file (pure, but for the existence of files)."""
    if not isinstance(data, Mapping):
        raise UsageError(f"{path} must hold a JSON object (keys: {', '.join(KEYS)})")
    unknown = sorted(str(k) for k in data if k not in KEYS)
    if unknown:
        raise UsageError(f"{path}: unknown key {shown(unknown[0])} (keys: {', '.join(KEYS)})")

    def key(name: str) -> str:
        return f"{path}: {name}"

    raw_url = data.get("gitlab_url")
    if not isinstance(raw_url, str) or not raw_url.strip():
        raise UsageError(f"{key('gitlab_url')} is required: the https URL of the GitLab")
    if not raw_url.strip().lower().startswith("https://"):
        raise UsageError(
            f"{key('gitlab_url')}={shown(raw_url)} must be an https URL: tokens go only over https"
        )
    gitlab_url = inputs.gitlab_server_url(raw_url, key("gitlab_url"), allow_http=False)
    return AdminConfig(
        path=path,
        gitlab_url=gitlab_url,
        gitlab_ca_file=_file(data.get("gitlab_ca_file"), key("gitlab_ca_file")),
        token_file=_file(data.get("token_file"), key("token_file")),
        helper_images=_images(data.get("helper_images", []), key("helper_images")),
        actions=_actions(
            data.get("actions", [a.value for a in QUARANTINE_ACTIONS]), key("actions")
        ),
        reporter_url=_reporter(data.get("reporter_url"), key("reporter_url")),
        node_root=_absolute(data.get("node_root"), key("node_root")),
        api_server=_api_server(data.get("api_server", DEFAULT_API_SERVER), key("api_server")),
        agent_interval_s=inputs.seconds(
            data.get("agent_interval_seconds", DEFAULT_AGENT_INTERVAL_S),
            key("agent_interval_seconds"),
            high=86400.0,
        ),
    )


def _absolute(value: Any, source: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.startswith("/"):
        raise UsageError(f"{source}={shown(value)} must be an absolute path")
    return os.path.normpath(value)


def _file(value: Any, source: str) -> str | None:
    path = _absolute(value, source)
    if path is not None and not os.path.isfile(path):
        what = "does not exist" if not os.path.lexists(path) else "is not a regular file"
        raise InputError(f"{source}={shown(path)} {what}")
    return path


def _images(value: Any, source: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise UsageError(f"{source} must be a list of images pinned by digest (name@sha256:...)")
    images: list[str] = []
    for item in value:
        if not isinstance(item, str) or not re.match(_DIGEST_IMAGE, item.strip()):
            raise UsageError(
                f"{source}: {shown(item)} is not an image pinned by digest "
                "(name@sha256:<64 hex digits>)"
            )
        images.append(item.strip())
    return tuple(images)


def _actions(value: Any, source: str) -> tuple[Action, ...]:
    if not isinstance(value, list):
        raise UsageError(f"{source} must be a list of pause-runner, taint-node (or empty)")
    allowed: list[Action] = []
    names = [a.value for a in QUARANTINE_ACTIONS]
    for item in value:
        action = Action(inputs.choice(str(item), source, names))
        if action not in allowed:
            allowed.append(action)
    return tuple(allowed)


def _reporter(value: Any, source: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise UsageError(f"{source} must be a URL")
    inputs.http_url(value, source, example="http://dind-preflight-reporter.dind-preflight.svc:8080")
    return value.strip().rstrip("/")


def _api_server(value: Any, source: str) -> str:
    text = str(value).strip()
    match = re.match(_HOST_PORT, text)
    if not match or not 0 < int(match.group("port")) < 65536:
        raise UsageError(f"{source}={shown(text)} must be host:port (e.g. {DEFAULT_API_SERVER})")
    return text


def effective_action(chosen: Action, admin: AdminConfig | None) -> tuple[Action, str | None]:
    """The action job mode takes: the job's choice, narrowed to what the admin allows (a
    variable can only tighten). Returns the action and a note when it was narrowed."""
    if admin is None or chosen is Action.NONE:
        return (Action.NONE if admin is None else chosen), None
    allowed = set(admin.actions)
    if chosen is Action.AUTO:
        if allowed >= set(QUARANTINE_ACTIONS):
            return Action.AUTO, None
        if Action.TAINT_NODE in allowed:
            return Action.TAINT_NODE, None
        if Action.PAUSE_RUNNER in allowed:
            return Action.PAUSE_RUNNER, None
        return Action.NONE, f"{admin.path} allows no action against a node or runner"
    if chosen in allowed:
        return chosen, None
    return Action.NONE, f"{chosen.value} is not among the actions {admin.path} allows"
