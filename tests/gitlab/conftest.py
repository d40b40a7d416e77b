"""Fixtures of the GitLab tests: the fake GitLab server."""

from tests.gitlab.fake_gitlab import fake_gitlab

__all__ = ["fake_gitlab"]
