"""Titled sections in a log: GitLab collapsible sections in a CI job, plain headings elsewhere.

GitLab's markers (``ESC[0Ksection_start:...``) are only written when ``GITLAB_CI=true``, the
variable every GitLab job has; a terminal gets a plain ``Title:`` line and indented body lines.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping
from typing import TextIO

_NAME_OK = re.compile(r"[^A-Za-z0-9_.\-]")


def in_gitlab_job(env: Mapping[str, str]) -> bool:
    """Whether this process runs in a GitLab CI job (``GITLAB_CI=true``)."""
    return env.get("GITLAB_CI", "") == "true"


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


def write_section(
    out: TextIO,
    name: str,
    title: str,
    lines: Iterable[str],
    *,
    gitlab: bool,
    collapsed: bool = False,
) -> None:
    """``title`` and the body ``lines`` (indented by two spaces) as one section."""
    if gitlab:
        print(section_start(name, title, collapsed=collapsed), file=out)
    else:
        print(f"{title}:", file=out)
    for line in lines:
        print(f"  {line}", file=out)
    if gitlab:
        print(section_end(name), file=out)
