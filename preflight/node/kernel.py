"""Kernel module indexes as kmod reads them: names, modules.dep, modules.builtin, modules.alias.

Pure parsing: text in, plain data out. Module names are normalised the way kmod and the kernel do
it (``-`` and ``_`` are the same character), and a module's name comes from its file name with
any ``.ko``, ``.ko.gz``, ``.ko.xz`` or ``.ko.zst`` suffix removed.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

MODULE_SUFFIXES = (".ko.zst", ".ko.xz", ".ko.gz", ".ko")

# What a module name may look like on the command line (kmod accepts more, but not spaces).
_VALID_NAME = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")


def normalize(name: str) -> str:
    """kmod's name normalisation: dashes become underscores, except inside ``[...]`` patterns."""
    if "[" not in name:
        return name.replace("-", "_")
    out: list[str] = []
    depth = 0
    for char in name:
        if char == "[":
            depth += 1
        elif char == "]" and depth:
            depth -= 1
        out.append("_" if char == "-" and not depth else char)
    return "".join(out)


def is_valid_module_name(name: str) -> bool:
    """True for names a user may pass with ``--module`` (letters, digits, ``_`` and ``-``)."""
    return bool(_VALID_NAME.match(name))


def module_name_from_path(path: str) -> str | None:
    """``kernel/net/ipv4/netfilter/iptable_nat.ko.xz`` -> ``iptable_nat`` (None if not a module)."""
    base = path.rsplit("/", 1)[-1]
    for suffix in MODULE_SUFFIXES:
        if base.endswith(suffix) and len(base) > len(suffix):
            return normalize(base[: -len(suffix)])
    return None


@dataclass(frozen=True)
class ModuleEntry:
    """One line of ``modules.dep``: the module's file and its dependencies (load order reversed)."""

    name: str
    path: str
    deps: tuple[str, ...] = ()


def parse_modules_dep(text: str) -> dict[str, ModuleEntry]:
    """Parse ``modules.dep`` (``path: dep-path dep-path ...``); the first line for a name wins."""
    modules: dict[str, ModuleEntry] = {}
    for line in text.splitlines():
        head, sep, rest = line.partition(":")
        if not sep:
            continue
        name = module_name_from_path(head.strip())
        if name is None or name in modules:
            continue
        deps = tuple(d for d in (module_name_from_path(p) for p in rest.split()) if d is not None)
        modules[name] = ModuleEntry(name, head.strip(), deps)
    return modules


def parse_modules_builtin(text: str) -> frozenset[str]:
    """Parse ``modules.builtin`` (one ``kernel/.../name.ko`` path per line) into module names."""
    names = (module_name_from_path(line.strip()) for line in text.splitlines())
    return frozenset(n for n in names if n is not None)


def parse_builtin_modinfo(data: bytes) -> tuple[frozenset[str], tuple[tuple[str, str], ...]]:
    """Parse ``modules.builtin.modinfo`` (NUL-separated ``module.key=value``): names and aliases."""
    names: set[str] = set()
    aliases: list[tuple[str, str]] = []
    for raw in data.split(b"\0"):
        entry = raw.decode("utf-8", errors="replace")
        module, dot, rest = entry.partition(".")
        if not dot or not module:
            continue
        name = normalize(module)
        names.add(name)
        key, eq, value = rest.partition("=")
        if eq and key == "alias" and value:
            aliases.append((normalize(value), name))
    return frozenset(names), tuple(aliases)


def parse_modules_alias(text: str) -> tuple[tuple[str, str], ...]:
    """Parse ``modules.alias`` (``alias PATTERN MODULE``) into normalised (pattern, module) pairs."""
    pairs: list[tuple[str, str]] = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0] == "alias":
            pairs.append((normalize(parts[1]), normalize(parts[2])))
    return tuple(pairs)


_WILDCARDS = "*?["
_BUCKET = 4  # wildcard patterns are grouped by up to this many leading literal characters


@dataclass(frozen=True)
class AliasTable:
    """Alias patterns indexed for lookups: exact names in a dict, wildcard patterns bucketed by
    their literal prefix (a kernel has ~30 000 ``pci:v...*`` patterns; a module name matches none
    of them, and compiling each would take seconds)."""

    exact: Mapping[str, tuple[tuple[int, str], ...]] = field(default_factory=dict)
    wild: Mapping[str, tuple[tuple[int, str, str], ...]] = field(default_factory=dict)

    @classmethod
    def build(cls, aliases: Iterable[tuple[str, str]]) -> AliasTable:
        """Index (pattern, module) pairs, remembering their order."""
        exact: dict[str, list[tuple[int, str]]] = {}
        wild: dict[str, list[tuple[int, str, str]]] = {}
        for order, (pattern, module) in enumerate(aliases):
            cut = min((pattern.find(c) for c in _WILDCARDS if c in pattern), default=-1)
            if cut < 0:
                exact.setdefault(pattern, []).append((order, module))
            else:
                wild.setdefault(pattern[: min(cut, _BUCKET)], []).append((order, pattern, module))
        return cls({k: tuple(v) for k, v in exact.items()}, {k: tuple(v) for k, v in wild.items()})

    def match(self, name: str) -> tuple[str, ...]:
        """The modules whose pattern matches ``name``, in file order, each once."""
        wanted = normalize(name)
        hits = list(self.exact.get(wanted, ()))
        for size in range(min(len(wanted), _BUCKET) + 1):
            for order, pattern, module in self.wild.get(wanted[:size], ()):
                if fnmatch.fnmatchcase(wanted, pattern):
                    hits.append((order, module))
        return tuple(dict.fromkeys(module for _, module in sorted(hits)))


