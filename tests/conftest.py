"""Fixtures shared by every test folder: real dockerd processes and misbehaving listeners."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness.dockerd import Dockerd, running_dockerd
from tests.harness.listeners import silent_listener


def _require_dockerd() -> None:
    # No skip: `make test` installs docker.io; a missing daemon binary is a failure.
    if shutil.which("dockerd") is None:
        pytest.fail("dockerd is not installed (run `make test`, which installs docker.io)")
    if os.geteuid() != 0:
        pytest.fail("real dockerd tests need root")


@pytest.fixture(scope="session")
def healthy_dockerd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dockerd]:
    """A healthy daemon with iptables NAT on (the one such daemon of the session)."""
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
