"""Start and stop harness daemons from a shell script (the demo): ``python -m tests.harness.launch``.

``start KIND WORKDIR`` starts a dockerd that outlives this process and prints shell assignments
(``DAEMON_PID``, ``DAEMON_HOST``, ``DAEMON_UNIX_HOST``, ``DAEMON_LOG``) for ``eval``; ``stop
WORKDIR`` stops it by PID (and its process group) and removes its files. KIND is ``healthy``
(ready when the command returns), ``field-report`` (iptables without a nat table: exited when
the command returns, like the field report's dind) or ``late`` (started, not waited for).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.harness.dockerd import Dockerd

STATE_FILE = "launch.env"
KINDS = ("healthy", "field-report", "late")


def start(kind: str, workdir: Path) -> dict[str, str]:
    """Start a daemon of ``kind`` in ``workdir``; return (and record) its facts."""
    workdir.mkdir(parents=True, exist_ok=True)
    # Every daemon runs in its own network namespace (the machine's Docker keeps its chains and
    # its docker0); DAEMON_HOST is on the machine's loopback all the same (socket activation).
    field_report = kind == "field-report"
    daemon = Dockerd(workdir=workdir, nat_missing=field_report, iptables=field_report)
    daemon.start()
    assert daemon.process is not None
    state = {
        "DAEMON_PID": str(daemon.process.pid),
        "DAEMON_HOST": daemon.tcp_host,
        "DAEMON_UNIX_HOST": daemon.unix_host,
        "DAEMON_LOG": str(daemon.log_path),
        "DAEMON_WORKDIR": str(workdir),
    }
    (workdir / STATE_FILE).write_text("".join(f"{k}={shlex.quote(v)}\n" for k, v in state.items()))
    try:
        if kind == "healthy":
            daemon.wait_ready()
        elif kind == "field-report":
            daemon.wait_exit(timeout=60)
    except Exception:
        stop(workdir)
        raise
    return state


def stop(workdir: Path, timeout: float = 15.0) -> None:
    """Stop the daemon recorded in ``workdir`` by PID, then its process group; remove its files."""
    state_path = workdir / STATE_FILE
    if not state_path.exists():
        return
    state = dict(line.split("=", 1) for line in state_path.read_text().splitlines() if "=" in line)
    pid = int(shlex.split(state["DAEMON_PID"])[0])
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    # dockerd's managed containerd shares its process group (start_new_session made pid the leader).
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    data = workdir / "data"
    if data.exists():
        subprocess.run(["umount", "-R", "-l", str(data)], capture_output=True, check=False)
    import shutil

    shutil.rmtree(workdir, ignore_errors=True)


def _alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.harness.launch", description=__doc__)
    sub = parser.add_subparsers(dest="action", required=True)
    start_parser = sub.add_parser("start")
    start_parser.add_argument("kind", choices=KINDS)
    start_parser.add_argument("workdir", type=Path)
    stop_parser = sub.add_parser("stop")
    stop_parser.add_argument("workdir", type=Path)
    args = parser.parse_args(argv)
    if args.action == "stop":
        stop(args.workdir)
        return 0
    try:
        state = start(args.kind, args.workdir)
    except Exception as exc:
        print(f"launch: {args.kind} daemon failed to start: {exc}".splitlines()[0], file=sys.stderr)
        return 1
    for key, value in state.items():
        print(f"{key}={shlex.quote(value)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