@dataclass(frozen=True)
class ProcModule:
    """One line of ``/proc/modules``."""

    name: str
    state: str  # Live | Loading | Unloading
    used_by: tuple[str, ...] = ()


def parse_proc_modules(text: str) -> dict[str, ProcModule]:
    """Parse ``/proc/modules`` (``name size refcount deps state address``)."""
    loaded: dict[str, ProcModule] = {}
    for line in text.splitlines():
        parts = line.split()
        if not parts:
            continue
        state = parts[4] if len(parts) > 4 else "Live"
        used_by = tuple(u for u in parts[3].split(",") if u and u != "-") if len(parts) > 3 else ()
        name = normalize(parts[0])
        loaded[name] = ProcModule(name, state, used_by)
    return loaded


def parse_kernel_config(text: str) -> dict[str, str]:
    """Parse a kernel ``.config``: ``CONFIG_X=y|m|value``; ``# CONFIG_X is not set`` gives ``n``."""
    config: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("CONFIG_") and "=" in line:
            key, _, value = line.partition("=")
            config[key] = value.strip('"')
        elif line.startswith("# CONFIG_") and line.endswith(" is not set"):
            config[line[2:-11]] = "n"
    return config


# Kernel config symbols of the modules dind cares about (from the kernel's Kconfig/Makefiles).
CONFIG_SYMBOLS: Mapping[str, str] = {
    "iptable_nat": "CONFIG_IP_NF_NAT",
    "iptable_filter": "CONFIG_IP_NF_FILTER",
    "iptable_mangle": "CONFIG_IP_NF_MANGLE",
    "iptable_raw": "CONFIG_IP_NF_RAW",
    "ip_tables": "CONFIG_IP_NF_IPTABLES",
    "ip6table_nat": "CONFIG_IP6_NF_NAT",
    "ip6table_filter": "CONFIG_IP6_NF_FILTER",
    "ip6_tables": "CONFIG_IP6_NF_IPTABLES",
    "x_tables": "CONFIG_NETFILTER_XTABLES",
    "nf_nat": "CONFIG_NF_NAT",
    "nf_conntrack": "CONFIG_NF_CONNTRACK",
    "nf_tables": "CONFIG_NF_TABLES",
    "nft_chain_nat": "CONFIG_NFT_NAT",
    "nft_compat": "CONFIG_NFT_COMPAT",
    "nft_masq": "CONFIG_NFT_MASQ",
    "xt_MASQUERADE": "CONFIG_NETFILTER_XT_TARGET_MASQUERADE",
    "xt_conntrack": "CONFIG_NETFILTER_XT_MATCH_CONNTRACK",
    "xt_addrtype": "CONFIG_NETFILTER_XT_MATCH_ADDRTYPE",
    "xt_nat": "CONFIG_NETFILTER_XT_NAT",
    "br_netfilter": "CONFIG_BRIDGE_NETFILTER",
    "bridge": "CONFIG_BRIDGE",
    "veth": "CONFIG_VETH",
    "overlay": "CONFIG_OVERLAY_FS",
}


@dataclass(frozen=True)
class KernelIndex:
    """What one installed kernel offers: its modules, built-ins and aliases."""

    release: str
    modules: Mapping[str, ModuleEntry] = field(default_factory=dict)
    builtin: frozenset[str] = frozenset()
    aliases: tuple[tuple[str, str], ...] = ()
    has_index: bool = True  # modules.dep was readable (kmod finds nothing without it)

    alias_table: AliasTable = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "alias_table", AliasTable.build(self.aliases))

    def match_alias(self, name: str) -> tuple[str, ...]:
        """The modules an alias lookup of ``name`` finds (``modules.alias``, built-in aliases)."""
        return self.alias_table.match(name)

    def exists(self, name: str) -> bool:
        """The module (or an alias of it) can be found for this kernel, or it is built in."""
        wanted = normalize(name)
        if wanted in self.modules or wanted in self.builtin:
            return True
        return any(m in self.modules or m in self.builtin for m in self.match_alias(wanted))


_VERSION_PART = re.compile(r"(\d+)|(\D+)")


def release_sort_key(release: str) -> tuple[tuple[int, int | str], ...]:
    """Natural order of kernel releases (``5.14.0-70`` < ``5.14.0-362``), for "newest"."""
    key: list[tuple[int, int | str]] = []
    for number, text in _VERSION_PART.findall(release):
        key.append((1, int(number)) if number else (0, text))
    return tuple(key)
