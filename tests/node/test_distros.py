"""The node analysis on host roots shaped like each distribution, including the field report."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from preflight.jsonable import from_json, to_json
from preflight.node.api import analyze_host, analyze_host_backend
from preflight.node.model import NodeReport, Severity
from preflight.node.module_sets import module_set
from preflight.node.render import render_text
from tests.node import profiles
from tests.node.rootbuilder import HostRoot


def codes(report: NodeReport, module: str | None = None) -> set[str]:
    return {f.code for f in report.findings if module is None or f.module == module}


def test_field_report_before_the_fix(tmp_path: Path) -> None:
    report = analyze_host(str(profiles.centos8_field_report(tmp_path, "before").path))
    assert report.kernel == profiles.CENTOS8_NEW
    assert not report.ok
    for name in ("iptable_nat", "iptable_filter"):
        state = report.modules[name]
        assert (state.loaded, state.available, state.loads_at_boot) == (False, True, False)
        assert state.listed_in == []
        assert [(i.path, i.code) for i in state.ignored] == [
            ("/etc/modules", "etc-modules-not-read")
        ]
        # Not a false alarm, but not an excuse either: the kernel could autoload it.
        assert state.autoload_on_use
    assert codes(report, "iptable_nat") == {"etc-modules-not-read", "module-not-loaded"}
    cause = next(f for f in report.findings if f.code == "etc-modules-not-read")
    assert cause.severity is Severity.ERROR
    assert cause.evidence == ["/etc/modules:1"]
    # The remedy is exactly the fix that worked.
    assert cause.remedy is not None
    assert cause.remedy.file == "/etc/modules-load.d/iptable_nat.conf"
    assert cause.remedy.content == "iptable_nat\niptable_filter\n"
    assert cause.remedy.load_now == "modprobe -a iptable_nat iptable_filter"
    assert cause.remedy.verify == "lsmod | grep iptable"
    assert report.iptables.legacy_nat_autoload
    assert report.modules_load_files == []
    # Both kernels would come up without them.
    assert [k.not_at_boot for k in report.kernels] == [["iptable_nat", "iptable_filter"]] * 2


def test_field_report_after_manual_modprobe_is_still_not_persistent(tmp_path: Path) -> None:
    report = analyze_host(str(profiles.centos8_field_report(tmp_path, "manual").path))
    state = report.modules["iptable_nat"]
    assert (state.loaded, state.loads_at_boot) == (True, False)
    assert codes(report) == {"etc-modules-not-read"}
    assert not report.ok
    assert report.iptables.backend_hint == "legacy"
    assert report.iptables.legacy_tables == ["nat", "filter"]


def test_field_report_after_the_fix(tmp_path: Path) -> None:
    report = analyze_host(str(profiles.centos8_field_report(tmp_path, "fixed").path))
    assert report.ok
    assert report.findings == []
    state = report.modules["iptable_filter"]
    assert [(s.path, s.line, s.text) for s in state.listed_in] == [
        ("/etc/modules-load.d/iptable_nat.conf", 2, "iptable_filter")
    ]
    # /etc/modules still lists them, and is still not read: evidence, not a finding.
    assert [i.code for i in state.ignored] == ["etc-modules-not-read"]
    assert report.modules_load_files == ["/etc/modules-load.d/iptable_nat.conf"]
    assert [k.release for k in report.kernels] == [profiles.CENTOS8_NEW, profiles.CENTOS8_OLD]
    assert [k.running for k in report.kernels] == [True, False]
    assert [k.not_at_boot for k in report.kernels] == [[], []]


def test_field_report_text_names_the_fix(tmp_path: Path) -> None:
    text = render_text(analyze_host(str(profiles.centos8_field_report(tmp_path, "before").path)))
    assert "iptable_nat     no (autoloads)  no       listed only in /etc/modules:1" in text
    assert "1. Write /etc/modules-load.d/iptable_nat.conf:\n" in text
    assert "2. Run now: modprobe -a iptable_nat iptable_filter" in text
    assert "3. Verify, now and after the next reboot: lsmod | grep iptable" in text
    last = text.rstrip().splitlines()[-1]
    assert last.startswith("result: NOT OK: now: iptable_nat denied, iptable_filter denied;")
    assert "SELinux denies a container's module request" in last


@pytest.mark.parametrize(
    ("build", "ok", "found", "via"),
    [
        (profiles.debian11_split_usr, True, set(), "/etc/modules-load.d/modules.conf"),
        (profiles.debian12, True, set(), None),
        (profiles.ubuntu2204, True, set(), "/etc/modules-load.d/modules.conf"),
        (profiles.ubuntu2404, True, set(), None),
        (profiles.builtin_netfilter, True, set(), None),
        # --module iptable_nat on an nf_tables node: the legacy rule (no autoload excuse).
        (profiles.rocky9, False, {"module-not-persistent", "module-not-loaded"}, None),
    ],
    ids=["debian11-split-usr", "debian12", "ubuntu2204", "ubuntu2404", "builtin", "rocky9"],
)
def test_distributions(
    tmp_path: Path,
    build: Callable[[Path], HostRoot],
    ok: bool,
    found: set[str],
    via: str | None,
) -> None:
    report = analyze_host(str(build(tmp_path).path))
    assert report.ok is ok
    assert codes(report) == found
    state = report.modules["iptable_nat"]
    if state.listed_in:
        assert state.listed_in[0].via == via
    # The JSON contract round-trips.
    assert from_json(NodeReport, to_json(report)) == report


@pytest.mark.parametrize(
    ("build", "backend", "warned"),
    [
        (profiles.debian11_split_usr, "legacy", set()),
        (profiles.debian12, "legacy", set()),
        (profiles.ubuntu2204, "legacy", set()),
        (profiles.ubuntu2404, "legacy", set()),
        (
            profiles.builtin_netfilter,
            "nf_tables",
            {"module-loads-on-first-use", "module-not-loaded"},
        ),
        (profiles.debian12_nft, "nf_tables", {"module-loads-on-first-use", "module-not-loaded"}),
    ],
    ids=[
        "debian11-split-usr",
        "debian12",
        "ubuntu2204",
        "ubuntu2404",
        "builtin",
        "debian12-nft",
    ],
)
def test_distributions_for_the_backend_dind_picks(
    tmp_path: Path, build: Callable[[Path], HostRoot], backend: str, warned: set[str]
) -> None:
    """``--backend auto``. Debian 12 on nf_tables lists nothing for boot and need not: the
    kernel loads nft_chain_nat on first use (alias nft-chain-2-nat), nothing denies it (no
    SELinux). (Rocky 9, SELinux enforcing: tests/node/test_first_use.py.)"""
    report = analyze_host_backend(str(build(tmp_path).path))
    assert report.backend == backend, report.backend_reason
    assert report.ok
    nat = module_set(backend).nat_module
    assert {f.code for f in report.findings if f.module == nat} == warned
    assert not [f for f in report.findings if f.severity is Severity.ERROR]
    assert from_json(NodeReport, to_json(report)) == report


def test_debian11_split_usr_reads_lib_modules_load_d(tmp_path: Path) -> None:
    root = profiles.debian11_split_usr(tmp_path)
    report = analyze_host(str(root.path), modules=["fuse"])
    state = report.modules["fuse"]
    assert [(s.path, s.line) for s in state.listed_in] == [("/lib/modules-load.d/fuse.conf", 1)]
    assert "/lib/modules-load.d/fuse.conf" in report.modules_load_files


def test_debian11_without_the_lines_loads_on_first_use(tmp_path: Path) -> None:
    """Nothing lists the legacy tables, nothing blocks or denies their load (no SELinux): the
    kernel loads them on first use, a warning with nothing to fix."""
    report = analyze_host(str(profiles.debian11_split_usr(tmp_path, listed=False).path))
    assert codes(report) == {"module-loads-on-first-use"}
    assert report.ok
    assert all(f.remedy is None for f in report.findings)


def test_debian11_without_the_lines_under_selinux_is_not_persistent(tmp_path: Path) -> None:
    root = profiles.debian11_split_usr(tmp_path, listed=False)
    profiles.selinux_enforcing(root)
    report = analyze_host(str(root.path))
    assert codes(report) == {"module-not-persistent"}
    fix = report.findings[0].remedy
    assert fix is not None and fix.file == "/etc/modules-load.d/iptable_nat.conf"


def test_ubuntu2404_zstd_modules_are_available(tmp_path: Path) -> None:
    root = profiles.ubuntu2404(tmp_path)
    assert (
        root.host(f"/lib/modules/{profiles.UBUNTU2404}/kernel/net/ipv4/netfilter")
        / "iptable_nat.ko.zst"
    ).exists()
    report = analyze_host(str(root.path), modules=["nft_chain_nat", "br_netfilter"])
    assert report.modules["nft_chain_nat"].loads_at_boot
    assert report.modules["br_netfilter"].available
    assert not report.modules["br_netfilter"].loaded
    assert report.iptables.nft_loaded


def test_builtin_kernel_needs_nothing_at_boot(tmp_path: Path) -> None:
    report = analyze_host(str(profiles.builtin_netfilter(tmp_path).path))
    state = report.modules["iptable_nat"]
    assert (state.loaded, state.builtin, state.available, state.loads_at_boot) == (
        True,
        True,
        True,
        True,
    )
    assert state.loaded_source == "modules.builtin"
    assert report.kernels[0].builtin == ["iptable_nat", "iptable_filter"]


def test_rocky9_nft_backend_and_its_k8s_modules(tmp_path: Path) -> None:
    report = analyze_host(str(profiles.rocky9(tmp_path).path), modules=["overlay", "br_netfilter"])
    assert report.ok
    assert report.iptables.backend_hint == "nf_tables"
    assert report.iptables.nat_module == "nft_chain_nat"
    assert report.iptables.legacy_tables == []
