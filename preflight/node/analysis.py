"""Facts -> NodeReport: is each module loaded now, will it load at the next boot, and why not.

Pure: :class:`HostFacts` in, :class:`NodeReport` out. The rules are systemd-modules-load's (which
files count, see :mod:`.modules_load`), kmod's (lookups, blacklists, install rules, see
:mod:`.probe_plan`) and the kernel's (``module_blacklist=``, ``modules_disabled``, autoload on
first use). Every finding code is stable: the diagnosis and the GitLab report key on them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from preflight.node import remedy
from preflight.node.cmdline import Cmdline, parse_cmdline
from preflight.node.facts import ConfDir, FileRead, FileStatus, HostFacts, KernelTree, absent
from preflight.node.iptables import AUTOLOAD_REQUESTS, iptables_state, parse_table_names
from preflight.node.kernel import (
    CONFIG_SYMBOLS,
    KernelIndex,
    ProcModule,
    normalize,
    parse_builtin_modinfo,
    parse_kernel_config,
    parse_modules_alias,
    parse_modules_builtin,
    parse_modules_dep,
    parse_proc_modules,
    release_sort_key,
)
from preflight.node.model import (
    Blocker,
    BootSource,
    Finding,
    IgnoredSource,
    KernelModules,
    ModuleState,
    NodeReport,
    Remedy,
    Severity,
)
from preflight.node.modprobe_conf import (
    InstallEffect,
    ModprobeConfig,
    Origin,
    install_effect,
    is_conf_name,
    merge,
    parse_modprobe_file,
)
from preflight.node.modules_load import (
    ETC_MODULES,
    ConfFile,
    FileRole,
    ListedName,
    effective_names,
    is_empty_mask,
    is_vendor_path,
    leads_to_etc_modules,
    listed_names,
    select_files,
    split_lines,
)
from preflight.node.probe_plan import ModulePlan, Outcome, lookup, plan_load

DEFAULT_MODULES: tuple[str, ...] = ("iptable_nat", "iptable_filter")
CMDLINE = "/proc/cmdline"

# Why a module listed somewhere does not count, most specific first (finding codes).
NOT_LISTED_CODES = (
    "etc-modules-not-read",
    "modules-load-params",
    "modules-load-not-conf",
    "modules-load-masked",
    "modules-load-overridden",
    "modprobe-d-not-loading",
    "initrd-only",
)
_BLOCKER_SEVERITY = {
    "blacklisted": Severity.ERROR,
    "install-false": Severity.ERROR,
    "install-true": Severity.ERROR,
    "kernel-module-blacklist": Severity.ERROR,
    "install-command": Severity.WARNING,
}
_SEVERITY_RANK = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}


@dataclass(frozen=True)
class _Host:
    """Everything derived once from the facts, shared by every module's analysis."""

    facts: HostFacts
    kernel: str | None
    indexes: dict[str, KernelIndex]
    running: KernelIndex | None
    boot: KernelIndex | None  # the kernel boot is judged for: running, else the newest installed
    config: dict[str, str]
    config_source: str | None
    module_support: bool | None
    loaded: dict[str, ProcModule] | None
    cmdline: Cmdline
    modprobe: ModprobeConfig
    modprobe_files: list[ConfFile]
    load_files: list[ConfFile]
    load_names: list[ListedName]
    module_blacklist: dict[str, Origin]  # module -> the module_blacklist= parameter
    modules_disabled: bool
    autoload_enabled: bool
    evidence_source: str = "host-root"
    notes: tuple[str, ...] = ()


