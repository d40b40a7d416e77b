"""Fixtures of the reporter tests: the fake Kubernetes API and the fake GitLab."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.gitlab.fake_gitlab import FakeGitLab, fake_gitlab
from tests.gitlab.support import PROJECT, TOKEN
from tests.kube.fake_cluster import FakeCluster, running_cluster
from tests.reporter.support import RUNNER

__all__ = ["fake_gitlab"]


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[FakeCluster]:
    with running_cluster(tmp_path) as fake:
        yield fake


@pytest.fixture
def gitlab(fake_gitlab: FakeGitLab) -> FakeGitLab:
    """The fake GitLab with an admin token, runner 42 and the report project."""
    fake_gitlab.add_token(TOKEN, scopes=("api",), admin=True)
    fake_gitlab.add_runner(RUNNER)
    fake_gitlab.add_project(PROJECT, project_id=5)
    return fake_gitlab
