"""Progress on stderr for a run that takes a while: silent for the first seconds, then one line
per phase (``waiting for dind at tcp://docker:2376 (timeout 30 s)...``).

A healthy job answers in milliseconds and prints nothing here; a job log that would otherwise
stay silent for 30 seconds says what it is waiting for.
"""

from __future__ import annotations

import sys
import time

TYPE_CHECKING = False  # typing's constant without importing typing: the healthy path
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TextIO

QUIET_FOR_S = 2.0


class Progress:
    """Prints a phase line once ``quiet_for_s`` has passed since it was created, never before."""

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        quiet_for_s: float = QUIET_FOR_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream
        self._clock = clock
        self._quiet_until = clock() + quiet_for_s
        self._said: set[str] = set()

    def phase(self, line: str) -> None:
        """Say ``line`` (once) when the run has been going for longer than the quiet time."""
        if line in self._said or self._clock() < self._quiet_until:
            return
        self._said.add(line)
        stream = self._stream if self._stream is not None else sys.stderr
        try:
            print(f"dind-preflight: {line}", file=stream, flush=True)
        except (OSError, ValueError):  # a closed stderr must not end the run
            return


def waiting_line(docker_host: str, timeout_s: float) -> str:
    """``waiting for dind at <host> (timeout <n> s)...``."""
    return f"waiting for dind at {docker_host} (timeout {timeout_s:g} s)..."
