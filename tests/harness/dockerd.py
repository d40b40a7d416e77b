"""Start and stop real ``dockerd`` processes, each isolated from the others and from the machine.

Every daemon gets its own data root, exec root, pidfile, unix socket and loopback TCP port; it is
stopped by PID (its process group, so its managed containerd goes too) whatever happens.

No daemon may change the machine's iptables/nftables ruleset, its links or its routes, so every
daemon runs in its own network namespace (``unshare -n``, loopback up). Not only the ones with
iptables on: a daemon started with ``--bridge=none`` deletes the machine's ``docker0`` bridge
(moby's ``removeDefaultBridgeInterface``), and one without it creates or reprograms ``docker0``.
In its namespace, iptables, bridge networks (``probe --deep``), a NAT that fails later
(``nat_switch``) and dind's fixed ports 2375/2376 (``netns_port``) are all safe.

A daemon is still reachable from the test process: by its unix socket (a file), and on the
machine's loopback (``tcp_host``) through socket activation. :meth:`Dockerd.start` binds and
listens on ``127.0.0.1:port`` in the test process's namespace and hands the listening socket to
dockerd as ``fd://`` (``LISTEN_FDS``/``LISTEN_PID``, as systemd's docker.socket does). A socket
keeps the namespace it was created in, so dockerd serves the machine's loopback from inside its own
namespace: the bytes go straight to dockerd (with ``--tlsverify`` it speaks TLS there, as on any
TCP listener), there is no relay to stop, and the port closes when dockerd exits (a dead daemon
refuses connections). Connections made before dockerd is ready wait in the listen backlog.
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
    port: int = 0  # on the machine's loopback (tcp_host); 0: a free one, chosen at start
    iptables: bool = False
    nat_missing: bool = False
    tls: TLSFiles | None = None
    extra_args: list[str] = field(default_factory=list)
    process: subprocess.Popen[bytes] | None = None
    nat_switch: bool = False  # iptables wrapper whose nat table can be lost later (set_nat_missing)
    netns_port: int | None = None  # also 127.0.0.1:netns_port inside its namespace (in_netns)

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
        """``DOCKER_HOST`` on this namespace's loopback (the socket handed to dockerd at start)."""
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
        assert self.process is not None
        return ["nsenter", f"--net=/proc/{self.process.pid}/ns/net", "--", *command]

    def command(self) -> list[str]:
        """The dockerd command line, inside ``unshare -n``.

        bash brings the loopback up, moves the inherited listening socket (fd
        ``$LISTEN_SOCKET_FD``) to fd 3 and execs dockerd: exec keeps the PID, so ``LISTEN_PID=$$``
        names dockerd, as socket activation requires.
        """
        script = (
            'ip link set lo up && exec 3<&"$LISTEN_SOCKET_FD" && unset LISTEN_SOCKET_FD'
            ' && export LISTEN_FDS=1 LISTEN_PID=$$ && exec "$@"'
        )
        return ["unshare", "-n", "--", "bash", "-c", script, "bash", *self.dockerd_command()]

    def dockerd_command(self) -> list[str]:
        """dockerd and its flags."""
        cmd = [
            "dockerd",
            f"--data-root={self.workdir / 'data'}",
            f"--exec-root={self.workdir / 'exec'}",
            f"--pidfile={self.pidfile}",
            f"--host={self.unix_host}",
            "--host=fd://",  # tcp_host: the machine-loopback socket start() hands over
        ]
        if self.netns_port is not None:
            cmd.append(f"--host=tcp://127.0.0.1:{self.netns_port}")
        cmd.append("--bridge=none")
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
        env = self.environment()
        # dockerd and its containerd write their own files there (containerd.PID.stacks.log when
        # dockerd kills an unresponsive containerd on a busy machine): not in the machine's /tmp.
        tmp = self.workdir / "tmp"
        tmp.mkdir(exist_ok=True)
        env["TMPDIR"] = str(tmp)
        listener = self._machine_loopback_listener()
        env["LISTEN_SOCKET_FD"] = str(listener.fileno())
        log = self.log_path.open("ab")
        try:
            self.process = subprocess.Popen(
                self.command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
                pass_fds=(listener.fileno(),),
            )
        finally:
            log.close()
            listener.close()  # dockerd holds it now: it closes when dockerd exits

    def _machine_loopback_listener(self) -> socket.socket:
        """A listening socket on ``127.0.0.1:port`` (0: any free port) in this namespace."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", self.port))
            listener.listen(128)
        except OSError:
            listener.close()
            raise
        self.port = int(listener.getsockname()[1])
        return listener

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
    nat_switch: bool = False,
    netns_port: int | None = None,
    tls_names: tuple[str, ...] = ("localhost", "127.0.0.1"),
) -> Iterator[Dockerd]:
    """A started dockerd (ready when ``wait``), stopped and removed on exit whatever happens.

    ``nat_switch``: iptables whose nat table can be lost while the daemon runs;
    ``netns_port``: also listen on that fixed port (dind's 2375/2376) inside the namespace, for
    :meth:`Dockerd.in_netns`; ``tls_names``: the server certificate's names.
    """
    base = workdir or Path(tempfile.mkdtemp(prefix="dind-preflight-dockerd-"))
    tls_files = make_tls_files(base / "tls", tls_names) if tls else None
    daemon = Dockerd(
        workdir=base,
        port=0,
        iptables=iptables or nat_missing or nat_switch,
        nat_missing=nat_missing,
        tls=tls_files,
        extra_args=list(extra_args or []),
        nat_switch=nat_switch,
        netns_port=netns_port,
    )
    try:
        daemon.start()
        if wait and not nat_missing:
            daemon.wait_ready()
        yield daemon
    finally:
        daemon.stop()
        daemon.cleanup_files()
