"""The demo's daemon launcher: a daemon that outlives the launcher, stopped by PID afterwards."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.harness.launch import _alive
from tests.probe.conftest import probe_env, run_probe

ROOT = Path(__file__).resolve().parents[2]


def launch(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tests.harness.launch", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def test_start_probe_stop() -> None:
    workdir = Path(os.environ.get("TMPDIR", "/tmp")) / f"dp-launch-{os.getpid()}"
    try:
        started = launch("start", "healthy", str(workdir))
        assert started.returncode == 0, started.stderr
        state = dict(line.split("=", 1) for line in started.stdout.splitlines())
        pid = int(state["DAEMON_PID"].strip("'"))
        assert _alive(pid)
        run = run_probe(env=probe_env({"DOCKER_HOST": state["DAEMON_HOST"].strip("'")}))
        assert run.code == 0 and "is healthy" in run.stdout
    finally:
        stopped = launch("stop", str(workdir))
    assert stopped.returncode == 0, stopped.stderr
    assert not _alive(pid)
    assert not workdir.exists()
