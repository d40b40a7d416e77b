"""Progress on stderr: nothing for a quick run, one line per phase once it takes a while."""

from __future__ import annotations

import dataclasses
import io
import os
import socket
import subprocess
import sys
from pathlib import Path

from preflight.probe.api import probe
from preflight.probe.endpoint import resolve_endpoint
from preflight.progress import Progress, waiting_line


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_quiet_for_two_seconds_then_each_phase_once() -> None:
    clock, out = Clock(), io.StringIO()
    progress = Progress(out, clock=clock)
    waiting = waiting_line("tcp://docker:2376", 30)
    clock.now += 1.9
    progress.phase(waiting)
    assert out.getvalue() == ""
    clock.now += 0.2
    progress.phase(waiting)
    progress.phase(waiting)
    progress.phase("dind is refused: diagnosing...")
    assert out.getvalue().splitlines() == [
        "dind-preflight: waiting for dind at tcp://docker:2376 (timeout 30 s)...",
        "dind-preflight: dind is refused: diagnosing...",
    ]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_slow_run_says_what_it_waits_for_on_stderr(tmp_path: Path) -> None:
    host = f"tcp://127.0.0.1:{_closed_port()}"
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "CI_", "DIND_", "KUBE"))
    }
    env.update(
        DOCKER_HOST=host, DIND_PREFLIGHT_TIMEOUT="3", DIND_PREFLIGHT_ARTIFACTS_DIR=str(tmp_path)
    )
    result = subprocess.run(
        [sys.executable, "-m", "preflight", "run"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 69, result.stdout + result.stderr
    lines = result.stderr.splitlines()
    assert lines[0] == f"dind-preflight: waiting for dind at {host} (timeout 3 s)..."
    assert lines[1] == "dind-preflight: dind is refused: diagnosing..."
    assert "waiting for dind" not in result.stdout  # the job log's story stays on stdout


def test_no_dind_hint_without_docker_host(tmp_path: Path) -> None:
    """Without DOCKER_HOST there is no dind: no advice to read a dind service log."""
    default = resolve_endpoint({}, None, os.path.isfile)
    assert default.host_source == "default"
    missing = dataclasses.replace(default, socket_path=str(tmp_path / "docker.sock"))
    result = probe(missing, 0.2, wait=False)
    assert result.verdict.value == "refused"
    assert "dind service log" not in result.hint
    assert result.hint.startswith("DOCKER_HOST is not set")
    configured = resolve_endpoint(
        {"DOCKER_HOST": f"unix://{tmp_path}/docker.sock"}, None, os.path.isfile
    )
    assert "dind service log" in probe(configured, 0.2, wait=False).hint
