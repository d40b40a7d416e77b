"""Fixtures of the node analysis tests."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def public_tmp() -> Iterator[Path]:
    """A directory nobody (uid 65534) can traverse (pytest's own tmp_path is root-only)."""
    path = Path(tempfile.mkdtemp(prefix="dpf-node-", dir="/tmp"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
