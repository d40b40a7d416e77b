"""`node-report --npd`: node-problem-detector's custom plugin protocol over the distro fixtures
(one line on stdout; exit 0 ok, 1 problem, 2 unknown)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from preflight.cli import main
from tests.node import profiles
from tests.node.rootbuilder import HostRoot

Build = Callable[[Path], HostRoot]


@pytest.mark.parametrize(
    ("build", "which", "code", "first_word"),
    [
        (profiles.healthy, "now", 0, "modules-loaded:"),
        (profiles.healthy, "after-reboot", 0, "modules-load-at-boot:"),
        (lambda p: profiles.centos8_field_report(p, "before"), "now", 1, "iptable_nat-missing:"),
        (
            lambda p: profiles.centos8_field_report(p, "before"),
            "after-reboot",
            1,
            "etc-modules-not-read:",
        ),
        (lambda p: profiles.centos8_field_report(p, "manual"), "now", 0, "modules-loaded:"),
        (
            lambda p: profiles.centos8_field_report(p, "manual"),
            "after-reboot",
            1,
            "etc-modules-not-read:",
        ),
        (lambda p: profiles.centos8_field_report(p, "fixed"), "after-reboot", 0, "modules-load"),
        (profiles.builtin_netfilter, "now", 0, "modules-loaded:"),
    ],
    ids=[
        "healthy-now",
        "healthy-reboot",
        "field-report-now",
        "field-report-reboot",
        "modprobed-now",
        "modprobed-reboot",
        "fixed-reboot",
        "builtin-now",
    ],
)
def test_exit_code_and_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    build: Build,
    which: str,
    code: int,
    first_word: str,
) -> None:
    root = build(tmp_path)
    assert main(["node-report", "--root", str(root.path), "--npd", which]) == code
    out, err = capsys.readouterr()
    assert err == ""
    assert out.count("\n") == 1 and out.startswith(first_word)


def test_default_is_now(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = profiles.centos8_field_report(tmp_path, "manual")
    assert main(["node-report", "--root", str(root.path), "--npd"]) == 0
    assert capsys.readouterr().out.startswith("modules-loaded:")


def test_unknown_when_modules_cannot_be_seen(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = profiles.healthy(tmp_path)
    (root.path / "proc/modules").unlink()
    assert main(["node-report", "--root", str(root.path), "--npd"]) == 2
    out = capsys.readouterr().out
    assert out.count("\n") == 1


def test_unknown_when_the_root_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["node-report", "--root", str(tmp_path / "nope"), "--npd"]) == 2
    out = capsys.readouterr().out
    assert out.startswith("unknown: ") and out.count("\n") == 1
