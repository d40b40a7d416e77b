"""Host roots shaped like the distributions our runners run on (what each ships by default).

Facts encoded here: RHEL/CentOS/Rocky ship no ``/etc/modules`` and nothing reads one; Debian and
Ubuntu ship ``/etc/modules`` and ``/etc/modules-load.d/modules.conf -> ../modules``; Debian 11
upgraded systems keep a split ``/usr`` (``/lib/modules-load.d`` is its own directory); Ubuntu
24.04 compresses modules with zstd, RHEL with xz, Debian 12 and Ubuntu 22.04 not at all.
"""

from __future__ import annotations

from pathlib import Path

from tests.node.rootbuilder import HostRoot

CENTOS8_OLD = "4.18.0-305.3.1.el8.x86_64"
CENTOS8_NEW = "4.18.0-348.7.1.el8_5.x86_64"
ROCKY9 = "5.14.0-362.8.1.el9_3.x86_64"
DEBIAN11 = "5.10.0-26-amd64"
DEBIAN12 = "6.1.0-13-amd64"
DEBIAN12_NEXT = "6.1.0-18-amd64"
UBUNTU2204 = "5.15.0-91-generic"
UBUNTU2404 = "6.8.0-31-generic"
CUSTOM_BUILTIN = "6.6.30-builtin-nf"
HEALTHY = "6.1.0-13-amd64"
HEALTHY_LOADED = [
    "x_tables",
    "ip_tables",
    "nf_conntrack",
    "nf_nat",
    "iptable_nat",
    "iptable_filter",
]

BASE_LOADED = ["x_tables", "nf_conntrack", "nf_defrag_ipv4", "nf_defrag_ipv6", "libcrc32c"]
DEBIAN_ETC_MODULES = (
    "# /etc/modules: kernel modules to load at boot time.\n"
    "#\n"
    "# This file contains the names of kernel modules that should be loaded\n"
    '# at boot time, one per line. Lines beginning with "#" are ignored.\n'
    "# Parameters can be specified after the module name.\n"
    "\n"
)


def _rhel_common(root: HostRoot) -> None:
    root.merged_usr()
    root.lines(
        "/usr/lib/modprobe.d/dist-blacklist.conf",
        "#",
        "# Listing a module here prevents the hotplug scripts from loading it.",
        "blacklist pcspkr",
    )
    root.lines("/etc/modprobe.d/lockd.conf", "# options lockd nlm_timeout=10")
    root.lines("/usr/lib/modules-load.d/.keep")
    root.file("/usr/sbin/grubby", b"#!/bin/sh\n")
    # The installer's default (RHEL/CentOS/Rocky 8 and 9): SELinux enforcing.
    root.lines(
        "/etc/selinux/config",
        "# This file controls the state of SELinux on the system.",
        "SELINUX=enforcing",
        "SELINUXTYPE=targeted",
    )


def centos8_field_report(path: Path, stage: str) -> HostRoot:
    """The field report on CentOS 8 after the reboot into a new kernel.

    ``stage``: ``before`` (modules in /etc/modules only, not loaded after the reboot),
    ``manual`` (an admin ran modprobe: loaded now, still not persistent), ``fixed`` (the fix that
    worked: /etc/modules-load.d/iptable_nat.conf, loaded).
    """
    root = HostRoot(path)
    _rhel_common(root)
    root.os_release("centos", "8", like="rhel fedora")
    root.kernel(CENTOS8_OLD)
    root.kernel(CENTOS8_NEW)
    # What the admin wrote years ago, following a Debian habit.
    root.lines("/etc/modules", "iptable_nat", "iptable_filter")
    loaded = list(BASE_LOADED)
    tables: list[str] = []
    if stage in ("manual", "fixed"):
        loaded += ["ip_tables", "nf_nat", "iptable_nat", "iptable_filter"]
        tables = ["nat", "filter"]
    if stage == "fixed":
        root.lines("/etc/modules-load.d/iptable_nat.conf", "iptable_nat", "iptable_filter")
    root.proc(
        CENTOS8_NEW,
        loaded,
        ip_tables=tables,
        cmdline=f"BOOT_IMAGE=(hd0,msdos1)/vmlinuz-{CENTOS8_NEW} root=/dev/mapper/cl-root ro "
        "crashkernel=auto rhgb quiet",
    )
    return root


