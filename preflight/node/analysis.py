"""Facts -> NodeReport: is each module loaded now, will it load at the next boot, and why not.

Pure: :class:`HostFacts` in, :class:`NodeReport` out. The rules are systemd-modules-load's (which
files count, see :mod:`.modules_load`), kmod's (lookups, blacklists, install rules, see
:mod:`.probe_plan`) and the kernel's (``module_blacklist=``, ``modules_disabled``, autoload on
first use). Every finding code is stable: the diagnosis and the GitLab report key on them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

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
from preflight.node.model import Finding, ModuleState, NodeReport, Severity
from preflight.node.module_sets import BACKENDS, LEGACY, NF_TABLES, module_set
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

__all__ = [
    "DEFAULT_MODULES",
    "analyze",
    "analyze_backends",
    "for_backends",
    "kernel_index",
    "loaded_only_facts",
    "modprobe_config",
]


DEFAULT_MODULES: tuple[str, ...] = ("iptable_nat", "iptable_filter")


def analyze(
    facts: HostFacts,
    modules: Sequence[str] = DEFAULT_MODULES,
    evidence_source: str = "host-root",
    *,
    context_modules: Sequence[str] = (),
) -> NodeReport:
    """The node report for ``modules`` on the host described by ``facts``.

    ``context_modules`` get a state in ``NodeReport.modules`` (the diagnosis may need them, e.g.
    the other backend's set) but no findings and no place in the kernel inventory.
    """
    names = list(dict.fromkeys(normalize(m) for m in modules))
    host = derive_host(facts, evidence_source)
    states = {name: module_state(host, name) for name in names}
    for name in dict.fromkeys(normalize(m) for m in context_modules):
        if name not in states:
            states[name] = module_state(host, name)
    persist = not_persistent(host, names, states)
    shared_fix = persistence_fix(host, persist, states)
    findings: list[Finding] = []
    for name in names:
        fix = shared_fix if name in persist else None
        findings.extend(module_findings(host, states[name], fix))
    kernels, kernel_findings = kernel_inventory(host, names, states)
    findings.extend(kernel_findings)
    about_host, host_notes = host_findings(host, names, {n: states[n] for n in names})
    findings.extend(about_host)
    findings.extend(config_findings(host))
    findings.sort(key=lambda f: SEVERITY_RANK[f.severity])
    iptables = iptables_state(
        parse_table_names(facts.ip_tables_names.text) if facts.ip_tables_names.ok else None,
        nft_present(host),
        {n: presence(host, n)[0] for n in ("iptable_nat", "nft_chain_nat")},
        autoload(host, "iptable_nat"),
        _tables_unreadable(facts),
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
        checked=names,
        module_requests=host.requests,
    )


def analyze_backend(facts: HostFacts, backend: str) -> NodeReport:
    """The report for the module set of ``backend`` (``auto``, ``legacy`` or ``nf_tables``).

    ``auto`` decides as docker:dind's entrypoint would on this node: legacy when legacy tables
    are registered, else iptables-nft when nf_tables is loaded or can be loaded, else legacy.
    The other backend's modules get a state (for the diagnosis) but never a finding; IPv6
    counterparts are warnings at most.
    """
    why = f"--backend {backend}"
    if backend == "auto":
        backend, why = _auto_backend(facts)
    chosen = module_set(backend)
    other = module_set(NF_TABLES if backend == LEGACY else LEGACY)
    # The tables: loaded now and at boot, with every finding and the persistence fix.
    report = analyze(facts, chosen.tables, context_modules=other.all)
    # An admin listed the other backend's tables for boot where nothing honours it (the field
    # report: /etc/modules on CentOS 8): that intent is checked too, whatever the backend.
    unhonoured = [n for n in other.tables if _not_honoured(report.modules[n])]
    tables = (*chosen.tables, *unhonoured)
    if unhonoured:
        report = analyze(facts, tables, context_modules=other.all)
        why += (
            f"; the boot configuration also names {', '.join(unhonoured)} where it is not "
            "honoured, so they are checked too"
        )
    # What they pull in, and the IPv6 counterparts: only absence or a block is a finding.
    extra = analyze(facts, (*chosen.support, *chosen.ipv6))
    ipv6 = set(chosen.ipv6)
    findings = list(report.findings)
    for finding in extra.findings:
        if finding.module is None or finding.code not in _ABSENT_OR_BLOCKED:
            continue
        if finding.module in ipv6 and finding.severity is Severity.ERROR:
            finding = replace(finding, severity=Severity.WARNING)
        findings.append(finding)
    report = replace(report, modules={**report.modules, **extra.modules})
    findings.sort(key=lambda f: SEVERITY_RANK[f.severity])
    return replace(
        report,
        findings=findings,
        checked=list(tables),
        backend=backend,
        backend_reason=why,
        backends=[backend],
    )


def analyze_backends(facts: HostFacts, backends: Sequence[str] = BACKENDS) -> NodeReport:
    """The report a node must pass to serve every dind image a project may choose: the module
    sets of every backend in ``backends`` (default both: images before the 24.0.7/25 entrypoint
    are legacy-only, current ones pick nf_tables on most nodes). ``backend`` still names what a
    current docker:dind's entrypoint would pick here (what ``auto`` saw), for the reader."""
    wanted = [b for b in BACKENDS if b in backends]
    if not wanted:
        raise ValueError(f"no known backend in {list(backends)}")
    picked, why = _auto_backend(facts)
    tables = [n for b in wanted for n in module_set(b).tables]
    support = [n for b in wanted for n in (*module_set(b).support, *module_set(b).ipv6)]
    support = [n for n in dict.fromkeys(support) if n not in tables]
    others = [n for b in BACKENDS if b not in wanted for n in module_set(b).all]
    report = analyze(facts, tables, context_modules=others)
    unhonoured = [n for n in others if n in report.modules and _not_honoured(report.modules[n])]
    unhonoured = [n for n in unhonoured if any(n in module_set(b).tables for b in BACKENDS)]
    if unhonoured:
        tables += unhonoured
        report = analyze(facts, tables, context_modules=others)
    extra = analyze(facts, support)
    ipv6 = {n for b in wanted for n in module_set(b).ipv6}
    findings = list(report.findings)
    for finding in extra.findings:
        if finding.module is None or finding.code not in _ABSENT_OR_BLOCKED:
            continue
        if finding.module in ipv6 and finding.severity is Severity.ERROR:
            finding = replace(finding, severity=Severity.WARNING)
        findings.append(finding)
    findings.sort(key=lambda f: SEVERITY_RANK[f.severity])
    names = " and ".join(wanted)
    return replace(
        report,
        modules={**report.modules, **extra.modules},
        findings=findings,
        checked=list(tables),
        backend=picked,
        backend_reason=(
            f"checked for {names} (every dind image a project may choose"
            + ("" if len(wanted) == len(BACKENDS) else ", narrowed by the admin")
            + f"); a current docker:dind would pick {picked} here: {why}"
        ),
        backends=list(wanted),
    )


def for_backends(report: NodeReport, backends: Sequence[str]) -> NodeReport:
    """A report of both backends (what the helper pod prints) judged for ``backends`` only (the
    admin's ``--backends``): ``checked`` keeps the tables of those backends, and any other
    table an admin listed where nothing honours it. Pure; a report that checked fewer is kept."""
    wanted = [b for b in BACKENDS if b in backends]
    if not wanted or not report.backends or set(wanted) == set(report.backends):
        return report
    tables = {n for b in wanted for n in module_set(b).tables}
    checked = [
        n
        for n in report.checked
        if n in tables or (n in report.modules and _not_honoured(report.modules[n]))
    ]
    return replace(report, checked=checked, backends=wanted)


def _not_honoured(state: ModuleState) -> bool:
    """Listed for boot by an admin, in a place that does not load it."""
    return bool(state.ignored) and not state.loads_at_boot and not state.builtin


# Findings about a support module that matter: it does not exist, or something blocks it.
_ABSENT_OR_BLOCKED = frozenset(
    {
        "module-unavailable",
        "kernel-missing-module",
        "blacklisted",
        "install-false",
        "install-true",
        "kernel-module-blacklist",
        "install-command",
    }
)


def _tables_unreadable(facts: HostFacts) -> str:
    """Why /proc/net/ip_tables_names could not be read ('' when read, or when it does not exist:
    no legacy table is registered then). Unreadable evidence is unknown, never absence."""
    read = facts.ip_tables_names
    if read.ok or read.status is FileStatus.MISSING:
        return ""
    return f"{read.path} could not be read ({read.error or read.status.value})"


def _auto_backend(facts: HostFacts) -> tuple[str, str]:
    tables = parse_table_names(facts.ip_tables_names.text) if facts.ip_tables_names.ok else []
    if tables:
        return LEGACY, f"legacy iptables tables are registered ({', '.join(tables)})"
    unreadable = _tables_unreadable(facts)
    if unreadable:
        return LEGACY, (
            f"whether legacy tables are registered is unknown ({unreadable}); legacy is assumed "
            "(its set is the one the field report lacked)"
        )
    host = derive_host(facts, "host-root")
    nft = module_state(host, "nf_tables")
    if nft.loaded:
        return NF_TABLES, "no legacy table is registered and nf_tables is loaded"
    if nft.available and not nft.blockers:
        return NF_TABLES, "no legacy table is registered and nf_tables can be loaded"
    return LEGACY, "no legacy table is registered and nf_tables is not available"


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
        host_config_visible=False,
    )
