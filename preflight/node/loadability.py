"""The module-fact rule: is a kernel module a fault for containers on this node? Pure.

The one source of this decision for node-report (its result line and exit code), ``--npd``,
the agent's conditions, ``audit``, ``resolve`` and a job's diagnosis (whether the node's facts
agree with a cause). Evidence and sources: docs/fleet-mode.md ("Which modules matter").

A checked module is a fault for a backend when the kernel will not load it for a container:

- ``absent``: the kernel has no such module (not in ``modules.dep``/``modules.alias``, not
  built in; or a kernel without module support that lacks it);
- ``blocked``: what the kernel (or dind's ``modprobe``) asks for fails: ``install X /bin/false``
  (usually with ``blacklist X``), ``install X /bin/true``, ``module_blacklist=X`` on the kernel
  command line, a ``blacklist`` of the alias the kernel asks for (``nft-chain-2-nat``);
  a plain ``blacklist iptable_nat`` is no block: the kernel asks for the plain name, and
  ``blacklist`` applies to aliases only (kmod);
- ``unloadable``: no module can be loaded now (``kernel.modules_disabled=1``; the running
  kernel's ``/lib/modules`` missing);
- ``denied``: a table module (``iptable_nat``, ``iptable_filter``, ``nft_chain_nat``: what
  dind's first use of a table asks the kernel for) is not loaded, and the kernel refuses a
  container's module request: SELinux enforcing
  on the RHEL family (``avc: denied { module_request }``; the field report, CentOS 8;
  docker-library/docker#350, Oracle Linux 8; linuxserver-archive/docker-letsencrypt#465,
  CentOS 8; qoomon/docker-host#67, AlmaLinux 9; cockpit-project/cockpit#9261, RHEL 8). The
  mode comes from ``/sys/fs/selinux/enforce`` now (where readable, else the configuration) and
  from ``SELINUX=`` in ``/etc/selinux/config`` for the next boot.

``not-loaded`` (it exists, nothing blocks or denies its load) is no fault: the kernel loads it on
first use. It is not agreement with a nat-table cause either. ``unknown``: the evidence could not
be read (a permission, a job's own /proc), never taken for absence.

After the next boot the same rule holds for every installed kernel (any may boot next): a
module the boot does not load is a fault where it is absent, blocked or denied then.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from preflight.node.facts import FileRead, FileStatus, HostFacts
from preflight.node.model import ModuleRequests, ModuleState, NodeReport
from preflight.node.module_sets import loads_on_first_use

LOADED = "loaded"
NOT_LOADED = "not-loaded"
ABSENT = "absent"
BLOCKED = "blocked"
UNLOADABLE = "unloadable"
DENIED = "denied"
UNKNOWN = "unknown"
UNCHECKED = "unchecked"

FACTS = (LOADED, NOT_LOADED, ABSENT, BLOCKED, UNLOADABLE, DENIED, UNKNOWN, UNCHECKED)
# After the next boot: loads at boot, or loads on first use (nothing blocks or denies it), or
# neither: the boot does not load it and the kernel has no request of its own for it (a module
# only a boot listing would bring in).
AT_BOOT = "at-boot"
FIRST_USE = "first-use"
NOT_AT_BOOT = "not-at-boot"
FAULTS = (ABSENT, BLOCKED, UNLOADABLE, DENIED, NOT_AT_BOOT)
BOOT_FACTS = (AT_BOOT, FIRST_USE, ABSENT, BLOCKED, DENIED, NOT_AT_BOOT, UNKNOWN, UNCHECKED)

_HARD_BLOCKERS = frozenset({"install-false", "install-true", "kernel-module-blacklist"})
_UNLOADABLE_FINDINGS = frozenset({"modules-disabled", "running-kernel-modules-missing"})
# os-release ID / ID_LIKE words of the RHEL family (whose SELinux policy denies a container's
# module_request).
RHEL_FAMILY = frozenset({"rhel", "centos", "fedora", "rocky", "almalinux", "ol"})


# --- whether the kernel loads a module a container asks for ------------------------------------


def module_requests(facts: HostFacts) -> ModuleRequests:
    """Whether the kernel refuses a container's module request now and after the next boot."""
    if not facts.host_config_visible:
        return ModuleRequests(
            None, None, "the host's SELinux mode cannot be seen from here (only /proc)"
        )
    family = _os_words(facts.os_release)
    name = _os_name(facts.os_release)
    rhel = bool(family & RHEL_FAMILY)
    configured = _configured_mode(facts.selinux_config)
    running = _running_mode(facts.selinux_enforce)
    # selinux=0 / enforcing=0 on the kernel command line override the configuration (grubby
    # writes them for every kernel, so the next boot keeps them too).
    words = facts.cmdline.text.split() if facts.cmdline.ok else []
    if "selinux=0" in words:
        configured = running = "disabled"
    elif "enforcing=0" in words and configured == "enforcing":
        configured = "permissive"
        running = running or "permissive"
    evidence = [r.path for r in (facts.selinux_config, facts.selinux_enforce) if r.ok]
    boot_mode = configured
    now_mode = running if running is not None else configured
    if facts.selinux_config.status is FileStatus.UNREADABLE:
        boot_mode = None

    def denied(mode: str | None) -> bool | None:
        if mode is None:
            return None
        return rhel and mode == "enforcing"

    now, boot = denied(now_mode), denied(boot_mode)
    if facts.selinux_config.status is FileStatus.MISSING and running is None:
        now = boot = False  # no SELinux configured on this host
    where = f"{name}, " if name else ""
    if now or boot:
        why = (
            f"SELinux is enforcing ({where}{' and '.join(evidence)}): on the RHEL family its "
            "policy denies a container's module request (avc: denied { module_request }), so "
            "a module that is not loaded never loads for dind"
        )
    elif now is None or boot is None:
        why = "SELinux mode unknown: " + (
            f"{facts.selinux_config.path} could not be read"
            if facts.selinux_config.status is FileStatus.UNREADABLE
            else "no readable configuration"
        )
    elif (now_mode == "enforcing" or boot_mode == "enforcing") and not rhel:
        why = (
            f"SELinux is enforcing, but {name or 'the distribution'} is not of the RHEL family "
            "(its policy does not deny module requests)"
        )
    elif configured is None and running is None:
        why = "no SELinux on this host: nothing denies a container's module request"
    else:
        why = f"SELinux is {now_mode or boot_mode}: nothing denies a container's module request"
    return ModuleRequests(now, boot, why, evidence)


