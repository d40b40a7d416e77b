"""`dind-preflight run` as a process: skip, usage errors, and a job log reader that goes away."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.harness.dockerd import free_port


def preflight_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "DIND_", "CI_"))}
    env.pop("KUBERNETES_SERVICE_HOST", None)
    env["DIND_PREFLIGHT_ARTIFACTS_DIR"] = str(tmp_path / "reports")
    env.update(extra)
    return env


def run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "preflight", "run"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_job_without_dind_is_skipped_at_once(tmp_path: Path) -> None:
    result = run(preflight_env(tmp_path))
    assert result.returncode == 0
    assert result.stdout == (
        "dind-preflight: skipped: DOCKER_HOST is not set: this job does not use a dind service\n"
    )
    assert not (tmp_path / "reports").exists()


def test_invalid_docker_host_is_one_line_and_64(tmp_path: Path) -> None:
    result = run(preflight_env(tmp_path, DOCKER_HOST="htp://x"))
    assert result.returncode == 64
    assert result.stderr.count("\n") == 1 and "invalid DOCKER_HOST 'htp://x'" in result.stderr


def test_invalid_action_is_one_line_and_64(tmp_path: Path) -> None:
    env = preflight_env(tmp_path, DOCKER_HOST="tcp://127.0.0.1:2375", DIND_PREFLIGHT_ACTION="x")
    result = run(env)
    assert result.returncode == 64
    assert result.stderr.strip() == (
        "dind-preflight: error: action must be one of auto, pause-runner, taint-node, none, got 'x'"
    )


def test_a_reader_that_goes_away_does_not_change_the_exit_code(tmp_path: Path) -> None:
    env = preflight_env(
        tmp_path, DOCKER_HOST=f"tcp://127.0.0.1:{free_port()}", DIND_PREFLIGHT_TIMEOUT="0.5"
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "preflight", "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # like `| head -0`: every write to stdout now fails with EPIPE
    stderr = process.stderr.read()
    assert process.wait(timeout=60) == 69
    assert "Traceback" not in stderr and "internal error" not in stderr
    assert (tmp_path / "reports" / "junit.xml").is_file()
