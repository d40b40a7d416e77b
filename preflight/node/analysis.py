"""Facts -> NodeReport: is each module loaded now, will it load at the next boot, and why not.

Pure: :class:`HostFacts` in, :class:`NodeReport` out. The rules are systemd-modules-load's (which
files count, see :mod:`.modules_load`), kmod's (lookups, blacklists, install rules, see
:mod:`.probe_plan`) and the kernel's (``module_blacklist=``, ``modules_disabled``, autoload on
first use). Every finding code is stable: the diagnosis and the GitLab report key on them.
"""

from __future__ import annotations

from collections.abc import Sequence

from preflight.node.facts import FileRead, FileStatus, HostFacts, absent
from preflight.node.findings import (
    SEVERITY_RANK,
    config_findings,
    host_findings,
    module_findings,
    not_persistent,
    persistence_fix,
)
from preflight.node.iptables import iptables_state, parse_table_names
from preflight.node.kernel import normalize
from preflight.node.kernels import kernel_inventory
from preflight.node.model import Finding, NodeReport
from preflight.node.module_state import (
    autoload,
    derive_host,
    kernel_index,
    modprobe_config,
    module_state,
    nft_present,
    presence,
)
from preflight.node.modules_load import FileRole

__all__ = ["DEFAULT_MODULES", "analyze", "kernel_index", "loaded_only_facts", "modprobe_config"]


DEFAULT_MODULES: tuple[str, ...] = ("iptable_nat", "iptable_filter")


def analyze(
    facts: HostFacts, modules: Sequence[str] = DEFAULT_MODULES, evidence_source: str = "host-root"
) -> NodeReport:
    """The node report for ``modules`` on the host described by ``facts``."""
    names = list(dict.fromkeys(normalize(m) for m in modules))
    host = derive_host(facts, evidence_source)
    states = {name: module_state(host, name) for name in names}
    persist = not_persistent(host, names, states)
    shared_fix = persistence_fix(host, persist, states)
    findings: list[Finding] = []
    for name in names:
        fix = shared_fix if name in persist else None
        findings.extend(module_findings(host, states[name], fix))
    kernels, kernel_findings = kernel_inventory(host, names, states)
    findings.extend(kernel_findings)
    about_host, host_notes = host_findings(host, names, states)
    findings.extend(about_host)
    findings.extend(config_findings(host))
    findings.sort(key=lambda f: SEVERITY_RANK[f.severity])
    iptables = iptables_state(
        parse_table_names(facts.ip_tables_names.text) if facts.ip_tables_names.ok else None,
        nft_present(host),
        {n: presence(host, n)[0] for n in ("iptable_nat", "nft_chain_nat")},
        autoload(host, "iptable_nat"),
    )
    return NodeReport(
        root=facts.root,
        kernel=host.kernel,
        modules=states,
        kernels=kernels,
        iptables=iptables,
        findings=findings,
        notes=list(dict.fromkeys([*host.notes, *host_notes])),
        proc=facts.proc,
        evidence_source=evidence_source,
        module_support=host.module_support,
        modules_load_files=[c.path for c in host.load_files if c.role is FileRole.EFFECTIVE],
        modprobe_files=[c.path for c in host.modprobe_files if c.role is FileRole.EFFECTIVE],
        cmdline=host.cmdline.text if facts.cmdline.ok else None,
    )


# --- the job-proc fallback --------------------------------------------------------------------


def loaded_only_facts(
    proc_modules_text: str | None, kernel: str | None, ip_tables_names: str | None = None
) -> HostFacts:
    """Facts when only the job's own /proc is visible (the kernel is the node's)."""

    def text_read(path: str, text: str | None) -> FileRead:
        if text is None:
            return absent(path)
        return FileRead(path, FileStatus.OK, path, data=text.encode())

    return HostFacts(
        root="(job)",
        proc="/proc",
        osrelease=text_read("/proc/sys/kernel/osrelease", kernel),
        proc_modules=text_read("/proc/modules", proc_modules_text),
        cmdline=absent("/proc/cmdline"),
        proc_config=absent("/proc/config.gz"),
        modules_disabled=absent("/proc/sys/kernel/modules_disabled"),
        kernel_modprobe=absent("/proc/sys/kernel/modprobe"),
        ip_tables_names=text_read("/proc/net/ip_tables_names", ip_tables_names),
    )
