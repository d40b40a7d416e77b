"""Probe test helpers: run the real CLI, and daemons that live in their own network namespace."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.harness.dockerd import Dockerd, running_dockerd

CLI = Path(sys.executable).parent / "dind-preflight"


@dataclass(frozen=True)
class ProbeRun:
    """One ``dind-preflight probe`` process: exit code, output and wall time."""

    code: int
    stdout: str
    stderr: str
    wall_s: float

    def json(self) -> dict[str, Any]:
        document = json.loads(self.stdout)
        assert isinstance(document, dict)
        return document


# The CLI's start-up and exit, median on the 2-core machine under the suite's load: 0.5 s
# (`/usr/bin/time dind-preflight probe --no-wait --docker-host tcp://127.0.0.1:1`; `make bench`
# keeps the probe's own figures). Wall-clock bounds are 3x the median, never tighter.
CLI_OVERHEAD_MEDIAN_S = 0.5


def ended_by_the_deadline(run: ProbeRun, timeout: float) -> bool:
    """The probe gave up at its deadline, not long after it (3x the median run, a loose bound)."""
    return run.wall_s < 3 * (timeout + CLI_OVERHEAD_MEDIAN_S)


def probe_env(extra: dict[str, str] | None = None, home: Path | None = None) -> dict[str, str]:
    """The test process environment without any DOCKER_* variable, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    if home is not None:
        env["HOME"] = str(home)
    env.update(extra or {})
    return env


def run_probe(
    *args: str,
    env: dict[str, str] | None = None,
    prefix: tuple[str, ...] | list[str] = (),
    timeout: float = 90,
) -> ProbeRun:
    """Run the installed CLI (``.venv/bin/dind-preflight probe ARGS``) and wait for it."""
    if not CLI.exists():
        pytest.fail(f"{CLI} is missing (make test installs the package into .venv)")
    started = time.monotonic()
    proc = subprocess.run(
        [*prefix, str(CLI), "probe", *args],
        env=probe_env() if env is None else env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return ProbeRun(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started)


def _require_netns_tools() -> None:
    for tool in ("unshare", "nsenter", "ip"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed (make test installs util-linux and iproute2)")


@pytest.fixture(scope="module")
def netns_tls_dockerd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dockerd]:
    """A --tlsverify daemon on dind's TLS port 2376, alone in its network namespace.

    Its certificate names only ``localhost`` (not 127.0.0.1). Probes reach it with
    :meth:`Dockerd.in_netns`, like a job container sharing the pod's network with dind.
    """
    _require_netns_tools()
    with running_dockerd(
        tls=True,
        netns_port=2376,
        tls_names=("localhost",),
        workdir=tmp_path_factory.mktemp("netns-tls"),
    ) as daemon:
        yield daemon


@pytest.fixture(scope="module")
def netns_nat_dockerd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dockerd]:
    """A plain daemon on dind's port 2375 with iptables NAT, alone in its network namespace.

    Its iptables can lose the nat table while it runs (``set_nat_missing``): a node that loses
    ``iptable_nat`` after dockerd started.
    """
    _require_netns_tools()
    with running_dockerd(
        nat_switch=True,
        netns_port=2375,
        workdir=tmp_path_factory.mktemp("netns-nat"),
    ) as daemon:
        yield daemon
