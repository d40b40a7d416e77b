"""GitLab settings (pure, no HTTP library): tokens, the pinned destination, ids and budgets.

Read from the job environment and flags before anything else happens, so that a wrong value is
one line and exit 64 (66 for a missing file) whatever the state of dind; see
:mod:`preflight.gitlab.client` for where the tokens go and how they are sent.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from preflight import inputs
from preflight.errors import UsageError
from preflight.input_files import MAX_TOKEN_BYTES, read_text
from preflight.redaction import register_secret
from preflight.shown import shown

TYPE_CHECKING = False  # typing's constant without importing typing: the healthy path
if TYPE_CHECKING:
    from typing import TypeVar

    T = TypeVar("T")

ENV_TOKEN = "DIND_PREFLIGHT_GITLAB_TOKEN"
ENV_TOKEN_FILE = "DIND_PREFLIGHT_GITLAB_TOKEN_FILE"
ENV_ISSUES_TOKEN = "DIND_PREFLIGHT_ISSUES_TOKEN"
ENV_ISSUES_TOKEN_FILE = "DIND_PREFLIGHT_ISSUES_TOKEN_FILE"
PINNED_URL_FILE = "gitlab-url"
ISSUES_TOKEN_FILE = "issues-token"
_TOKEN = r"[\x21-\x7e]{8,512}"  # compiled (and cached by re) when a token is given


@dataclass(frozen=True)
class Tokens:
    """The tokens and the URL pinned beside them (read from a ``gitlab-url`` file), if any."""

    runner: str | None = field(default=None, repr=False)
    issues: str | None = field(default=None, repr=False)
    pinned_url: str | None = None
    pinned_url_source: str | None = None


def parse_token(value: str, source: str) -> str:
    """An access token: one line of printable ASCII without spaces (never echoed back)."""
    token = value.strip()
    if not re.fullmatch(_TOKEN, token):
        raise UsageError(
            f"{source} is not a usable GitLab token: it must be 8-512 printable characters "
            "without spaces or line breaks (the value is not shown)"
        )
    return token


def _from_file(path: str, source: str) -> str | None:
    """The token in ``path``; an empty file is no token (a dry run, e.g. an empty Secret key)."""
    text = read_text(path, f"the GitLab token ({source})", MAX_TOKEN_BYTES)
    return parse_token(text, source) if text.strip() else None


def _one(
    env: Mapping[str, str], flag_file: str | None, flag: str, file_var: str, value_var: str
) -> tuple[str | None, str | None]:
    """(token, the file it came from)."""
    if flag_file:
        return _from_file(flag_file, flag), flag_file
    path = env.get(file_var, "").strip()
    if path:
        return _from_file(path, file_var), path
    value = env.get(value_var, "").strip()
    if value:
        return parse_token(value, value_var), None
    return None, None


def read_tokens(env: Mapping[str, str], *, token_file: str | None = None) -> Tokens:
    """Resolve both tokens and the URL pinned beside a token file; registers them for redaction."""
    runner, runner_file = _one(env, token_file, "--token-file", ENV_TOKEN_FILE, ENV_TOKEN)
    issues, issues_file = _one(env, None, "", ENV_ISSUES_TOKEN_FILE, ENV_ISSUES_TOKEN)
    if issues is None and runner_file is not None:
        beside = os.path.join(os.path.dirname(runner_file), ISSUES_TOKEN_FILE)
        if os.path.isfile(beside):  # the issues-token key of the same Secret
            issues, issues_file = _from_file(beside, beside), beside
    register_secret(runner)
    register_secret(issues)
    pinned: str | None = None
    pinned_source: str | None = None
    for token_path in (runner_file, issues_file):
        if token_path is None:
            continue
        candidate = os.path.join(os.path.dirname(token_path), PINNED_URL_FILE)
        if os.path.lexists(candidate):
            text = read_text(candidate, "the pinned GitLab URL", 4096).strip()
            if pinned is not None and text != pinned:
                raise UsageError(f"{pinned_source} and {candidate} pin different GitLab URLs")
            pinned, pinned_source = text, candidate
    return Tokens(
        runner=runner, issues=issues or runner, pinned_url=pinned, pinned_url_source=pinned_source
    )


ENV_PINNED_URL = "DIND_PREFLIGHT_GITLAB_URL"
ENV_ALLOW_HTTP = "DIND_PREFLIGHT_ALLOW_HTTP"


@dataclass(frozen=True)
class Destination:
    """The server URL (no ``/api/v4``) and where it came from."""

    server_url: str
    source: str
    pinned: bool


def parse_server_url(value: str, source: str, *, allow_http: bool = True) -> str:
    """``https://host[:port][/prefix]`` with any trailing ``/api/v4`` removed
    (:func:`preflight.inputs.gitlab_server_url`)."""
    return inputs.gitlab_server_url(value, source, allow_http=allow_http)


def allow_http(env: Mapping[str, str]) -> bool:
    """``DIND_PREFLIGHT_ALLOW_HTTP`` as a switch (:func:`preflight.inputs.boolean`)."""
    return inputs.env_boolean(env, ENV_ALLOW_HTTP)


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
    from urllib.parse import urlsplit

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


ENV_REPORT_PROJECT = "DIND_PREFLIGHT_REPORT_PROJECT"
ENV_TIMEOUT = "DIND_PREFLIGHT_GITLAB_TIMEOUT"
ENV_BUDGET = "DIND_PREFLIGHT_GITLAB_BUDGET"

# Override keyword -> the flag that sets it (named in error messages).
OVERRIDE_FLAGS = {
    "gitlab_url": "--gitlab-url",
    "token_file": "--token-file",
    "runner_id": "--runner-id",
    "job_id": "--job-id",
    "job_url": "--job-url",
    "report_project": "--report-project",
    "timeout_s": "--timeout",
    "budget_s": "--budget",
    "settle_s": "--settle",
    "leader_grace_s": "--leader-grace",
    "note_interval_s": "--note-interval",
    "max_notes": "--max-notes",
    "dry_run": "--dry-run",
}

_PROJECT_PATH = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*(/[A-Za-z0-9_][A-Za-z0-9_.\-]*)+")
_MAX_ID = 2**63 - 1


@dataclass(frozen=True)
class GitLabSettings:
    """Everything the GitLab reporter needs; secrets are excluded from ``repr``."""

    server_url: str | None = None  # e.g. https://gitlab.example.com (no /api/v4)
    token: str | None = field(default=None, repr=False)  # the pause token: manage_runner (or api)
    issues_token: str | None = field(default=None, repr=False)  # Reporter project token, or None
    job_token: str | None = field(default=None, repr=False)  # CI_JOB_TOKEN, for GET /job only
    runner_id: int | None = None
    runner_description: str | None = None
    job_id: int | None = None
    job_url: str | None = None
    project_path: str | None = None  # the job's own project (CI_PROJECT_PATH)
    report_project: str | None = None  # path or numeric id that receives the issues
    timeout_s: float = 10.0  # one HTTP request
    budget_s: float = 45.0  # all requests and retries of one report
    settle_s: float = 1.0  # random pause before the first look-up, spreads bursts of reporters
    leader_grace_s: float = 120.0  # how long the job that opened the issue owns the runner pause
    note_interval_s: float = 900.0  # at most one recurrence note per issue per interval
    max_notes: int = 20  # no recurrence note once the issue has this many notes
    force_dry_run: bool = False
    url_pinned: bool = False  # the URL came with the token, not from the job's CI_* variables
    dry_run_reason: str | None = None  # why a dry run is forced (job mode without admin file)
    ca_file: str | None = None  # the admin's CA bundle for the GitLab (else the system's)

    @property
    def dry_run(self) -> bool:
        """Nothing is sent: no token, or ``--dry-run``."""
        return self.force_dry_run or not (self.token or self.issues_token)

    @property
    def token_for_issues(self) -> str | None:
        """The token that files issues: the issues token, else the pause token."""
        return self.issues_token or self.token

    @property
    def api_url(self) -> str | None:
        """The REST API root, e.g. ``https://gitlab.example.com/api/v4``."""
        return f"{self.server_url}/api/v4" if self.server_url else None


