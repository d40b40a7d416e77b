"""Where the GitLab tokens come from: a file (preferred) or a variable, one for each use.

Two tokens can be given, so that each grants only what its use needs:

- the **runner token** (``DIND_PREFLIGHT_GITLAB_TOKEN_FILE`` or ``DIND_PREFLIGHT_GITLAB_TOKEN``,
  ``--token-file``): scope ``manage_runner``, pauses the job's runner;
- the **issues token** (``DIND_PREFLIGHT_ISSUES_TOKEN_FILE`` or ``DIND_PREFLIGHT_ISSUES_TOKEN``):
  a project access token of the incident project, role Reporter, scope ``api``; files issues.
  Without it the runner token files the issues too.

A file wins over a variable, so a GitLab "File" variable or a mounted Secret key never passes
through a shell. Beside the runner token file (other keys of the same Secret), a file named
``gitlab-url`` pins the GitLab URL the tokens may be sent to (:mod:`preflight.gitlab.destination`)
and a file named ``issues-token`` is the issues token.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from preflight.errors import UsageError
from preflight.input_files import MAX_TOKEN_BYTES, read_text
from preflight.redaction import register_secret

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
