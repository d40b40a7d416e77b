"""node-report's peak memory on a host with many installed kernels (the helper pod's limit).

Each kernel gets index files of a current distribution kernel's size (Debian 12's 6.1:
about 4,300 modules in ``modules.dep``, 25,000 lines of ``modules.alias``, 1,000 built-ins),
generated: the names are made up, the sizes and line shapes are real. The netfilter modules
node-report checks are among them. Peak RSS is the child's ``ru_maxrss`` (``os.wait4``).

Run alone: ``python bench/node_memory.py [--kernels 16]`` (``make bench`` runs it too).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLI = ROOT / ".venv" / "bin" / "dind-preflight"
LIMIT_MIB = 64.0  # the helper pod's memory limit must hold with room to spare
MODULES_PER_KERNEL = 4300
ALIASES_PER_KERNEL = 25000
BUILTINS_PER_KERNEL = 1000
NETFILTER = (
    "x_tables",
    "ip_tables",
    "iptable_filter",
    "iptable_nat",
    "ip6_tables",
    "ip6table_filter",
    "ip6table_nat",
    "nf_tables",
    "nft_chain_nat",
    "nft_compat",
    "nf_nat",
    "nf_conntrack",
    "xt_conntrack",
    "xt_addrtype",
    "xt_MASQUERADE",
    "xt_nat",
)


def write_kernel(root: Path, release: str) -> None:
    base = root / "lib" / "modules" / release
    (base / "kernel").mkdir(parents=True)
    dep = []
    for index in range(MODULES_PER_KERNEL):
        name = f"mod_{index:05d}"
        deps = " ".join(
            f"kernel/drivers/misc/mod_{(index * 7 + k) % 4000:05d}.ko.xz" for k in (1, 2)
        )
        dep.append(f"kernel/drivers/misc/{name}.ko.xz: {deps}\n")
    dep += [
        "kernel/net/netfilter/x_tables.ko.xz:\n",
        "kernel/net/ipv4/netfilter/ip_tables.ko.xz: kernel/net/netfilter/x_tables.ko.xz\n",
        "kernel/net/ipv6/netfilter/ip6_tables.ko.xz: kernel/net/netfilter/x_tables.ko.xz\n",
        "kernel/net/netfilter/nf_conntrack.ko.xz:\n",
        "kernel/net/netfilter/nf_nat.ko.xz: kernel/net/netfilter/nf_conntrack.ko.xz\n",
        "kernel/net/netfilter/nf_tables.ko.xz:\n",
    ]
    for name in ("iptable_filter", "iptable_nat"):
        dep.append(
            f"kernel/net/ipv4/netfilter/{name}.ko.xz: kernel/net/ipv4/netfilter/ip_tables.ko.xz "
            "kernel/net/netfilter/nf_nat.ko.xz kernel/net/netfilter/x_tables.ko.xz\n"
        )
    for name in ("ip6table_filter", "ip6table_nat"):
        dep.append(
            f"kernel/net/ipv6/netfilter/{name}.ko.xz: kernel/net/ipv6/netfilter/ip6_tables.ko.xz "
            "kernel/net/netfilter/x_tables.ko.xz\n"
        )
    for name in ("nft_chain_nat", "nft_compat"):
        dep.append(
            f"kernel/net/netfilter/{name}.ko.xz: kernel/net/netfilter/nf_tables.ko.xz "
            "kernel/net/netfilter/nf_nat.ko.xz\n"
        )
    for name in ("xt_conntrack", "xt_addrtype", "xt_MASQUERADE", "xt_nat"):
        dep.append(
            f"kernel/net/netfilter/{name}.ko.xz: kernel/net/netfilter/x_tables.ko.xz "
            "kernel/net/netfilter/nf_conntrack.ko.xz\n"
        )
    (base / "modules.dep").write_text("".join(dep))
    aliases = [
        f"alias pci:v{index:08X}d*sv*sd*bc*sc*i* mod_{index % MODULES_PER_KERNEL:05d}\n"
        for index in range(ALIASES_PER_KERNEL)
    ]
    aliases.append("alias nft-chain-2-nat nft_chain_nat\n")
    aliases.append("alias ipt_MASQUERADE xt_MASQUERADE\n")
    (base / "modules.alias").write_text("".join(aliases))
    (base / "modules.builtin").write_text(
        "".join(f"kernel/lib/builtin_{i:04d}.ko\n" for i in range(BUILTINS_PER_KERNEL))
    )
    (root / "boot").mkdir(exist_ok=True)
    (root / "boot" / f"vmlinuz-{release}").write_bytes(b"")


def make_root(path: Path, kernels: int) -> Path:
    releases = [f"6.1.0-{20 + i}-amd64" for i in range(kernels)]
    for release in releases:
        write_kernel(path, release)
    running = releases[-1]
    (path / "proc" / "sys" / "kernel").mkdir(parents=True)
    (path / "proc" / "net").mkdir()
    (path / "proc" / "sys" / "kernel" / "osrelease").write_text(running + "\n")
    (path / "proc" / "modules").write_text(
        "".join(f"{m} 16384 0 - Live 0x0000000000000000\n" for m in NETFILTER)
    )
    (path / "proc" / "cmdline").write_text("BOOT_IMAGE=/vmlinuz ro quiet\n")
    (path / "proc" / "net" / "ip_tables_names").write_text("")
    (path / "etc" / "modules-load.d").mkdir(parents=True)
    (path / "etc" / "modules-load.d" / "dind.conf").write_text("\n".join(NETFILTER) + "\n")
    return path


def peak_rss_mib(root: Path, *extra: str) -> float:
    """Peak RSS of ``node-report --root ROOT --json`` (the helper pod's command)."""
    command = [str(CLI), "node-report", "--root", str(root), "--json", *extra]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode not in (0, 1, 2):
        raise RuntimeError(f"node-report exited {process.returncode}")
    return usage.ru_maxrss / 1024.0  # kilobytes on Linux


def measure(kernels: int) -> tuple[float, float]:
    """(peak RSS with one kernel, peak RSS with ``kernels`` kernels), MiB."""
    with tempfile.TemporaryDirectory(prefix="dind-preflight-node-mem-") as work:
        one = peak_rss_mib(make_root(Path(work) / "one", 1))
        many = peak_rss_mib(make_root(Path(work) / "many", kernels))
    return one, many


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kernels", type=int, default=16)
    args = parser.parse_args(argv)
    one, many = measure(args.kernels)
    verdict = "ok" if many < LIMIT_MIB else "MISSED"
    print(
        f"node-report peak RSS: 1 kernel {one:.1f} MiB, {args.kernels} kernels {many:.1f} MiB "
        f"({many / one:.2f}x the baseline); target < {LIMIT_MIB:.0f} MiB {verdict}"
    )
    return 0 if many < LIMIT_MIB else 1


if __name__ == "__main__":
    sys.exit(main())
