"""Findings about a host and its modules, with their text and remedies. Pure.

Every finding code is stable: the diagnosis and the GitLab report key on them. A finding never
turns "could not read" into absence: an unreadable file gives an ``unknown (could not read X)``
finding without a remedy.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from preflight.node import remedy
from preflight.node.facts import FileRead, FileStatus
from preflight.node.iptables import AUTOLOAD_REQUESTS
from preflight.node.kernel import normalize
from preflight.node.model import (
    Blocker,
    Finding,
    ModuleState,
    Remedy,
    Severity,
)
from preflight.node.modprobe_conf import (
    ModprobeConfig,
    Origin,
    is_conf_name,
)
from preflight.node.module_state import CMDLINE, HostView, exists_for_boot
from preflight.node.modules_load import (
    FileRole,
    is_vendor_path,
    listed_names,
)

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
# Not listed for boot, and it need not be (ModuleState.first_use_suffices): a warning.
FIRST_USE = "module-loads-on-first-use"
_BLOCKER_SEVERITY = {
    "blacklisted": Severity.ERROR,
    "install-false": Severity.ERROR,
    "install-true": Severity.ERROR,
    "kernel-module-blacklist": Severity.ERROR,
    "install-command": Severity.WARNING,
}
BLOCKER_CODES = tuple(_BLOCKER_SEVERITY)
SEVERITY_RANK = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}


# --- findings ---------------------------------------------------------------------------------


def not_persistent(
    host: HostView, names: Sequence[str], states: dict[str, ModuleState]
) -> list[str]:
    """The checked modules that exist but that nothing effective lists for boot."""
    if host.evidence_source == "job-proc":
        return []
    return [
        n
        for n in names
        if not states[n].builtin
        and states[n].loads_at_boot_known
        and exists_for_boot(host, n, states[n].available)
        and not states[n].listed_in
        and not states[n].first_use_suffices
    ]


def persistence_fix(
    host: HostView, wanted: Sequence[str], states: dict[str, ModuleState]
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


def module_findings(host: HostView, state: ModuleState, shared_fix: Remedy | None) -> list[Finding]:
    """Findings about one module; ``shared_fix`` is the persistence fix when it needs one."""
    name = state.name
    out: list[Finding] = []
    if state.builtin:
        return out
    if not state.loaded_known:
        proc_modules = host.facts.proc_modules
        if proc_modules.status is FileStatus.UNREADABLE:
            message = f"{name}: loaded unknown (could not read {proc_modules.path})"
        else:
            message = (
                f"cannot tell whether {name} is loaded: no /proc/modules, /sys/module or kernel "
                "configuration could be read"
            )
        out.append(Finding("module-state-unknown", Severity.WARNING, name, message))
    index_unreadable = host.running is not None and not host.running.has_index
    if (
        not state.available
        and not index_unreadable
        and (host.running is not None or host.module_support is False)
    ):
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
        elif state.autoload_on_use and host.requests.denied_now:
            message = (
                f"{name} is not loaded, and the kernel will not load it for a container: "
                f"{host.requests.reason}"
            )
            severity = Severity.ERROR
        elif state.autoload_on_use and host.requests.denied_now is False:
            message = (
                f"{name} is not loaded yet; nothing blocks the kernel from loading it on first "
                f"use{_alias(name)}"
            )
            severity = Severity.WARNING
        else:
            message = f"{name} is not loaded in the running kernel"
            severity = Severity.ERROR
        at_boot = None if job_proc else state.loads_at_boot
        # Nothing to do for a module its backend loads on first use: a manual load is not needed.
        fix = None if state.first_use_suffices else shared_fix or remedy.load_now(name, at_boot)
        out.append(Finding("module-not-loaded", severity, name, message, fix))
    if job_proc:
        return out
    if not state.loads_at_boot_known:
        out.append(
            Finding(
                "boot-state-unknown",
                Severity.WARNING,
                name,
                f"{name}: at boot unknown (could not read {', '.join(host.unreadable_boot)})",
                evidence=list(host.unreadable_boot),
            )
        )
    elif state.first_use_suffices:
        out.append(Finding(FIRST_USE, Severity.WARNING, name, first_use_message(name)))
        # An admin's listing that is not honoured: worth fixing, but no fault here.
        out.extend(
            Finding(i.code, Severity.WARNING, name, f"{name} is listed in {i.path}, but {i.reason}")
            for i in state.ignored[:1]
            if i.code in NOT_LISTED_CODES
        )
    elif exists_for_boot(host, name, state.available) and not state.listed_in:
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
        finding = _blocker_finding(host, name, blocker)
        if blocker.code == "blacklisted" and state.first_use_suffices:
            # The kernel asks for the plain name on first use: a blacklist stops only the
            # boot listing (kmod applies blacklists to aliases and to modprobe -b).
            finding = replace(finding, severity=Severity.WARNING)
        out.append(finding)
    return out


def first_use_message(name: str) -> str:
    """The wording of :data:`FIRST_USE` (also the DindReadyAfterReboot message's)."""
    return (
        f"{name} is not listed for boot; the kernel loads it on first use{_alias(name)}, "
        "nothing blocks it"
    )


def _alias(name: str) -> str:
    request = AUTOLOAD_REQUESTS.get(name)
    return f" (alias {request})" if request and request != name else ""


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


def _blocker_finding(host: HostView, name: str, blocker: Blocker) -> Finding:
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


def _blocker_remedy(host: HostView, name: str, blocker: Blocker) -> Remedy | None:
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


def host_findings(
    host: HostView, names: Sequence[str], states: dict[str, ModuleState]
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
            f"/proc/modules is not readable ({status_text(facts.proc_modules)}): loaded "
            "modules come from /sys/module where possible"
        )
    return out, notes


def config_findings(host: HostView) -> list[Finding]:
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
        status, ("config-unreadable", Severity.WARNING, f"cannot be read ({status_text(read)})")
    )
    effect = (
        "skipped, as systemd does"
        if code == "config-dangling-symlink" and reader == "systemd-modules-load"
        else f"{reader} cannot read it"
        + (" (systemd-modules-load.service fails)" if reader == "systemd-modules-load" else "")
    )
    return [Finding(code, severity, None, f"{path} {what}{links}: {effect}", evidence=[path])]


def status_text(read: FileRead) -> str:
    return read.error or read.status.value
