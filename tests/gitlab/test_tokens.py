"""Where the tokens come from: files win, empty files are no token, keys beside the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from preflight.errors import InputError, UsageError
from preflight.gitlab.client import read_tokens
from preflight.redaction import redact

RUNNER = "glpat-RunnerT0ken-aaaa1111"
ISSUES = "glpat-IssuesT0ken-bbbb2222"


def _secret(tmp_path: Path, **keys: str) -> Path:
    directory = tmp_path / "secret"
    directory.mkdir()
    for name, value in keys.items():
        (directory / name.replace("_", "-")).write_text(value)
    return directory


def test_the_file_wins_over_the_variable_and_its_newline_is_dropped(tmp_path: Path) -> None:
    secret = _secret(tmp_path, gitlab_token=RUNNER + "\n")
    tokens = read_tokens(
        {
            "DIND_PREFLIGHT_GITLAB_TOKEN_FILE": str(secret / "gitlab-token"),
            "DIND_PREFLIGHT_GITLAB_TOKEN": "glpat-fromTheJobItself-1",
        }
    )
    assert tokens.runner == RUNNER and tokens.issues == RUNNER
    assert tokens.pinned_url is None
    assert RUNNER not in redact(f"x {RUNNER} y")


def test_an_empty_token_file_is_no_token(tmp_path: Path) -> None:
    secret = _secret(tmp_path, gitlab_token="")
    tokens = read_tokens({"DIND_PREFLIGHT_GITLAB_TOKEN_FILE": str(secret / "gitlab-token")})
    assert tokens.runner is None and tokens.issues is None


def test_the_keys_beside_the_token_file_pin_the_url_and_give_the_issues_token(
    tmp_path: Path,
) -> None:
    secret = _secret(
        tmp_path,
        gitlab_token=RUNNER,
        gitlab_url="https://gitlab.example.com\n",
        issues_token=ISSUES,
    )
    tokens = read_tokens({}, token_file=str(secret / "gitlab-token"))
    assert tokens.runner == RUNNER and tokens.issues == ISSUES
    assert tokens.pinned_url == "https://gitlab.example.com"
    assert tokens.pinned_url_source == str(secret / "gitlab-url")


def test_a_bad_token_is_named_by_its_source_never_shown(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as caught:
        read_tokens({"DIND_PREFLIGHT_ISSUES_TOKEN": "two words"})
    assert "DIND_PREFLIGHT_ISSUES_TOKEN is not a usable GitLab token" in str(caught.value)
    assert "two words" not in str(caught.value)


def test_a_token_file_that_is_a_fifo_is_refused_at_once(tmp_path: Path) -> None:
    import os

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match=r"not a regular file \(a FIFO\)"):
        read_tokens({"DIND_PREFLIGHT_GITLAB_TOKEN_FILE": str(fifo)})
