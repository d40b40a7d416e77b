"""The module-fact rule (preflight/node/loadability.py), one case per rule, on generated roots.

Written from linux-modules.md: a module is a fault for containers when it is absent, blocked
(install rule, module_blacklist=, a blacklisted alias; a plain blacklist of a module the kernel
asks for by name is no block), unloadable, or not loaded where SELinux enforcing on the RHEL
family denies a container's module request; "not loaded, nothing blocks or denies it" is no fault.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from preflight.node.api import analyze_host_backends
from preflight.node.facts import FileRead, FileStatus
from preflight.node.gather import gather
from preflight.node.loadability import boot_fact, module_fact, module_requests
from preflight.node.module_sets import union
from tests.node import profiles
from tests.node.rootbuilder import HostRoot

DEBIAN = profiles.HEALTHY


def node(tmp_path: Path, *, selinux: bool = False, loaded: list[str] | None = None) -> HostRoot:
    """A node with nothing listed for boot; only x_tables loaded unless ``loaded`` says."""
    root = profiles.healthy(tmp_path, listed=False, selinux=selinux)
    root.proc(DEBIAN, loaded or ["x_tables"], ip_tables=[])
    return root


def facts_of(root: HostRoot):  # type: ignore[no-untyped-def]
    return gather(str(root.path), None, union("legacy", "nf_tables"))


@pytest.mark.parametrize(
    ("os_id", "like", "config", "enforce", "cmdline", "now", "boot", "words"),
    [
        ("centos", "rhel fedora", "SELINUX=enforcing", None, "ro", True, True, "enforcing"),
        ("rhel", "fedora", "SELINUX=enforcing", "1", "ro", True, True, "enforcing"),
        # setenforce 0 now, the configuration enforces again at the next boot
        ("rocky", "rhel centos fedora", "SELINUX=enforcing", "0", "ro", False, True, "enforcing"),
        ("centos", "rhel fedora", "SELINUX=permissive", None, "ro", False, False, "permissive"),
        ("centos", "rhel fedora", "SELINUX=disabled", None, "ro", False, False, "disabled"),
        ("centos", "rhel fedora", "SELINUX=enforcing", None, "ro selinux=0", False, False, ""),
        ("centos", "rhel fedora", "SELINUX=enforcing", None, "ro enforcing=0", False, False, ""),
        ("debian", "", None, None, "ro", False, False, "no SELinux"),
        ("ubuntu", "debian", "SELINUX=enforcing", None, "ro", False, False, "not of the RHEL"),
    ],
)
def test_selinux_decides_whether_a_container_may_load_a_module(
    tmp_path: Path,
    os_id: str,
    like: str,
    config: str | None,
    enforce: str | None,
    cmdline: str,
    now: bool,
    boot: bool,
    words: str,
) -> None:
    root = HostRoot(tmp_path / "root").merged_usr()
    root.os_release(os_id, "9", like=like)
    root.kernel(DEBIAN)
    root.proc(DEBIAN, ["x_tables"], cmdline=cmdline)
    if config is not None:
        root.lines("/etc/selinux/config", config, "SELINUXTYPE=targeted")
    if enforce is not None:
        root.file("/sys/fs/selinux/enforce", enforce)
    found = module_requests(facts_of(root))
    assert (found.denied_now, found.denied_at_boot) == (now, boot), found.reason
    assert words in found.reason


def test_unreadable_selinux_configuration_is_unknown_never_allowed(tmp_path: Path) -> None:
    facts = facts_of(node(tmp_path, selinux=True))
    unreadable = FileRead("/etc/selinux/config", FileStatus.UNREADABLE, error="Permission denied")
    found = module_requests(dataclasses.replace(facts, selinux_config=unreadable))
    assert found.denied_at_boot is None


@pytest.mark.parametrize(
    ("selinux", "rules", "cmdline", "disabled", "nat_now", "nat_boot"),
    [
        # nothing blocks or denies it: it loads on first use, now and after the reboot
        (False, [], "ro", None, "not-loaded", "first-use"),
        # SELinux enforcing on the RHEL family: denied now and after the reboot
        (True, [], "ro", None, "denied", "denied"),
        # a plain blacklist: the kernel asks for iptable_nat by name, kmod ignores the blacklist
        (False, ["blacklist iptable_nat"], "ro", None, "not-loaded", "first-use"),
        # the hardening pattern: every load fails
        (
            False,
            ["blacklist iptable_nat", "install iptable_nat /bin/false"],
            "ro",
            None,
            "blocked",
            "blocked",
        ),
        (False, ["install iptable_nat /bin/true"], "ro", None, "blocked", "blocked"),
        (False, [], "ro module_blacklist=iptable_nat", None, "blocked", "blocked"),
        # no module can be loaded until the reboot; after it, the kernel loads it on first use
        (False, [], "ro", "1", "unloadable", "first-use"),
    ],
)
def test_the_rule_for_the_legacy_nat_table(
    tmp_path: Path,
    selinux: bool,
    rules: list[str],
    cmdline: str,
    disabled: str | None,
    nat_now: str,
    nat_boot: str,
) -> None:
    root = node(tmp_path, selinux=selinux)
    root.proc(DEBIAN, ["x_tables"], ip_tables=[], cmdline=cmdline, modules_disabled=disabled)
    if rules:
        root.lines("/etc/modprobe.d/hardening.conf", *rules)
    report = analyze_host_backends(str(root.path))
    assert (module_fact(report, "iptable_nat"), boot_fact(report, "iptable_nat")) == (
        nat_now,
        nat_boot,
    )
    assert report.ok is (nat_now == "not-loaded" and nat_boot == "first-use")


def test_a_blacklisted_alias_blocks_the_nft_nat_chain(tmp_path: Path) -> None:
    """nf_tables asks for the alias nft-chain-2-nat: a blacklist of nft_chain_nat applies."""
    root = node(tmp_path, loaded=["x_tables", "nfnetlink", "nf_tables"])
    root.lines("/etc/modprobe.d/no-nft-nat.conf", "blacklist nft_chain_nat")
    report = analyze_host_backends(str(root.path))
    assert module_fact(report, "nft_chain_nat") == "blocked"
    assert module_fact(report, "iptable_nat") == "not-loaded"


def test_loaded_now_but_nothing_at_boot_under_selinux(tmp_path: Path) -> None:
    """The field report after an admin's modprobe: fine now, denied after the reboot."""
    root = node(tmp_path, selinux=True, loaded=profiles.HEALTHY_LOADED)
    report = analyze_host_backends(str(root.path), backends=("legacy",))
    assert (module_fact(report, "iptable_nat"), boot_fact(report, "iptable_nat")) == (
        "loaded",
        "denied",
    )
    assert not report.ok
