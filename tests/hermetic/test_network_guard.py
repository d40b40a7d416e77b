"""The session guard notices any change to a namespace's rulesets, links and routes, and only that."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness.netns import Netns, private_netns
from tests.harness.network_state import snapshot

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def netns() -> Netns:  # type: ignore[misc]
    with private_netns() as namespace:
        yield namespace


def test_traffic_alone_changes_nothing(netns: Netns) -> None:
    netns.run("iptables", "-A", "INPUT", "-i", "lo", "-j", "ACCEPT")
    netns.run(
        "nft",
        "add table inet guard; add chain inet guard c { type filter hook input priority 0; counter; }",
    )
    before = snapshot(netns.prefix())
    netns.run("ping", "-c", "2", "-i", "0.2", "127.0.0.1", check=False)
    for view in ("iptables-save", "nft list ruleset"):
        assert any(
            "counter" in text or "ACCEPT" in text for name, text in before.views if name == view
        )
    assert before.diff(snapshot(netns.prefix())) == ""


def test_a_docker_chain_a_link_and_a_route_are_noticed(netns: Netns) -> None:
    before = snapshot(netns.prefix())
    netns.run("iptables", "-N", "DOCKER")
    netns.run("ip", "link", "add", "br-guard", "type", "bridge")
    netns.run("ip", "route", "add", "blackhole", "192.0.2.0/24")
    netns.run("nft", "add table ip leftover; add chain ip leftover c; add rule ip leftover c drop")
    difference = before.diff(snapshot(netns.prefix()))
    assert "+:DOCKER - [0:0]" in difference
    assert "br-guard" in difference and "+blackhole 192.0.2.0/24" in difference
    assert "+table ip leftover {" in difference and "+\t\tdrop" in difference


def test_an_empty_table_is_no_change(netns: Netns) -> None:
    """The first iptables call in a namespace creates an empty filter table: it filters nothing."""
    before = snapshot(netns.prefix())
    netns.run("iptables", "-L", "-n")
    netns.run("ip6tables", "-L", "-n")
    netns.run("nft", "add table ip empty")
    assert before.diff(snapshot(netns.prefix())) == ""


def test_a_removed_rule_is_noticed(netns: Netns) -> None:
    netns.run("iptables", "-N", "DOCKER")
    netns.run("iptables", "-A", "DOCKER", "-p", "tcp", "--dport", "8080", "-j", "ACCEPT")
    before = snapshot(netns.prefix())
    netns.run("iptables", "-F", "DOCKER")
    assert "--dport 8080 -j ACCEPT" in before.diff(snapshot(netns.prefix()))


_LEAKY_TEST = """
import subprocess

def test_leaves_a_chain_behind():
    subprocess.run(["iptables", "-N", "LEFTOVER"], check=True)
"""

_TIDY_TEST = """
import subprocess

def test_cleans_up():
    subprocess.run(["iptables", "-N", "TIDY"], check=True)
    subprocess.run(["iptables", "-X", "TIDY"], check=True)
"""


def _session_in(netns: Netns, tmp_path: Path, test_text: str) -> subprocess.CompletedProcess[str]:
    """A pytest session, with this suite's guard, inside ``netns``."""
    (tmp_path / "conftest.py").write_text(
        "from tests.conftest import pytest_sessionfinish, pytest_sessionstart  # noqa: F401\n"
    )
    (tmp_path / "test_it.py").write_text(test_text)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run(
        [
            *netns.prefix(),
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:randomly",
            "--rootdir",
            str(tmp_path),
            "-c",
            os.devnull,
            str(tmp_path),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_guard_fails_a_session_that_leaves_a_chain(netns: Netns, tmp_path: Path) -> None:
    result = _session_in(netns, tmp_path, _LEAKY_TEST)
    assert result.returncode == pytest.ExitCode.TESTS_FAILED, result.stdout + result.stderr
    assert "1 passed" in result.stdout  # the test itself passed: the guard failed the session
    assert "network namespace changed" in result.stdout
    assert "+:LEFTOVER - [0:0]" in result.stdout


def test_the_guard_passes_a_session_that_cleans_up(netns: Netns, tmp_path: Path) -> None:
    result = _session_in(netns, tmp_path, _TIDY_TEST)
    assert result.returncode == pytest.ExitCode.OK, result.stdout + result.stderr
    assert "network namespace changed" not in result.stdout
