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


def _before(path: Path) -> HostRoot:
    return profiles.centos8_field_report(path, "before")


def _manual(path: Path) -> HostRoot:
    return profiles.centos8_field_report(path, "manual")


def _fixed(path: Path) -> HostRoot:
    return profiles.centos8_field_report(path, "fixed")


def _blocked(path: Path) -> HostRoot:
    root = profiles.debian12(path)
    root.lines("/etc/modprobe.d/hardening.conf", "install iptable_nat /bin/false")
    root.proc(
        profiles.DEBIAN12,
        [m for m in profiles.BASE_LOADED if m != "iptable_nat"] + ["ip_tables", "iptable_filter"],
        ip_tables=["filter"],
    )
    return root


LEGACY = ("--backend", "legacy")
SERVE_LEGACY = ("--backends", "legacy")


@pytest.mark.parametrize(
    ("build", "extra", "which", "code", "first_word"),
    [
        (profiles.debian12, (), "now", 0, "modules-loaded:"),
        (profiles.debian12, (), "after-reboot", 0, "modules-load-at-boot:"),
        # The field report's node after the reboot, judged for the legacy backend it ran: not
        # loaded, and SELinux (CentOS 8, enforcing) denies dind's request to load it: a fault
        # now and after the next boot.
        (
            _before,
            LEGACY,
            "now",
            1,
            "iptable_nat-missing: iptable_nat is not loaded, and the kernel refuses",
        ),
        (_before, LEGACY, "after-reboot", 1, "etc-modules-not-read:"),
        # Someone ran modprobe: legacy tables registered, fine now for a legacy image, not
        # after the next reboot; an nf_tables image would fail now (nft_chain_nat denied).
        (_manual, SERVE_LEGACY, "now", 0, "modules-loaded:"),
        (_manual, (), "now", 1, "nft_chain_nat-missing:"),
        (_manual, (), "after-reboot", 1, "etc-modules-not-read:"),
        (_fixed, SERVE_LEGACY, "after-reboot", 0, "modules-load-at-boot:"),
        (_fixed, (), "after-reboot", 1, "module-not-persistent: nft_chain_nat"),
        # A hardening rule blocks the nat table: that is a fault now.
        (_blocked, (), "now", 1, "iptable_nat-missing: iptable_nat is blocked"),
    ],
    ids=[
        "healthy-now",
        "healthy-reboot",
        "field-report-now",
        "field-report-reboot",
        "modprobed-now",
        "modprobed-now-both",
        "modprobed-reboot",
        "fixed-reboot",
        "fixed-reboot-both",
        "blocked-now",
    ],
)
def test_exit_code_and_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    build: Build,
    extra: tuple[str, ...],
    which: str,
    code: int,
    first_word: str,
) -> None:
    root = build(tmp_path)
    assert main(["node-report", "--root", str(root.path), *extra, "--npd", which]) == code
    out, err = capsys.readouterr()
    assert err == ""
    assert out.count("\n") == 1 and out.startswith(first_word)


def test_default_is_now(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = profiles.centos8_field_report(tmp_path, "manual")
    assert main(["node-report", "--root", str(root.path), *SERVE_LEGACY, "--npd"]) == 0
    assert capsys.readouterr().out.startswith("modules-loaded:")


def test_unknown_when_modules_cannot_be_seen(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = profiles.debian12(tmp_path)
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
