"""Odd files in the configuration directories become findings (or are skipped as systemd and kmod
skip them); none of them stops the analysis."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from preflight.node.api import analyze_host
from preflight.node.model import NodeReport, Severity
from tests.node.privileges import as_nobody
from tests.node.profiles import healthy
from tests.node.rootbuilder import HostRoot


def config_findings(report: NodeReport) -> list[tuple[str, Severity, list[str]]]:
    return [
        (f.code, f.severity, f.evidence) for f in report.findings if f.code.startswith("config-")
    ]


def run(root: HostRoot) -> NodeReport:
    return analyze_host(str(root.path))


def test_symlink_loop_in_modules_load_d(tmp_path: Path) -> None:
    root = healthy(tmp_path)
    root.symlink("/etc/modules-load.d/loop.conf", "loop.conf")
    report = run(root)
    assert config_findings(report) == [
        ("config-symlink-loop", Severity.WARNING, ["/etc/modules-load.d/loop.conf"])
    ]
    assert report.ok  # the other files still count


def test_dangling_symlink_is_skipped_like_systemd(tmp_path: Path) -> None:
    root = healthy(tmp_path)
    root.symlink("/etc/modules-load.d/gone.conf", "/usr/share/dind/gone.conf")
    report = run(root)
    assert config_findings(report) == [
        ("config-dangling-symlink", Severity.INFO, ["/etc/modules-load.d/gone.conf"])
    ]
    assert "skipped, as systemd does" in report.findings[0].message


def test_directory_named_conf_wins_its_name_and_fails(tmp_path: Path) -> None:
    root = healthy(tmp_path, listed=False)
    root.dir("/etc/modules-load.d/dind.conf")
    root.lines("/usr/lib/modules-load.d/dind.conf", "iptable_nat", "iptable_filter")
    report = run(root)
    assert ("config-is-directory", Severity.WARNING, ["/etc/modules-load.d/dind.conf"]) in (
        config_findings(report)
    )
    # systemd 252 lets the directory override the vendor file of the same name.
    assert [i.code for i in report.modules["iptable_nat"].ignored] == ["modules-load-overridden"]


def test_directory_named_conf_in_modprobe_d_is_skipped(tmp_path: Path) -> None:
    root = healthy(tmp_path)
    root.dir("/etc/modprobe.d/bl.conf")
    root.lines("/usr/lib/modprobe.d/bl.conf", "blacklist iptable_nat")
    report = run(root)
    # kmod skips the directory and does not let it override: the vendor blacklist counts.
    assert [b.code for b in report.modules["iptable_nat"].blockers] == ["blacklisted"]
    assert ("config-is-directory", Severity.INFO, ["/etc/modprobe.d/bl.conf"]) in config_findings(
        report
    )


@pytest.mark.timeout(10)
def test_fifo_named_conf(tmp_path: Path) -> None:
    root = healthy(tmp_path)
    os.mkfifo(root.host("/etc/modules-load.d/pipe.conf"))
    report = run(root)
    assert config_findings(report) == [
        ("config-not-regular", Severity.WARNING, ["/etc/modules-load.d/pipe.conf"])
    ]


def test_binary_file(tmp_path: Path) -> None:
    root = healthy(tmp_path, listed=False)
    root.file(
        "/etc/modules-load.d/dind.conf", b"\x7fELF\x02\x01\x00\x00iptable_nat\x00iptable_filter\n"
    )
    report = run(root)
    assert config_findings(report) == [
        ("config-binary", Severity.WARNING, ["/etc/modules-load.d/dind.conf"])
    ]
    # read_line ends lines at NUL too: the names between NULs are still read by systemd.
    assert [s.text for s in report.modules["iptable_nat"].listed_in] == ["iptable_nat"]


def test_huge_file(tmp_path: Path) -> None:
    root = healthy(tmp_path)
    root.file("/etc/modules-load.d/zz-huge.conf", b"# padding\n" * 500_000)
    report = run(root)
    assert config_findings(report) == [
        ("config-too-large", Severity.WARNING, ["/etc/modules-load.d/zz-huge.conf"])
    ]
    assert report.ok


def test_unreadable_files_and_directories(public_tmp: Path) -> None:
    root = healthy(public_tmp)
    for directory in (root.path, *root.path.rglob("*")):
        if directory.is_dir() and not directory.is_symlink():
            directory.chmod(0o755)
    root.lines("/etc/modules-load.d/locked.conf", "overlay")
    root.host("/etc/modules-load.d/locked.conf").chmod(0o000)
    root.lines("/run/modprobe.d/x.conf", "blacklist iptable_nat")
    root.host("/run/modprobe.d").chmod(0o000)
    analyze_host(str(root.path))  # import everything lazily imported, as root
    with as_nobody():
        report = run(root)
    found = config_findings(report)
    assert ("config-unreadable", Severity.WARNING, ["/etc/modules-load.d/locked.conf"]) in found
    assert ("config-unreadable", Severity.WARNING, ["/run/modprobe.d"]) in found
    assert report.modules["iptable_nat"].loads_at_boot


def test_directory_with_too_many_entries(tmp_path: Path) -> None:
    root = healthy(tmp_path)
    for i in range(600):
        root.file(f"/etc/modules-load.d/zz-{i:03}.conf", "")
    report = run(root)
    assert ("config-too-large", Severity.WARNING, ["/etc/modules-load.d"]) in config_findings(
        report
    )


def test_an_unreadable_listing_is_unknown_never_absent(public_tmp: Path) -> None:
    # The helper runs as non-root: the one file that lists the modules is root-only (0600).
    root = healthy(public_tmp, listed=False, loaded=False)
    root.lines("/etc/modules-load.d/dind.conf", "iptable_nat", "iptable_filter")
    root.host("/etc/modules-load.d/dind.conf").chmod(0o600)
    for directory in root.path.rglob("*"):
        if directory.is_dir():
            directory.chmod(0o755)
    analyze_host(str(root.path))  # import everything lazily imported, as root
    with as_nobody():
        report = run(root)
    nat = report.modules["iptable_nat"]
    assert nat.loads_at_boot_known is False and nat.loads_at_boot is False
    unknown = [
        f for f in report.findings if f.module == "iptable_nat" and f.code != "module-not-loaded"
    ]
    assert [(f.code, f.message, f.remedy) for f in unknown] == [
        (
            "boot-state-unknown",
            "iptable_nat: at boot unknown (could not read /etc/modules-load.d/dind.conf)",
            None,
        )
    ]
    # never "create the file that exists"
    assert not any(f.code == "module-not-persistent" for f in report.findings)
    assert not any(
        f.remedy is not None and f.remedy.file == "/etc/modules-load.d/dind.conf"
        for f in report.findings
    )
    # as root the same root is fully known
    assert analyze_host(str(root.path)).modules["iptable_nat"].loads_at_boot is True


def test_an_unreadable_module_index_is_unknown_without_a_depmod_remedy(public_tmp: Path) -> None:
    root = healthy(public_tmp)
    (dep,) = root.path.glob("**/modules.dep")
    for directory in root.path.rglob("*"):
        if directory.is_dir():
            directory.chmod(0o755)
    dep.chmod(0o600)
    analyze_host(str(root.path))
    with as_nobody():
        report = run(root)
    (finding,) = [f for f in report.findings if f.kernel is not None]
    assert finding.code == "module-index-unreadable" and finding.remedy is None
    assert "could not read" in finding.message
    assert not any(f.code == "module-unavailable" for f in report.findings)
