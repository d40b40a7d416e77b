"""The netfilter situation that decides what dind's iptables needs.

docker:dind's entrypoint picks iptables-legacy when ``/proc/net/ip_tables_names`` is non-empty
(or ``DOCKER_IPTABLES_LEGACY`` is set), otherwise it tries iptables-nft. Legacy nat needs
``iptable_nat``; nft nat needs ``nft_chain_nat``. The kernel loads either on first use when nothing
blocks it: x_tables asks for the plain name (``request_module("iptable_nat")``), nf_tables for an
alias (``nft-chain-2-nat``), which is why ``blacklist`` stops only the nft autoload.
"""

from __future__ import annotations

from collections.abc import Mapping

from preflight.node.model import IptablesState

# What the kernel asks modprobe for when a table/chain/filesystem is first used.
AUTOLOAD_REQUESTS: Mapping[str, str] = {
    "iptable_nat": "iptable_nat",
    "iptable_filter": "iptable_filter",
    "iptable_mangle": "iptable_mangle",
    "iptable_raw": "iptable_raw",
    "iptable_security": "iptable_security",
    "ip6table_nat": "ip6table_nat",
    "ip6table_filter": "ip6table_filter",
    "ip6table_mangle": "ip6table_mangle",
    "nft_chain_nat": "nft-chain-2-nat",
    "overlay": "fs-overlay",
}


def parse_table_names(text: str) -> list[str]:
    """``/proc/net/ip_tables_names``: one registered legacy table per line."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def iptables_state(
    legacy_tables: list[str] | None,
    nft_present: bool,
    nat_loaded: Mapping[str, bool],
    legacy_nat_autoload: bool,
    tables_unreadable: str = "",
) -> IptablesState:
    """What dind's entrypoint will pick, and what its nat table then needs.

    ``legacy_tables`` is None when ``/proc/net/ip_tables_names`` could not be read (no legacy
    iptables in the kernel, or no proc); ``nat_loaded`` says whether ``iptable_nat`` and
    ``nft_chain_nat`` are present in the running kernel.
    """
    tables = legacy_tables or []
    if tables_unreadable:
        backend = "unknown"
        need = "iptable_nat"
        detail = (
            f"whether legacy iptables tables are registered is unknown: {tables_unreadable} "
            "(it is per network namespace and mode 0440 root); dind's entrypoint decides in the "
            "dind pod's own namespace"
        )
    elif tables:
        backend = "legacy"
        need = "iptable_nat"
        detail = (
            f"legacy iptables tables are registered ({', '.join(tables)}): dind's entrypoint "
            "picks iptables-legacy, whose nat table needs iptable_nat"
        )
    elif nft_present:
        backend = "nf_tables"
        need = "nft_chain_nat"
        detail = (
            "no legacy iptables table is registered and nf_tables is present: dind's entrypoint "
            "tries iptables-nft first, whose nat table needs nft_chain_nat"
        )
    else:
        backend = "unknown"
        need = "iptable_nat"
        detail = (
            "neither legacy tables nor nf_tables are in use yet: dind's entrypoint will try "
            "iptables-nft, then fall back to legacy"
        )
    if need in nat_loaded:
        detail += f" ({need} is {'present' if nat_loaded[need] else 'not loaded'})"
    if legacy_nat_autoload and not nat_loaded.get("iptable_nat", False):
        detail += (
            "; the kernel would load iptable_nat on first use of the legacy nat table "
            "(nothing blocks it)"
        )
    if legacy_tables is None and not tables_unreadable:
        detail += "; /proc/net/ip_tables_names does not exist (no legacy table in use)"
    return IptablesState(
        legacy_tables=tables,
        nft_loaded=nft_present,
        legacy_nat_autoload=legacy_nat_autoload,
        backend_hint=backend,
        detail=detail,
        nat_module=need,
    )
