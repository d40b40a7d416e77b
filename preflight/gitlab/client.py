"""Talking to GitLab for one report: settings, where tokens may go, retries, failures.

A report's requests flow through here in this order: :func:`settings_from_env` reads the tokens
(:func:`read_tokens`) and pins the destination (:func:`resolve_destination`); :func:`open_client`
builds python-gitlab on a :class:`RetryingSession` that owns every retry inside one time budget;
:meth:`GitLabClient.call` turns whatever went wrong into one :class:`GitLabActionError` line.

**Tokens: where they come from, a file (preferred) or a variable, one for each use.**

Two tokens can be given, so that each grants only what its use needs:

- the **runner token** (``DIND_PREFLIGHT_GITLAB_TOKEN_FILE`` or ``DIND_PREFLIGHT_GITLAB_TOKEN``,
  ``--token-file``): scope ``manage_runner``, pauses the job's runner;
- the **issues token** (``DIND_PREFLIGHT_ISSUES_TOKEN_FILE`` or ``DIND_PREFLIGHT_ISSUES_TOKEN``):
  a project access token of the incident project, role Reporter, scope ``api``; files issues.
  Without it the runner token files the issues too.

A file wins over a variable, so a GitLab "File" variable or a mounted Secret key never passes
through a shell. Beside the runner token file (other keys of the same Secret), a file named
``gitlab-url`` pins the GitLab URL the tokens may be sent to (Destination, below)
and a file named ``issues-token`` is the issues token.

**Destination (pure): the GitLab the tokens may go to, pinned with them or the job's own.**

A job sets its own variables, ``CI_API_V4_URL`` included. The URL a token goes to is therefore
taken, in order, from where the token itself comes from:

1. a ``gitlab-url`` file beside the token file (a second key of the same Kubernetes Secret),
   ``--gitlab-url``, or ``DIND_PREFLIGHT_GITLAB_URL`` (a CI/CD variable set beside the token):
   the **pinned** URL; every source that is set must name the same URL;
2. otherwise ``CI_API_V4_URL`` (or ``CI_SERVER_URL``), accepted only on ``CI_SERVER_HOST``
   (and ``CI_SERVER_PORT`` when set).

https only, unless ``DIND_PREFLIGHT_ALLOW_HTTP=1``. URLs with credentials, a query or a fragment
are refused. (The transport never follows a redirect with a token: a 3xx is a configuration
error, see Transport below.)

**Settings (pure): where, as whom, and how patiently, from the job environment and flags.**

Flags override the environment. An empty variable counts as unset (GitLab passes protected
variables as absent on unprotected refs). Invalid values raise :class:`UsageError` (exit 64) with
one line that names the variable or flag and never shows a secret.

**Retry policy (pure): when to retry a request and how long to wait.**

Retried: connection errors and timeouts, 408, 429, 409 "Resource lock" and the transient 5xx
(500, 502, 503, 504 and the 52x a proxy sends); a POST only when it cannot have been done (no
connection, 429, 503, 409 "Resource lock"). ``Retry-After`` (seconds or an HTTP date) is
honoured as a minimum; other waits are exponential with jitter, so that reporters failing
together do not retry together.
Everything is bounded twice: attempts per request and one time budget for the whole report.

**Transport: retries with backoff and jitter inside one time budget, under python-gitlab.**

python-gitlab sends every request through :class:`RetryingSession.request`. Retryable answers
(see Retry policy above) never reach python-gitlab: the session waits and tries
again, or raises :class:`GitLabUnavailable` with one line once the attempts or the budget are used
up. Every attempt is recorded (method, path, status) so a report can say how many requests it
made; the ``Date`` of the last answer gives the server's clock.

Why not python-gitlab's own ``retry_transient_errors``/``max_retries``/``obey_rate_limit`` (they are
switched off on purpose, issue 12): it resends a POST after a read timeout (a second issue or
note), has no time budget across requests, no jitter, and waits out any ``Retry-After`` however
long. What this session adds instead:

- each attempt is bounded in *total* time (:func:`preflight.time_limit.time_limit`), not only
  per idle read, so a server that drips one byte every few seconds cannot stretch it;
- a request that carries a token never follows a redirect: a 3xx is :class:`GitLabRedirected`
  (requests strips only ``Authorization`` on a cross-host redirect, never ``PRIVATE-TOKEN`` or
  ``JOB-TOKEN``);
- a POST whose answer was lost after it was sent is not resent: :class:`GitLabOutcomeUnknown`
  lets the caller check whether it landed;
- proxies come from ``HTTPS_PROXY``/``NO_PROXY`` for https only; ``REQUESTS_CA_BUNDLE``,
  ``CURL_CA_BUNDLE`` and ``~/.netrc`` (which a job can set) are ignored.

**Failures (pure): one line that says what to fix (the missing scope, role or setting).**

**Client: python-gitlab for one report, and the mapping of its failures to one line.**

``open_client`` builds a ``gitlab.Gitlab`` on a :class:`RetryingSession`
(retries, backoff with jitter, ``Retry-After``, one time budget) and registers the tokens for
redaction. ``GitLabClient.call`` runs one python-gitlab operation and turns every way it can fail
into a :class:`GitLabActionError` whose message names the missing scope,
role or setting and never contains a token.
"""

