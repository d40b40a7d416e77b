"""Tests of the GitLab report (issue 5); ``fake_gitlab`` is reusable from other test folders."""
