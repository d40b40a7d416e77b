"""Real dind failure modes, reproduced with real dockerd (and busybox) processes, for their logs.

Each mode starts a real ``dockerd`` that dies the way dind dies on a broken node or runner, and
returns everything it wrote. Where the failure is in the kernel (a missing nat table), an
``iptables`` wrapper first on dockerd's PATH prints what iptables prints on such a kernel; dockerd
itself is real, and so is the way it reports the failure.

Every daemon runs in its own network namespace (``unshare -n``, see ``tests.harness.dockerd``), so
none touches the machine's chains, links or routes. ``python -m tests.kube.failing_daemons`` rewrites ``tests/kube/logs/``.
"""

from __future__ import annotations

import contextlib
import http.client
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.harness.dockerd import (
    NAT_MISSING_IPTABLES,
    Dockerd,
    real_iptables,
    running_dockerd,
)

LOG_DIR = Path(__file__).parent / "logs"

# What iptables-nft 1.8.x prints when the kernel cannot create nat chains (nft_chain_nat missing).
NFT_NAT_MISSING_IPTABLES = """#!/bin/sh
# iptables-nft on a kernel without nft_chain_nat: the nat base chains cannot be created.
prev=""
for arg in "$@"; do
    if [ "$prev" = "-t" ] && [ "$arg" = "nat" ]; then
        echo "iptables v1.8.9 (nf_tables): CHAIN_ADD failed (No such file or directory): chain PREROUTING" >&2
        exit 4
    fi
    prev="$arg"
done
exec {real} "$@"
"""

# What iptables-nft 1.8.x prints when the kernel has no nf_tables at all.
NO_NF_TABLES_IPTABLES = """#!/bin/sh
# iptables-nft on a kernel without nf_tables.
echo "iptables v1.8.9 (nf_tables): Could not fetch rule set generation id: Invalid argument" >&2
exit 4
"""


class NetnsDockerd(Dockerd):
    """A dockerd with iptables on, optionally an iptables wrapper and fewer capabilities."""

    wrapper: str | None = None
    drop_caps: tuple[str, ...] = ()

    def dockerd_command(self) -> list[str]:
        prefix: list[str] = []
        if self.drop_caps:
            drops = ",".join(f"-{cap}" for cap in self.drop_caps)
            prefix = ["setpriv", f"--bounding-set={drops}", f"--inh-caps={drops}", "--"]
        return [*prefix, *super().dockerd_command()]

    def environment(self) -> dict[str, str]:
        env = super().environment()
        if self.wrapper:
            wrapper_dir = self.workdir / "bin"
            wrapper_dir.mkdir(parents=True, exist_ok=True)
            wrapper = wrapper_dir / "iptables"
            wrapper.write_text(self.wrapper.replace("{real}", real_iptables()))
            wrapper.chmod(0o755)
            env["PATH"] = f"{wrapper_dir}:{env.get('PATH', '/usr/sbin:/usr/bin:/sbin:/bin')}"
        return env


@contextlib.contextmanager
def _dead_daemon(daemon: Dockerd, timeout: float = 60.0) -> Iterator[Dockerd]:
    try:
        daemon.start()
        daemon.wait_exit(timeout=timeout)
        yield daemon
    finally:
        daemon.stop()
        daemon.cleanup_files()


def _netns_daemon(
    workdir: Path, wrapper: str | None = None, drop_caps: tuple[str, ...] = ()
) -> NetnsDockerd:
    daemon = NetnsDockerd(workdir=workdir, iptables=True)
    daemon.wrapper = wrapper
    daemon.drop_caps = drop_caps
    return daemon


def legacy_nat_missing(base: Path) -> str:
    """The field report, in its own network namespace (the same wrapper as the probe harness)."""
    with _dead_daemon(_netns_daemon(base / "d", NAT_MISSING_IPTABLES)) as daemon:
        return daemon.log_text()


def nft_nat_missing(base: Path) -> str:
    with _dead_daemon(_netns_daemon(base / "d", NFT_NAT_MISSING_IPTABLES)) as daemon:
        return daemon.log_text()


def no_nf_tables(base: Path) -> str:
    with _dead_daemon(_netns_daemon(base / "d", NO_NF_TABLES_IPTABLES)) as daemon:
        return daemon.log_text()


def not_privileged(base: Path) -> str:
    """dockerd without CAP_NET_ADMIN, as in a dind container that is not privileged."""
    with _dead_daemon(_netns_daemon(base / "d", drop_caps=("net_admin",))) as daemon:
        return daemon.log_text()


