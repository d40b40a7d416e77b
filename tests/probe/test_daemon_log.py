"""Quoting the daemon's fatal line from its log."""

from __future__ import annotations

from pathlib import Path

import pytest

from preflight.probe.daemon_log import MAX_LINE_CHARS, fatal_line, read_fatal_line
from tests.harness.dockerd import Dockerd

INFO = 'time="2026-11-26T11:08:18.1Z" level=info msg="Starting up"\n'


def test_the_real_field_report_log(field_report_dockerd: Dockerd) -> None:
    line = fatal_line(field_report_dockerd.log_text())
    assert line is not None
    assert line.startswith("failed to start daemon: Error initializing network controller")
    # dockerd wraps iptables' own output over three physical lines; we keep it, on one line.
    assert line.endswith(
        "can't initialize iptables table `nat': Table does not exist (do you need to insmod?) "
        "Perhaps iptables or your kernel needs to be upgraded. (exit status 3)"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", None),
        (INFO * 3, None),
        (INFO + "failed to start daemon: boom\n", "failed to start daemon: boom"),
        (  # continuation lines end at the next log record
            INFO + "failed to start daemon: a\nmore text\n (exit status 3)\n" + INFO,
            "failed to start daemon: a more text (exit status 3)",
        ),
        (  # the last fatal line wins (a restarted dind)
            "failed to start daemon: first\n" + INFO + "failed to start daemon: second\n",
            "failed to start daemon: second",
        ),
        (  # logfmt: the msg value, unescaped
            'time="2026-01-01T00:00:00Z" level=fatal msg="cannot \\"mount\\" x\\ny"\n',
            'cannot "mount" x y',
        ),
        (INFO + "failed to start daemon: x\n\ntrailing junk\n", "failed to start daemon: x"),
    ],
)
def test_fatal_line(text: str, expected: str | None) -> None:
    assert fatal_line(text) == expected


def test_long_lines_are_cut() -> None:
    line = fatal_line("failed to start daemon: " + "x" * 2000)
    assert line is not None and len(line) == MAX_LINE_CHARS and line.endswith("...")


def test_read_fatal_line_from_the_end_of_a_big_file(tmp_path: Path) -> None:
    log = tmp_path / "dockerd.log"
    log.write_text("failed to start daemon: old\n" + INFO * 20000 + "failed to start daemon: new\n")
    assert read_fatal_line(str(log), max_bytes=4096) == ("failed to start daemon: new", "")


def test_read_fatal_line_notes_instead_of_failing(tmp_path: Path) -> None:
    line, note = read_fatal_line(str(tmp_path / "absent.log"))
    assert line is None and "cannot read" in note and "absent.log" in note
    quiet = tmp_path / "quiet.log"
    quiet.write_text(INFO)
    assert read_fatal_line(str(quiet)) == (None, f"no fatal line in daemon log {quiet}")
