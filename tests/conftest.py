"""Fixtures shared by every test folder: real dockerd processes and misbehaving listeners.

The session's guard: the rulesets, links and routes of the network namespace pytest runs in (the
machine's under `make test`) are the same after the session as before it, or the session fails
with the difference. It works the same in the machine's namespace and inside ``unshare -n``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness.dockerd import Dockerd, running_dockerd
from tests.harness.listeners import silent_listener
from tests.harness.network_state import NetworkState, missing_tools, snapshot

_BEFORE = pytest.StashKey[NetworkState]()
_TREE_BEFORE = pytest.StashKey[frozenset[str]]()
_REPO = Path(__file__).resolve().parent.parent


def _work_tree_files() -> frozenset[str]:
    """The repository's untracked, not ignored files (empty outside a git checkout)."""
    try:
        listed = subprocess.run(
            ["git", "-C", str(_REPO), "ls-files", "--others", "--exclude-standard", "-z"],
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return frozenset()
    return frozenset(name.decode(errors="replace") for name in listed.split(b"\0") if name)


def pytest_sessionstart(session: pytest.Session) -> None:
    """Snapshot the namespace's rulesets, links and routes before any test runs."""
    missing = missing_tools()
    if missing:
        raise pytest.UsageError(
            f"the network guard needs {', '.join(missing)} (make test installs nftables, iproute2, iptables)"
        )
    session.stash[_BEFORE] = snapshot()
    session.stash[_TREE_BEFORE] = _work_tree_files()


def pytest_sessionfinish(session: pytest.Session) -> None:
    """After every fixture is torn down: fail the session if the namespace or the work tree changed."""
    before = session.stash.get(_BEFORE, None)
    if before is None:
        return
    problems: list[tuple[str, str]] = []
    difference = before.diff(snapshot())
    if difference:
        problems.append(
            (
                "network namespace changed",
                "the test session changed this network namespace's rulesets, links or routes "
                "(tests must leave the machine as they found it):\n" + difference,
            )
        )
    left = sorted(_work_tree_files() - session.stash.get(_TREE_BEFORE, frozenset()))
    if left:
        problems.append(
            (
                "work tree changed",
                "the test session left files in the work tree (tests write under tmp_path):\n"
                + "\n".join(repr(name) for name in left[:20]),
            )
        )
    if not problems:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    for title, message in problems:
        if reporter is not None:
            reporter.write_sep("=", title, red=True)
            reporter.write_line(message)
        else:
            print(message)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _require_dockerd() -> None:
    # No skip: `make test` installs docker.io; a missing daemon binary is a failure.
    if shutil.which("dockerd") is None:
        pytest.fail("dockerd is not installed (run `make test`, which installs docker.io)")
    if os.geteuid() != 0:
        pytest.fail("real dockerd tests need root")


@pytest.fixture(scope="session")
def healthy_dockerd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dockerd]:
    """A healthy daemon with iptables NAT on, in its own network namespace (``tcp_host`` is on the
    machine's loopback), so bridge networks (``probe --deep``) stay there too."""
    _require_dockerd()
    with running_dockerd(iptables=True, workdir=tmp_path_factory.mktemp("healthy")) as daemon:
        yield daemon


@pytest.fixture(scope="session")
def field_report_dockerd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dockerd]:
    """The field report: a daemon whose iptables has no nat table; it dies on start."""
    _require_dockerd()
    with running_dockerd(nat_missing=True, workdir=tmp_path_factory.mktemp("natless")) as daemon:
        daemon.wait_exit(timeout=60)
        yield daemon


@pytest.fixture(scope="session")
def tls_dockerd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dockerd]:
    """A ``--tlsverify`` daemon with certificates generated for the test."""
    _require_dockerd()
    with running_dockerd(tls=True, workdir=tmp_path_factory.mktemp("tls")) as daemon:
        yield daemon


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port that accepts and never answers."""
    with silent_listener() as port:
        yield port


@pytest.fixture
def daemon_workdir(tmp_path: Path) -> Path:
    """A fresh directory for a test's own daemon."""
    return tmp_path / "dockerd"


@pytest.fixture(scope="session")
def mount_namespaces() -> None:
    """Tests that place files at fixed paths do it in a mount namespace of their own: that needs
    root and ``unshare --mount`` (make test runs as root); without them the test fails."""
    from tests.admin.support import namespaces_work

    if not namespaces_work():
        pytest.fail("needs root and mount namespaces (unshare --mount): run make test as root")