def not_privileged_mount(base: Path) -> str:
    """The dind entrypoint's securityfs mount (busybox, as in docker:dind) without CAP_SYS_ADMIN."""
    busybox = shutil.which("busybox")
    if busybox is None:
        raise RuntimeError("busybox is not installed (make test installs busybox-static)")
    target = base / "security"
    target.mkdir(parents=True)
    result = subprocess.run(
        [
            "setpriv",
            "--bounding-set=-sys_admin",
            "--inh-caps=-sys_admin",
            "--",
            busybox,
            "mount",
            "-t",
            "securityfs",
            "none",
            str(target),
        ],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    # What dind's entrypoint prints next when that mount fails (docker-library/docker `dind`).
    return (
        result.stderr
        + "Could not mount /sys/kernel/security.\n"
        + "AppArmor detection and --privileged mode might break.\n"
    )


def overlay_on_overlay(base: Path) -> str:
    """overlay2 with its data root on an overlay mount, as in a dind without a volume."""
    layers = base / "ovl"
    for part in ("lower", "upper", "work", "merged"):
        (layers / part).mkdir(parents=True)
    merged = layers / "merged"
    options = f"lowerdir={layers / 'lower'},upperdir={layers / 'upper'},workdir={layers / 'work'}"
    subprocess.run(
        ["mount", "-t", "overlay", "overlay", "-o", options, str(merged)], check=True, timeout=10
    )
    try:
        daemon = Dockerd(workdir=merged / "d", extra_args=["--storage-driver=overlay2"])
        with _dead_daemon(daemon) as dead:
            return dead.log_text()
    finally:
        subprocess.run(["umount", "-l", str(merged)], check=False, timeout=10)


def port_in_use(base: Path) -> str:
    """dockerd whose TCP port is already held (two services on dind's port 2375).

    The holder is dockerd's own first listener on that port (127.0.0.1:2375), inside its network
    namespace; the second, spelled ``localhost:2375`` so that dockerd does not merge the two, is
    refused by the kernel exactly as one behind another process.
    """
    daemon = Dockerd(
        workdir=base / "d", netns_port=2375, extra_args=["--host=tcp://localhost:2375"]
    )
    with _dead_daemon(daemon) as dead:
        return dead.log_text()


def tls_daemon(base: Path) -> str:
    """A healthy TLS daemon's log: it says which port it listens on (dind: 2376 with TLS)."""
    with running_dockerd(tls=True, workdir=base / "d") as daemon:
        return daemon.log_text()


def http_to_tls_port(base: Path) -> str:
    """What a plain-HTTP client gets from a TLS daemon's port (DOCKER_HOST=tcp://...:2376)."""
    with running_dockerd(tls=True, workdir=base / "d") as daemon:
        connection = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=10)
        try:
            connection.request("GET", "/_ping")
            return connection.getresponse().read().decode()
        finally:
            connection.close()


@dataclass(frozen=True)
class FailureMode:
    name: str
    capture: Callable[[Path], str]
    cause: str | None  # the cause the catalog must name for this log (None: no signature)


MODES: tuple[FailureMode, ...] = (
    FailureMode("legacy-nat-missing", legacy_nat_missing, "iptable_nat-missing"),
    FailureMode("nft-nat-missing", nft_nat_missing, "nft_chain_nat-missing"),
    FailureMode("no-nf-tables", no_nf_tables, "nf_tables-missing"),
    FailureMode("not-privileged", not_privileged, "not-privileged"),
    FailureMode("not-privileged-mount", not_privileged_mount, "not-privileged"),
    FailureMode("overlay-on-overlay", overlay_on_overlay, "storage-backing-fs-unsupported"),
    FailureMode("port-in-use", port_in_use, "port-in-use"),
    FailureMode("tls-daemon", tls_daemon, None),
    FailureMode("http-to-tls-port", http_to_tls_port, "tls-port-mismatch"),
)


def capture(mode: FailureMode) -> str:
    """Run ``mode`` in a fresh temporary directory (removed afterwards) and return its log."""
    base = Path(tempfile.mkdtemp(prefix=f"dind-preflight-{mode.name}-"))
    try:
        return mode.capture(base)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def saved_log(name: str) -> str:
    return (LOG_DIR / f"{name}.log").read_text()


def main() -> int:
    LOG_DIR.mkdir(exist_ok=True)
    for mode in MODES:
        text = capture(mode)
        (LOG_DIR / f"{mode.name}.log").write_text(text)
        print(f"{mode.name}: {len(text.splitlines())} lines", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
