"""The kernel modules dind's dockerd needs, per iptables backend (the one source of this fact).

What moby programs at start (moby ``integration/network/bridge/iptablesdoc/generated/
new-daemon.md``, generated from the daemon's own rules): the ``filter`` table (chains DOCKER,
DOCKER-USER, DOCKER-FORWARD ..., ``-m conntrack --ctstate RELATED,ESTABLISHED``) and the ``nat``
table (chain DOCKER, ``-m addrtype --dst-type LOCAL``, ``-j MASQUERADE``; ``-j DNAT`` for
published ports). How each backend gets them into the kernel:

- iptables-legacy (iptables ``libiptc``/``iptables/iptables.c``): the tables are modules
  ``ip_tables`` + ``iptable_filter`` + ``iptable_nat`` (x_tables asks
  ``request_module("iptable_%s")``), nat needs ``nf_nat`` and ``nf_conntrack``; matches and
  targets are ``xt_*`` modules (``xt_conntrack``, ``xt_addrtype``, ``xt_MASQUERADE``, ``xt_nat``).
- iptables-nft (iptables ``iptables/nft.c``): tables and chains are nf_tables objects
  (``nf_tables``; a nat base chain needs ``nft_chain_nat``, kernel alias ``nft-chain-2-nat``);
  matches and targets without a native translation go through ``nft_compat`` to the same
  ``xt_*`` modules; nat still needs ``nf_nat`` and ``nf_conntrack``.

IPv6 counterparts (moby 27+ enables ip6tables by default and only warns when they fail) are
warnings, never errors. Names are what ``modules.dep`` lists (``-`` written as ``_``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

LEGACY = "legacy"
NF_TABLES = "nf_tables"
BACKENDS = (LEGACY, NF_TABLES)
_NAME = re.compile(r"^[a-z0-9_]{1,64}$")


@dataclass(frozen=True)
class ModuleSet:
    """What one backend needs.

    ``tables``: the nat and filter table (chain type) modules, checked now and at boot (the field
    report: not loaded after a reboot, and dind died). ``support``: what they and moby's rules
    pull in (the table core, ``nft_compat``, nat/conntrack, the ``xt_*`` matches and targets):
    loaded as dependencies or on first use (x_tables asks ``request_module("xt_%s")``), so only
    their absence or a block is a finding. ``ipv6``: the IPv6 counterparts, warnings only.

    ``on_first_use``: the table modules that need no boot listing, because the kernel loads them
    on first use and that load is what dind's start triggers (legacy: x_tables asks for
    ``iptable_nat``/``iptable_filter`` by name; nf_tables: the nat chain type, alias
    ``nft-chain-2-nat``). Not listed for boot is then a warning as long as the module exists for
    that kernel, nothing blocks the kernel's request and nothing denies a container's module
    request (SELinux enforcing on the RHEL family: the field report and
    docker-library/docker#350, where the autoload of ``iptable_nat`` did not save dind; the rule
    is :mod:`preflight.node.loadability`).
    """

    backend: str
    tables: tuple[str, ...]  # nat first: its absence is the field report
    support: tuple[str, ...]
    ipv6: tuple[str, ...]
    on_first_use: tuple[str, ...] = ()

    @property
    def required(self) -> tuple[str, ...]:
        """Every IPv4 module of the set: absent or blocked, dind's start fails."""
        return (*self.tables, *self.support)

    @property
    def all(self) -> tuple[str, ...]:
        return (*self.required, *self.ipv6)

    @property
    def nat_module(self) -> str:
        return self.tables[0]


_XT = ("nf_nat", "nf_conntrack", "xt_conntrack", "xt_addrtype", "xt_MASQUERADE", "xt_nat")

MODULE_SETS: dict[str, ModuleSet] = {
    LEGACY: ModuleSet(
        LEGACY,
        tables=("iptable_nat", "iptable_filter"),
        support=("ip_tables", *_XT),
        ipv6=("ip6table_nat", "ip6table_filter", "ip6_tables"),
        on_first_use=("iptable_nat", "iptable_filter"),
    ),
    NF_TABLES: ModuleSet(
        NF_TABLES,
        tables=("nft_chain_nat",),
        support=("nf_tables", "nft_compat", *_XT),
        ipv6=(),  # nf_tables and nft_chain_nat serve both families (kernel 5.1+)
        on_first_use=("nft_chain_nat",),
    ),
}


def module_set(backend: str) -> ModuleSet:
    """The set for ``legacy`` or ``nf_tables`` (KeyError otherwise)."""
    return MODULE_SETS[backend]


def loads_on_first_use(name: str) -> bool:
    """``name`` is a table module whose kernel autoload (an alias) makes a boot listing
    unnecessary (:attr:`ModuleSet.on_first_use`)."""
    return any(name in s.on_first_use for s in MODULE_SETS.values())


def is_known_module(name: str) -> bool:
    """A validated module name: one of the sets' modules (never text taken from a log)."""
    return bool(_NAME.match(name.lower())) and any(
        name in s.all or name.lower() in {m.lower() for m in s.all} for s in MODULE_SETS.values()
    )


def union(*backends: str) -> tuple[str, ...]:
    """Every module of the given backends' sets, each once, in set order."""
    out: list[str] = []
    for backend in backends:
        for name in MODULE_SETS[backend].all:
            if name not in out:
                out.append(name)
    return tuple(out)


def backend_of(name: str) -> str:
    """The backend whose set holds ``name``: ``legacy``, ``nf_tables``, or ``shared`` when both
    sets need it (``nf_nat``, ``nf_conntrack``, the ``xt_*`` modules), ``other`` for none."""
    owners = [b for b, s in MODULE_SETS.items() if name in s.all]
    if len(owners) == 1:
        return owners[0]
    return "shared" if owners else "other"
