"""Fixtures of the end-to-end tests: the stateful fake GitLab of tests/gitlab."""

from tests.gitlab.fake_gitlab import fake_gitlab

__all__ = ["fake_gitlab"]
