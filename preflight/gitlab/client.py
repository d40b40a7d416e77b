"""Talking to GitLab for one report: settings, where tokens may go, retries, failures.

A report's requests flow through here in this order: :func:`settings_from_env` reads the tokens
(:func:`read_tokens`) and pins the destination (:func:`resolve_destination`); :func:`open_client`
builds python-gitlab on a :class:`RetryingSession` that owns every retry inside one time budget;
:meth:`GitLabClient.call` turns whatever went wrong into one :class:`GitLabActionError` line.

**Tokens: where they come from, a file (preferred) or a variable, one for each use.**

Two tokens can be given, so that each grants only what its use needs:

- the **pause token** (``DIND_PREFLIGHT_GITLAB_TOKEN_FILE`` or ``DIND_PREFLIGHT_GITLAB_TOKEN``,
  ``--token-file``): scope ``manage_runner``, pauses the job's runner;
- the **issues token** (``DIND_PREFLIGHT_ISSUES_TOKEN_FILE`` or ``DIND_PREFLIGHT_ISSUES_TOKEN``):
  a project access token of the incident project, role Reporter, scope ``api``; files issues.
  Without it the pause token files the issues too. The pause token is an access token of a bot
  user, never the runner's own ``glrt-`` authentication token (which cannot pause a runner).

A file wins over a variable, so a GitLab "File" variable or a mounted Secret key never passes
through a shell. Beside the pause token file (other keys of the same Secret), a file named
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
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from enum import Enum
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests

from preflight import __version__
from preflight.errors import PreflightError
from preflight.exitcodes import ExitCode
from preflight.gitlab.issue_text import one_line
from preflight.gitlab.settings import (
    ENV_ALLOW_HTTP,
    ENV_BUDGET,
    ENV_ISSUES_TOKEN,
    ENV_ISSUES_TOKEN_FILE,
    ENV_PINNED_URL,
    ENV_REPORT_PROJECT,
    ENV_TIMEOUT,
    ENV_TOKEN,
    ENV_TOKEN_FILE,
    ISSUES_TOKEN_FILE,
    OVERRIDE_FLAGS,
    PINNED_URL_FILE,
    Destination,
    GitLabSettings,
    Tokens,
    allow_http,
    parse_count,
    parse_http_url,
    parse_id,
    parse_project,
    parse_seconds,
    parse_server_url,
    parse_token,
    read_tokens,
    resolve_destination,
    settings_from_env,
)
from preflight.redaction import redact, register_secret
from preflight.shown import shown
from preflight.time_limit import TimeLimitExceeded, time_limit

# The settings live in preflight.gitlab.settings (no HTTP library); re-exported here.
__all__ = [
    "ENV_ALLOW_HTTP",
    "ENV_BUDGET",
    "ENV_ISSUES_TOKEN",
    "ENV_ISSUES_TOKEN_FILE",
    "ENV_PINNED_URL",
    "ENV_REPORT_PROJECT",
    "ENV_TIMEOUT",
    "ENV_TOKEN",
    "ENV_TOKEN_FILE",
    "ISSUES_TOKEN_FILE",
    "OVERRIDE_FLAGS",
    "PINNED_URL_FILE",
    "Destination",
    "GitLabSettings",
    "Tokens",
    "allow_http",
    "parse_count",
    "parse_http_url",
    "parse_id",
    "parse_project",
    "parse_seconds",
    "parse_server_url",
    "parse_token",
    "read_tokens",
    "resolve_destination",
    "settings_from_env",
]
T = TypeVar("T")

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
        # The last answer GitLab gave that was retried ("HTTP 503 to GET /api/v4/job"): named
        # when the budget then runs out before another request is sent.
        self.last_answer: str | None = None

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
        last_status: int | None = None  # what GitLab answered the attempt before, if anything
        while True:
            attempt += 1
            remaining = self.budget.remaining()
            if remaining <= 0:
                if last_status is not None:  # say what GitLab kept answering, not just "no"
                    raise GitLabUnavailable(
                        f"GitLab answered {verb} {path} with HTTP {last_status} until the time "
                        "budget ran out"
                    )
                earlier = f" (it last answered {self.last_answer})" if self.last_answer else ""
                raise GitLabUnavailable(
                    f"GitLab did not answer {verb} {path} within the time budget{earlier}"
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
            last_status = response.status_code
            self.last_answer = f"HTTP {response.status_code} to {verb} {path}"
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
    LIST_NOTES = "list the notes of an issue in"


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
    if status is not None and status >= 500:
        # GitLab (or its proxy) failed: trying later may work; a write may even have landed.
        return f"cannot {what}: GitLab failed (HTTP {status})", FailureKind.UNAVAILABLE
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
    api: Any  # gitlab.Gitlab authenticated with the pause token (pauses the runner)
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

    def write(
        self, action: Action, operation: Callable[[], T], landed: Callable[[], T | None] | None
    ) -> T:
        """A write that is not safe to resend blindly (a POST: an issue, a note), done once.

        When GitLab fails it (5xx) or its answer is lost, ``landed`` looks the write up by its
        key (the issue's marker, the note's text): found, it is the result; not found, the write
        is sent again, with backoff, while the report's time budget lasts. Nothing is lost and
        nothing is done twice. Without ``landed`` (nothing to look it up by) it is never resent.
        """
        attempt = 0
        while True:
            attempt += 1
            try:
                return self.call(action, operation)
            except GitLabActionError as exc:
                if exc.kind is not FailureKind.UNAVAILABLE or landed is None:
                    raise
                try:
                    found = landed()
                except GitLabActionError:
                    raise exc from None  # cannot look: say what failed first
                if found is not None:
                    return found
                transport = self.transport
                step = plan_retry(
                    transport.policy, attempt, transport.budget.remaining(), None, transport.rng
                )
                if not step.retry:
                    raise GitLabActionError(
                        f"{exc} (not found when looked up; {step.reason})", exc.kind
                    ) from None
                transport.sleep(step.delay_s)

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
