"""Reading the files a user or a job names (service log, probe result, diagnosis, token file).

A job can point any of them at a FIFO (blocks forever), ``/dev/zero`` (never ends), a directory
or a file of gigabytes. Every read here opens non-blocking, refuses anything but a regular file,
and reads at most a fixed number of bytes: the whole file (refusing a larger one), or its tail
(logs: the fatal line is at the end). JSON documents are also refused beyond a nesting depth
(the standard parser recurses and would fail with ``RecursionError``). Errors are one line, exit
66, and name the path escaped and cut.
"""

from __future__ import annotations

import os
import re
import stat
import sys

from preflight.errors import InputError
from preflight.shown import shown

TYPE_CHECKING = False  # typing's constant without importing typing: the healthy path
if TYPE_CHECKING:
    from typing import Any


MAX_LOG_BYTES = 256 * 1024  # the tail of a service log that is searched
MAX_JSON_BYTES = 4 * 1024 * 1024  # a probe result or a diagnosis
MAX_TOKEN_BYTES = 4096  # a token file (GitLab "File" variable or Secret key)
MAX_JSON_DEPTH = 64
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACKETS = re.compile(r"[\[\]{}]")


def read_regular(path: str, what: str, max_bytes: int, *, tail: bool = False) -> bytes:
    """The bytes of the regular file ``path``: whole (at most ``max_bytes``) or its last bytes.

    ``tail=False``: a larger file is refused. ``tail=True``: only the last ``max_bytes`` are read.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise InputError(f"cannot read {what} {shown(path)}: it does not exist") from None
    except OSError as exc:
        raise InputError(f"cannot read {what} {shown(path)}: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InputError(
                f"cannot read {what} {shown(path)}: not a regular file ({_kind(info.st_mode)})"
            )
        if info.st_size > max_bytes:
            if not tail:
                raise InputError(
                    f"cannot read {what} {shown(path)}: {info.st_size} bytes, "
                    f"more than the {max_bytes} accepted"
                )
            os.lseek(fd, info.st_size - max_bytes, os.SEEK_SET)
        return _read_at_most(fd, max_bytes)
    except OSError as exc:
        raise InputError(f"cannot read {what} {shown(path)}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def read_text(path: str, what: str, max_bytes: int, *, tail: bool = False) -> str:
    """:func:`read_regular` decoded as UTF-8 (invalid bytes replaced; a cut first line dropped)."""
    data = read_regular(path, what, max_bytes, tail=tail)
    text = data.decode("utf-8", "replace")
    if tail and len(data) >= max_bytes and "\n" in text:
        text = text.split("\n", 1)[1]  # the first line was cut in the middle
    return text


def read_stdin(what: str, max_bytes: int) -> str:
    """Standard input (a pipe is fine here), at most ``max_bytes``."""
    data = sys.stdin.buffer.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise InputError(f"cannot read {what} from stdin: more than {max_bytes} bytes")
    return data.decode("utf-8", "replace")


def load_json(text: str, name: str, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse JSON nested at most ``max_depth`` levels; one-line :class:`InputError` otherwise."""
    import json  # here: reading a token file (the healthy path) needs no JSON

    depth = json_depth(text)
    if depth > max_depth:
        raise InputError(
            f"{shown(name)} is not accepted: JSON nested {depth} levels deep (at most {max_depth})"
        )
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{shown(name)} is not valid JSON (line {exc.lineno} column {exc.colno})"
        ) from None
    except RecursionError:
        raise InputError(f"{shown(name)} is not accepted: JSON nested too deeply") from None


def json_depth(text: str) -> int:
    """The deepest nesting of ``[``/``{`` in ``text``, ignoring brackets inside strings."""
    depth = deepest = 0
    for bracket in _BRACKETS.findall(_STRINGS.sub("", text)):
        if bracket in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _read_at_most(fd: int, max_bytes: int) -> bytes:
    chunks: list[bytes] = []
    left = max_bytes
    while left > 0:
        chunk = os.read(fd, min(left, 65536))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"
