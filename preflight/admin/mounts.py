"""Is a directory a read-only mount point? (``/proc/self/mountinfo``, one parser.)

The admin mounts the node's root into job pods read-only (a ``hostPath`` volume with
``read_only = true`` in the runner's configuration). A directory the job made itself, or filled
from its image, is not a mount point of its own, or not a read-only one.
"""

from __future__ import annotations

import os

MOUNTINFO = "/proc/self/mountinfo"


def _unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as octal (``\\040``)."""
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and i + 4 <= len(field) and field[i + 1 : i + 4].isdigit():
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def read_only_mount(path: str, mountinfo_text: str) -> bool:
    """Whether ``path`` is a mount point whose topmost mount is read-only. Pure."""
    wanted = os.path.normpath(path)
    found: bool | None = None
    for line in mountinfo_text.splitlines():
        fields = line.split(" ")
        if len(fields) < 6:
            continue
        if os.path.normpath(_unescape(fields[4])) == wanted:
            found = "ro" in fields[5].split(",")  # the last (topmost) mount there wins
    return bool(found)


def is_read_only_mount(path: str, mountinfo: str = MOUNTINFO) -> bool:
    """:func:`read_only_mount` for this process (False when mountinfo cannot be read)."""
    try:
        with open(mountinfo, encoding="utf-8", errors="replace") as handle:
            text = handle.read(4 * 1024 * 1024)
    except OSError:
        return False
    return read_only_mount(os.path.realpath(path), text)
