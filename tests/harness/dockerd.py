"""Start and stop real ``dockerd`` processes, each isolated from the others and from the machine.

Every daemon gets its own data root, exec root, pidfile, unix socket and loopback TCP port; it is
stopped by PID (its process group, so its managed containerd goes too) whatever happens.
Only one daemon at a time may run with iptables on (``iptables=True``) in the machine's network
namespace: the others use ``--bridge=none --iptables=false`` so that they never touch the host's
chains, or run in their own network namespace (``netns=True``, where iptables, a NAT that fails
later (``nat_switch``) and dind's fixed ports 2375/2376 are safe).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

# What iptables 1.8.9 (legacy) does without iptable_nat, byte for byte: any `-t nat` call fails.
_FAIL_ON_NAT = """prev=""
for arg in "$@"; do
    if [ "$prev" = "-t" ] && [ "$arg" = "nat" ]; then
        echo "iptables v1.8.9 (legacy): can't initialize iptables table \\`nat': Table does not exist (do you need to insmod?)" >&2
        echo "Perhaps iptables or your kernel needs to be upgraded." >&2
        exit 3
    fi
    prev="$arg"
done
"""

# The field report's iptables.
NAT_MISSING_IPTABLES = (
    "#!/bin/sh\n# iptables that behaves as on a node without the iptable_nat kernel module.\n"
    + _FAIL_ON_NAT
    + 'exec {real} "$@"\n'
)

# The same iptables, switchable while the daemon runs: it fails like the field report only while
# the flag file exists (a node that loses iptable_nat after dockerd started: --deep must catch it).
NAT_SWITCH_IPTABLES = (
    "#!/bin/sh\n# iptables that loses the nat table while the file {flag} exists.\n"
    + 'if [ -e "{flag}" ]; then\n'
    + "".join(f"    {line}\n" for line in _FAIL_ON_NAT.splitlines())
    + "fi\n"
    + 'exec {real} "$@"\n'
)


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def real_iptables() -> str:
    """Absolute path of the machine's iptables."""
    for candidate in ("/usr/sbin/iptables", "/sbin/iptables"):
        if os.path.exists(candidate):
            return candidate
    found = shutil.which("iptables")
    if not found:
        raise RuntimeError("iptables is not installed (make test installs it)")
    return found


@dataclass
class TLSFiles:
    """CA, server and client certificates for a ``--tlsverify`` daemon, as files."""

    directory: Path
    ca: Path
    server_cert: Path
    server_key: Path
    client_dir: Path  # ca.pem, cert.pem, key.pem: the docker CLI's DOCKER_CERT_PATH layout


def make_tls_files(
    directory: Path, server_names: tuple[str, ...] = ("localhost", "127.0.0.1")
) -> TLSFiles:
    """Generate a CA, a server certificate for ``server_names`` and a client certificate."""
    import trustme

    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA()
    server = ca.issue_cert(*server_names)
    client = ca.issue_cert("dind-preflight-test-client")
    ca_path = directory / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    server_cert = directory / "server-cert.pem"
    server_key = directory / "server-key.pem"
    server.cert_chain_pems[0].write_to_path(str(server_cert))
    server.private_key_pem.write_to_path(str(server_key))
    client_dir = directory / "client"
    client_dir.mkdir(exist_ok=True)
    ca.cert_pem.write_to_path(str(client_dir / "ca.pem"))
    client.cert_chain_pems[0].write_to_path(str(client_dir / "cert.pem"))
    client.private_key_pem.write_to_path(str(client_dir / "key.pem"))
    return TLSFiles(directory, ca_path, server_cert, server_key, client_dir)


