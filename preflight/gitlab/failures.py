"""GitLab failures as one line that says what to fix (pure): the missing scope, role or setting."""

from __future__ import annotations

import json
from enum import Enum

from preflight.errors import PreflightError
from preflight.exitcodes import ExitCode
from preflight.gitlab.markdown import one_line
from preflight.redaction import redact


class Action(str, Enum):
    """What we were doing when GitLab refused: decides which permission the message names."""

    LOOKUP_JOB = "look up the job's runner (GET /job)"
    READ_RUNNER = "read runner"
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
    if action is Action.LOOKUP_JOB:
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
        return (
            f"cannot {what} with CI_JOB_TOKEN (HTTP {status}): set CI_RUNNER_ID or --runner-id",
            FailureKind.CONFIG,
        )
    if status == 401:
        return (
            f"cannot {what}: GitLab rejected the token (401): DIND_PREFLIGHT_GITLAB_TOKEN is "
            "invalid, expired or revoked",
            FailureKind.PERMISSION,
        )
    if status == 403:
        scope = required_scope_hint(body)
        if action in (Action.READ_RUNNER, Action.PAUSE_RUNNER):
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
