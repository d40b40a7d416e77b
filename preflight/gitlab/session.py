"""The python-gitlab client for one report, and the mapping of its failures to one line.

``open_client`` builds a ``gitlab.Gitlab`` on a :class:`~preflight.gitlab.transport.RetryingSession`
(retries, backoff with jitter, ``Retry-After``, one time budget) and registers the tokens for
redaction. ``GitLabClient.call`` runs one python-gitlab operation and turns every way it can fail
into a :class:`~preflight.gitlab.failures.GitLabActionError` whose message names the missing scope,
role or setting and never contains a token.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, TypeVar

from preflight import __version__
from preflight.gitlab.failures import (
    Action,
    FailureKind,
    GitLabActionError,
    describe_http_failure,
    describe_malformed,
)
from preflight.gitlab.retry_policy import RetryPolicy
from preflight.gitlab.settings import GitLabSettings
from preflight.redaction import redact, register_secret

if TYPE_CHECKING:
    from preflight.gitlab.transport import RetryingSession

T = TypeVar("T")
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
        import requests

        from preflight.gitlab.transport import (
            GitLabOutcomeUnknown,
            GitLabRedirected,
            GitLabUnavailable,
        )

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

    from preflight.gitlab.transport import Budget, RetryingSession

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
        )

    api = connect(settings.token)
    issues_api = connect(settings.issues_token) if settings.issues_token else None
    return GitLabClient(settings=settings, api=api, transport=transport, issues_api=issues_api)