def rocky9(path: Path) -> HostRoot:
    """Rocky 9 with the usual Kubernetes prerequisites (overlay, br_netfilter) and nf_tables."""
    root = HostRoot(path)
    _rhel_common(root)
    root.os_release("rocky", "9.3", like="rhel centos fedora")
    root.kernel(ROCKY9)
    root.lines("/etc/modules-load.d/k8s.conf", "overlay", "br_netfilter")
    loaded = [
        *BASE_LOADED,
        "overlay",
        "br_netfilter",
        "bridge",
        "stp",
        "llc",
        "nfnetlink",
        "nf_tables",
        "nf_nat",
        "nft_chain_nat",
        "nft_compat",
    ]
    root.proc(
        ROCKY9,
        loaded,
        ip_tables=[],
        cmdline=f"BOOT_IMAGE=(hd0,gpt2)/vmlinuz-{ROCKY9} root=/dev/mapper/rl-root ro",
    )
    return root


def debian11_split_usr(path: Path, listed: bool = True) -> HostRoot:
    """Debian 11 upgraded from 10: split /usr, /etc/modules read through modules.conf."""
    root = HostRoot(path).split_usr()
    root.os_release("debian", "11")
    root.kernel(DEBIAN11, ext=".ko")
    extra = "iptable_nat\niptable_filter\n" if listed else ""
    root.file("/etc/modules", DEBIAN_ETC_MODULES + extra)
    root.symlink("/etc/modules-load.d/modules.conf", "../modules")
    root.lines("/lib/modules-load.d/fuse.conf", "fuse")
    root.lines("/lib/modprobe.d/aliases.conf", "alias net-pf-3 ax25", "alias binfmt-0000 off")
    root.lines("/etc/modprobe.d/blacklist-ide.conf", "blacklist ide_generic")
    loaded = [*BASE_LOADED, "ip_tables", "nf_nat", "iptable_nat", "iptable_filter"]
    root.proc(
        DEBIAN11,
        loaded,
        ip_tables=["nat", "filter"],
        cmdline=f"BOOT_IMAGE=/boot/vmlinuz-{DEBIAN11} root=UUID=0f3c ro quiet",
    )
    return root


def debian12(path: Path) -> HostRoot:
    """Debian 12 (merged /usr) with a modules-load.d file for dind."""
    root = HostRoot(path).merged_usr()
    root.os_release("debian", "12")
    root.kernel(DEBIAN12, ext=".ko")
    root.file("/etc/modules", DEBIAN_ETC_MODULES)
    root.symlink("/etc/modules-load.d/modules.conf", "../modules")
    root.lines(
        "/etc/modules-load.d/dind.conf", "# for docker:dind", "iptable_nat", "iptable_filter"
    )
    root.lines("/usr/lib/modprobe.d/systemd.conf", "options bonding max_bonds=0")
    loaded = [*BASE_LOADED, "ip_tables", "nf_nat", "iptable_nat", "iptable_filter"]
    root.proc(DEBIAN12, loaded, ip_tables=["filter", "nat"])
    return root


def debian12_nft(path: Path) -> HostRoot:
    """Debian 12 as installed, running dind on iptables-nft: nothing lists a netfilter module for
    boot, no legacy table is registered, nf_tables is loaded and nft_chain_nat not yet (no nat
    chain was created since the boot); a newer kernel is installed for the next boot."""
    root = HostRoot(path).merged_usr()
    root.os_release("debian", "12")
    root.kernel(DEBIAN12, ext=".ko")
    root.kernel(DEBIAN12_NEXT, ext=".ko")
    root.file("/etc/modules", DEBIAN_ETC_MODULES)
    root.symlink("/etc/modules-load.d/modules.conf", "../modules")
    root.lines("/usr/lib/modprobe.d/systemd.conf", "options bonding max_bonds=0")
    root.proc(DEBIAN12, [*BASE_LOADED, "nfnetlink", "nf_tables"], ip_tables=[])
    return root


