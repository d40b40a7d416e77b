"""Build host roots for the node analysis tests: a directory that looks like a node's ``/``.

Roots are written by code, so each test says in a few lines what the node looks like:

    root = HostRoot(tmp_path).merged_usr()
    root.kernel("4.18.0-348.el8.x86_64")
    root.proc("4.18.0-348.el8.x86_64", loaded=["iptable_nat"])
    root.file("/etc/modules", "iptable_nat\\n")
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from tests.node.elfmod import build_ko

# Modern netfilter dependencies (5.x/6.x kernels), as depmod writes them (last loads first).
NETFILTER: Mapping[str, tuple[str, tuple[str, ...]]] = {
    "x_tables": ("kernel/net/netfilter/x_tables", ()),
    "ip_tables": ("kernel/net/ipv4/netfilter/ip_tables", ("x_tables",)),
    "libcrc32c": ("kernel/lib/libcrc32c", ()),
    "nf_defrag_ipv4": ("kernel/net/ipv4/netfilter/nf_defrag_ipv4", ()),
    "nf_defrag_ipv6": ("kernel/net/ipv6/netfilter/nf_defrag_ipv6", ()),
    "nf_conntrack": (
        "kernel/net/netfilter/nf_conntrack",
        ("nf_defrag_ipv6", "nf_defrag_ipv4", "libcrc32c"),
    ),
    "nf_nat": (
        "kernel/net/netfilter/nf_nat",
        ("nf_conntrack", "nf_defrag_ipv6", "nf_defrag_ipv4", "libcrc32c"),
    ),
    "iptable_filter": ("kernel/net/ipv4/netfilter/iptable_filter", ("ip_tables", "x_tables")),
    "iptable_nat": (
        "kernel/net/ipv4/netfilter/iptable_nat",
        (
            "ip_tables",
            "nf_nat",
            "nf_conntrack",
            "nf_defrag_ipv6",
            "nf_defrag_ipv4",
            "libcrc32c",
            "x_tables",
        ),
    ),
    "nfnetlink": ("kernel/net/netfilter/nfnetlink", ()),
    "nf_tables": ("kernel/net/netfilter/nf_tables", ("nfnetlink",)),
    "nft_chain_nat": (
        "kernel/net/netfilter/nft_chain_nat",
        (
            "nf_nat",
            "nf_tables",
            "nf_conntrack",
            "nf_defrag_ipv6",
            "nf_defrag_ipv4",
            "libcrc32c",
            "nfnetlink",
        ),
    ),
    "nft_compat": ("kernel/net/netfilter/nft_compat", ("nf_tables", "x_tables", "nfnetlink")),
    "xt_MASQUERADE": ("kernel/net/netfilter/xt_MASQUERADE", ("nf_nat", "x_tables")),
    "xt_conntrack": ("kernel/net/netfilter/xt_conntrack", ("nf_conntrack", "x_tables")),
    "xt_addrtype": ("kernel/net/netfilter/xt_addrtype", ("x_tables",)),
    "xt_nat": (
        "kernel/net/netfilter/xt_nat",
        ("nf_nat", "nf_conntrack", "nf_defrag_ipv6", "nf_defrag_ipv4", "libcrc32c", "x_tables"),
    ),
    "stp": ("kernel/net/802/stp", ()),
    "llc": ("kernel/net/llc/llc", ()),
    "bridge": ("kernel/net/bridge/bridge", ("stp", "llc")),
    "br_netfilter": ("kernel/net/bridge/br_netfilter", ("bridge", "stp", "llc")),
    "overlay": ("kernel/fs/overlayfs/overlay", ()),
    "veth": ("kernel/drivers/net/veth", ()),
}
ALIASES: Mapping[str, str] = {
    "nft-chain-2-nat": "nft_chain_nat",
    "nft-chain-10-nat": "nft_chain_nat",
    "fs-overlay": "overlay",
    "ipt_MASQUERADE": "xt_MASQUERADE",
    "net-pf-16-proto-12": "nfnetlink",
}


class HostRoot:
    """A fake node root under ``path``; every method returns ``self`` or the path it wrote."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)

    def host(self, rel: str) -> Path:
        """The machine path of ``rel`` (a path as the node sees it, e.g. ``/etc/modules``)."""
        return self.path / rel.lstrip("/")

    def _target(self, rel: str) -> Path:
        """Where to create ``rel``: refused unless its parent really is inside the root (a link
        made earlier, e.g. to ``/etc``, must never make a test write on the machine)."""
        target = self.host(rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        parent = os.path.realpath(target.parent)
        root = os.path.realpath(self.path)
        if parent != root and not parent.startswith(root + os.sep):
            raise AssertionError(f"{rel} would be written outside the test root ({parent})")
        return target

    def file(self, rel: str, content: str | bytes, mode: int | None = None) -> Path:
        """Write a file (parents created); ``mode`` e.g. 0o000 for an unreadable file."""
        target = self._target(rel)
        if target.is_symlink():
            raise AssertionError(f"{rel} is a symlink: writing it would follow the link")
        if isinstance(content, str):
            target.write_text(content)
        else:
            target.write_bytes(content)
        if mode is not None:
            target.chmod(mode)
        return target

    def lines(self, rel: str, *lines: str) -> Path:
        """Write a file of lines."""
        return self.file(rel, "".join(f"{line}\n" for line in lines))

    def symlink(self, rel: str, target: str) -> Path:
        """Create ``rel`` as a symlink to ``target`` (verbatim, absolute or relative)."""
        link = self._target(rel)
        os.symlink(target, link)
        return link

    def dir(self, rel: str) -> Path:
        """Create a directory."""
        target = self._target(rel)
        target.mkdir(exist_ok=True)
        return target

    def merged_usr(self) -> HostRoot:
        """``/lib``, ``/bin``, ``/sbin`` are symlinks into ``/usr`` (RHEL 8+, Debian 12, Ubuntu)."""
        for name in ("lib", "bin", "sbin", "lib64"):
            self.dir(f"/usr/{name}")
            self.symlink(f"/{name}", f"usr/{name}")
        return self

    def split_usr(self) -> HostRoot:
        """Separate ``/lib`` and ``/usr/lib`` (an upgraded Debian 11)."""
        for name in ("lib", "bin", "sbin", "usr/lib", "usr/bin"):
            self.dir(f"/{name}")
        return self

    def os_release(self, id_: str, version: str, like: str = "") -> HostRoot:
        """``/etc/os-release``."""
        like_line = f'ID_LIKE="{like}"\n' if like else ""
        self.file("/etc/os-release", f'ID="{id_}"\nVERSION_ID="{version}"\n{like_line}')
        return self

    def kernel(
        self,
        release: str,
        modules: Iterable[str] | None = None,
        *,
        ext: str = ".ko.xz",
        builtin: Iterable[str] = (),
        extra_deps: Mapping[str, Sequence[str]] | None = None,
        with_index: bool = True,
        real_ko: bool = False,
        config: Mapping[str, str] | None = None,
    ) -> Path:
        """Install kernel ``release``: ``/lib/modules/REL`` with modules.dep/.builtin/.alias.

        ``modules`` defaults to the whole NETFILTER catalog (minus ``builtin`` ones);
        ``real_ko`` writes ELF files that depmod understands, for the kmod oracle.
        """
        base = f"/lib/modules/{release}"
        builtin = list(builtin)
        names = list(modules) if modules is not None else list(NETFILTER)
        names = [n for n in names if n not in builtin]
        self.dir(f"{base}/kernel")
        dep_lines: list[str] = []
        deps_of = dict(extra_deps or {})
        for name in names:
            rel, deps = NETFILTER.get(name, (f"kernel/extra/{name}", ()))
            deps = tuple(deps_of.get(name, deps))
            deps = tuple(d for d in deps if d in names)
            path = f"{rel}{ext}"
            dep_paths = " ".join(
                f"{NETFILTER.get(d, (f'kernel/extra/{d}', ()))[0]}{ext}" for d in deps
            )
            dep_lines.append(f"{path}: {dep_paths}".rstrip() if deps else f"{path}:")
            if real_ko:
                imports = [f"sym_{d}" for d in deps]
                aliases = [a for a, m in ALIASES.items() if m == name]
                self.file(f"{base}/{path}", build_ko([f"sym_{name}"], imports, aliases))
            else:
                self.file(f"{base}/{path}", b"")
        if with_index:
            self.file(f"{base}/modules.dep", "".join(f"{line}\n" for line in dep_lines))
            self.file(
                f"{base}/modules.alias",
                "# Aliases extracted from modules themselves.\n"
                + "".join(f"alias {a} {m}\n" for a, m in ALIASES.items() if m in names),
            )
        builtin_lines = [f"{NETFILTER.get(n, (f'kernel/extra/{n}', ()))[0]}.ko\n" for n in builtin]
        self.file(f"{base}/modules.builtin", "".join(builtin_lines))
        self.file(f"/boot/vmlinuz-{release}", b"\x00kernel image")
        if config is not None:
            self.file(f"/boot/config-{release}", _config_text(config))
        return self.host(base)

    def proc(
        self,
        release: str | None,
        loaded: Iterable[str] = (),
        *,
        cmdline: str = "BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro quiet",
        ip_tables: Iterable[str] | None = (),
        config: Mapping[str, str] | None = None,
        modules_file: bool = True,
        modules_disabled: str | None = None,
        where: str = "/proc",
    ) -> HostRoot:
        """A proc directory: osrelease, modules (``loaded``), cmdline, net/ip_tables_names."""
        if release is not None:
            self.file(f"{where}/sys/kernel/osrelease", f"{release}\n")
        if modules_file:
            self.file(
                f"{where}/modules",
                "".join(f"{n} 16384 0 - Live 0x0000000000000000\n" for n in loaded),
            )
        self.file(f"{where}/cmdline", f"{cmdline}\n")
        self.file(f"{where}/sys/kernel/modprobe", "/sbin/modprobe\n")
        if modules_disabled is not None:
            self.file(f"{where}/sys/kernel/modules_disabled", f"{modules_disabled}\n")
        if ip_tables is not None:
            self.file(f"{where}/net/ip_tables_names", "".join(f"{t}\n" for t in ip_tables))
        if config is not None:
            self.file(f"{where}/config.gz", gzip.compress(_config_text(config).encode()))
        return self


def _config_text(config: Mapping[str, str]) -> str:
    lines = []
    for key, value in config.items():
        if value == "n":
            lines.append(f"# {key} is not set\n")
        else:
            lines.append(f"{key}={value}\n")
    return "".join(lines)
