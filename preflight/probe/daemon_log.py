"""Quote the daemon's fatal line from its log, when the log is visible (e.g. the demo, a local run).

Deliberately simple: the last line saying ``failed to start daemon`` or ``level=fatal``, with the
continuation lines dockerd writes after it (iptables' own output), joined into one line. The
signature catalog that names causes lives in ``preflight.diagnosis``.
"""

from __future__ import annotations

import re

FATAL_MARKERS = ("failed to start daemon", "level=fatal")
MAX_LINE_CHARS = 600
_RECORD_START = re.compile(r'^(time="|\d{4}-\d\d-\d\dT|[A-Z]{4}\[|level=)')
_LOGFMT_MSG = re.compile(r'\bmsg="((?:[^"\\]|\\.)*)"')


def fatal_line(log_text: str) -> str | None:
    """The daemon's last fatal message as one line, or ``None`` when there is none."""
    lines = log_text.splitlines()
    for index in range(len(lines) - 1, -1, -1):
        line = lines[index]
        if not any(marker in line for marker in FATAL_MARKERS):
            continue
        parts = [_message(line)]
        for follower in lines[index + 1 :]:
            if not follower.strip() or _RECORD_START.match(follower):
                break
            parts.append(follower.strip())
        text = " ".join(" ".join(parts).split())
        return text if len(text) <= MAX_LINE_CHARS else text[: MAX_LINE_CHARS - 3] + "..."
    return None


def _message(line: str) -> str:
    """The ``msg="..."`` of a logfmt record (unescaped), else the line itself."""
    match = _LOGFMT_MSG.search(line)
    if match is None:
        return line.strip()
    return match.group(1).replace('\\"', '"').replace("\\n", " ").replace("\\\\", "\\")


def read_fatal_line(path: str, max_bytes: int = 256 * 1024) -> tuple[str | None, str]:
    """``(fatal line or None, note)`` from the end of the log file at ``path``.

    Never raises for a missing or unreadable file: the note says what happened instead.
    """
    from preflight.errors import InputError
    from preflight.input_files import read_text

    try:
        text = read_text(path, "daemon log", max_bytes, tail=True)
    except InputError as exc:
        return None, str(exc)
    line = fatal_line(text)
    if line is None:
        return None, f"no fatal line in daemon log {path}"
    return line, ""
