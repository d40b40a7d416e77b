"""The healthy path every dind job pays for imports only what it needs (issue 21).

The installed ``dind-preflight`` runs as a process, as the component's ``before_script`` runs it,
in a GitLab job's environment (the ``CI_*`` variables GitLab sets, a token file and a report
project, so that every up-front check runs), against a loopback daemon answering ``/_ping``.
``python -X importtime`` lists what it imported; none of the modules the failure paths use may be
among them. ``make bench`` prints what this costs against ``docker info``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness.healthy_path import (
    MUST_NOT_IMPORT,
    forbidden,
    gitlab_job_variables,
    imported,
)
from tests.run.test_settings_up_front import HealthyDaemon, daemon, healthy_env

__all__ = ["daemon"]  # the fixture

CLI = Path(sys.executable).parent / "dind-preflight"


def gitlab_job_env(tmp_path: Path, healthy: HealthyDaemon) -> dict[str, str]:
    return healthy_env(tmp_path, healthy, **gitlab_job_variables(tmp_path))


def healthy_imports(command: str, env: dict[str, str]) -> list[str]:
    """Run the installed ``dind-preflight COMMAND`` under ``python -X importtime``; it must exit 0
    and say healthy. Returns the modules it imported."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", str(CLI), command],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "healthy" in result.stdout
    return imported(result.stderr)


@pytest.mark.parametrize("command", ["run", "probe"])
def test_a_healthy_bare_command_imports_none_of_the_failure_paths(
    tmp_path: Path, daemon: HealthyDaemon, command: str
) -> None:
    names = healthy_imports(command, gitlab_job_env(tmp_path, daemon))
    assert "preflight.probe.transport" in names  # the probe did run, in this process
    assert forbidden(names) == []


def test_the_guard_sees_a_forbidden_module() -> None:
    assert forbidden(["re", "email.parser", "preflight.diagnosis.model", "typing"]) == [
        "email.parser",
        "preflight.diagnosis.model",
        "typing",
    ]
    assert "emailer" not in MUST_NOT_IMPORT and forbidden(["emailer"]) == []


def test_the_bench_stand_in_runs_the_healthy_path_without_inspect(
    tmp_path: Path, daemon: HealthyDaemon
) -> None:
    """``make bench`` measures what dataclasses cost by running this same ``run`` with
    bench/stand_in/dataclasses.py first on PYTHONPATH: the run must still be healthy, and the
    stand-in must indeed leave out what it claims to (``inspect`` and the real module)."""
    stand_in = Path(__file__).resolve().parents[2] / "bench" / "stand_in"
    names = healthy_imports(
        "run", {**gitlab_job_env(tmp_path, daemon), "PYTHONPATH": str(stand_in)}
    )
    assert "dataclasses" in names and "inspect" not in names
