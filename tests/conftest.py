"""Fixtures shared by every test folder: real dockerd processes and misbehaving listeners.

The session's guard: the rulesets, links and routes of the network namespace pytest runs in (the
machine's under `make test`) are the same after the session as before it, or the session fails
with the difference. It works the same in the machine's namespace and inside ``unshare -n``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness.dockerd import Dockerd, running_dockerd
from tests.harness.listeners import silent_listener
from tests.harness.network_state import NetworkState, missing_tools, snapshot

_BEFORE = pytest.StashKey[NetworkState]()


def pytest_sessionstart(session: pytest.Session) -> None:
    """Snapshot the namespace's rulesets, links and routes before any test runs."""
    missing = missing_tools()
    if missing:
        raise pytest.UsageError(
            f"the network guard needs {', '.join(missing)} (make test installs nftables, iproute2, iptables)"
        )
    session.stash[_BEFORE] = snapshot()


def pytest_sessionfinish(session: pytest.Session) -> None:
    """After every fixture is torn down: fail the session if the namespace changed."""
    before = session.stash.get(_BEFORE, None)
    if before is None:
        return
    difference = before.diff(snapshot())
    if not difference:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    message = (
        "the test session changed this network namespace's rulesets, links or routes "
        "(tests must leave the machine as they found it):\n" + difference
    )
    if reporter is not None:
        reporter.write_sep("=", "network namespace changed", red=True)
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
