"""Tables the docs quote from the program are the program's own (one source for each fact)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from preflight.exitcodes import COMMAND_EXIT_CODES, COMMON, exit_code_table

REPO = Path(__file__).resolve().parents[1]


def test_the_readme_exit_code_table_is_generated_from_the_program() -> None:
    assert exit_code_table() in (REPO / "README.md").read_text()


@pytest.mark.parametrize("command", sorted(COMMAND_EXIT_CODES))
def test_a_usage_error_is_64_for_every_command(command: str) -> None:
    # one code of the table, observed for real on each command
    result = subprocess.run(
        [sys.executable, "-m", "preflight", command, "--no-such-flag"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 64 and 64 in COMMON
    assert result.stderr.count("\n") == 1
