"""The state of each checked module on a host: loaded now, listed for boot, blocked, autoloadable.

Pure: :class:`HostFacts` in; :class:`HostView` (everything derived once) and one
:class:`ModuleState` per module out. The rules are systemd-modules-load's (which files count,
see :mod:`.modules_load`), kmod's (lookups, blacklists, install rules, see :mod:`.probe_plan`) and
the kernel's (``module_blacklist=``, ``modules_disabled``, autoload on first use).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from preflight.node.cmdline import Cmdline, parse_cmdline
from preflight.node.facts import ConfDir, FileStatus, HostFacts, KernelTree
from preflight.node.iptables import AUTOLOAD_REQUESTS
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
    IgnoredSource,
    ModuleRequests,
    ModuleState,
)
from preflight.node.modprobe_conf import (
    InstallEffect,
    ModprobeConfig,
    Origin,
    install_effect,
    merge,
    parse_modprobe_file,
)
from preflight.node.module_sets import loads_on_first_use
from preflight.node.modules_load import (
    ETC_MODULES,
    ConfFile,
    FileRole,
    ListedName,
    effective_names,
    is_empty_mask,
    leads_to_etc_modules,
    listed_names,
    select_files,
    split_lines,
)
from preflight.node.probe_plan import ModulePlan, Outcome, lookup, plan_load

CMDLINE = "/proc/cmdline"


@dataclass(frozen=True)
class HostView:
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
    # Boot configuration that exists but could not be read (permission denied, I/O error):
    # whether a module loads at boot is then unknown, never "not listed".
    unreadable_boot: tuple[str, ...] = ()
    # Whether the kernel refuses a container's module request (SELinux on the RHEL family).
    requests: ModuleRequests = field(default_factory=ModuleRequests)


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


def derive_host(facts: HostFacts, evidence_source: str) -> HostView:
    from preflight.node.loadability import module_requests

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
    return HostView(
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
        unreadable_boot=_unreadable(facts.modules_load_dirs, load_files),
        requests=module_requests(facts),
    )


def _kernel_config(facts: HostFacts, kernel: str | None) -> tuple[dict[str, str], str | None]:
    if facts.proc_config.ok:
        return parse_kernel_config(facts.proc_config.text), "/proc/config.gz"
    for tree in facts.kernels:
        if tree.release == kernel and tree.config.ok:
            return parse_kernel_config(tree.config.text), tree.config.path
    return {}, None


# --- one module -------------------------------------------------------------------------------


def presence(host: HostView, name: str) -> tuple[bool, bool, bool, str, str | None]:
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


def module_state(host: HostView, name: str) -> ModuleState:
    loaded, builtin, known, source, proc_state = presence(host, name)
    symbol = CONFIG_SYMBOLS.get(name)
    available = builtin or loaded or (host.running is not None and host.running.exists(name))
    if host.module_support is False and not builtin:
        available = False
    listed, plans = listings(host, name, host.boot)
    ignored = _ignored(host, name)
    blockers = _blockers(host, name, plans)
    boot_known = host.evidence_source != "job-proc" or builtin
    if host.evidence_source == "job-proc":
        loads_at_boot = builtin
    elif builtin:
        loads_at_boot = True
    else:
        loads_at_boot = exists_for_boot(host, name, available) and loads(plans)
        if not loads_at_boot and host.unreadable_boot:
            boot_known = False  # it may be listed in what could not be read
    blocked_text = [_blocker_text(b) for b in blockers if b.code != "install-command"]
    on_first_use = (
        not builtin
        and not loads_at_boot
        and boot_known
        and not listed
        and exists_for_boot(host, name, available)
        and first_use_suffices(host, name, host.boot)
    )
    return ModuleState(
        name=name,
        loaded=loaded,
        builtin=builtin,
        available=available,
        loads_at_boot=loads_at_boot,
        listed_in=listed,
        ignored=ignored,
        blocked_by=[] if builtin else blocked_text,
        autoload_on_use=not loaded and autoload(host, name),
        first_use_suffices=on_first_use,
        autoload_blocked=not loaded and not builtin and autoload_blocked(host, name),
        loaded_known=known,
        loaded_source=source,
        loads_at_boot_known=boot_known,
        state=proc_state,
        blockers=[] if builtin else blockers,
        config_symbol=symbol,
        config_value=host.config.get(symbol) if symbol else None,
    )


def _unreadable(dirs: Sequence[ConfDir], files: Sequence[ConfFile]) -> tuple[str, ...]:
    """Directories that could not be listed and effective files that could not be read."""
    paths = [d.listing.path for d in dirs if d.listing.status is FileStatus.UNREADABLE]
    paths += [
        c.path
        for c in files
        if c.role is FileRole.EFFECTIVE and c.read.status is FileStatus.UNREADABLE
    ]
    return tuple(paths)


def exists_for_boot(host: HostView, name: str, available: bool) -> bool:
    """The module exists in the kernel boot is judged for (see ``HostView.boot``)."""
    if host.running is not None or host.module_support is False:
        return available
    return host.boot is not None and host.boot.exists(name)


def _names_module(host: HostView, index: KernelIndex | None, text: str, name: str) -> bool:
    """A modules-load.d line ``text`` brings in module ``name`` (by name or through an alias)."""
    if normalize(text) == name:
        return True
    if index is None:
        return False
    return any(module == name for module, _ in lookup(text, index, host.modprobe))


def listings(
    host: HostView, name: str, index: KernelIndex | None
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


def loads(plans: Sequence[ModulePlan]) -> bool:
    """One of the listings' loads goes through."""
    return any(p.outcome in (Outcome.LOADS, Outcome.BUILTIN) for p in plans)


