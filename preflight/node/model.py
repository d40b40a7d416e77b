"""The node report's data (the JSON contract of ``node-report --json``).

Add fields freely; never rename the ones the README documents.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True)
class Remedy:
    """The exact fix: a file to write and its content, the command to load now, how to verify."""

    file: str | None = None
    content: str | None = None
    load_now: str | None = None
    verify: str | None = None
    text: str = ""  # one-paragraph human explanation


@dataclass(frozen=True)
class Finding:
    """Something wrong (or worth knowing) about the node."""

    code: str
    severity: Severity
    module: str | None
    message: str
    remedy: Remedy | None = None
    kernel: str | None = None  # the kernel release it is about, when not the running one
    evidence: list[str] = field(default_factory=list)  # file:line references behind it


@dataclass(frozen=True)
class BootSource:
    """A place that lists a module for boot: a modules-load.d line or the kernel command line."""

    path: str  # e.g. /etc/modules-load.d/iptables.conf, or "/proc/cmdline"
    line: int | None
    text: str
    via: str | None = None  # e.g. the effective .conf symlink that leads to /etc/modules


@dataclass(frozen=True)
class IgnoredSource:
    """A place that lists the module but does not count, and why (e.g. /etc/modules not read)."""

    path: str
    line: int | None
    text: str
    reason: str
    code: str = ""  # the finding code this reason maps to (e.g. etc-modules-not-read)


@dataclass(frozen=True)
class Blocker:
    """Something that stops a module from loading: a blacklist, an install rule, a parameter."""

    code: str  # blacklisted | install-false | install-true | install-command | kernel-module-blacklist
    path: str  # the modprobe.d file, or /proc/cmdline
    line: int | None
    text: str
    module: str  # the module the rule names (a dependency, possibly)


@dataclass(frozen=True)
class ModuleState:
    """One checked module, for the running kernel."""

    name: str
    loaded: bool  # present in the running kernel now: loaded or built in
    builtin: bool
    available: bool  # exists for the running kernel: modules.dep/modules.alias, or built in
    loads_at_boot: bool  # brought in at boot and nothing blocks it
    listed_in: list[BootSource] = field(default_factory=list)
    ignored: list[IgnoredSource] = field(default_factory=list)
    blocked_by: list[str] = field(default_factory=list)
    autoload_on_use: bool = False  # the kernel would load it on first use (legacy nat table)
    loaded_known: bool = True  # False: no /proc/modules, no kernel config: "loaded" is a guess
    loaded_source: str = ""  # proc-modules | sys-module | modules.builtin | kernel-config | none
    loads_at_boot_known: bool = True  # False when only the job's /proc could be seen
    state: str | None = None  # /proc/modules state (Live, Loading, Unloading)
    blockers: list[Blocker] = field(default_factory=list)
    config_symbol: str | None = None  # e.g. CONFIG_IP_NF_NAT, with its value in config_value
    config_value: str | None = None  # y | m | n
    # Not listed for boot, and it need not be: a table module its backend loads on first use
    # through an alias (nf_tables: nft_chain_nat, alias nft-chain-2-nat), it exists for the boot
    # kernel and nothing blocks that path; no admin's listing of it goes unhonoured.
    first_use_suffices: bool = False
    # The kernel's own request for it (e.g. ``iptable_nat``, alias ``nft-chain-2-nat``) fails:
    # an install rule, ``module_blacklist=``, a blacklisted alias.
    autoload_blocked: bool = False

    @property
    def ready_at_boot(self) -> bool:
        """Loaded at boot, or it need not be (:attr:`first_use_suffices`)."""
        return self.loads_at_boot or self.first_use_suffices


@dataclass(frozen=True)
class KernelModules:
    """An installed kernel (``/lib/modules/KVER``) and whether it has the checked modules."""

    release: str
    running: bool
    missing: list[str] = field(default_factory=list)
    builtin: list[str] = field(default_factory=list)
    not_at_boot: list[str] = field(default_factory=list)  # available but would not load at boot
    on_first_use: list[str] = field(default_factory=list)  # not at boot, loaded on first use
    newest: bool = False  # the newest installed kernel (the likely next boot)
    problem: str | None = None  # e.g. "modules.dep missing (run depmod)"


@dataclass(frozen=True)
class IptablesState:
    """What the node's netfilter looks like to dind."""

    legacy_tables: list[str] = field(default_factory=list)  # /proc/net/ip_tables_names
    nft_loaded: bool = False
    legacy_nat_autoload: bool = False
    backend_hint: str = "unknown"  # legacy | nf_tables | unknown
    detail: str = ""
    nat_module: str = "iptable_nat"  # what nat needs under backend_hint


@dataclass(frozen=True)
class ModuleRequests:
    """Whether the kernel refuses a container's module request (SELinux enforcing on the RHEL
    family), now and after the next boot; None: unknown (see :mod:`.loadability`)."""

    denied_now: bool | None = False
    denied_at_boot: bool | None = False
    reason: str = ""
    evidence: list[str] = field(default_factory=list)  # the files that said so


@dataclass(frozen=True)
class NodeReport:
    """Everything node-report found for one host root."""

    root: str
    kernel: str | None
    modules: dict[str, ModuleState]
    kernels: list[KernelModules] = field(default_factory=list)
    iptables: IptablesState = field(default_factory=IptablesState)
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # limits of what could be seen, and why
    proc: str | None = None  # the proc directory read (None: none available)
    evidence_source: str = "host-root"  # host-root | job-proc
    module_support: bool | None = None  # False: a monolithic kernel (CONFIG_MODULES unset)
    modules_load_files: list[str] = field(default_factory=list)  # effective, in reading order
    modprobe_files: list[str] = field(default_factory=list)  # effective modprobe.d files
    cmdline: str | None = None  # the kernel command line the boot analysis assumed
    checked: list[str] = field(default_factory=list)  # the modules ``ok`` is about ([]: all)
    backend: str = ""  # the iptables backend whose set was checked (legacy | nf_tables | "")
    backend_reason: str = ""  # why that backend (--backend, or what auto saw)
    backends: list[str] = field(default_factory=list)  # every backend whose set was checked
    module_requests: ModuleRequests = field(default_factory=ModuleRequests)
    # Only in a report made from a Node condition: the facts the condition stated, per module.
    stated_facts: dict[str, str] = field(default_factory=dict)
    stated_boot_facts: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """No checked module is a fault for containers now or after the next boot, and none is
        unknown (the module-fact rule, :func:`preflight.node.loadability.verdict`)."""
        from preflight.node.loadability import verdict

        return verdict(self).ok
