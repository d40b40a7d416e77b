"""The one write step of every artifact: redacted text, written atomically."""

from __future__ import annotations

import os
from pathlib import Path

from preflight.errors import UsageError
from preflight.redaction import redact
from preflight.shown import shown


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (secrets redacted) to ``path`` through a temporary file and a rename."""
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        # A sibling temporary file (O_EXCL, this process' own name), then an atomic rename.
        tmp = target.parent / f".{target.name}.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_TRUNC, 0o644)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", errors="replace") as handle:
                handle.write(redact(text))
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise UsageError(f"cannot write {shown(str(target))}: {exc.strerror or exc}") from None
    return target