def _first_word_is(text: str, name: str) -> bool:
    words = text.split()
    return bool(words) and normalize(words[0]) == name


def _ignored(host: HostView, name: str) -> list[IgnoredSource]:
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


def _blockers(host: HostView, name: str, plans: Sequence[ModulePlan]) -> list[Blocker]:
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


def autoload_blocked(host: HostView, name: str) -> bool:
    """The kernel's own request for ``name`` fails on the running kernel: an install rule,
    ``module_blacklist=``, a blacklist of the alias it asks for."""
    plan = _autoload_plan(host, name, host.running)
    return plan is not None and plan.outcome in (
        Outcome.BLACKLISTED,
        Outcome.INSTALL_FAILS,
        Outcome.INSTALL_NOTHING,
        Outcome.KERNEL_REFUSES,
    )


def autoload(host: HostView, name: str) -> bool:
    """The kernel would load ``name`` on first use (e.g. of the legacy nat table)."""
    plan = _autoload_plan(host, name, host.running)
    return plan is not None and plan.outcome is Outcome.LOADS


def _autoload_plan(
    host: HostView, name: str, index: KernelIndex | None, *, now: bool = True
) -> ModulePlan | None:
    """What the kernel's own request for ``name`` (:data:`AUTOLOAD_REQUESTS`) would do on the
    kernel of ``index``: kmod's plain lookup (blacklists apply to aliases only), install rules and
    ``module_blacklist=``. None when the kernel would not ask, or could not load anything.
    ``now=False``: after the next boot, when ``modules_disabled`` (reset by a reboot) no longer
    applies."""
    request = AUTOLOAD_REQUESTS.get(name)
    if request is None or index is None or (now and not host.autoload_enabled):
        return None
    if host.module_support is False or not index.has_index:
        return None
    return plan_load(
        request,
        index,
        host.modprobe,
        apply_blacklist=False,
        module_blacklist=host.module_blacklist,
    ).for_module(name)


def first_use_suffices(host: HostView, name: str, index: KernelIndex | None) -> bool:
    """Not loaded at boot, and it need not be, on the kernel of ``index``: ``name`` is a table
    module the kernel loads on first use (:func:`.module_sets.loads_on_first_use`), it exists
    there, the kernel's own request for it goes through (no install rule, ``module_blacklist=``
    or blacklisted alias; no custom install command whose effect is unknown), and nothing
    denies a container's module request after the next boot (SELinux enforcing on the RHEL
    family, :func:`.loadability.module_requests`). A plain ``blacklist`` of the module or an
    unhonoured listing does not matter here: the kernel asks for the plain name. Computed
    whether or not the module is loaded now."""
    if host.evidence_source != "host-root" or not loads_on_first_use(name):
        return False
    if host.requests.denied_at_boot is not False:
        return False
    if index is None or not index.exists(name):
        return False
    plan = _autoload_plan(host, name, index, now=False)
    if plan is None or plan.outcome not in (Outcome.LOADS, Outcome.BUILTIN):
        return False
    return not any(
        step.rule is not None and install_effect(step.rule, step.module) is InstallEffect.UNKNOWN
        for step in plan.steps
    )


def nft_present(host: HostView) -> bool:
    return presence(host, "nf_tables")[0]
