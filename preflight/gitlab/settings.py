"""GitLab settings from the job environment and flags (pure): where, as whom, and how patiently.

Flags override the environment. An empty variable counts as unset (GitLab passes protected
variables as absent on unprotected refs). Invalid values raise :class:`UsageError` (exit 64) with
one line that names the variable or flag and never shows a secret.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import urlunsplit

from preflight import inputs
from preflight.errors import UsageError
from preflight.redaction import register_secret

ENV_TOKEN = "DIND_PREFLIGHT_GITLAB_TOKEN"
ENV_REPORT_PROJECT = "DIND_PREFLIGHT_REPORT_PROJECT"
ENV_TIMEOUT = "DIND_PREFLIGHT_GITLAB_TIMEOUT"
ENV_BUDGET = "DIND_PREFLIGHT_GITLAB_BUDGET"

# Override keyword -> the flag that sets it (named in error messages).
OVERRIDE_FLAGS = {
    "gitlab_url": "--gitlab-url",
    "token": "--token-file",
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
_TOKEN = re.compile(r"[\x21-\x7e]{8,512}")
_MAX_ID = 2**63 - 1
T = TypeVar("T")


@dataclass(frozen=True)
class GitLabSettings:
    """Everything the GitLab reporter needs; secrets are excluded from ``repr``."""

    server_url: str | None = None  # e.g. https://gitlab.example.com (no /api/v4)
    token: str | None = field(default=None, repr=False)  # access token: manage_runner or api
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

    @property
    def dry_run(self) -> bool:
        """Nothing is sent: no token, or ``--dry-run``."""
        return self.force_dry_run or not self.token

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

    raw_token, token_src = pick("token", ENV_TOKEN)
    token = parse_token(str(raw_token), token_src) if raw_token is not None else None
    job_token = env.get("CI_JOB_TOKEN", "").strip() or None
    register_secret(token)
    register_secret(job_token)

    raw_url, url_src = pick("gitlab_url", "CI_API_V4_URL", "CI_SERVER_URL")
    server_url = parse_server_url(str(raw_url), url_src) if raw_url is not None else None
    if token and not server_url and not overrides.get("dry_run"):
        raise UsageError(
            f"{ENV_TOKEN} is set but the GitLab URL is not: set CI_API_V4_URL or CI_SERVER_URL "
            "(or --gitlab-url)"
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
        force_dry_run=bool(overrides.get("dry_run")),
    )


def _maybe(parse: Callable[[object, str], T], raw: object | None, source: str) -> T | None:
    return None if raw is None else parse(raw, source)


_shown = inputs.shown


def parse_token(value: str, source: str) -> str:
    """An access token: one line of printable ASCII without spaces (never echoed back)."""
    token = value.strip()
    if not _TOKEN.fullmatch(token):
        raise UsageError(
            f"{source} is not a usable GitLab token: it must be 8-512 printable characters "
            "without spaces or line breaks (the value is not shown)"
        )
    return token


def parse_server_url(value: str, source: str) -> str:
    """``https://host[:port][/prefix]`` with any trailing ``/api/v4`` removed."""
    text = value.strip()
    parts = inputs.http_url(text, source)
    if parts.query or parts.fragment:
        raise UsageError(f"{source}={_shown(text)} must not have a query or fragment")
    path = parts.path.rstrip("/")
    if path.endswith("/api/v4"):
        path = path[: -len("/api/v4")]
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


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