@dataclass
class Dockerd:
    """One real dockerd process and everything it owns."""

    workdir: Path
    port: int
    iptables: bool = False
    nat_missing: bool = False
    tls: TLSFiles | None = None
    extra_args: list[str] = field(default_factory=list)
    process: subprocess.Popen[bytes] | None = None
    netns: bool = False  # own network namespace (loopback up): reach it by unix socket or in_netns
    nat_switch: bool = False  # iptables wrapper whose nat table can be lost later (set_nat_missing)

    @property
    def socket_path(self) -> Path:
        return self.workdir / "docker.sock"

    @property
    def pidfile(self) -> Path:
        return self.workdir / "dockerd.pid"

    @property
    def log_path(self) -> Path:
        return self.workdir / "dockerd.log"

    @property
    def tcp_host(self) -> str:
        """``DOCKER_HOST`` for the loopback TCP listener."""
        return f"tcp://127.0.0.1:{self.port}"

    @property
    def unix_host(self) -> str:
        """``DOCKER_HOST`` for the unix socket."""
        return f"unix://{self.socket_path}"

    @property
    def nat_flag(self) -> Path:
        """While this file exists, a ``nat_switch`` daemon's iptables has no nat table."""
        return self.workdir / "nat-missing"

    def set_nat_missing(self, missing: bool) -> None:
        """Lose (or regain) the nat table of a ``nat_switch`` daemon, while it runs."""
        assert self.nat_switch, "only a nat_switch daemon can lose its nat table later"
        if missing:
            self.nat_flag.touch()
        else:
            self.nat_flag.unlink(missing_ok=True)

    def in_netns(self, command: list[str]) -> list[str]:
        """``command`` run inside this daemon's network namespace (its loopback is the daemon's)."""
        assert self.netns and self.process is not None
        return ["nsenter", f"--net=/proc/{self.process.pid}/ns/net", "--", *command]

    def command(self) -> list[str]:
        """The dockerd command line (inside ``unshare -n`` for a ``netns`` daemon)."""
        if self.netns:
            script = 'ip link set lo up && exec "$@"'
            return ["unshare", "-n", "--", "sh", "-c", script, "sh", *self.dockerd_command()]
        return self.dockerd_command()

    def dockerd_command(self) -> list[str]:
        """dockerd and its flags."""
        cmd = [
            "dockerd",
            f"--data-root={self.workdir / 'data'}",
            f"--exec-root={self.workdir / 'exec'}",
            f"--pidfile={self.pidfile}",
            f"--host={self.unix_host}",
            f"--host={self.tcp_host}",
            "--bridge=none",
        ]
        if not self.iptables:
            cmd.append("--iptables=false")
        if self.tls is not None:
            cmd += [
                "--tlsverify",
                f"--tlscacert={self.tls.ca}",
                f"--tlscert={self.tls.server_cert}",
                f"--tlskey={self.tls.server_key}",
            ]
        return cmd + self.extra_args

    def environment(self) -> dict[str, str]:
        """dockerd's environment: a PATH whose first entry may hold the broken iptables."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        if self.nat_switch:
            wrapper_dir = self.workdir / "bin"
            wrapper_dir.mkdir(exist_ok=True)
            wrapper = wrapper_dir / "iptables"
            script = NAT_SWITCH_IPTABLES.replace("{real}", real_iptables())
            wrapper.write_text(script.replace("{flag}", str(self.nat_flag)))
            wrapper.chmod(0o755)
            if self.nat_missing:
                self.nat_flag.touch()
            env["PATH"] = f"{wrapper_dir}:{env.get('PATH', '/usr/sbin:/usr/bin:/sbin:/bin')}"
        elif self.nat_missing:
            wrapper_dir = self.workdir / "bin"
            wrapper_dir.mkdir(exist_ok=True)
            wrapper = wrapper_dir / "iptables"
            wrapper.write_text(NAT_MISSING_IPTABLES.replace("{real}", real_iptables()))
            wrapper.chmod(0o755)
            env["PATH"] = f"{wrapper_dir}:{env.get('PATH', '/usr/sbin:/usr/bin:/sbin:/bin')}"
        return env

    def start(self) -> None:
        """Start the daemon (returns at once; see :meth:`wait_ready` / :meth:`wait_exit`)."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.command(),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=self.environment(),
            start_new_session=True,
        )
        log.close()

    def ping(self, timeout: float = 1.0) -> bool:
        """True when the daemon answers ``GET /_ping`` on its unix socket."""
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(timeout)
                sock.connect(str(self.socket_path))
                sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
                data = sock.recv(4096)
            return data.startswith(b"HTTP/1.") and b" 200 " in data.split(b"\r\n", 1)[0] + b" "
        except OSError:
            return False

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Block until ``/_ping`` answers; raise with the log tail if the daemon exits or hangs."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ping():
                return
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(
                    f"dockerd exited ({self.process.returncode}):\n{self.log_tail()}"
                )
            time.sleep(0.02)
        raise RuntimeError(f"dockerd not ready after {timeout}s:\n{self.log_tail()}")

    def wait_exit(self, timeout: float = 30.0) -> int:
        """Block until the daemon exits (a broken daemon dies on start); return its exit code."""
        assert self.process is not None
        return self.process.wait(timeout=timeout)

    def log_text(self) -> str:
        """Everything the daemon wrote so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 15) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def stop(self, timeout: float = 15.0) -> None:
        """Stop by PID: SIGTERM, then SIGKILL to the whole process group; always reap."""
        proc = self.process
        if proc is None:
            return
        pids = {proc.pid}
        with contextlib.suppress(OSError, ValueError):
            pids.add(int(self.pidfile.read_text().strip()))
        if proc.poll() is None:
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=timeout)
        # The daemon's managed containerd lives in the same process group: take it down too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
        self.process = None

    def cleanup_files(self) -> None:
        """Remove the daemon's directories (after :meth:`stop`), unmounting anything left."""
        data = self.workdir / "data"
        if data.exists():
            subprocess.run(["umount", "-R", "-l", str(data)], capture_output=True, check=False)
        shutil.rmtree(self.workdir, ignore_errors=True)


@contextlib.contextmanager
def running_dockerd(
    *,
    iptables: bool = False,
    nat_missing: bool = False,
    tls: bool = False,
    wait: bool = True,
    workdir: Path | None = None,
    extra_args: list[str] | None = None,
    netns: bool = False,
    nat_switch: bool = False,
    port: int | None = None,
    tls_names: tuple[str, ...] = ("localhost", "127.0.0.1"),
) -> Iterator[Dockerd]:
    """A started dockerd (ready when ``wait``), stopped and removed on exit whatever happens.

    ``netns``: own network namespace (then iptables and fixed ports such as 2376 are safe);
    ``nat_switch``: iptables whose nat table can be lost while the daemon runs;
    ``port``: the loopback TCP port (default: a free one); ``tls_names``: the server
    certificate's names.
    """
    base = workdir or Path(tempfile.mkdtemp(prefix="dind-preflight-dockerd-"))
    tls_files = make_tls_files(base / "tls", tls_names) if tls else None
    if port is not None and not netns:
        raise ValueError("a fixed port is only safe in the daemon's own network namespace")
    daemon = Dockerd(
        workdir=base,
        port=port if port is not None else free_port(),
        iptables=iptables or nat_missing or nat_switch,
        nat_missing=nat_missing,
        tls=tls_files,
        extra_args=list(extra_args or []),
        netns=netns,
        nat_switch=nat_switch,
    )
    try:
        daemon.start()
        if wait and not nat_missing:
            daemon.wait_ready()
        yield daemon
    finally:
        daemon.stop()
        daemon.cleanup_files()
