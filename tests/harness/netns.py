"""Network namespaces a test creates: a holder process (``unshare -n``) that keeps one alive.

Commands enter it with ``nsenter --net=/proc/PID/ns/net``; the holder is stopped by PID (its process
group) whatever happens, and the namespace disappears with it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Netns:
    """A network namespace held open by process ``pid``."""

    pid: int

    @property
    def path(self) -> str:
        return f"/proc/{self.pid}/ns/net"

    def prefix(self) -> list[str]:
        """Put this before a command to run it in the namespace."""
        return ["nsenter", f"--net={self.path}", "--"]

    def run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``command`` in the namespace and return what it printed."""
        return subprocess.run(
            [*self.prefix(), *command], capture_output=True, text=True, timeout=60, check=check
        )


@contextlib.contextmanager
def private_netns(timeout: float = 10.0) -> Iterator[Netns]:
    """A fresh network namespace with its loopback up; removed when the block ends."""
    holder = subprocess.Popen(
        ["unshare", "-n", "--", "sh", "-c", "ip link set lo up && exec sleep 3600"],
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        own = os.readlink("/proc/self/ns/net")
        deadline = time.monotonic() + timeout
        # Ready once the holder is in another namespace and has exec'd sleep (lo is up by then).
        while True:
            if holder.poll() is not None:
                raise RuntimeError(f"unshare -n exited ({holder.returncode})")
            with contextlib.suppress(FileNotFoundError):
                theirs = os.readlink(f"/proc/{holder.pid}/ns/net")
                with open(f"/proc/{holder.pid}/comm") as comm:
                    if theirs != own and comm.read().strip() == "sleep":
                        break
            if time.monotonic() > deadline:
                raise RuntimeError("unshare -n did not create a namespace in time")
            time.sleep(0.01)
        yield Netns(holder.pid)
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(holder.pid, signal.SIGKILL)
        holder.wait(timeout=10)