from __future__ import annotations

import json
import os
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from enum import Enum
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests

from preflight import __version__, inputs
from preflight.errors import PreflightError, UsageError
from preflight.exitcodes import ExitCode
from preflight.gitlab.issue_text import one_line
from preflight.input_files import MAX_TOKEN_BYTES, read_text
from preflight.redaction import redact, register_secret
from preflight.shown import shown
from preflight.time_limit import TimeLimitExceeded, time_limit

ENV_TOKEN = "DIND_PREFLIGHT_GITLAB_TOKEN"
ENV_TOKEN_FILE = "DIND_PREFLIGHT_GITLAB_TOKEN_FILE"
ENV_ISSUES_TOKEN = "DIND_PREFLIGHT_ISSUES_TOKEN"
ENV_ISSUES_TOKEN_FILE = "DIND_PREFLIGHT_ISSUES_TOKEN_FILE"
PINNED_URL_FILE = "gitlab-url"
ISSUES_TOKEN_FILE = "issues-token"
_TOKEN = re.compile(r"[\x21-\x7e]{8,512}")


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
    if not _TOKEN.fullmatch(token):
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
T = TypeVar("T")


@dataclass(frozen=True)
class GitLabSettings:
    """Everything the GitLab reporter needs; secrets are excluded from ``repr``."""

    server_url: str | None = None  # e.g. https://gitlab.example.com (no /api/v4)
    token: str | None = field(default=None, repr=False)  # runner token: manage_runner (or api)
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
        """The token that files issues: the issues token, else the runner token."""
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


RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504, *range(520, 531)})


@dataclass(frozen=True)
class RetryPolicy:
    """Attempts per request and the shape of the waits between them."""

    max_attempts: int = 6
    base_delay_s: float = 0.5
    max_delay_s: float = 8.0
    retry_after_jitter_s: float = 0.5  # added on top of Retry-After
    max_retry_after_s: float = 300.0  # a longer Retry-After is not worth waiting for


@dataclass(frozen=True)
class RetryStep:
    """The decision after a failed attempt: retry after ``delay_s``, or give up and why."""

    retry: bool
    delay_s: float = 0.0
    reason: str = ""


# A POST that got one of these may have been done (a gateway gave up waiting, or the server
# failed half-way): it is not resent blindly.
UNCERTAIN_FOR_POST = frozenset({408, 500, 502, 504, *range(520, 531)})
SAFE_TO_RESEND = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


def is_safe_to_resend(method: str) -> bool:
    """Idempotent methods may be resent after a lost answer; a POST may not."""
    return method.upper() in SAFE_TO_RESEND


