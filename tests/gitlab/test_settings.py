"""Settings from the job environment and flags: a table of valid and invalid inputs."""

from __future__ import annotations

from typing import Any

import pytest

from preflight.errors import UsageError
from preflight.exitcodes import ExitCode
from preflight.gitlab.client import GitLabSettings, settings_from_env
from preflight.redaction import redact
from tests.gitlab.support import TOKEN

BASE = {
    "CI_API_V4_URL": "https://gitlab.example.com/api/v4",
    "CI_SERVER_URL": "https://gitlab.example.com",
    "CI_SERVER_HOST": "gitlab.example.com",
    "CI_RUNNER_ID": "42",
    "CI_JOB_ID": "1001",
    "CI_JOB_URL": "https://gitlab.example.com/g/app/-/jobs/1001",
    "CI_PROJECT_PATH": "g/app",
    "DIND_PREFLIGHT_GITLAB_TOKEN": TOKEN,
    "DIND_PREFLIGHT_REPORT_PROJECT": "ops/node-health",
}


@pytest.mark.parametrize(
    ("env", "overrides", "expected"),
    [
        (
            BASE,
            {},
            {
                "server_url": "https://gitlab.example.com",
                "runner_id": 42,
                "job_id": 1001,
                "report_project": "ops/node-health",
                "project_path": "g/app",
                "dry_run": False,
                "api_url": "https://gitlab.example.com/api/v4",
            },
        ),
        # Flags override the environment.
        (
            {**BASE, "DIND_PREFLIGHT_ALLOW_HTTP": "1"},
            {"runner_id": "7", "report_project": "123", "gitlab_url": "http://127.0.0.1:8080/"},
            {"runner_id": 7, "report_project": "123", "server_url": "http://127.0.0.1:8080"},
        ),
        # CI_API_V4_URL wins over CI_SERVER_URL and keeps a relative URL root.
        (
            {
                **BASE,
                "CI_API_V4_URL": "https://h.example/gitlab/api/v4/",
                "CI_SERVER_HOST": "h.example",
            },
            {},
            {"server_url": "https://h.example/gitlab"},
        ),
        ({**BASE, "CI_API_V4_URL": ""}, {}, {"server_url": "https://gitlab.example.com"}),
        # Empty means unset: no token is a dry run, no project means no issue.
        (
            {**BASE, "DIND_PREFLIGHT_GITLAB_TOKEN": "", "DIND_PREFLIGHT_REPORT_PROJECT": ""},
            {},
            {"dry_run": True, "report_project": None, "token": None},
        ),
        ({**BASE, "CI_RUNNER_ID": ""}, {}, {"runner_id": None}),
        (BASE, {"dry_run": True}, {"dry_run": True}),
        (
            {**BASE, "DIND_PREFLIGHT_GITLAB_TIMEOUT": "2.5", "DIND_PREFLIGHT_GITLAB_BUDGET": "20"},
            {"settle_s": "0"},
            {"timeout_s": 2.5, "budget_s": 20.0, "settle_s": 0.0},
        ),
        ({**BASE, "CI_PROJECT_PATH": "not a path"}, {}, {"project_path": None}),
        # Without a token, no URL is fine (dry run prints relative paths).
        ({"CI_RUNNER_ID": "5"}, {}, {"server_url": None, "dry_run": True, "runner_id": 5}),
    ],
)
def test_valid_settings(
    env: dict[str, str], overrides: dict[str, Any], expected: dict[str, Any]
) -> None:
    result = settings_from_env(env, **overrides)
    for key, value in expected.items():
        assert getattr(result, key) == value, key


@pytest.mark.parametrize(
    ("env", "overrides", "message"),
    [
        ({**BASE, "CI_RUNNER_ID": "abc"}, {}, "CI_RUNNER_ID='abc' is not an id"),
        ({**BASE, "CI_RUNNER_ID": "-4"}, {}, "CI_RUNNER_ID='-4' is not an id"),
        (BASE, {"runner_id": "0"}, "--runner-id='0' is not an id"),
        ({**BASE, "CI_JOB_ID": "1.5"}, {}, "CI_JOB_ID='1.5' is not an id"),
        ({**BASE, "CI_API_V4_URL": "htp://x"}, {}, "CI_API_V4_URL='htp://x' is not an http(s) URL"),
        ({**BASE, "CI_API_V4_URL": "https://h:99999/"}, {}, "CI_API_V4_URL is not a valid URL"),
        (BASE, {"gitlab_url": "gitlab.example.com"}, "--gitlab-url='gitlab.example.com' is not"),
        (
            {**BASE, "CI_API_V4_URL": "https://user:hunter22@h.example/api/v4"},
            {},
            "CI_API_V4_URL must not contain credentials",
        ),
        ({**BASE, "CI_JOB_URL": "javascript:x"}, {}, "CI_JOB_URL='javascript:x' is not"),
        (
            {**BASE, "DIND_PREFLIGHT_REPORT_PROJECT": "ops/../x"},
            {},
            "DIND_PREFLIGHT_REPORT_PROJECT='ops/../x' is not a project id or path",
        ),
        (BASE, {"report_project": "just-a-name"}, "--report-project='just-a-name' is not"),
        (
            {**BASE, "DIND_PREFLIGHT_GITLAB_TOKEN": "has space inside"},
            {},
            "DIND_PREFLIGHT_GITLAB_TOKEN is not a usable GitLab token",
        ),
        ({**BASE, "DIND_PREFLIGHT_GITLAB_TIMEOUT": "0"}, {}, "must be more than 0 to 300"),
        ({**BASE, "DIND_PREFLIGHT_GITLAB_BUDGET": "nan"}, {}, "DIND_PREFLIGHT_GITLAB_BUDGET='nan'"),
        (BASE, {"budget_s": "fast"}, "--budget='fast' is not a number of seconds"),
        (BASE, {"max_notes": "-1"}, "--max-notes='-1' must be a whole number"),
        (
            {"DIND_PREFLIGHT_GITLAB_TOKEN": TOKEN},
            {},
            "a GitLab token is set but the GitLab URL is not",
        ),
    ],
)
def test_invalid_settings_exit_64_with_one_line(
    env: dict[str, str], overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(UsageError) as caught:
        settings_from_env(env, **overrides)
    text = str(caught.value)
    assert message in text
    assert "\n" not in text
    assert caught.value.exit_code is ExitCode.USAGE
    assert "hunter22" not in text
    assert "has space inside" not in text


def test_tokens_are_registered_and_never_in_repr() -> None:
    job_token = "ci-job-token-value-xyz"
    result = settings_from_env({**BASE, "CI_JOB_TOKEN": job_token})
    assert TOKEN not in repr(result)
    assert job_token not in repr(result)
    assert redact(f"a {TOKEN} b {job_token}") == "a [MASKED] b [MASKED]"


def test_unknown_override_is_a_programming_error() -> None:
    with pytest.raises(TypeError):
        settings_from_env(BASE, runner=3)


def test_defaults() -> None:
    assert GitLabSettings().dry_run
    assert GitLabSettings(token=TOKEN, server_url="https://x").dry_run is False


def test_token_file_strips_its_newline_and_a_short_one_is_refused(tmp_path: Any) -> None:
    good = tmp_path / "good"
    good.write_text(TOKEN + "\n")
    assert settings_from_env(BASE, token_file=str(good)).token == TOKEN
    short = tmp_path / "short"
    short.write_text("short")
    with pytest.raises(UsageError, match="--token-file is not a usable GitLab token"):
        settings_from_env(BASE, token_file=str(short))
