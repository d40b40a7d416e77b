"""`make demo` is one of the two sacred set-up commands: it must keep telling the story, and it must
be safe on a laptop that runs Docker: the machine's rulesets, links and routes stay as they were."""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness.netns import Netns, private_netns
from tests.harness.network_state import NetworkState, snapshot

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.dockerd

# What a host Docker (20.10, iptables) leaves in its namespace with one container publishing
# 8080 -> 172.17.0.2:80 (`iptables-save` on such a host; the shape moby's bridge driver programs).
DOCKER_HOST_RULES = """*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:DOCKER - [0:0]
-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER
-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
-A POSTROUTING -s 172.17.0.2/32 -d 172.17.0.2/32 -p tcp -m tcp --dport 80 -j MASQUERADE
-A DOCKER -i docker0 -j RETURN
-A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:DOCKER - [0:0]
:DOCKER-ISOLATION-STAGE-1 - [0:0]
:DOCKER-ISOLATION-STAGE-2 - [0:0]
:DOCKER-USER - [0:0]
-A FORWARD -j DOCKER-USER
-A FORWARD -j DOCKER-ISOLATION-STAGE-1
-A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -o docker0 -j DOCKER
-A FORWARD -i docker0 ! -o docker0 -j ACCEPT
-A FORWARD -i docker0 -o docker0 -j ACCEPT
-A DOCKER -d 172.17.0.2/32 ! -i docker0 -o docker0 -p tcp -m tcp --dport 80 -j ACCEPT
-A DOCKER-ISOLATION-STAGE-1 -i docker0 ! -o docker0 -j DOCKER-ISOLATION-STAGE-2
-A DOCKER-ISOLATION-STAGE-1 -j RETURN
-A DOCKER-ISOLATION-STAGE-2 -o docker0 -j DROP
-A DOCKER-ISOLATION-STAGE-2 -j RETURN
-A DOCKER-USER -j RETURN
COMMIT
"""
PUBLISHED_PORT_RULE = (
    "-A DOCKER -d 172.17.0.2/32 ! -i docker0 -o docker0 -p tcp -m tcp --dport 80 -j ACCEPT"
)


@pytest.fixture
def laptop_with_docker() -> Iterator[Netns]:
    """A namespace set up like a machine running Docker: docker0 with a container's veth, its
    route, its chains."""
    with private_netns() as netns:
        netns.run("ip", "link", "add", "docker0", "type", "bridge")
        netns.run("ip", "addr", "add", "172.17.0.1/16", "dev", "docker0")
        netns.run("ip", "link", "add", "veth0c1d2e3", "type", "veth", "peer", "name", "eth0c")
        netns.run("ip", "link", "set", "veth0c1d2e3", "master", "docker0")
        for link in ("eth0c", "veth0c1d2e3", "docker0"):
            netns.run("ip", "link", "set", link, "up")
        restored = subprocess.run(
            [*netns.prefix(), "iptables-restore"],
            input=DOCKER_HOST_RULES,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert restored.returncode == 0, restored.stderr
        yield netns


def settled(netns: Netns, timeout: float = 20.0) -> NetworkState:
    """The namespace's state once links have come up (two snapshots in a row agree)."""
    deadline = time.monotonic() + timeout
    previous = snapshot(netns.prefix())
    while True:
        time.sleep(0.5)
        current = snapshot(netns.prefix())
        if current == previous or time.monotonic() > deadline:
            return current
        previous = current


def test_make_demo_replays_the_field_report_and_leaves_docker_alone(
    laptop_with_docker: Netns, tmp_path: Path
) -> None:
    before = settled(laptop_with_docker)
    assert PUBLISHED_PORT_RULE in dict(before.views)["iptables-save"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "CI_", "DIND_"))}
    env = {k: v for k, v in env.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    env["TMPDIR"] = str(tmp_path)  # the demo's state directory: how its processes are found below
    result = subprocess.run(
        [*laptop_with_docker.prefix(), "make", "--no-print-directory", "demo"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    codes = re.findall(r"^\(exit code (\d+)\)$", out, flags=re.MULTILINE)
    # node-report on the broken root, run on the broken node, node-report fixed, run healthy.
    assert codes == ["1", "75", "0", "0"], out
    broken, fixed = out.split("== 2. after the fix", 1)
    assert "Table does not exist (do you need to insmod?)" in broken
    assert "etc-modules-not-read" in broken
    assert "dind-preflight: FAILED:" in broken and "iptable_nat-missing" in broken
    assert "dry run (DIND_PREFLIGHT_GITLAB_TOKEN is not set): nothing was sent" in broken
    # The runner comes from GET /job (the job's own token), never from CI_RUNNER_ID.
    assert "GET /api/v4/job HTTP/1.1\nHost: gitlab.example.com\n" in broken
    assert "PUT /api/v4/runners/<id> HTTP/1.1\nHost: gitlab.example.com\n" in broken
    assert "1. Write /etc/modules-load.d/iptable_nat.conf:" in broken
    # The field report's run log: one summary line and three short sections, in 60 lines.
    run_log = broken.split("dind-preflight run\n", 1)[1].split("\n(exit code 75)\n", 1)[0]
    assert run_log.startswith("dind-preflight: FAILED: ")
    assert len(run_log.splitlines()) <= 60, run_log
    assert "section_start" not in run_log  # a terminal, not a GitLab job: plain headings
    measured = re.search(r"^\(the job log of run: (\d+) lines\)$", out, flags=re.MULTILINE)
    assert measured is not None and int(measured.group(1)) == len(run_log.splitlines())
    assert "dind-preflight: OK: dind at tcp://127.0.0.1:" in fixed
    # The "laptop's" Docker keeps its chains, its published port, its bridge and its routes.
    difference = before.diff(snapshot(laptop_with_docker.prefix()))
    assert difference == "", difference
    # Every process the demo started is gone, and so is its state directory (mktemp in TMPDIR).
    leftovers = subprocess.run(
        ["pgrep", "-f", str(tmp_path)], capture_output=True, text=True, check=False
    )
    assert leftovers.stdout.strip() == ""
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("dind-preflight-demo.")] == []
