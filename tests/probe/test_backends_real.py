"""Real dockerd on Debian's iptables-legacy and iptables-nft: the healthy lines, and the backend.

Each daemon runs in its own network namespace (as every harness daemon) with iptables on. Which iptables it uses is chosen
the way docker:dind's entrypoint does it (``export PATH=/usr/local/sbin/.iptables-legacy:$PATH``):
a wrapper directory first on the daemon's PATH whose ``iptables`` is ``iptables-legacy`` or
``iptables-nft``; ``update-alternatives`` is never touched. The entrypoint's version line is
produced by running that very ``iptables --version``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from preflight.diagnosis.backend import detect_backend
from preflight.diagnosis.decide import decide
from preflight.diagnosis.model import ServiceEvidence
from preflight.diagnosis.signatures import match_lines
from preflight.jsonable import from_json
from preflight.probe.model import ProbeResult
from tests.harness.dockerd import Dockerd
from tests.probe.conftest import run_probe

BACKENDS = {"legacy": "/usr/sbin/iptables-legacy", "nf_tables": "/usr/sbin/iptables-nft"}


@dataclass
class BackendDockerd(Dockerd):
    """A dockerd whose ``iptables`` (and ``ip6tables``) is one backend's binary."""

    backend: str = "legacy"

    def wrapper_dir(self) -> Path:
        return self.workdir / "iptables-backend"

    def environment(self) -> dict[str, str]:
        env = super().environment()
        wrappers = self.wrapper_dir()
        wrappers.mkdir(parents=True, exist_ok=True)
        for tool in ("iptables", "ip6tables"):
            real = BACKENDS[self.backend].replace("iptables", tool)
            link = wrappers / tool
            if not link.exists():
                link.symlink_to(real)
        env["PATH"] = f"{wrappers}:{env.get('PATH', '/usr/sbin:/usr/bin:/sbin:/bin')}"
        return env


@pytest.fixture(params=sorted(BACKENDS))
def backend_dockerd(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BackendDockerd]:
    for binary in BACKENDS.values():
        if not os.access(binary, os.X_OK):
            pytest.fail(f"{binary} is missing: make test installs iptables")
    if shutil.which("unshare") is None or shutil.which("nsenter") is None:
        pytest.fail("unshare/nsenter (util-linux) are missing")
    daemon = BackendDockerd(
        workdir=tmp_path / "d", netns_port=2375, iptables=True, backend=request.param
    )
    try:
        daemon.start()
        daemon.wait_ready()
        yield daemon
    finally:
        daemon.stop()


def test_each_backend_healthy_and_named_by_its_own_version_line(
    backend_dockerd: BackendDockerd,
) -> None:
    # The entrypoint's line, printed by the very iptables the daemon runs.
    version = subprocess.run(
        [str(backend_dockerd.wrapper_dir() / "iptables"), "--version"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout.splitlines()[0]
    evidence = detect_backend([version, 'time=... level=info msg="Starting up"'])
    assert (evidence.backend, evidence.source) == (backend_dockerd.backend, "entrypoint-line")

    # The daemon really works on that backend: a bridge network needs its nat table.
    run = run_probe("--json", "--deep", "--docker-host", backend_dockerd.unix_host)
    assert run.code == 0, run.stdout + run.stderr
    result = from_json(ProbeResult, run.json())
    assert result.healthy and [s.ok for s in result.deep or []] == [True, True]

    # ... and its chains are in that backend's tables, not the other's.
    chains = subprocess.run(
        backend_dockerd.in_netns([BACKENDS[backend_dockerd.backend], "-t", "nat", "-S"]),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    assert "-N DOCKER" in chains

    # A healthy daemon with this log is healthy, whatever the backend.
    lines = [version, *backend_dockerd.log_text().splitlines()]
    service = ServiceEvidence(
        container="svc-0", state="running", log_tail=lines, matches=match_lines(lines)
    )
    diagnosis = decide(result, service, None)
    assert diagnosis.cause.code == "healthy"
    assert diagnosis.backend.backend == backend_dockerd.backend
