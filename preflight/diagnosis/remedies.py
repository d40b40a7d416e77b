"""The one selector of a diagnosis' fix: a fixed catalog keyed by cause code and a validated
module name. Pure.

Nothing found in a log line or a node file is ever copied into a remedy: module names are
checked against :mod:`preflight.node.module_sets`, the commands are the templates of
:mod:`preflight.node.remedy` (the node report words the same fix the same way) and the steps are
worded for every medium by :mod:`preflight.node.fix_steps`.
A modprobe.d ``install`` rule or a blacklist the node report found stays a finding (with its
file and line); the remedy only names the module and what to check.
"""

from __future__ import annotations

from preflight.diagnosis import causes
from preflight.node.model import Remedy
from preflight.node.module_sets import LEGACY, NF_TABLES, is_known_module, module_set
from preflight.node.remedy import persistence

# The modules a fix loads together, by the module the cause names (the first names the file);
# a module not listed is loaded alone.
_COMPANIONS: dict[str, tuple[str, ...]] = {
    "iptable_nat": ("iptable_nat", "iptable_filter"),
    "iptable_filter": ("iptable_nat", "iptable_filter"),
    "ip_tables": ("iptable_nat", "iptable_filter", "ip_tables"),
    "nft_chain_nat": ("nft_chain_nat", "nf_tables"),
    "nf_tables": ("nft_chain_nat", "nf_tables"),
    "ip6table_nat": ("ip6table_nat", "ip6_tables"),
}
_MODULE_CAUSES = frozenset(
    {
        causes.IPTABLE_NAT_MISSING,
        causes.IPTABLE_FILTER_MISSING,
        causes.IP_TABLES_MISSING,
        causes.NFT_CHAIN_NAT_MISSING,
        causes.NF_TABLES_MISSING,
        causes.NAT_UNAVAILABLE,
        causes.NETFILTER_MODULE_MISSING,
        causes.IP6TABLE_NAT_MISSING,
    }
)
_CAUSE_OF_MODULE = {
    "iptable_nat": causes.IPTABLE_NAT_MISSING,
    "iptable_filter": causes.IPTABLE_FILTER_MISSING,
    "ip_tables": causes.IP_TABLES_MISSING,
    "nft_chain_nat": causes.NFT_CHAIN_NAT_MISSING,
    "nf_tables": causes.NF_TABLES_MISSING,
    "ip6table_nat": causes.IP6TABLE_NAT_MISSING,
}


def is_module_cause(code: str) -> bool:
    """The cause names a kernel module of an iptables backend."""
    return code in _MODULE_CAUSES


def cause_for_module(module: str) -> str:
    """The cause code for a module of a backend's set that is absent or blocked."""
    return _CAUSE_OF_MODULE.get(module, causes.NETFILTER_MODULE_MISSING)


def nat_module(backend: str) -> str:
    """The module nat needs under ``backend`` (``iptable_nat`` when unknown, as before)."""
    return module_set(backend if backend in (LEGACY, NF_TABLES) else LEGACY).nat_module


def remedy(code: str, module: str | None = None) -> Remedy | None:
    """The catalog fix for ``code``: load its modules at boot (``module`` when it is a known
    module name and the cause a module cause, else the catalog's module for the cause), or the
    catalog's text when the cause has no module."""
    if is_module_cause(code) and module is not None and is_known_module(module):
        return load_at_boot(_COMPANIONS.get(module, (module,)))
    entry = causes.CAUSES.get(code)
    if entry is None:
        return None
    if entry.module is not None:  # a name from the catalog itself, not from any input
        return persistence(_COMPANIONS.get(entry.module, (entry.module,)))
    return Remedy(text=entry.fix) if entry.fix else None


def load_at_boot(modules: tuple[str, ...]) -> Remedy:
    """Load ``modules`` now and at every boot (the fix that worked in the field report), worded
    as everywhere by :func:`preflight.node.remedy.persistence`; only catalog module names."""
    for name in modules:
        if not is_known_module(name):
            raise ValueError(f"not a module of the catalog: {name!r}")
    return persistence(modules)
