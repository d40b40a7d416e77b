"""NodeReport -> NodeReadiness: can the node run dind now, and after its next reboot? Pure.

Now: no table module of the backend's set (what the analysis checked) is absent, blocked or
unloadable; the same facts as the diagnosis (:mod:`preflight.diagnosis.module_facts`): "not
loaded" alone is no fault, the kernel loads a table module on first use.

After the next reboot: every checked module loads at boot, for the running kernel and for every
other installed kernel (any of them may be the next boot), or need not: an nf_tables table module
the kernel loads on first use through its alias, which exists there and which nothing blocks
(``ModuleState.first_use_suffices``, ``KernelModules.on_first_use``; the message then carries
node-report's warning). Unknown where the analysis could not
see (no /proc/modules, only the job's /proc, unreadable configuration).
"""

from __future__ import annotations

from collections.abc import Callable

from preflight.diagnosis import causes
from preflight.diagnosis.module_facts import (
    FAULTS,
    NOT_LOADED,
    UNCHECKED,
    UNKNOWN,
    describe,
    module_fact,
)
from preflight.diagnosis.remedies import remedy
from preflight.node.findings import FIRST_USE, first_use_message
from preflight.node.model import Finding, ModuleState, NodeReport, Remedy, Severity
from preflight.readiness.model import (
    READY_AFTER_REBOOT,
    READY_NOW,
    NodeReadiness,
    Readiness,
    Status,
)

MODULES_LOADED = "modules-loaded"
MODULES_LOAD_AT_BOOT = "modules-load-at-boot"
STATE_UNKNOWN = "module-state-unknown"
BOOT_UNKNOWN = "boot-persistence-unknown"
NOT_PERSISTENT = "module-not-persistent"
UNREADABLE = "host-root-unreadable"
_NOW_CODES = frozenset({"module-not-loaded", "module-state-unknown", "module-unavailable"})


def readiness_of(report: NodeReport) -> NodeReadiness:
    """The two conditions for the node ``report`` describes: about the modules it checked (the
    iptables backend's tables, :attr:`NodeReport.checked`; every module when it names none)."""
    names = report.checked or list(report.modules)
    checked = {name: report.modules[name] for name in names if name in report.modules}
    return NodeReadiness(
        now=_now(report, checked),
        after_reboot=_after_reboot(report, checked),
        backend=report.backend or report.iptables.backend_hint,
    )


def missing_cause(module: str) -> str:
    """The catalog's cause code for a module that is not there (``iptable_nat-missing``)."""
    code = f"{module}-missing"
    return code if code in causes.CAUSES else "module-not-loaded"


def _now(report: NodeReport, checked: dict[str, ModuleState]) -> Readiness:
    """False only for a module that is absent, blocked or unloadable (the decision's rule:
    "not loaded" alone is no fault, the kernel loads a table module on first use)."""
    facts = {name: module_fact(report, name) for name in checked}
    for name, fact in facts.items():
        if fact in FAULTS:
            code = missing_cause(name)
            finding = _first(report, _now_finding(name))
            fix = (finding.remedy if finding else None) or remedy(code, name)
            detail = f": {finding.message}" if finding else ""
            return Readiness(
                READY_NOW, Status.FALSE, code, _one_line(describe(name, fact) + detail), fix
            )
    unknown = [n for n, fact in facts.items() if fact in (UNKNOWN, UNCHECKED)]
    if unknown or not facts:
        return Readiness(
            READY_NOW,
            Status.UNKNOWN,
            STATE_UNKNOWN,
            f"cannot tell whether {', '.join(unknown) or 'the modules'} can be loaded: no "
            "/proc/modules, /sys/module or kernel configuration could be read",
        )
    backend = report.backend or report.iptables.backend_hint
    waiting = [n for n, fact in facts.items() if fact == NOT_LOADED]
    loaded = [n for n in facts if n not in waiting]
    parts = [f"{', '.join(loaded)} loaded"] if loaded else []
    if waiting:
        parts.append(
            f"{', '.join(waiting)} not loaded yet, nothing blocks the kernel from loading it "
            "on first use"
        )
    message = "; ".join(parts)
    return Readiness(
        READY_NOW, Status.TRUE, MODULES_LOADED, f"{message} ({backend} iptables backend)"
    )