def _os_words(read: FileRead) -> set[str]:
    if not read.ok:
        return set()
    values = _keys(read.text)
    return {w.lower() for k in ("ID", "ID_LIKE") for w in values.get(k, "").split()}


def _os_name(read: FileRead) -> str:
    if not read.ok:
        return ""
    values = _keys(read.text)
    return values.get("PRETTY_NAME") or values.get("NAME", "")


def _keys(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        match = re.match(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$", line)
        if match:
            out[match.group(1)] = match.group(2).strip("\"'")
    return out


def _configured_mode(read: FileRead) -> str | None:
    """``SELINUX=`` of /etc/selinux/config (enforcing | permissive | disabled); None unknown."""
    if not read.ok:
        return None
    mode = _keys(read.text).get("SELINUX", "").lower()
    return mode if mode in ("enforcing", "permissive", "disabled") else None


def _running_mode(read: FileRead) -> str | None:
    """/sys/fs/selinux/enforce: ``1`` enforcing, ``0`` permissive; None when not readable."""
    if not read.ok:
        return None
    value = read.text.strip()
    return {"1": "enforcing", "0": "permissive"}.get(value)


# --- the rule ----------------------------------------------------------------------------------


def module_fact(node: NodeReport | None, name: str) -> str:
    """What module ``name`` is for containers on the node now (one of :data:`FACTS`)."""
    if node is None:
        return UNCHECKED
    state = node.modules.get(name)
    if state is None:
        return UNCHECKED
    stated = node.stated_facts.get(name)
    if stated is not None:  # a report that only carries what a condition stated
        return stated
    if not state.loaded_known:
        return UNKNOWN
    if state.loaded:
        return LOADED
    if _absent(node, state):
        return ABSENT
    if any(b.code in _HARD_BLOCKERS for b in state.blockers) or state.autoload_blocked:
        return BLOCKED
    if any(f.code in _UNLOADABLE_FINDINGS for f in node.findings):
        return UNLOADABLE
    if not loads_on_first_use(name):
        # What the table modules pull in (nat, conntrack, xt_*, nft_compat): loaded with them
        # as dependencies, or by the rules dind adds; only absence or a block is a fault.
        return NOT_LOADED
    if node.module_requests.denied_now:
        return DENIED
    if node.module_requests.denied_now is None:
        return UNKNOWN
    return NOT_LOADED


def boot_fact(node: NodeReport | None, name: str) -> str:
    """What module ``name`` is for containers after the next boot, on every installed kernel
    (any of them may boot next): one of :data:`BOOT_FACTS`, the worst over the kernels."""
    if node is None:
        return UNCHECKED
    stated = node.stated_boot_facts.get(name)
    if stated is not None:
        return stated
    state = node.modules.get(name)
    if state is None:
        return UNCHECKED
    if not state.loads_at_boot_known:
        return UNKNOWN
    if state.builtin and not node.kernels:
        return AT_BOOT
    inventory = name in node.checked and bool(node.kernels)
    if inventory:
        for kernel in node.kernels:
            if kernel.problem is not None and not kernel.running:
                return ABSENT if "missing" in kernel.problem else UNKNOWN
        if any(name in k.missing for k in node.kernels):
            return ABSENT
        if any(name in k.not_at_boot for k in node.kernels):
            return _why_not_first_use(node, state)
        if any(name in k.on_first_use for k in node.kernels):
            return FIRST_USE
        if state.loads_at_boot or state.builtin or state.first_use_suffices:
            return AT_BOOT if (state.loads_at_boot or state.builtin) else FIRST_USE
        return _why_not_first_use(node, state)
    if state.loads_at_boot or state.builtin:
        return AT_BOOT
    if state.first_use_suffices:
        return FIRST_USE
    return _why_not_first_use(node, state)


def _why_not_first_use(node: NodeReport, state: ModuleState) -> str:
    """Why a module the next boot does not load would not load on first use either."""
    if not state.available and node.evidence_source == "host-root":
        return ABSENT
    if any(b.code in _HARD_BLOCKERS for b in state.blockers) or state.autoload_blocked:
        return BLOCKED
    if node.module_requests.denied_at_boot:
        return DENIED
    if node.module_requests.denied_at_boot is None:
        return UNKNOWN
    return NOT_AT_BOOT


def _absent(node: NodeReport, state: ModuleState) -> bool:
    # "available" is only meaningful when the running kernel's index was read.
    if state.available:
        return False
    if node.module_support is False:
        return True
    return node.evidence_source == "host-root" and any(
        k.running and k.problem is None for k in node.kernels
    )


@dataclass(frozen=True)
class Verdict:
    """The rule over every checked module: faults now and after the next boot."""

    now: dict[str, str]
    after_boot: dict[str, str]

    @property
    def faults_now(self) -> list[str]:
        return [n for n, f in self.now.items() if f in FAULTS]

    @property
    def faults_after_boot(self) -> list[str]:
        return [n for n, f in self.after_boot.items() if f in FAULTS]

    @property
    def unknown(self) -> list[str]:
        """Modules that could not be judged, now or after the next boot."""
        facts = (self.now, self.after_boot)
        return [n for n in self.now if any(f[n] in (UNKNOWN, UNCHECKED) for f in facts)]

    @property
    def exit_code(self) -> int:
        """0 OK, 1 a fault, 2 no fault but unknown (node-problem-detector's protocol)."""
        if self.faults_now or self.faults_after_boot:
            return 1
        return 0 if self.ok else 2

    @property
    def ok(self) -> bool:
        """No checked module is a fault now or after the next boot, and none is unknown."""
        facts = [*self.now.values(), *self.after_boot.values()]
        return bool(self.now) and not any(f in (*FAULTS, UNKNOWN, UNCHECKED) for f in facts)


def verdict(node: NodeReport, names: list[str] | None = None) -> Verdict:
    """The rule for ``names`` (default: the modules the report checked)."""
    wanted = names if names is not None else (node.checked or list(node.modules))
    return Verdict(
        now={n: module_fact(node, n) for n in wanted},
        after_boot={n: boot_fact(node, n) for n in wanted},
    )


def describe_after_boot(name: str, fact: str) -> str:
    """One sentence for an after-boot fact (:func:`boot_fact`)."""
    words = {
        ABSENT: "is missing from an installed kernel (any may boot next)",
        BLOCKED: "is blocked (an install rule, module_blacklist= or a blacklisted alias)",
        DENIED: "will not be loaded after the next boot, and SELinux denies a container's "
        "request to load it",
        NOT_AT_BOOT: "would not be loaded after the next boot, and nothing loads it on first use",
    }
    return f"{name} {words[fact]}" if fact in words else describe(name, fact)


def describe(name: str, fact: str) -> str:
    """One sentence for a module fact, e.g. ``iptable_nat is blocked on the node``."""
    words = {
        LOADED: "is loaded",
        NOT_LOADED: "is not loaded (nothing stops the kernel from loading it on first use)",
        ABSENT: "does not exist for the running kernel",
        BLOCKED: "is blocked (an install rule, module_blacklist= or a blacklisted alias)",
        UNLOADABLE: "is not loaded and cannot be loaded into the running kernel",
        DENIED: "is not loaded, and the kernel refuses a container's request to load it "
        "(SELinux enforcing)",
        UNKNOWN: "could not be fully read (whether it loads for a container is unknown)",
        UNCHECKED: "was not checked",
        AT_BOOT: "loads at boot",
        FIRST_USE: "loads on first use after the next boot (nothing blocks or denies it)",
        NOT_AT_BOOT: "would not be loaded after the next boot, and nothing loads it on first use",
    }
    return f"{name} {words[fact]}"