def is_retryable_status(status: int, method: str = "GET", reason: str = "") -> bool:
    """True for answers worth another attempt: rate limit, transient server errors, and 409
    "Resource lock" (GitLab's lock on a resource another request is changing)."""
    if status == 409:
        return "resource lock" in reason.lower()
    if not is_safe_to_resend(method) and status in UNCERTAIN_FOR_POST:
        return False
    return status in RETRYABLE_STATUSES


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date), or None."""
    if value is None:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():
        return float(int(text))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    reference = now or datetime.now(timezone.utc)
    return max(0.0, (when - reference).total_seconds())


def backoff_delay(policy: RetryPolicy, attempt: int, rng: random.Random) -> float:
    """Exponential backoff with "equal jitter": half the step fixed, half random."""
    step = min(policy.max_delay_s, policy.base_delay_s * 2.0 ** max(0, attempt - 1))
    return step / 2 + rng.uniform(0, step / 2)


def plan_retry(
    policy: RetryPolicy,
    attempt: int,
    remaining_s: float,
    retry_after_s: float | None,
    rng: random.Random,
) -> RetryStep:
    """Decide after failed attempt number ``attempt`` (1-based) with ``remaining_s`` of budget."""
    if attempt >= policy.max_attempts:
        return RetryStep(False, reason=f"gave up after {attempt} attempts")
    if retry_after_s is not None:
        if retry_after_s > policy.max_retry_after_s:
            return RetryStep(False, reason=f"Retry-After {retry_after_s:.0f} s is too long")
        delay = retry_after_s + rng.uniform(0, policy.retry_after_jitter_s)
    else:
        delay = backoff_delay(policy, attempt, rng)
    if delay >= remaining_s:
        wait = (
            f"Retry-After {retry_after_s:.0f} s" if retry_after_s is not None else "the next wait"
        )
        return RetryStep(
            False,
            reason=f"{wait} exceeds the remaining time budget ({max(0.0, remaining_s):.1f} s)",
        )
    return RetryStep(True, delay_s=delay)


class GitLabUnavailable(Exception):
    """GitLab could not be reached, or kept failing, within the attempts and the time budget."""


class GitLabOutcomeUnknown(GitLabUnavailable):
    """A POST was sent but its answer was lost: it may have been done; it was not resent."""


class GitLabRedirected(Exception):
    """GitLab answered with a redirect: a configuration error (the token does not follow it)."""


@dataclass(frozen=True)
class Attempt:
    """One HTTP request actually sent (``status`` None: no answer)."""

    method: str
    path: str
    status: int | None
    elapsed_s: float


class Budget:
    """A deadline shared by every request of one report."""

    def __init__(self, total_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._end = clock() + total_s

    def remaining(self) -> float:
        """Seconds left (may be negative)."""
        return self._end - self._clock()


class RetryingSession(requests.Session):
    """A requests session that retries transient failures within a :class:`Budget`."""

    def __init__(
        self,
        *,
        budget: Budget,
        timeout_s: float,
        policy: RetryPolicy | None = None,
        rng: random.Random | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.trust_env = False  # no CA bundle, netrc or proxy a job could set (see module doc)
        self.budget = budget
        self.timeout_s = timeout_s
        self.policy = policy or RetryPolicy()
        self.rng = rng or random.Random()
        self.sleep = sleep
        self.clock = clock
        self.attempts: list[Attempt] = []
        self.server_date: datetime | None = None

    def request(
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        """Send with retries; raise :class:`GitLabUnavailable` when giving up."""
        verb = method.decode() if isinstance(method, bytes) else str(method)
        verb = verb.upper()
        target = urlsplit(url.decode() if isinstance(url, bytes) else str(url))
        path = target.path
        kwargs["allow_redirects"] = False
        if target.scheme == "https":
            kwargs["proxies"] = requests.utils.get_environ_proxies(target.geturl())
        attempt = 0
        while True:
            attempt += 1
            remaining = self.budget.remaining()
            if remaining <= 0:
                raise GitLabUnavailable(
                    f"GitLab did not answer {verb} {path} within the time budget"
                )
            limit_s = min(self.timeout_s, remaining)
            kwargs["timeout"] = limit_s
            started = self.clock()
            try:
                with time_limit(limit_s, f"{verb} {path}") as limit:
                    try:
                        response = super().request(method, url, *args, **kwargs)
                    except TimeLimitExceeded as exc:
                        if exc.limit is not limit:
                            raise
                        raise requests.ReadTimeout(f"no complete answer in {limit_s:g} s") from None
            except (requests.Timeout, requests.ConnectionError) as exc:
                self.attempts.append(Attempt(verb, path, None, self.clock() - started))
                failure = "timed out" if isinstance(exc, requests.Timeout) else "connection failed"
                if not is_safe_to_resend(verb) and not _never_sent(exc):
                    raise GitLabOutcomeUnknown(
                        f"GitLab did not answer {verb} {path} ({failure}); it may have been done, "
                        "so it was not resent"
                    ) from None
                step = plan_retry(self.policy, attempt, self.budget.remaining(), None, self.rng)
                if not step.retry:
                    raise GitLabUnavailable(
                        f"GitLab did not answer {verb} {path}: {failure} ({step.reason})"
                    ) from None
                self.sleep(step.delay_s)
                continue
            self.attempts.append(Attempt(verb, path, response.status_code, self.clock() - started))
            self._note_date(response.headers.get("Date"))
            if 300 <= response.status_code < 400:
                response.close()
                where = urlsplit(response.headers.get("Location", "")).hostname or "elsewhere"
                raise GitLabRedirected(
                    f"GitLab answered {verb} {path} with a redirect (HTTP {response.status_code} "
                    f"to {shown(where, 80)}): the token is never sent through a redirect; set the "
                    "GitLab URL to the address its API answers at"
                )
            if not is_retryable_status(response.status_code, verb, _reason(response)):
                return response
            retry_after = parse_retry_after(response.headers.get("Retry-After"), self.server_date)
            step = plan_retry(self.policy, attempt, self.budget.remaining(), retry_after, self.rng)
            response.close()
            if not step.retry:
                raise GitLabUnavailable(
                    f"GitLab answered {verb} {path} with HTTP {response.status_code} "
                    f"({step.reason})"
                )
            self.sleep(step.delay_s)

    def _note_date(self, value: str | None) -> None:
        """Remember the server's clock from a ``Date`` header."""
        if not value:
            return
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return
        self.server_date = when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _never_sent(exc: BaseException) -> bool:
    """True when the request cannot have reached GitLab (no connection was made)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    from urllib3.exceptions import NewConnectionError

    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, NewConnectionError)


def _reason(response: requests.Response) -> str:
    """The reason phrase and the start of the body (for 409 "Resource lock")."""
    try:
        body = response.text[:200]
    except (requests.RequestException, UnicodeDecodeError, RuntimeError):
        body = ""
    return f"{response.reason or ''} {body}"


class Action(str, Enum):
    """What we were doing when GitLab refused: decides which permission the message names."""

    LOOKUP_JOB = "look up the job's runner (GET /job)"
    READ_RUNNER = "read runner"
    LIST_RUNNERS = "list the paused runners (GET /runners?paused=true)"
    PAUSE_RUNNER = "pause runner"
    LIST_ISSUES = "list issues in"
    CREATE_ISSUE = "create an issue in"
    UPDATE_ISSUE = "update an issue in"
    CREATE_NOTE = "add a note to an issue in"


class FailureKind(str, Enum):
    """How a failure counts for the exit code."""

    UNAVAILABLE = "unavailable"  # GitLab down, rate limited past the budget, not JSON: retry later
    PERMISSION = "permission"  # 401/403: the token, its scope or its user's role
    NOT_FOUND = "not-found"  # 404: wrong id/path, or invisible to the token's user
    CONFIG = "config"  # something we need is not configured (e.g. no runner id)
    REJECTED = "rejected"  # any other 4xx: GitLab refused the request itself

    @property
    def exit_code(self) -> ExitCode:
        """TEMPFAIL when trying later may work; CONFIG when someone must change a setting."""
        return ExitCode.TEMPFAIL if self is FailureKind.UNAVAILABLE else ExitCode.CONFIG


class GitLabActionError(PreflightError):
    """A GitLab call that failed for good; ``str()`` is the one-line message (already redacted)."""

    def __init__(self, message: str, kind: FailureKind, *, outcome_unknown: bool = False) -> None:
        super().__init__(redact(one_line(message, 400)), kind.exit_code)
        self.kind = kind
        self.outcome_unknown = outcome_unknown  # a POST was sent, its answer lost: not resent


_TOKEN_SCOPES = "scope manage_runner or api"
_RUNNER_ROLE = (
    "an administrator for an instance runner, a group Owner for a group runner, "
    "a project Maintainer for a project runner"
)


def _target(action: Action, runner_id: int | None, project: str | None) -> str:
    what: str = action.value
    if action in (Action.READ_RUNNER, Action.PAUSE_RUNNER):
        return f"{what} {runner_id}"
    if action in (Action.LOOKUP_JOB, Action.LIST_RUNNERS):
        return what
    return f"{what} project {project}"


def required_scope_hint(body: str | bytes | None) -> str | None:
    """The ``scope`` GitLab names in an ``insufficient_scope`` 403 body, if any."""
    if not body:
        return None
    try:
        data = json.loads(body)
    except (ValueError, TypeError, UnicodeDecodeError):
        return None
    if isinstance(data, dict) and data.get("error") == "insufficient_scope":
        scope = data.get("scope")
        return one_line(str(scope), 60) if scope else "a broader scope"
    return None


def describe_http_failure(
    action: Action,
    status: int | None,
    *,
    runner_id: int | None = None,
    project: str | None = None,
    body: str | bytes | None = None,
) -> tuple[str, FailureKind]:
    """One line for a refused request, naming the missing permission or setting, and its kind."""
    what = _target(action, runner_id, project)
    if action is Action.LOOKUP_JOB:
        # The job token is the job's own: no setting of ours fixes a bad one, and a reporter
        # that checks a job's token must not send the job to set variables.
        why = {
            401: "GitLab does not accept it as a running job's token (the job finished, or the "
            "token is not a job token)",
            403: "GitLab refuses the job token here",
            404: "GitLab does not know that job",
        }.get(status or 0, "GitLab refused the request")
        return (f"cannot {what} with the job token (HTTP {status}): {why}", FailureKind.PERMISSION)
    if status == 401:
        return (
            f"cannot {what}: GitLab rejected the token (401): DIND_PREFLIGHT_GITLAB_TOKEN is "
            "invalid, expired or revoked",
            FailureKind.PERMISSION,
        )
    if status == 403:
        scope = required_scope_hint(body)
        if action in (Action.READ_RUNNER, Action.PAUSE_RUNNER, Action.LIST_RUNNERS):
            need = f"a token with {_TOKEN_SCOPES} whose user is {_RUNNER_ROLE}"
        else:
            need = (
                "a token with scope api (manage_runner does not cover issues) whose user has at "
                "least the Reporter role in that project"
            )
        prefix = f"the token lacks scope {scope}; " if scope else ""
        return f"cannot {what} (403): {prefix}needs {need}", FailureKind.PERMISSION
    if status == 404:
        if action in (Action.READ_RUNNER, Action.PAUSE_RUNNER):
            hint = (
                f"runner {runner_id} does not exist or the token's user cannot see it; check "
                f"CI_RUNNER_ID/--runner-id and that the user is {_RUNNER_ROLE}"
            )
        else:
            hint = (
                f"project {project} does not exist or the token's user is not a member; check "
                "DIND_PREFLIGHT_REPORT_PROJECT/--report-project"
            )
        return f"cannot {what} (404): {hint}", FailureKind.NOT_FOUND
    if status is None:
        return (
            f"cannot {what}: GitLab redirected the request; check the GitLab URL (http vs https, "
            "relative URL root)",
            FailureKind.CONFIG,
        )
    return f"cannot {what}: GitLab refused the request (HTTP {status})", FailureKind.REJECTED


def describe_malformed(action: Action, runner_id: int | None, project: str | None) -> str:
    """One line for an answer that is not the JSON GitLab documents."""
    return (
        f"cannot {_target(action, runner_id, project)}: GitLab's answer is not the JSON its API "
        "documents (a proxy or maintenance page?); check the GitLab URL"
    )


USER_AGENT = f"dind-preflight/{__version__}"


@dataclass
class GitLabClient:
    """One report's connection to GitLab: the API object, its transport and its settings."""

    settings: GitLabSettings
    api: Any  # gitlab.Gitlab authenticated with the runner token (pauses the runner)
    transport: RetryingSession
    issues_api: Any = None  # gitlab.Gitlab with the issues token (None: ``api`` files issues)
    _job_api: Any = field(default=None, repr=False)

    @property
    def requests_made(self) -> int:
        """HTTP requests actually sent so far, retries included."""
        return len(self.transport.attempts)

    def server_now(self) -> datetime:
        """GitLab's clock as of its last answer (``Date`` header), else the local UTC clock."""
        return self.transport.server_date or datetime.now(timezone.utc)

    def report_project(self) -> Any:
        """The project that receives issues, without a request (python-gitlab ``lazy=True``)."""
        ref = self.settings.report_project
        project_id: int | str | None = int(ref) if ref and ref.isdigit() else ref
        api = self.issues_api if self.issues_api is not None else self.api
        return api.projects.get(project_id, lazy=True)

    def job_api(self) -> Any:
        """A ``gitlab.Gitlab`` authenticated with ``CI_JOB_TOKEN`` on the same transport."""
        if self._job_api is None:
            import gitlab

            self._job_api = gitlab.Gitlab(
                self.settings.server_url,
                job_token=self.settings.job_token,
                timeout=self.settings.timeout_s,
                user_agent=USER_AGENT,
                session=self.transport,
                ssl_verify=self.settings.ca_file or True,
            )
        return self._job_api

    def call(
        self,
        action: Action,
        operation: Callable[[], T],
        *,
        runner_id: int | None = None,
    ) -> T:
        """Run one python-gitlab operation; raise :class:`GitLabActionError` when it fails."""
        import gitlab.exceptions

        project = self.settings.report_project
        try:
            return operation()
        except GitLabRedirected as exc:
            raise GitLabActionError(str(exc), FailureKind.CONFIG) from None
        except GitLabOutcomeUnknown as exc:
            raise GitLabActionError(
                str(exc), FailureKind.UNAVAILABLE, outcome_unknown=True
            ) from None
        except GitLabUnavailable as exc:
            raise GitLabActionError(str(exc), FailureKind.UNAVAILABLE) from None
        except gitlab.exceptions.GitlabParsingError:
            raise GitLabActionError(
                describe_malformed(action, runner_id, project), FailureKind.UNAVAILABLE
            ) from None
        except gitlab.exceptions.GitlabError as exc:
            message, kind = describe_http_failure(
                action,
                exc.response_code,
                runner_id=runner_id,
                project=project,
                body=exc.response_body,
            )
            raise GitLabActionError(message, kind) from None
        except requests.RequestException as exc:
            # e.g. TooManyRedirects, an invalid response.
            raise GitLabActionError(
                f"cannot {action.value}: {type(exc).__name__}: {redact(str(exc))}",
                FailureKind.UNAVAILABLE,
            ) from None
        except (KeyError, TypeError, ValueError, AttributeError):
            # The answer was JSON but not the shape GitLab documents (a field missing, a list
            # where an object belongs): the same as an answer that is not JSON at all.
            raise GitLabActionError(
                describe_malformed(action, runner_id, project), FailureKind.UNAVAILABLE
            ) from None


