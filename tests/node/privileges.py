"""Drop to nobody for a block, to see what an unprivileged reader sees (the tests run as root)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

NOBODY = 65534


@contextlib.contextmanager
def as_nobody() -> Iterator[None]:
    """Run the block with the effective uid/gid of nobody; root's saved uid restores it after.

    Whatever the block imports lazily must already be imported: nobody may not read the venv.
    """
    os.setegid(NOBODY)
    os.seteuid(NOBODY)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)