def analyze(
    facts: HostFacts, modules: Sequence[str] = DEFAULT_MODULES, evidence_source: str = "host-root"
) -> NodeReport:
    """The node report for ``modules`` on the host described by ``facts``."""
    names = list(dict.fromkeys(normalize(m) for m in modules))
    host = _derive(facts, evidence_source)
    states = {name: _module_state(host, name) for name in names}
    persist = _not_persistent(host, names, states)
    shared_fix = _persistence_fix(host, persist, states)
    findings: list[Finding] = []
    for name in names:
        fix = shared_fix if name in persist else None
        findings.extend(_module_findings(host, states[name], fix))
    kernels, kernel_findings = _kernels(host, names, states)
    findings.extend(kernel_findings)
    host_findings, host_notes = _host_findings(host, names, states)
    findings.extend(host_findings)
    findings.extend(_config_findings(host))
    findings.sort(key=lambda f: _SEVERITY_RANK[f.severity])
    iptables = iptables_state(
        parse_table_names(facts.ip_tables_names.text) if facts.ip_tables_names.ok else None,
        _nft_present(host),
        {n: _presence(host, n)[0] for n in ("iptable_nat", "nft_chain_nat")},
        _autoload(host, "iptable_nat"),
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


# --- deriving the host view -------------------------------------------------------------------


def kernel_index(tree: KernelTree) -> KernelIndex:
    """Parse one kernel's index files."""
    modules = parse_modules_dep(tree.modules_dep.text) if tree.modules_dep.ok else {}
    builtin = parse_modules_builtin(tree.modules_builtin.text) if tree.modules_builtin.ok else set()
    aliases = parse_modules_alias(tree.modules_alias.text) if tree.modules_alias.ok else ()
    if tree.builtin_modinfo.ok:
        modinfo_names, modinfo_aliases = parse_builtin_modinfo(tree.builtin_modinfo.data)
        builtin = set(builtin) | modinfo_names
        aliases = aliases + modinfo_aliases
    return KernelIndex(
        release=tree.release,
        modules=modules,
        builtin=frozenset(builtin),
        aliases=aliases,
        has_index=tree.modules_dep.ok,
    )


def modprobe_config(dirs: Sequence[ConfDir]) -> tuple[ModprobeConfig, list[ConfFile]]:
    """The effective modprobe.d configuration (kmod's file selection and parsing)."""
    files = select_files(dirs, suffixes=(".conf", ".alias"), skip_directories=True)
    parsed = [
        parse_modprobe_file(c.path, c.read.text)
        for c in files
        if c.role is FileRole.EFFECTIVE and c.read.ok
    ]
    return merge(parsed), files


def _derive(facts: HostFacts, evidence_source: str) -> _Host:
    notes: list[str] = []
    kernel = facts.osrelease.text.strip() if facts.osrelease.ok else None
    if facts.proc is None and evidence_source == "host-root":
        notes.append(
            f"no proc directory under {facts.root}: what is loaded now cannot be read "
            "(mount the host's /proc there or pass --proc)"
        )
    elif kernel is None:
        notes.append("the running kernel is unknown: /proc/sys/kernel/osrelease is not readable")
    indexes = {tree.release: kernel_index(tree) for tree in facts.kernels if tree.has_modules}
    for tree in facts.kernels:
        if not tree.has_modules:
            notes.append(
                f"ignored {tree.path}: no kernel/ directory, vmlinuz or module index "
                "(leftovers of a removed kernel)"
            )
    running = indexes.get(kernel) if kernel else None
    newest = max(indexes, key=release_sort_key) if indexes else None
    boot = running or (indexes[newest] if newest else None)
    if running is None and boot is not None:
        notes.append(
            f"boot is judged for kernel {boot.release}, the newest installed: the running "
            "kernel's modules are not installed (or it is unknown)"
        )
    config, config_source = _kernel_config(facts, kernel)
    loaded = parse_proc_modules(facts.proc_modules.text) if facts.proc_modules.ok else None
    module_support: bool | None
    if config.get("CONFIG_MODULES") == "n":
        module_support = False
    elif config.get("CONFIG_MODULES") == "y" or loaded is not None or running is not None:
        module_support = True
    else:
        module_support = None
    cmdline = parse_cmdline(facts.cmdline.text if facts.cmdline.ok else "")
    config_files, modprobe_files = modprobe_config(facts.modprobe_dirs)
    cmdline_blacklist = tuple(
        (entry.module, Origin(CMDLINE, 0, entry.param)) for entry in cmdline.modprobe_blacklist
    )
    modprobe = replace(config_files, blacklist=config_files.blacklist + cmdline_blacklist)
    load_files = select_files(facts.modules_load_dirs)
    load_names = [ListedName(CMDLINE, 0, e.module) for e in cmdline.modules_load]
    load_names += effective_names(load_files)
    disabled = facts.modules_disabled.ok and facts.modules_disabled.text.strip() == "1"
    helper = facts.kernel_modprobe.text.strip() if facts.kernel_modprobe.ok else "/sbin/modprobe"
    if not facts.cmdline.ok and evidence_source == "host-root" and facts.proc is not None:
        notes.append("the kernel command line (/proc/cmdline) is not readable")
    return _Host(
        facts=facts,
        kernel=kernel,
        indexes=indexes,
        running=running,
        boot=boot,
        config=config,
        config_source=config_source,
        module_support=module_support,
        loaded=loaded,
        cmdline=cmdline,
        modprobe=modprobe,
        modprobe_files=modprobe_files,
        load_files=load_files,
        load_names=load_names,
        module_blacklist={e.module: Origin(CMDLINE, 0, e.param) for e in cmdline.module_blacklist},
        modules_disabled=disabled,
        autoload_enabled=bool(helper) and not disabled,
        evidence_source=evidence_source,
        notes=tuple(notes),
    )


def _kernel_config(facts: HostFacts, kernel: str | None) -> tuple[dict[str, str], str | None]:
    if facts.proc_config.ok:
        return parse_kernel_config(facts.proc_config.text), "/proc/config.gz"
    for tree in facts.kernels:
        if tree.release == kernel and tree.config.ok:
            return parse_kernel_config(tree.config.text), tree.config.path
    return {}, None


# --- one module -------------------------------------------------------------------------------


def _presence(host: _Host, name: str) -> tuple[bool, bool, bool, str, str | None]:
    """(loaded, builtin, known, source, state) of ``name`` in the running kernel."""
    symbol = CONFIG_SYMBOLS.get(name)
    config_value = host.config.get(symbol) if symbol else None
    sys_module = next((s for s in host.facts.sys_modules if s.name == name), None)
    if host.running is not None and name in host.running.builtin:
        return True, True, True, "modules.builtin", None
    if config_value == "y":
        return True, True, True, "kernel-config", None
    if host.loaded is not None:
        entry = host.loaded.get(name)
        if entry is not None:
            return True, False, True, "proc-modules", entry.state
        if sys_module is not None and sys_module.exists and sys_module.initstate is None:
            return True, True, True, "sys-module", None
        return False, False, True, "proc-modules", None
    if sys_module is not None and sys_module.exists:
        builtin = sys_module.initstate is None
        return True, builtin, True, "sys-module", None
    if host.module_support is False:
        known = config_value is not None
        return False, False, known, "kernel-config" if known else "none", None
    return False, False, False, "none", None


def _module_state(host: _Host, name: str) -> ModuleState:
    loaded, builtin, known, source, proc_state = _presence(host, name)
    symbol = CONFIG_SYMBOLS.get(name)
    available = builtin or loaded or (host.running is not None and host.running.exists(name))
    if host.module_support is False and not builtin:
        available = False
    listed, plans = _listings(host, name, host.boot)
    ignored = _ignored(host, name)
    blockers = _blockers(host, name, plans)
    if host.evidence_source == "job-proc":
        loads_at_boot = builtin
    elif builtin:
        loads_at_boot = True
    else:
        loads_at_boot = _exists_for_boot(host, name, available) and _loads(plans)
    blocked_text = [_blocker_text(b) for b in blockers if b.code != "install-command"]
    return ModuleState(
        name=name,
        loaded=loaded,
        builtin=builtin,
        available=available,
        loads_at_boot=loads_at_boot,
        listed_in=listed,
        ignored=ignored,
        blocked_by=[] if builtin else blocked_text,
        autoload_on_use=not loaded and _autoload(host, name),
        loaded_known=known,
        loaded_source=source,
        loads_at_boot_known=host.evidence_source != "job-proc" or builtin,
        state=proc_state,
        blockers=[] if builtin else blockers,
        config_symbol=symbol,
        config_value=host.config.get(symbol) if symbol else None,
    )


def _exists_for_boot(host: _Host, name: str, available: bool) -> bool:
    """The module exists in the kernel boot is judged for (see ``_Host.boot``)."""
    if host.running is not None or host.module_support is False:
        return available
    return host.boot is not None and host.boot.exists(name)


def _names_module(host: _Host, index: KernelIndex | None, text: str, name: str) -> bool:
    """A modules-load.d line ``text`` brings in module ``name`` (by name or through an alias)."""
    if normalize(text) == name:
        return True
    if index is None:
        return False
    return any(module == name for module, _ in lookup(text, index, host.modprobe))


def _listings(
    host: _Host, name: str, index: KernelIndex | None
) -> tuple[list[BootSource], list[ModulePlan]]:
    """Where ``name`` is listed for boot, and what each listing's load would do on ``index``."""
    sources: list[BootSource] = []
    plans: list[ModulePlan] = []
    for listed in host.load_names:
        if not _names_module(host, index, listed.text, name):
            continue
        sources.append(
            BootSource(
                path=listed.path,
                line=listed.line or None,
                text=listed.text if listed.line else f"modules_load={listed.text}",
                via=listed.via,
            )
        )
        if index is not None:
            plan = plan_load(
                listed.text,
                index,
                host.modprobe,
                apply_blacklist=True,
                module_blacklist=host.module_blacklist,
            ).for_module(name)
            if plan is not None:
                plans.append(plan)
    return sources, plans


def _loads(plans: Sequence[ModulePlan]) -> bool:
    """One of the listings' loads goes through."""
    return any(p.outcome in (Outcome.LOADS, Outcome.BUILTIN) for p in plans)


def _first_word_is(text: str, name: str) -> bool:
    words = text.split()
    return bool(words) and normalize(words[0]) == name


def _ignored(host: _Host, name: str) -> list[IgnoredSource]:
    """Lines that name ``name`` but do not make it load, each with the reason."""
    out: list[IgnoredSource] = []
    for listed in host.load_names:
        if (
            listed.line
            and " " in listed.text.replace("\t", " ")
            and _first_word_is(listed.text, name)
        ):
            out.append(
                IgnoredSource(
                    listed.path,
                    listed.line,
                    listed.text,
                    "a modules-load.d line is one module name, whole: this one is looked up as "
                    f"a module called '{listed.text}' and not found (parameters belong in "
                    f"/etc/modprobe.d/*.conf as `options {name} ...`)",
                    "modules-load-params",
                )
            )
    winners = {c.path: c for c in host.load_files if c.role is FileRole.EFFECTIVE}
    etc_modules_read = any(
        leads_to_etc_modules(c) for c in host.load_files if c.role is FileRole.EFFECTIVE
    )
    for conf in host.load_files:
        reason, code = _role_reason(conf, winners)
        if not reason:
            continue
        path = conf.read.target if conf.read.target and conf.read.ok else conf.path
        via = f" ({path} is reached through {conf.path})" if path != conf.path else ""
        for listed in listed_names(path, conf.read):
            if _first_word_is(listed.text, name):
                out.append(IgnoredSource(path, listed.line, listed.text, reason + via, code))
    if not etc_modules_read:
        for listed in listed_names(ETC_MODULES, host.facts.etc_modules):
            if _first_word_is(listed.text, name):
                out.append(
                    IgnoredSource(
                        ETC_MODULES,
                        listed.line,
                        listed.text,
                        "nothing reads /etc/modules on this host: systemd-modules-load reads "
                        "only modules-load.d/*.conf, and no effective .conf there leads to "
                        "/etc/modules (Debian and Ubuntu ship modules.conf -> ../modules; "
                        "RHEL, CentOS, Rocky and Fedora do not)",
                        "etc-modules-not-read",
                    )
                )
    for conf in host.modprobe_files:
        if conf.role is not FileRole.EFFECTIVE or not conf.read.ok:
            continue
        for lineno, text in split_lines(conf.read.data):
            if normalize(text) == name:
                out.append(
                    IgnoredSource(
                        conf.path,
                        lineno,
                        text,
                        "modprobe.d configures modules (options, blacklist, install); a bare "
                        "module name there loads nothing (kmod ignores the line)",
                        "modprobe-d-not-loading",
                    )
                )
    for entry in host.cmdline.initrd_modules_load:
        if normalize(entry.module) == name:
            out.append(
                IgnoredSource(
                    CMDLINE,
                    None,
                    entry.param,
                    "rd.modules_load= is read only inside the initrd",
                    "initrd-only",
                )
            )
    return out


def _role_reason(conf: ConfFile, winners: dict[str, ConfFile]) -> tuple[str, str]:
    if conf.role is FileRole.EFFECTIVE:
        return "", ""
    if conf.role is FileRole.OVERRIDDEN:
        winner = winners.get(conf.by or "")
        if winner is not None and is_empty_mask(winner):
            return f"masked by {winner.path} (empty or a link to /dev/null)", "modules-load-masked"
        return (
            f"overridden by {conf.by} (a file of the same name in an earlier directory wins)",
            "modules-load-overridden",
        )
    if conf.role is FileRole.HIDDEN:
        return "hidden files (names starting with a dot) are not read", "modules-load-not-conf"
    return "only files whose name ends in .conf are read", "modules-load-not-conf"


def _blockers(host: _Host, name: str, plans: Sequence[ModulePlan]) -> list[Blocker]:
    """What stops ``name`` from loading at boot: from its listings, and from a load by name."""
    candidates = list(plans)
    if host.boot is not None:
        own = plan_load(
            name,
            host.boot,
            host.modprobe,
            apply_blacklist=True,
            module_blacklist=host.module_blacklist,
        ).for_module(name)
        if own is not None:
            candidates.append(own)
    blockers: list[Blocker] = []
    for plan in candidates:
        for blocker in _plan_blockers(plan):
            if blocker not in blockers:
                blockers.append(blocker)
        for step in plan.steps:
            if (
                step.rule is not None
                and install_effect(step.rule, step.module) is InstallEffect.UNKNOWN
            ):
                origin = step.rule.origin
                blocker = Blocker(
                    "install-command", origin.path, origin.line or None, origin.text, step.module
                )
                if blocker not in blockers:
                    blockers.append(blocker)
    return blockers


def _plan_blockers(plan: ModulePlan) -> list[Blocker]:
    code = {
        Outcome.BLACKLISTED: "blacklisted",
        Outcome.INSTALL_FAILS: "install-false",
        Outcome.INSTALL_NOTHING: "install-true",
        Outcome.KERNEL_REFUSES: "kernel-module-blacklist",
    }.get(plan.outcome)
    if code is None:
        return []
    module = plan.blocking_module or plan.module
    return [
        Blocker(code, origin.path, origin.line or None, origin.text, module)
        for origin in plan.blocked_by
    ]


def _blocker_text(blocker: Blocker) -> str:
    where = f"{blocker.path}:{blocker.line}" if blocker.line else "kernel command line"
    return f"{blocker.code}: `{blocker.text}` ({where})"


def _autoload(host: _Host, name: str) -> bool:
    """The kernel would load ``name`` on first use (e.g. of the legacy nat table)."""
    request = AUTOLOAD_REQUESTS.get(name)
    if request is None or host.running is None or not host.autoload_enabled:
        return False
    if host.module_support is False or not host.running.has_index:
        return False
    plan = plan_load(
        request,
        host.running,
        host.modprobe,
        apply_blacklist=False,
        module_blacklist=host.module_blacklist,
    ).for_module(name)
    return plan is not None and plan.outcome is Outcome.LOADS


def _nft_present(host: _Host) -> bool:
    return _presence(host, "nf_tables")[0]


# --- findings ---------------------------------------------------------------------------------


def _not_persistent(host: _Host, names: Sequence[str], states: dict[str, ModuleState]) -> list[str]:
    """The checked modules that exist but that nothing effective lists for boot."""
    if host.evidence_source == "job-proc":
        return []
    return [
        n
        for n in names
        if not states[n].builtin
        and _exists_for_boot(host, n, states[n].available)
        and not states[n].listed_in
    ]


def _persistence_fix(
    host: _Host, wanted: Sequence[str], states: dict[str, ModuleState]
) -> Remedy | None:
    """One modules-load.d file for every module in ``wanted``."""
    if not wanted:
        return None
    target = remedy.modules_load_file(wanted).rsplit("/", 1)[-1]
    keep: list[str] = []
    for conf in host.load_files:
        if conf.name == target and conf.read.ok:
            for listed in listed_names(conf.path, conf.read):
                if " " not in listed.text and normalize(listed.text) not in wanted:
                    keep.append(listed.text)
            break
    why = ""
    if any(i.code == "etc-modules-not-read" for n in wanted for i in states[n].ignored):
        why = "/etc/modules is not read on this host."
    return remedy.persistence(wanted, keep, why)


def _module_findings(host: _Host, state: ModuleState, shared_fix: Remedy | None) -> list[Finding]:
    """Findings about one module; ``shared_fix`` is the persistence fix when it needs one."""
    name = state.name
    out: list[Finding] = []
    if state.builtin:
        return out
    if not state.loaded_known:
        out.append(
            Finding(
                "module-state-unknown",
                Severity.WARNING,
                name,
                f"cannot tell whether {name} is loaded: no /proc/modules, /sys/module or kernel "
                "configuration could be read",
            )
        )
    if not state.available and (host.running is not None or host.module_support is False):
        symbol = f"{state.config_symbol} is not set" if state.config_symbol else "not built in"
        where = (
            f"kernel {host.kernel} is built without it ({symbol}) and cannot load modules"
            if host.module_support is False
            else f"kernel {host.kernel} has no {name} (not in modules.dep, modules.alias or "
            "modules.builtin)"
        )
        out.append(
            Finding(
                "module-unavailable",
                Severity.ERROR,
                name,
                f"{name} does not exist for the running kernel: {where}",
                remedy.install_modules(name, host.kernel),
            )
        )
    job_proc = host.evidence_source == "job-proc"
    if state.loaded_known and not state.loaded and (state.available or job_proc):
        if job_proc:
            message = (
                f"{name} is not in /proc/modules: not loaded (a built-in module is not listed "
                "there either; the node's own view can tell)"
            )
            severity = Severity.ERROR
        elif state.autoload_on_use:
            message = (
                f"{name} is not loaded yet; nothing blocks the kernel from loading it on first use"
                " (but dind's iptables backend detection may never trigger that)"
            )
            severity = Severity.WARNING
        else:
            message = f"{name} is not loaded in the running kernel"
            severity = Severity.ERROR
        at_boot = None if job_proc else state.loads_at_boot
        out.append(
            Finding(
                "module-not-loaded",
                severity,
                name,
                message,
                shared_fix or remedy.load_now(name, at_boot),
            )
        )
    if job_proc:
        return out
    if _exists_for_boot(host, name, state.available) and not state.listed_in:
        code = next(
            (c for c in NOT_LISTED_CODES if any(i.code == c for i in state.ignored)),
            "module-not-persistent",
        )
        refs = [f"{i.path}:{i.line}" if i.line else i.path for i in state.ignored if i.code == code]
        out.append(
            Finding(
                code,
                Severity.ERROR,
                name,
                _not_listed_message(name, code, state),
                shared_fix,
                evidence=refs,
            )
        )
    for blocker in state.blockers:
        out.append(_blocker_finding(host, name, blocker))
    return out


def _not_listed_message(name: str, code: str, state: ModuleState) -> str:
    first = next((i for i in state.ignored if i.code == code), None)
    now = "loaded now, but " if state.loaded else ""
    if code == "module-not-persistent" or first is None:
        return (
            f"{now}nothing loads {name} at boot: no effective modules-load.d file and no "
            "modules_load= on the kernel command line lists it"
        )
    where = f"{first.path}:{first.line}" if first.line else first.path
    return f"{now}{name} will not load at boot: it is listed in {where}, but {first.reason}"


def _blocker_finding(host: _Host, name: str, blocker: Blocker) -> Finding:
    where = f"{blocker.path}:{blocker.line}" if blocker.line else "the kernel command line"
    dep = "" if blocker.module == name else f" its dependency {blocker.module}:"
    messages = {
        "blacklisted": (
            f"{name} is blacklisted ({where}: `{blocker.text}`): systemd-modules-load skips "
            "blacklisted modules, so no modules-load.d file can load it at boot"
        ),
        "install-false": (
            f"every load of {name} fails:{dep} `{blocker.text}` ({where}) replaces the load by a "
            "command that fails"
        ),
        "install-true": (
            f"every load of {name} does nothing:{dep} `{blocker.text}` ({where}) replaces the "
            "load by a command that succeeds without loading anything"
        ),
        "kernel-module-blacklist": (
            f"the kernel refuses to load {blocker.module}: module_blacklist= on the kernel "
            f"command line names it, and that blocks every load of {name}"
        ),
        "install-command": (
            f"loading {name} runs a custom command:{dep} `{blocker.text}` ({where}); "
            "whether it loads the module cannot be checked here"
        ),
    }
    return Finding(
        blocker.code,
        _BLOCKER_SEVERITY[blocker.code],
        name,
        messages[blocker.code],
        _blocker_remedy(host, name, blocker),
        evidence=[f"{blocker.path}:{blocker.line}" if blocker.line else blocker.path],
    )


def _blocker_remedy(host: _Host, name: str, blocker: Blocker) -> Remedy | None:
    if blocker.path == CMDLINE:
        return remedy.edit_cmdline(blocker.text, blocker.module, host.facts.has_grubby)
    conf = next((c for c in host.modprobe_files if c.path == blocker.path), None)
    if conf is None or not conf.read.ok:
        return None
    origins = [
        o
        for o in _origins_in(host.modprobe, blocker.path)
        if o.line == blocker.line and o.text == blocker.text
    ]
    if not origins:
        return None
    rule = "blacklist" if blocker.code == "blacklisted" else "install rule"
    what = f"the {rule} of {blocker.module}"
    return remedy.edit_modprobe_d(
        origins, conf.read.text, name, what, vendor=is_vendor_path(conf.path)
    )


def _origins_in(config: ModprobeConfig, path: str) -> Iterable[Origin]:
    for _, origin in config.blacklist:
        if origin.path == path:
            yield origin
    for rule in config.install:
        if rule.origin.path == path:
            yield rule.origin


def _kernels(
    host: _Host, names: Sequence[str], states: dict[str, ModuleState]
) -> tuple[list[KernelModules], list[Finding]]:
    kernels: list[KernelModules] = []
    findings: list[Finding] = []
    releases = sorted(host.indexes, key=release_sort_key, reverse=True)
    newest = releases[0] if releases else None
    running_key = release_sort_key(host.kernel) if host.kernel else None
    for release in releases:
        index = host.indexes[release]
        running = release == host.kernel
        tree = next(t for t in host.facts.kernels if t.release == release)
        problem = None if index.has_index else _index_problem(tree)
        missing = [n for n in names if index.has_index and not index.exists(n)]
        if running and host.module_support is False:
            missing = [n for n in names if not states[n].builtin]
        builtin = [n for n in names if n in index.builtin]
        not_at_boot = [
            n
            for n in names
            if n not in missing and n not in builtin and not _boot_loads(host, index, n)
        ]
        kernels.append(
            KernelModules(
                release=release,
                running=running,
                missing=missing,
                builtin=builtin,
                not_at_boot=not_at_boot,
                newest=release == newest,
                problem=problem,
            )
        )
        if problem:
            findings.append(
                Finding(
                    "modules-dep-missing",
                    Severity.ERROR if running or release == newest else Severity.WARNING,
                    None,
                    f"kernel {release}: {problem}",
                    remedy.run_depmod(release),
                    kernel=release,
                )
            )
        if running or not missing:
            continue
        later = running_key is None or release_sort_key(release) > running_key
        for name in missing:
            findings.append(
                Finding(
                    "kernel-missing-module",
                    Severity.ERROR if later else Severity.WARNING,
                    name,
                    f"installed kernel {release} has no {name}"
                    + (
                        ": it is newer than the running kernel, so probably the next boot, "
                        "after which dind would fail"
                        if later and running_key is not None
                        else ": booting it would break dind"
                    ),
                    remedy.remove_kernel(release, missing),
                    kernel=release,
                )
            )
    return kernels, findings


def _index_problem(tree: KernelTree) -> str:
    status = tree.modules_dep.status
    if status is FileStatus.MISSING:
        return f"{tree.path}/modules.dep is missing (run depmod): kmod can find no module"
    return f"{tree.path}/modules.dep cannot be read ({_status_text(tree.modules_dep)})"


def _boot_loads(host: _Host, index: KernelIndex, name: str) -> bool:
    """``name`` would be present after booting the kernel of ``index``."""
    return name in index.builtin or _loads(_listings(host, name, index)[1])


def _host_findings(
    host: _Host, names: Sequence[str], states: dict[str, ModuleState]
) -> tuple[list[Finding], list[str]]:
    """Findings about the host as a whole, and notes on what could not be seen."""
    out: list[Finding] = []
    notes: list[str] = []
    facts = host.facts
    if host.module_support is False:
        source = host.config_source or "the kernel configuration"
        out.append(
            Finding(
                "no-module-support",
                Severity.INFO,
                None,
                f"kernel {host.kernel or '(unknown)'} has no loadable module support "
                f"(CONFIG_MODULES is not set in {source}; no /proc/modules): every module it "
                "has is built in, and nothing needs to load at boot",
            )
        )
        notes.append(
            "this kernel cannot load modules: the state of each module comes from "
            f"{source} (built in or absent)"
        )
    if host.modules_disabled:
        not_loaded = [n for n in names if not states[n].loaded]
        out.append(
            Finding(
                "modules-disabled",
                Severity.ERROR if not_loaded else Severity.WARNING,
                None,
                "kernel.modules_disabled=1 (/proc/sys/kernel/modules_disabled): no module can be "
                "loaded until the next boot",
                remedy.reboot_to_load(not_loaded),
            )
        )
    if (
        host.kernel
        and host.module_support is True
        and host.kernel not in host.indexes
        and host.evidence_source == "host-root"
    ):
        not_loaded = [n for n in names if not states[n].loaded]
        out.append(
            Finding(
                "running-kernel-modules-missing",
                Severity.ERROR if not_loaded else Severity.WARNING,
                None,
                f"/lib/modules/{host.kernel} (the running kernel's modules) is missing: modules "
                "not loaded yet cannot be loaded until the node boots a kernel whose modules "
                "are installed",
                remedy.reboot_to_load(not_loaded),
            )
        )
    if host.evidence_source == "job-proc":
        out.append(
            Finding(
                "boot-persistence-unknown",
                Severity.INFO,
                None,
                "only /proc/modules of the node's kernel was visible (from inside the job): "
                "what loads at boot, built-in modules and blacklists cannot be seen from here",
            )
        )
    if facts.proc is not None and not facts.proc_modules.ok and host.module_support is not False:
        notes.append(
            f"/proc/modules is not readable ({_status_text(facts.proc_modules)}): loaded "
            "modules come from /sys/module where possible"
        )
    return out, notes


def _config_findings(host: _Host) -> list[Finding]:
    out: list[Finding] = []
    for conf_dir in (*host.facts.modules_load_dirs, *host.facts.modprobe_dirs):
        listing = conf_dir.listing
        if listing.status not in (FileStatus.OK, FileStatus.MISSING, FileStatus.DANGLING):
            out.append(
                Finding(
                    "config-unreadable",
                    Severity.WARNING,
                    None,
                    f"directory {listing.path} cannot be listed "
                    f"({listing.error or listing.status.value})",
                    evidence=[listing.path],
                )
            )
        elif listing.truncated:
            out.append(
                Finding(
                    "config-too-large",
                    Severity.WARNING,
                    None,
                    f"directory {listing.path} has too many entries; only the first were read",
                    evidence=[listing.path],
                )
            )
    for conf in host.load_files:
        if conf.role is FileRole.EFFECTIVE:
            out.extend(_file_findings(conf.path, conf.read, "systemd-modules-load"))
    for conf in host.modprobe_files:
        if conf.role is FileRole.EFFECTIVE:
            out.extend(_file_findings(conf.path, conf.read, "kmod"))
        elif conf.role is FileRole.DIRECTORY and is_conf_name(conf.name):
            out.append(
                Finding(
                    "config-is-directory",
                    Severity.INFO,
                    None,
                    f"{conf.path} is a directory; kmod skips it",
                    evidence=[conf.path],
                )
            )
    return out


def _file_findings(path: str, read: FileRead, reader: str) -> list[Finding]:
    status = read.status
    links = f" ({'; '.join(read.links)})" if read.links else ""
    if status is FileStatus.OK:
        out: list[Finding] = []
        if read.truncated:
            out.append(
                Finding(
                    "config-too-large",
                    Severity.WARNING,
                    None,
                    f"{path} is larger than the read limit; only its beginning was analysed",
                    evidence=[path],
                )
            )
        if b"\0" in read.data:
            out.append(
                Finding(
                    "config-binary",
                    Severity.WARNING,
                    None,
                    f"{path} contains binary data (NUL bytes); {reader} splits it into garbage "
                    "lines",
                    evidence=[path],
                )
            )
        return out
    if status is FileStatus.NULL:
        return []
    codes = {
        FileStatus.DANGLING: ("config-dangling-symlink", Severity.INFO, "is a dangling symlink"),
        FileStatus.MISSING: ("config-dangling-symlink", Severity.INFO, "vanished while read"),
        FileStatus.LOOP: ("config-symlink-loop", Severity.WARNING, "is a symlink loop"),
        FileStatus.DIRECTORY: ("config-is-directory", Severity.WARNING, "is a directory"),
        FileStatus.SPECIAL: (
            "config-not-regular",
            Severity.WARNING,
            "is not a regular file (a FIFO, socket or device)",
        ),
    }
    code, severity, what = codes.get(
        status, ("config-unreadable", Severity.WARNING, f"cannot be read ({_status_text(read)})")
    )
    effect = (
        "skipped, as systemd does"
        if code == "config-dangling-symlink" and reader == "systemd-modules-load"
        else f"{reader} cannot read it"
        + (" (systemd-modules-load.service fails)" if reader == "systemd-modules-load" else "")
    )
    return [Finding(code, severity, None, f"{path} {what}{links}: {effect}", evidence=[path])]


def _status_text(read: FileRead) -> str:
    return read.error or read.status.value


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
