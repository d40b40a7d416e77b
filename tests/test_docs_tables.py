"""Each command's documented exit codes hold for real (tests/test_docs.py checks the tables)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from preflight.exitcodes import BY_COMMAND, ExitCode


@pytest.mark.parametrize("command", sorted(BY_COMMAND))
def test_a_usage_error_is_64_for_every_command(command: str) -> None:
    # one code of the table, observed for real on each command
    result = subprocess.run(
        [sys.executable, "-m", "preflight", command, "--no-such-flag"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 64 and ExitCode.USAGE in BY_COMMAND[command]
    assert result.stderr.count("\n") == 1
