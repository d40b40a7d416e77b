"""Harness daemons live in their own network namespace, yet answer on this namespace's loopback."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.harness.dockerd import running_dockerd
from tests.harness.network_state import snapshot

pytestmark = pytest.mark.dockerd


def docker(host: str, *args: str) -> subprocess.CompletedProcess[str]:
    cli = shutil.which("docker")
    if cli is None:
        pytest.fail("the docker CLI is not installed (make test installs docker.io)")
    return subprocess.run(
        [cli, "--host", host, *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_iptables_and_a_bridge_network_stay_in_the_daemons_namespace(tmp_path: Path) -> None:
    before = snapshot()
    with running_dockerd(iptables=True, workdir=tmp_path / "d") as daemon:
        created = docker(daemon.tcp_host, "network", "create", "--label", "t", "isolation-net")
        assert created.returncode == 0, created.stderr
        bridge = f"br-{created.stdout.strip()[:12]}"
        inside = subprocess.run(
            daemon.in_netns(["ip", "-o", "link", "show", bridge]),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert inside.returncode == 0, inside.stderr  # the bridge is there, in its namespace
        chains = subprocess.run(
            daemon.in_netns(["iptables-save", "-t", "filter"]),
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
        assert ":DOCKER - " in chains and f"-o {bridge}" in chains
        # ... and nothing of it here, while the daemon runs.
        assert before.diff(snapshot()) == ""
        removed = docker(daemon.unix_host, "network", "rm", "isolation-net")
        assert removed.returncode == 0, removed.stderr
    assert before.diff(snapshot()) == ""


def test_a_dead_daemons_port_refuses_connections(tmp_path: Path) -> None:
    """The listening socket handed to dockerd closes with it: nothing else holds the port."""
    with running_dockerd(nat_missing=True, workdir=tmp_path / "d") as daemon:
        assert daemon.wait_exit(timeout=60) != 0
        version = docker(daemon.tcp_host, "version", "--format", "{{.Server.Version}}")
    assert version.returncode != 0
    assert "Cannot connect to the Docker daemon" in version.stderr
