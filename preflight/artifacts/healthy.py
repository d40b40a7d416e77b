"""The healthy run's JUnit document, written without the XML or diagnosis machinery.

Every dind job pays for the healthy path, so its one test case is a fixed text with one number in
it (no value from the job or the daemon reaches it, so nothing needs escaping). It is the same
document :func:`preflight.artifacts.junit.build_probe_junit` builds for a healthy probe
(tests/run/test_healthy_artifacts.py compares them).
"""

from __future__ import annotations

import os
from pathlib import Path

from preflight.artifacts.write import write_text

_DOCUMENT = """<?xml version="1.0" encoding="UTF-8"?>
<testsuites>
  <testsuite name="dind-preflight" tests="1" failures="0" errors="0" skipped="0" time="{t}">
    <testcase classname="dind-preflight.probe" name="probe" time="{t}" />
  </testsuite>
</testsuites>
"""


def healthy_junit(elapsed_s: float) -> str:
    """The JUnit document of a run whose probe found dind healthy after ``elapsed_s``."""
    return _DOCUMENT.format(t=f"{elapsed_s:.3f}")


def write_healthy_junit(path: str | os.PathLike[str], elapsed_s: float) -> Path:
    """Write :func:`healthy_junit` to ``path``."""
    return write_text(path, healthy_junit(elapsed_s))
