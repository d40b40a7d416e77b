"""Host roots for the helper pod's output: the field-report node, before and after the fix.

The helper pod's log in the fake cluster is what the real ``dind-preflight node-report --json``
prints for these roots (run as a subprocess), so the diagnosis reads real node-report output.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

KERNEL = "4.18.0-348.7.1.el8_5.x86_64"
_DEP = """\
kernel/net/ipv4/netfilter/iptable_nat.ko.xz: kernel/net/ipv4/netfilter/ip_tables.ko.xz kernel/net/netfilter/nf_nat.ko.xz kernel/net/netfilter/nf_conntrack.ko.xz kernel/net/netfilter/x_tables.ko.xz
kernel/net/ipv4/netfilter/iptable_filter.ko.xz: kernel/net/ipv4/netfilter/ip_tables.ko.xz kernel/net/netfilter/x_tables.ko.xz
kernel/net/ipv4/netfilter/ip_tables.ko.xz: kernel/net/netfilter/x_tables.ko.xz
kernel/net/netfilter/nf_nat.ko.xz: kernel/net/netfilter/nf_conntrack.ko.xz
kernel/net/netfilter/nf_conntrack.ko.xz:
kernel/net/netfilter/x_tables.ko.xz:
kernel/fs/overlayfs/overlay.ko.xz:
kernel/net/netfilter/nfnetlink.ko.xz:
kernel/net/netfilter/nf_tables.ko.xz: kernel/net/netfilter/nfnetlink.ko.xz
kernel/net/netfilter/nft_chain_nat.ko.xz: kernel/net/netfilter/nf_nat.ko.xz kernel/net/netfilter/nf_tables.ko.xz kernel/net/netfilter/nf_conntrack.ko.xz kernel/net/netfilter/nfnetlink.ko.xz
kernel/net/netfilter/nft_compat.ko.xz: kernel/net/netfilter/nf_tables.ko.xz kernel/net/netfilter/nfnetlink.ko.xz kernel/net/netfilter/x_tables.ko.xz
kernel/net/netfilter/xt_conntrack.ko.xz: kernel/net/netfilter/x_tables.ko.xz kernel/net/netfilter/nf_conntrack.ko.xz
kernel/net/netfilter/xt_addrtype.ko.xz: kernel/net/netfilter/x_tables.ko.xz
kernel/net/netfilter/xt_MASQUERADE.ko.xz: kernel/net/netfilter/nf_nat.ko.xz kernel/net/netfilter/nf_conntrack.ko.xz kernel/net/netfilter/x_tables.ko.xz
kernel/net/netfilter/xt_nat.ko.xz: kernel/net/netfilter/nf_nat.ko.xz kernel/net/netfilter/nf_conntrack.ko.xz kernel/net/netfilter/x_tables.ko.xz
kernel/net/ipv6/netfilter/ip6_tables.ko.xz: kernel/net/netfilter/x_tables.ko.xz
kernel/net/ipv6/netfilter/ip6table_filter.ko.xz: kernel/net/ipv6/netfilter/ip6_tables.ko.xz kernel/net/netfilter/x_tables.ko.xz
kernel/net/ipv6/netfilter/ip6table_nat.ko.xz: kernel/net/ipv6/netfilter/ip6_tables.ko.xz kernel/net/netfilter/nf_nat.ko.xz kernel/net/netfilter/nf_conntrack.ko.xz kernel/net/netfilter/x_tables.ko.xz
"""
_LOADED_AFTER_REBOOT = """\
overlay 135168 4 - Live 0x0000000000000000
br_netfilter 24576 0 - Live 0x0000000000000000
"""
_LOADED_FIXED = """\
iptable_nat 16384 1 - Live 0x0000000000000000
nf_nat 45056 2 iptable_nat, Live 0x0000000000000000
iptable_filter 16384 1 - Live 0x0000000000000000
ip_tables 28672 2 iptable_nat,iptable_filter, Live 0x0000000000000000
nf_conntrack 172032 1 nf_nat, Live 0x0000000000000000
x_tables 45056 3 iptable_nat,iptable_filter,ip_tables, Live 0x0000000000000000
overlay 135168 4 - Live 0x0000000000000000
nfnetlink 16384 2 nf_tables, Live 0x0000000000000000
nf_tables 180224 1 nft_chain_nat, Live 0x0000000000000000
nft_chain_nat 16384 0 - Live 0x0000000000000000
"""
_OS_RELEASE = """\
NAME="CentOS Linux"
VERSION="8"
ID="centos"
ID_LIKE="rhel fedora"
VERSION_ID="8"
PLATFORM_ID="platform:el8"
PRETTY_NAME="CentOS Linux 8"
"""


def centos8_node(path: Path, fixed: bool = False) -> Path:
    """CentOS 8 after the reboot of the field report, SELinux enforcing as installed (``fixed``:
    modules-load.d written as node-report's fix says, for both backends, and loaded)."""
    (path / "usr/lib/modules" / KERNEL).mkdir(parents=True)
    (path / "lib").symlink_to("usr/lib")
    (path / "etc/modules-load.d").mkdir(parents=True)
    (path / "etc/modprobe.d").mkdir(parents=True)
    (path / "etc/modules").write_text("iptable_nat\niptable_filter\n")
    (path / "etc/os-release").write_text(_OS_RELEASE)
    (path / "etc/selinux").mkdir(parents=True)
    (path / "etc/selinux/config").write_text("SELINUX=enforcing\nSELINUXTYPE=targeted\n")
    if fixed:
        (path / "etc/modules-load.d/iptable_nat.conf").write_text(
            "iptable_nat\niptable_filter\nnft_chain_nat\n"
        )
    kdir = path / "usr/lib/modules" / KERNEL
    (kdir / "modules.dep").write_text(_DEP)
    (kdir / "modules.builtin").write_text("")
    (kdir / "modules.alias").write_text("")
    (path / "proc/sys/kernel").mkdir(parents=True)
    (path / "proc/net").mkdir(parents=True)
    (path / "proc/sys/kernel/osrelease").write_text(KERNEL + "\n")
    (path / "proc/modules").write_text(_LOADED_FIXED if fixed else _LOADED_AFTER_REBOOT)
    (path / "proc/net/ip_tables_names").write_text("nat\nfilter\n" if fixed else "")
    (path / "proc/cmdline").write_text(
        f"BOOT_IMAGE=(hd0,msdos1)/vmlinuz-{KERNEL} root=/dev/mapper/cl-root ro\n"
    )
    return path


def node_report_output(root: Path) -> tuple[int, str]:
    """What the helper pod's container prints: the real ``node-report --json`` on ``root``."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "preflight",
            "node-report",
            "--root",
            str(root),
            "--proc",
            str(root / "proc"),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode not in (0, 1, 2):
        raise RuntimeError(f"node-report failed ({result.returncode}): {result.stderr}")
    return result.returncode, result.stdout
