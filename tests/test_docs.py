"""The docs cannot drift from the program: what they quote of it is generated (`make docs`)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

import gen_docs  # noqa: E402


def test_every_generated_part_matches_the_program() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "gen_docs.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_program_output_is_quoted_only_inside_generated_parts() -> None:
    """A usage line or the job log's first line outside a generated part would drift."""
    quoted = re.compile(r"^(usage: dind-preflight|dind-preflight: FAILED:|node-report for )", re.M)
    for path in gen_docs.DOCS:
        outside = gen_docs.BLOCK.sub("", path.read_text())
        assert not quoted.findall(outside), f"{path.name} quotes the program by hand"


def test_check_reports_a_difference(tmp_path: Path) -> None:
    text = "<!-- begin generated: exit-codes run -->\n| stale |\n<!-- end generated -->\n"
    fresh = gen_docs.regenerate(text)
    assert "| stale |" not in fresh and "| 75 | node or runner fault" in fresh
    assert gen_docs.regenerate(fresh) == fresh


def test_each_command_documents_all_its_exit_codes() -> None:
    from preflight.cli import build_parser
    from preflight.exitcodes import BY_COMMAND

    for command, codes in BY_COMMAND.items():
        parser = build_parser(command)
        assert parser._subparsers is not None
        (commands,) = parser._subparsers._group_actions
        text = commands.choices[command].format_help()  # type: ignore[index]
        for code in codes:
            assert re.search(rf"^  {int(code):<3} \S", text, re.M), (command, code)
