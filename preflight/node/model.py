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


@dataclass(frozen=True)
class KernelModules:
    """An installed kernel (``/lib/modules/KVER``) and whether it has the checked modules."""

    release: str
    running: bool
    missing: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class IptablesState:
    """What the node's netfilter looks like to dind."""

    legacy_tables: list[str] = field(default_factory=list)  # /proc/net/ip_tables_names
    nft_loaded: bool = False
    legacy_nat_autoload: bool = False
    backend_hint: str = "unknown"  # legacy | nf_tables | unknown
    detail: str = ""


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

    @property
    def ok(self) -> bool:
        """Every checked module is loaded now and loads at boot."""
        return all(m.loaded and m.loads_at_boot for m in self.modules.values())
