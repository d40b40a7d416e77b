"""NodeReport -> NodeReadiness: can the node run dind now, and after its next reboot? Pure.

Both conditions are the module-fact rule (:mod:`preflight.node.loadability`) over the modules
the report checked (the tables of every backend a node must serve): False for a module that is
a fault for containers (absent, blocked, unloadable, or not loaded where SELinux denies a
container's module request), Unknown where the analysis could not see, True otherwise ("not
loaded, nothing blocks it" loads on first use). After the next reboot the rule holds for every
installed kernel. Each message ends with the facts it stands for (:mod:`.stated`).
"""

from __future__ import annotations

from collections.abc import Callable

from preflight.diagnosis import causes
from preflight.diagnosis.remedies import remedy
from preflight.node.findings import FIRST_USE as FIRST_USE_FINDING
from preflight.node.findings import first_use_message
from preflight.node.loadability import (
    DENIED,
    FAULTS,
    FIRST_USE,
    NOT_LOADED,
    UNCHECKED,
    UNKNOWN,
    Verdict,
    describe,
    describe_after_boot,
    verdict,
)
from preflight.node.model import Finding, NodeReport, Remedy, Severity
from preflight.readiness.model import (
    READY_AFTER_REBOOT,
    READY_NOW,
    NodeReadiness,
    Readiness,
    Status,
)
from preflight.readiness.stated import with_facts

MODULES_LOADED = "modules-loaded"
MODULES_LOAD_AT_BOOT = "modules-load-at-boot"
STATE_UNKNOWN = "module-state-unknown"
BOOT_UNKNOWN = "boot-persistence-unknown"
NOT_PERSISTENT = "module-not-persistent"
UNREADABLE = "host-root-unreadable"
_NOW_CODES = frozenset({"module-not-loaded", "module-state-unknown", "module-unavailable"})


def readiness_of(report: NodeReport) -> NodeReadiness:
    """The two conditions for the node ``report`` describes: about the modules it checked (the
    iptables backends' tables, :attr:`NodeReport.checked`; every module when it names none)."""
    names = report.checked or list(report.modules)
    rule = verdict(report, [n for n in names if n in report.modules])
    backends = report.backends or ([report.backend] if report.backend else [])
    return NodeReadiness(
        now=_now(report, rule, backends),
        after_reboot=_after_reboot(report, rule, backends),
        backend=report.backend or report.iptables.backend_hint,
        backends=tuple(backends),
    )


def missing_cause(module: str) -> str:
    """The catalog's cause code for a module that is not there (``iptable_nat-missing``)."""
    code = f"{module}-missing"
    return code if code in causes.CAUSES else "module-not-loaded"


def _now(report: NodeReport, rule: Verdict, backends: list[str]) -> Readiness:
    """False only for a module that is a fault for containers (the rule): "not loaded" alone is
    no fault where nothing blocks or denies the kernel's load on first use."""
    facts = rule.now

    def said(text: str) -> str:
        return with_facts(text, backends, facts)

    for name, fact in facts.items():
        if fact in FAULTS:
            code = missing_cause(name)
            finding = _first(report, _now_finding(name))
            fix = (finding.remedy if finding else None) or remedy(code, name)
            detail = f": {finding.message}" if finding else ""
            if fact == DENIED:
                detail = f": {report.module_requests.reason}"
            how = f"; fix: {fix_line(fix)}" if fix_line(fix) else ""
            return Readiness(
                READY_NOW, Status.FALSE, code, said(describe(name, fact) + detail + how), fix
            )
    unknown = [n for n, fact in facts.items() if fact in (UNKNOWN, UNCHECKED)]
    if unknown or not facts:
        return Readiness(
            READY_NOW,
            Status.UNKNOWN,
            STATE_UNKNOWN,
            said(
                f"cannot tell whether {', '.join(unknown) or 'the modules'} can be loaded for a "
                "container: the evidence could not be read"
                + (f" ({report.module_requests.reason})" if report.module_requests.reason else "")
            ),
        )
    waiting = [n for n, fact in facts.items() if fact == NOT_LOADED]
    loaded = [n for n in facts if n not in waiting]
    parts = [f"{', '.join(loaded)} loaded"] if loaded else []
    if waiting:
        parts.append(
            f"{', '.join(waiting)} not loaded yet, nothing blocks the kernel from loading it "
            "on first use"
        )
    where = " and ".join(backends) or report.backend or report.iptables.backend_hint
    message = "; ".join(parts)
    return Readiness(READY_NOW, Status.TRUE, MODULES_LOADED, said(f"{message} ({where} iptables)"))


def _after_reboot(report: NodeReport, rule: Verdict, backends: list[str]) -> Readiness:
    facts = rule.after_boot

    def said(text: str) -> str:
        return with_facts(text, backends, facts)

    for name, fact in facts.items():
        if fact not in FAULTS:
            continue
        finding = _first(report, _boot_finding(name))
        if finding is None:
            kernel = next(
                (k for k in report.kernels if name in (*k.missing, *k.not_at_boot) or k.problem),
                None,
            )
            finding = _first(report, _kernel_finding(kernel.release)) if kernel else None
        if finding is not None:
            return Readiness(
                READY_AFTER_REBOOT,
                Status.FALSE,
                finding.code,
                said(f"{describe_after_boot(name, fact)}: {finding.message}"),
                finding.remedy,
            )
        return Readiness(
            READY_AFTER_REBOOT,
            Status.FALSE,
            NOT_PERSISTENT,
            said(describe_after_boot(name, fact)),
            remedy(missing_cause(name), name),
        )
    blind = [n for n, fact in facts.items() if fact in (UNKNOWN, UNCHECKED)]
    if blind or not facts:
        return Readiness(
            READY_AFTER_REBOOT,
            Status.UNKNOWN,
            BOOT_UNKNOWN,
            said("boot persistence not visible (only the loaded modules could be read)"),
        )
    kernels = len(report.kernels)
    on_first_use = [n for n, fact in facts.items() if fact == FIRST_USE]
    at_boot = [n for n in facts if n not in on_first_use]
    everywhere = f" on all {kernels} installed kernels" if kernels > 1 else ""
    parts = [f"{', '.join(at_boot)} load at boot{everywhere}"] if at_boot else []
    also = f", on all {kernels} installed kernels" if kernels > 1 else ""
    parts += [_first_use_words(report, name) + also for name in on_first_use]
    return Readiness(READY_AFTER_REBOOT, Status.TRUE, MODULES_LOAD_AT_BOOT, said("; ".join(parts)))


def _first_use_words(report: NodeReport, name: str) -> str:
    """The node report's own warning for a module that needs no boot listing."""
    finding = next(
        (f for f in report.findings if f.module == name and f.code == FIRST_USE_FINDING), None
    )
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
