"""`dind-preflight reporter` as a process: flags, the token file, one cycle as JSON, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.gitlab.fake_gitlab import FakeGitLab
from tests.kube.fake_cluster import FakeCluster
from tests.reporter.support import RUNNER, node, put_nodes, token_file


def reporter(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "preflight", "reporter", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env=env,
    )


def test_once_converges_and_prints_the_cycle(
    cluster: FakeCluster, gitlab: FakeGitLab, tmp_path: Path
) -> None:
    put_nodes(cluster, node("n0", ready="False"), node("n1", ready="False"), node("n2"))
    env = {
        **os.environ,
        "KUBECONFIG": str(cluster.kubeconfig("dind-preflight")),
        "POD_NAME": "reporter-0",
    }
    env.pop("KUBERNETES_SERVICE_HOST", None)
    result = reporter(
        "--gitlab-url",
        gitlab.url,
        "--token-file",
        token_file(tmp_path),
        "--report-project",
        "ops/node-health",
        "--runner",
        str(RUNNER),
        "--job-namespace",
        "ci",
        "--once",
        env=env,
    )
    assert result.returncode == 0, result.stderr
    cycle = json.loads(result.stdout)
    assert cycle["led"] is True
    assert [a["kind"] for a in cycle["actions"]] == ["OpenIssue", "OpenIssue", "PauseRunner"]
    assert "glpat" not in result.stdout + result.stderr


def test_flag_errors_are_one_line_with_exit_64(tmp_path: Path) -> None:
    token = token_file(tmp_path)
    cases = [
        (["--gitlab-url", "http://gitlab.example.com", "--token-file", token], "must be https://"),
        (
            ["--gitlab-url", "https://g.example", "--token-file", str(tmp_path / "none")],
            "--token-file",
        ),
        (
            ["--gitlab-url", "https://g.example", "--token-file", token, "--max-broken-share", "2"],
            "between 0 and 1",
        ),
        (
            [
                "--gitlab-url",
                "https://g.example",
                "--token-file",
                token,
                "--executor",
                "shell",
                "--runner",
                "7",
            ],
            "ID@NODE",
        ),
    ]
    for args, text in cases:
        result = reporter(*args)
        assert result.returncode in (64, 66), (args, result.stderr)
        assert text in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_the_service_leads_serves_health_and_stops_on_sigterm_releasing_the_lease(
    cluster: FakeCluster, gitlab: FakeGitLab, tmp_path: Path
) -> None:
    import signal
    import time

    import requests

    from tests.harness.dockerd import free_port

    put_nodes(cluster, node("n0", ready="False"), node("n1"), node("n2"))
    port = free_port()
    health_port = free_port()
    env = {
        **os.environ,
        "KUBECONFIG": str(cluster.kubeconfig("dind-preflight")),
        "POD_NAME": "reporter-0",
    }
    env.pop("KUBERNETES_SERVICE_HOST", None)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "preflight",
            "reporter",
            "--gitlab-url",
            gitlab.url,
            "--token-file",
            token_file(tmp_path),
            "--report-project",
            "ops/node-health",
            "--runner",
            str(RUNNER),
            "--job-namespace",
            "ci",
            "--interval",
            "1",
            "--lease-duration",
            "15",
            "--listen",
            f"127.0.0.1:{port}",
            "--health-port",
            str(health_port),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        health = ""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                health = requests.get(
                    f"http://127.0.0.1:{health_port}/healthz", timeout=2
                ).text.strip()
            except requests.RequestException:
                health = ""
            if health == "leader" and gitlab.project_issues(5, "opened"):
                break
            time.sleep(0.1)
        assert health == "leader"
        assert len(gitlab.project_issues(5, "opened")) == 1
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr
    lease = cluster.get(
        "coordination.k8s.io/v1/leases", "dind-preflight", "dind-preflight-reporter"
    )
    assert lease is not None and lease["spec"].get("holderIdentity") is None
    assert "glpat" not in stderr