def settings_from_env(env: Mapping[str, str], **overrides: object) -> GitLabSettings:
    """Build settings from the job environment; keyword overrides (flags) win when not None.

    Accepted overrides: the keys of :data:`OVERRIDE_FLAGS` (``gitlab_url``, ``token``,
    ``runner_id``, ...). Registers the tokens with :func:`preflight.redaction.register_secret`.
    """
    unknown = set(overrides) - set(OVERRIDE_FLAGS)
    if unknown:
        raise TypeError(f"unknown GitLab setting(s): {', '.join(sorted(unknown))}")

    def pick(key: str, *env_names: str) -> tuple[object | None, str]:
        value = overrides.get(key)
        if value is not None and value != "":
            return value, OVERRIDE_FLAGS[key]
        for name in env_names:
            text = env.get(name, "").strip()
            if text:
                return text, name
        return None, env_names[0] if env_names else OVERRIDE_FLAGS[key]

    token_file = overrides.get("token_file")
    tokens = read_tokens(env, token_file=str(token_file) if token_file else None)
    token = tokens.runner
    issues_token = tokens.issues if tokens.issues != tokens.runner else None
    job_token = env.get("CI_JOB_TOKEN", "").strip() or None
    register_secret(job_token)

    dry_run = bool(overrides.get("dry_run"))
    sending = bool(token or issues_token) and not dry_run
    flag_url = overrides.get("gitlab_url")
    destination = resolve_destination(
        env,
        pinned=(
            (tokens.pinned_url, tokens.pinned_url_source or ""),
            (str(flag_url) if flag_url else None, "--gitlab-url"),
        ),
        sending=sending,
    )
    server_url = destination.server_url if destination else None
    if sending and not server_url:
        raise UsageError(
            "a GitLab token is set but the GitLab URL is not: set DIND_PREFLIGHT_GITLAB_URL "
            "beside the token (or run in a GitLab job: CI_API_V4_URL)"
        )

    runner_id = _maybe(parse_id, *pick("runner_id", "CI_RUNNER_ID"))
    job_id = _maybe(parse_id, *pick("job_id", "CI_JOB_ID"))
    job_url = _maybe(parse_http_url, *pick("job_url", "CI_JOB_URL"))
    report_project = _maybe(parse_project, *pick("report_project", ENV_REPORT_PROJECT))
    project_path_raw = env.get("CI_PROJECT_PATH", "").strip()
    project_path = project_path_raw if _PROJECT_PATH.fullmatch(project_path_raw) else None
    defaults = GitLabSettings()
    numbers: dict[str, float] = {}
    for key, env_name, allow_zero, high, default in (
        ("timeout_s", ENV_TIMEOUT, False, 300.0, defaults.timeout_s),
        ("budget_s", ENV_BUDGET, False, 3600.0, defaults.budget_s),
        ("settle_s", "", True, 60.0, defaults.settle_s),
        ("leader_grace_s", "", True, 86400.0, defaults.leader_grace_s),
        ("note_interval_s", "", True, 7 * 86400.0, defaults.note_interval_s),
    ):
        raw, src = pick(key, *([env_name] if env_name else []))
        numbers[key] = default if raw is None else parse_seconds(raw, src, high, allow_zero)
    raw_max, max_src = pick("max_notes")
    max_notes = defaults.max_notes if raw_max is None else parse_count(raw_max, max_src)
    return GitLabSettings(
        server_url=server_url,
        token=token,
        issues_token=issues_token,
        job_token=job_token,
        runner_id=runner_id,
        runner_description=env.get("CI_RUNNER_DESCRIPTION", "").strip() or None,
        job_id=job_id,
        job_url=job_url,
        project_path=project_path,
        report_project=report_project,
        timeout_s=numbers["timeout_s"],
        budget_s=numbers["budget_s"],
        settle_s=numbers["settle_s"],
        leader_grace_s=numbers["leader_grace_s"],
        note_interval_s=numbers["note_interval_s"],
        max_notes=max_notes,
        force_dry_run=dry_run,
        url_pinned=bool(destination and destination.pinned),
    )