def open_client(
    settings: GitLabSettings,
    *,
    policy: RetryPolicy | None = None,
    rng: random.Random | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> GitLabClient:
    """A client for one report: one time budget (``settings.budget_s``) for all its requests."""
    if not (settings.token or settings.issues_token) or not settings.server_url:
        raise GitLabActionError(
            "no GitLab token or URL: nothing can be sent (this is a dry run)", FailureKind.CONFIG
        )
    import gitlab

    register_secret(settings.token)
    register_secret(settings.issues_token)
    register_secret(settings.job_token)
    transport = RetryingSession(
        budget=Budget(settings.budget_s, clock),
        timeout_s=settings.timeout_s,
        policy=policy,
        rng=rng,
        sleep=sleep,
        clock=clock,
    )

    def connect(token: str | None) -> Any:
        return gitlab.Gitlab(
            settings.server_url,
            private_token=token,
            timeout=settings.timeout_s,
            user_agent=USER_AGENT,
            retry_transient_errors=False,
            session=transport,
            ssl_verify=settings.ca_file or True,  # the admin's CA for a private GitLab
        )

    api = connect(settings.token)
    issues_api = connect(settings.issues_token) if settings.issues_token else None
    return GitLabClient(settings=settings, api=api, transport=transport, issues_api=issues_api)
