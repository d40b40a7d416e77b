"""What the healthy path must not import: one list, for the test that guards it
(tests/run/test_healthy_path_imports.py) and for ``make bench``, which prints the count.

Every dind job pays for a bare ``dind-preflight run`` (and ``probe``) against a healthy daemon.
What it needs is the settings checks, the socket probe and a fixed JUnit text; the diagnosis, the
GitLab and Kubernetes clients, the XML writer, TLS, argument parsing and ``typing`` are for the
other paths, and each import costs every job a few milliseconds (``python -X importtime``).
"""

from __future__ import annotations

from pathlib import Path

# Modules (and packages: every submodule counts) a healthy bare run or probe must not import.
MUST_NOT_IMPORT = frozenset(
    {
        # the HTTP library and TLS the socket probe does not use, and what they pull in
        "http.client",
        "ssl",
        "email",
        # the XML writer and the diagnosis, GitLab and Kubernetes machinery
        "xml.etree.ElementTree",
        "preflight.diagnosis",
        "preflight.gitlab.client",
        "preflight.gitlab.issue_text",
        "preflight.artifacts.junit",
        "preflight.kube.client",
        "preflight.node",
        # a bare command needs no parser; type hints need no runtime typing
        "argparse",
        "typing",
        # third-party clients
        "requests",
        "urllib3",
        "gitlab",
        "docker",
        "kubernetes",
    }
)


def imported(importtime_stderr: str) -> list[str]:
    """The modules ``python -X importtime`` reports as imported, in order."""
    return [
        line.rsplit("|", 1)[1].strip()
        for line in importtime_stderr.splitlines()
        if line.startswith("import time:") and "imported package" not in line
    ]


def forbidden(names: list[str]) -> list[str]:
    """Those of ``names`` that :data:`MUST_NOT_IMPORT` lists (a package or one of its modules)."""
    return sorted(
        {
            name
            for name in names
            if any(name == banned or name.startswith(banned + ".") for banned in MUST_NOT_IMPORT)
        }
    )


def gitlab_job_variables(workdir: Path) -> dict[str, str]:
    """What GitLab sets in a job (its predefined variables), plus the component's GitLab settings
    (a token file in ``workdir`` and a report project), so that every up-front check runs as in a
    real job."""
    token_file = workdir / "token"
    token_file.write_text("glpat-example-token-0123456789\n")
    return {
        "CI": "true",
        "GITLAB_CI": "true",
        "CI_SERVER_URL": "https://gitlab.example.com",
        "CI_API_V4_URL": "https://gitlab.example.com/api/v4",
        "CI_SERVER_HOST": "gitlab.example.com",
        "CI_SERVER_PORT": "443",
        "CI_PROJECT_ID": "42",
        "CI_PROJECT_PATH": "group/project",
        "CI_JOB_ID": "1001",
        "CI_JOB_URL": "https://gitlab.example.com/group/project/-/jobs/1001",
        "CI_RUNNER_ID": "7",
        "CI_JOB_TOKEN": "job-token-not-a-secret-here",
        "DIND_PREFLIGHT_GITLAB_TOKEN_FILE": str(token_file),
        "DIND_PREFLIGHT_REPORT_PROJECT": "group/dind-incidents",
    }