def _maybe(parse: Callable[[object, str], T], raw: object | None, source: str) -> T | None:
    return None if raw is None else parse(raw, source)


_shown = inputs.shown


def parse_http_url(value: object, source: str) -> str:
    """Any http(s) URL without credentials (e.g. ``CI_JOB_URL``)."""
    inputs.http_url(value, source, example="https://gitlab.example.com/group/project/-/jobs/1")
    return str(value).strip()


def parse_id(value: object, source: str) -> int:
    """A positive GitLab id (runner, job)."""
    text = str(value).strip()
    if not text.isascii() or not text.isdigit() or not 0 < int(text) <= _MAX_ID:
        raise UsageError(f"{source}={_shown(text)} is not an id (a positive integer)")
    return int(text)


def parse_project(value: object, source: str) -> str:
    """A project id (digits) or full path (``group/subgroup/project``)."""
    text = str(value).strip().strip("/")
    if text.isascii() and text.isdigit() and 0 < int(text) <= _MAX_ID:
        return str(int(text))
    if not _PROJECT_PATH.fullmatch(text) or ".." in text or text.endswith((".git", ".atom")):
        raise UsageError(
            f"{source}={_shown(text)} is not a project id or path (e.g. 42 or ops/runner-health)"
        )
    return text


def parse_seconds(value: object, source: str, high: float, allow_zero: bool = False) -> float:
    """A number of seconds up to ``high``: positive, or also 0 when ``allow_zero``."""
    return inputs.seconds(value, source, high=high, allow_zero=allow_zero)


def parse_count(value: object, source: str) -> int:
    """A count from 0 to 1000."""
    return inputs.count(value, source, high=1000)