def ubuntu2204(path: Path) -> HostRoot:
    """Ubuntu 22.04: /etc/modules lists the modules (read via modules.conf), plain .ko files."""
    root = HostRoot(path).merged_usr()
    root.os_release("ubuntu", "22.04", like="debian")
    root.kernel(UBUNTU2204, ext=".ko")
    root.file("/etc/modules", DEBIAN_ETC_MODULES + "iptable_nat\niptable_filter\n")
    root.symlink("/etc/modules-load.d/modules.conf", "../modules")
    root.lines("/usr/lib/modules-load.d/pollinate.conf", "# nothing")
    root.lines(
        "/etc/modprobe.d/blacklist.conf",
        "# This file lists those modules",
        "blacklist evbug",
        "blacklist usbmouse",
    )
    loaded = [*BASE_LOADED, "ip_tables", "nf_nat", "iptable_nat", "iptable_filter"]
    root.proc(UBUNTU2204, loaded, ip_tables=["nat", "filter"])
    return root


def ubuntu2404(path: Path) -> HostRoot:
    """Ubuntu 24.04: zstd-compressed modules, iptables-nft in use, dind file in modules-load.d."""
    root = HostRoot(path).merged_usr()
    root.os_release("ubuntu", "24.04", like="debian")
    root.kernel(UBUNTU2404, ext=".ko.zst")
    root.file("/etc/modules", DEBIAN_ETC_MODULES)
    root.symlink("/etc/modules-load.d/modules.conf", "../modules")
    root.lines("/etc/modules-load.d/dind.conf", "iptable_nat", "iptable_filter", "nft_chain_nat")
    loaded = [
        *BASE_LOADED,
        "ip_tables",
        "nf_nat",
        "iptable_nat",
        "iptable_filter",
        "nfnetlink",
        "nf_tables",
        "nft_chain_nat",
    ]
    root.proc(UBUNTU2404, loaded, ip_tables=["nat", "filter"])
    return root


def builtin_netfilter(path: Path) -> HostRoot:
    """A custom kernel with netfilter built in: nothing in /proc/modules, nothing to persist."""
    root = HostRoot(path).merged_usr()
    root.os_release("debian", "12")
    builtin = [
        "x_tables",
        "ip_tables",
        "nf_conntrack",
        "nf_nat",
        "iptable_nat",
        "iptable_filter",
        "nf_defrag_ipv4",
        "nf_defrag_ipv6",
        "libcrc32c",
    ]
    root.kernel(CUSTOM_BUILTIN, builtin=builtin, ext=".ko")
    root.proc(CUSTOM_BUILTIN, ["overlay"], ip_tables=[])
    return root


def selinux_enforcing(root: HostRoot) -> HostRoot:
    """Make ``root`` a RHEL-family node with SELinux enforcing (Rocky 9's defaults)."""
    root.os_release("rocky", "9.3", like="rhel centos fedora")
    root.lines("/etc/selinux/config", "SELINUX=enforcing", "SELINUXTYPE=targeted")
    return root


def healthy(
    path: Path,
    *,
    listed: bool = True,
    loaded: bool = True,
    cmdline: str = "ro",
    selinux: bool = True,
) -> HostRoot:
    """A minimal healthy node (``path``/root): one kernel, both modules loaded and listed in
    /etc/modules-load.d. Tests change one thing in it at a time.

    ``selinux`` (default): a RHEL-family node with SELinux enforcing, where a container's module
    request is denied, so a module the boot does not load never loads for dind: the node where
    every boot-listing rule decides. ``selinux=False``: a Debian-like node where the kernel loads
    a table module on first use."""
    root = HostRoot(path / "root").merged_usr()
    if selinux:
        selinux_enforcing(root)
    root.kernel(HEALTHY)
    root.proc(HEALTHY, HEALTHY_LOADED if loaded else ["x_tables"], cmdline=cmdline)
    if listed:
        root.lines("/etc/modules-load.d/dind.conf", "iptable_nat", "iptable_filter")
    return root
