"""A table module its backend loads on first use (nf_tables: nft_chain_nat, alias
nft-chain-2-nat) needs no boot listing: "not listed for boot" is a warning when it exists for
that kernel and nothing blocks the alias path; an error when it is absent, blocked, or when an
admin's listing is not honoured. Legacy keeps the error (the field report). node-report's
findings and exit code, the kernel inventory and DindReadyAfterReboot say the same."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from preflight.cli import main
from preflight.node.api import analyze_host_backend
from preflight.node.model import NodeReport, Severity
from preflight.readiness.model import Status
from preflight.readiness.verdict import readiness_of
from tests.node import profiles
from tests.node.rootbuilder import NETFILTER, HostRoot

WARNING_TEXT = (
    "nft_chain_nat is not listed for boot; the kernel loads it on first use "
    "(alias nft-chain-2-nat), nothing blocks it"
)
NFT_ROOTS = [profiles.rocky9, profiles.debian12_nft]
NFT_IDS = ["rocky9", "debian12-nft"]


def report_of(root: HostRoot) -> NodeReport:
    return analyze_host_backend(str(root.path), None, "auto")


def findings(report: NodeReport, module: str) -> dict[str, Severity]:
    return {f.code: f.severity for f in report.findings if f.module == module}


def exit_code(root: HostRoot, capsys: pytest.CaptureFixture[str]) -> int:
    code = main(["node-report", "--root", str(root.path)])
    capsys.readouterr()
    return code


@pytest.mark.parametrize("build", [profiles.debian12_nft], ids=["debian12-nft"])
def test_nft_node_with_nothing_listed_is_ok_with_the_warning(
    tmp_path: Path, build: Callable[[Path], HostRoot], capsys: pytest.CaptureFixture[str]
) -> None:
    root = build(tmp_path)
    report = report_of(root)
    assert report.backend == "nf_tables", report.backend_reason
    state = report.modules["nft_chain_nat"]
    assert (state.listed_in, state.loads_at_boot, state.first_use_suffices) == ([], False, True)
    found = findings(report, "nft_chain_nat")
    assert found.pop("module-loads-on-first-use") is Severity.WARNING
    # Not loaded yet (Debian 12 without a nat chain so far) is a warning too, nothing more.
    assert found in ({}, {"module-not-loaded": Severity.WARNING})
    assert not [f for f in report.findings if f.severity is Severity.ERROR]
    # Nothing to fix: neither finding carries a remedy (no modprobe, no modules-load.d file).
    assert [f.remedy for f in report.findings if f.module == "nft_chain_nat"] == [None] * len(
        findings(report, "nft_chain_nat")
    )
    warning = next(f for f in report.findings if f.code == "module-loads-on-first-use")
    assert warning.message == WARNING_TEXT
    assert report.ok and exit_code(root, capsys) == 0
    # Every installed kernel has it and nothing blocks it there: not "not at boot".
    assert [(k.not_at_boot, k.on_first_use) for k in report.kernels] == [
        ([], ["nft_chain_nat"])
    ] * len(report.kernels)
    readiness = readiness_of(report)
    assert readiness.now.status is Status.TRUE
    assert readiness.after_reboot.status is Status.TRUE
    assert readiness.after_reboot.message.startswith(WARNING_TEXT)


@pytest.mark.parametrize("build", NFT_ROOTS, ids=NFT_IDS)
@pytest.mark.parametrize(
    ("rule", "blocker"),
    [
        ("blacklist nft_chain_nat", "blacklisted"),
        ("install nft_chain_nat /bin/false", "install-false"),
        ("install nf_tables /bin/true", "install-true"),
    ],
    ids=["blacklist", "install-false", "dependency-install-true"],
)
def test_a_blocked_alias_path_keeps_the_error(
    tmp_path: Path,
    build: Callable[[Path], HostRoot],
    rule: str,
    blocker: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = build(tmp_path)
    root.lines("/etc/modprobe.d/hardening.conf", rule)
    report = report_of(root)
    assert report.backend == "nf_tables", report.backend_reason
    assert not report.modules["nft_chain_nat"].first_use_suffices
    found = findings(report, "nft_chain_nat")
    assert found["module-not-persistent"] is Severity.ERROR
    assert found[blocker] is Severity.ERROR
    assert "module-loads-on-first-use" not in found
    assert not report.ok and exit_code(root, capsys) == 1
    assert all(k.not_at_boot == ["nft_chain_nat"] for k in report.kernels)
    assert readiness_of(report).after_reboot.status is Status.FALSE


def test_module_blacklist_on_the_command_line_keeps_the_error(tmp_path: Path) -> None:
    root = profiles.debian12_nft(tmp_path)
    root.proc(
        profiles.DEBIAN12,
        [*profiles.BASE_LOADED, "nfnetlink", "nf_tables"],
        ip_tables=[],
        cmdline="ro module_blacklist=nft_chain_nat",
    )
    report = report_of(root)
    assert findings(report, "nft_chain_nat")["module-not-persistent"] is Severity.ERROR
    assert readiness_of(report).after_reboot.status is Status.FALSE


def test_a_newer_kernel_without_the_module_keeps_the_error(tmp_path: Path) -> None:
    root = profiles.debian12_nft(tmp_path)
    modules = [n for n in NETFILTER if n != "nft_chain_nat"]
    root.kernel("6.1.0-20-amd64", modules, ext=".ko")
    report = report_of(root)
    newest = next(k for k in report.kernels if k.newest)
    assert (newest.missing, newest.on_first_use) == (["nft_chain_nat"], [])
    after = readiness_of(report).after_reboot
    assert (after.status, after.code) == (Status.FALSE, "kernel-missing-module")


def test_an_unhonoured_listing_of_nft_chain_nat_keeps_the_error(tmp_path: Path) -> None:
    root = profiles.rocky9(tmp_path)
    root.lines("/etc/modules", "nft_chain_nat")  # nothing reads /etc/modules on Rocky
    report = report_of(root)
    assert findings(report, "nft_chain_nat") == {"etc-modules-not-read": Severity.ERROR}
    after = readiness_of(report).after_reboot
    assert (after.status, after.code) == (Status.FALSE, "etc-modules-not-read")


def test_legacy_node_with_nothing_listed_is_still_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = profiles.healthy(tmp_path, listed=False)
    root.proc(profiles.HEALTHY, profiles.HEALTHY_LOADED, ip_tables=["nat", "filter"])
    report = report_of(root)
    assert report.backend == "legacy", report.backend_reason
    assert findings(report, "iptable_nat")["module-not-persistent"] is Severity.ERROR
    assert not report.modules["iptable_nat"].first_use_suffices
    assert report.modules["iptable_nat"].loaded  # loaded now does not excuse it
    assert not report.ok and exit_code(root, capsys) == 1
    assert report.kernels[0].not_at_boot == ["iptable_nat", "iptable_filter"]
    after = readiness_of(report).after_reboot
    assert (after.status, after.code) == (Status.FALSE, "module-not-persistent")


def test_rhel_family_with_selinux_enforcing_needs_the_boot_listing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Rocky 9 on nf_tables: nft_chain_nat is loaded now, nothing lists it for boot, and after
    the reboot SELinux denies dind's request for it (cockpit-project/cockpit#9261: RHEL 8,
    ``avc: denied { module_request }``): a fault after the next boot, not the first-use
    warning a Debian node gets."""
    root = profiles.rocky9(tmp_path)
    report = report_of(root)
    assert report.backend == "nf_tables", report.backend_reason
    state = report.modules["nft_chain_nat"]
    assert (state.loaded, state.loads_at_boot, state.first_use_suffices) == (True, False, False)
    assert report.module_requests.denied_at_boot is True
    assert findings(report, "nft_chain_nat")["module-not-persistent"] is Severity.ERROR
    readiness = readiness_of(report)
    assert readiness.now.status is Status.TRUE
    assert (readiness.after_reboot.status, readiness.after_reboot.code) == (
        Status.FALSE,
        "module-not-persistent",
    )
    assert "nft_chain_nat=denied" in readiness.after_reboot.message
    assert not report.ok and exit_code(root, capsys) == 1


@pytest.mark.parametrize("stage", ["before", "manual"])
def test_field_report_root_is_still_not_ready_after_reboot(tmp_path: Path, stage: str) -> None:
    """Checked for both backends (the default), the /etc/modules listing nothing reads comes
    first: iptable_nat is a legacy image's nat table, denied to a container after the reboot."""
    from preflight.node.api import analyze_host_backends

    report = analyze_host_backends(str(profiles.centos8_field_report(tmp_path, stage).path))
    assert "iptable_nat" in report.checked
    assert not report.ok
    after = readiness_of(report).after_reboot
    assert (after.status, after.code) == (Status.FALSE, "etc-modules-not-read")
    assert after.fix is not None
    assert after.fix.file == "/etc/modules-load.d/iptable_nat.conf"
