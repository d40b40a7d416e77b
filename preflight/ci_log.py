"""GitLab job log formatting: collapsible sections and a summary line."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

_NAME_OK = re.compile(r"[^A-Za-z0-9_.\-]")


def section_start(
    name: str, header: str, *, collapsed: bool = True, now: float | None = None
) -> str:
    """The escape sequence that opens a collapsible section named ``name`` with ``header``."""
    ts = int(now if now is not None else time.time())
    flag = "[collapsed=true]" if collapsed else ""
    return f"\x1b[0Ksection_start:{ts}:{_NAME_OK.sub('_', name)}{flag}\r\x1b[0K{header}"


def section_end(name: str, *, now: float | None = None) -> str:
    """The escape sequence that closes section ``name``."""
    ts = int(now if now is not None else time.time())
    return f"\x1b[0Ksection_end:{ts}:{_NAME_OK.sub('_', name)}\r\x1b[0K"


@contextmanager
def section(out: TextIO, name: str, header: str, *, collapsed: bool = True) -> Iterator[None]:
    """Write the body produced inside the ``with`` block into a collapsible section."""
    print(section_start(name, header, collapsed=collapsed), file=out)
    try:
        yield
    finally:
        print(section_end(name), file=out)
        out.flush()