def _after_reboot(report: NodeReport, checked: dict[str, ModuleState]) -> Readiness:
    for name, state in checked.items():
        if state.loads_at_boot_known and not state.ready_at_boot and not state.builtin:
            finding = _first(report, _boot_finding(name))
            if finding is not None:
                return _from_finding(finding)
            return Readiness(
                READY_AFTER_REBOOT,
                Status.FALSE,
                NOT_PERSISTENT,
                f"nothing loads {name} at boot",
                remedy(missing_cause(name), name),
            )
    for kernel in report.kernels:
        if kernel.missing or kernel.not_at_boot or (kernel.problem and not kernel.running):
            finding = _first(report, _kernel_finding(kernel.release))
            if finding is not None:
                return _from_finding(finding)
            names = ", ".join([*kernel.missing, *kernel.not_at_boot]) or "modules"
            return Readiness(
                READY_AFTER_REBOOT,
                Status.FALSE,
                "kernel-missing-module",
                f"installed kernel {kernel.release}: {names} would not be loaded after booting it",
            )
    blind = [n for n, s in checked.items() if not s.loads_at_boot_known]
    if blind or not checked:
        return Readiness(
            READY_AFTER_REBOOT,
            Status.UNKNOWN,
            BOOT_UNKNOWN,
            "boot persistence not visible (only the loaded modules could be read)",
        )
    kernels = len(report.kernels)
    on_first_use = [n for n, s in checked.items() if not s.loads_at_boot and s.first_use_suffices]
    at_boot = [n for n in checked if n not in on_first_use]
    everywhere = f" on all {kernels} installed kernels" if kernels > 1 else ""
    parts = [f"{', '.join(at_boot)} load at boot{everywhere}"] if at_boot else []
    also = f", on all {kernels} installed kernels" if kernels > 1 else ""
    parts += [_first_use_words(report, name) + also for name in on_first_use]
    return Readiness(READY_AFTER_REBOOT, Status.TRUE, MODULES_LOAD_AT_BOOT, "; ".join(parts))


def _first_use_words(report: NodeReport, name: str) -> str:
    """The node report's own warning for a module that needs no boot listing."""
    finding = next((f for f in report.findings if f.module == name and f.code == FIRST_USE), None)
    return finding.message if finding is not None else first_use_message(name)


def _now_finding(module: str) -> Callable[[Finding], bool]:
    def wanted(finding: Finding) -> bool:
        return finding.module == module and finding.code in _NOW_CODES

    return wanted


def _boot_finding(module: str) -> Callable[[Finding], bool]:
    def wanted(finding: Finding) -> bool:
        return (
            finding.module == module
            and finding.severity is Severity.ERROR
            and finding.kernel is None
            and finding.code not in _NOW_CODES
        )

    return wanted


def _kernel_finding(release: str) -> Callable[[Finding], bool]:
    def wanted(finding: Finding) -> bool:
        return finding.kernel == release

    return wanted


def _from_finding(finding: Finding) -> Readiness:
    return Readiness(
        READY_AFTER_REBOOT,
        Status.FALSE,
        finding.code,
        _one_line(finding.message),
        finding.remedy,
    )


def _first(report: NodeReport, wanted: Callable[[Finding], bool]) -> Finding | None:
    return next((f for f in report.findings if wanted(f)), None)


def _one_line(text: str) -> str:
    return " ".join(text.split())[:1000]


def fix_line(fix: Remedy | None) -> str:
    """The fix in one line (for an Event, a condition reader, the audit table)."""
    if fix is None:
        return ""
    parts = []
    if fix.file and fix.content is not None:
        listed = " ".join(fix.content.split())
        parts.append(f"write {fix.file} ({listed})")
    if fix.load_now:
        parts.append(f"run {fix.load_now}")
    if not parts and fix.text:
        parts.append(" ".join(fix.text.split()))
    return "; ".join(parts)
