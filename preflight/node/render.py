"""The human node report: a compact table per module (now / at boot / why), then the findings
with their fixes, then what could not be seen."""

from __future__ import annotations

from collections.abc import Collection

from preflight.node.fix_steps import fix_lines
from preflight.node.model import Finding, ModuleState, NodeReport, Remedy
from preflight.shown import Explained

_SHORT_WHY = {
    "etc-modules-not-read": "listed only in {where}, which nothing reads here",
    "modules-load-params": "its line has parameters ({where}): not a module name",
    "modules-load-not-conf": "listed in {where}, which is not read (not a .conf)",
    "modules-load-masked": "listed in {where}, which is masked",
    "modules-load-overridden": "listed in {where}, which is overridden",
    "modprobe-d-not-loading": "named in {where}; modprobe.d loads nothing",
    "initrd-only": "only rd.modules_load= (initrd)",
}


def _now(state: ModuleState) -> str:
    if state.builtin:
        return "built in"
    if not state.loaded_known:
        return "unknown"
    if state.loaded:
        return "loaded"
    return "no (autoloads)" if state.autoload_on_use else "no"


def _at_boot(state: ModuleState) -> str:
    if not state.loads_at_boot_known:
        return "unknown"
    if not state.loads_at_boot and state.first_use_suffices:
        return "on use"
    return "yes" if state.loads_at_boot else "no"


def _where(path: str, line: int | None) -> str:
    return f"{path}:{line}" if line else path


def why(state: ModuleState, kernel: str | None) -> str:
    """One short reason for the module's row."""
    if state.builtin:
        symbol = f" ({state.config_symbol}=y)" if state.loaded_source == "kernel-config" else ""
        return f"built into the kernel{symbol}"
    if not state.loads_at_boot_known:
        return "boot configuration not visible from here"
    if not state.available:
        return f"kernel {kernel or '(unknown)'} does not have it"
    if state.blocked_by:
        return state.blocked_by[0]
    if state.loads_at_boot and state.listed_in:
        source = state.listed_in[0]
        if source.path == "/proc/cmdline":
            return "modules_load= on the kernel command line"
        via = f" via {source.via}" if source.via else ""
        return f"listed in {_where(source.path, source.line)}{via}"
    if state.first_use_suffices and not state.loads_at_boot:
        return "not listed for boot; the kernel loads it on first use, nothing blocks it"
    for code, template in _SHORT_WHY.items():
        ignored = next((i for i in state.ignored if i.code == code), None)
        if ignored is not None:
            return template.format(where=_where(ignored.path, ignored.line))
    return "no modules-load.d file lists it"


def _table(rows: list[tuple[str, str, str, str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return [
        f"  {row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:<{widths[2]}}  {row[3]}".rstrip()
        for row in rows
    ]


def module_table(
    report: NodeReport,
    indent: str = "  ",
    *,
    only: Collection[str] | None = None,
    missing_on_use: Collection[str] = (),
) -> list[str]:
    """Each checked module's row (and the checked backend's IPv6 counterparts): loaded now,
    loads at boot, and one short reason.

    ``only``: the modules of the backend a diagnosis decided (no ``iptable_*`` rows on an
    nf_tables node). ``missing_on_use``: modules the dind log shows were not there when
    dockerd needed them; their rows do not claim the kernel loads them on use.
    """
    rows = [("MODULE", "NOW", "AT BOOT", "WHY")]
    for name, state in report.modules.items():
        if only is not None:
            if name not in only:
                continue
        elif report.checked and name not in report.checked and not _is_ipv6_of(report, name):
            continue
        if name in missing_on_use and not state.loaded:
            # Not "(autoloads)": the dind log shows it was not there when dockerd needed it.
            reason = why(state, report.kernel)
            if state.first_use_suffices and not state.loads_at_boot:
                reason = "the dind log shows it missing on use"
            rows.append((name, "no", _at_boot(state), reason))
            continue
        rows.append((name, _now(state), _at_boot(state), why(state, report.kernel)))
    return [indent + line[2:] for line in _table(rows)]


def _finding_lines(
    finding: Finding, shown: list[Remedy], explained: Explained | None = None
) -> list[str]:
    about = f" {finding.module}" if finding.module else ""
    kernel = f" [kernel {finding.kernel}]" if finding.kernel else ""
    lines = [f"  {finding.severity.value:<7} {finding.code}{about}{kernel}"]
    message = explained.once(finding.message) if explained is not None else finding.message
    lines.append(f"          {message}")
    if finding.remedy is not None:
        if finding.remedy in shown:
            lines.append(f"          fix: the same as fix {shown.index(finding.remedy) + 1} above")
        else:
            shown.append(finding.remedy)
            lines.append(f"          fix {len(shown)}:")
            lines.extend(fix_lines(finding.remedy, indent="            "))
    return lines


def _is_ipv6_of(report: NodeReport, name: str) -> bool:
    """An IPv6 counterpart of the checked backend's set (shown; warnings only)."""
    from preflight.node.module_sets import MODULE_SETS

    chosen = MODULE_SETS.get(report.backend)
    return chosen is not None and name in chosen.ipv6


def result_line(report: NodeReport) -> str:
    """The last line: the module-fact rule's verdict (the exit code says the same: OK 0,
    NOT OK 1, UNKNOWN 2)."""
    from preflight.node.loadability import DENIED, FAULTS, FIRST_USE, NOT_LOADED, verdict

    rule = verdict(report)
    where = f" ({', '.join(report.backends)})" if report.backends else ""
    if rule.ok:
        on_use = sorted(
            {n for n, f in rule.now.items() if f == NOT_LOADED}
            | {n for n, f in rule.after_boot.items() if f == FIRST_USE}
        )
        later = f" ({', '.join(on_use)}: loaded by the kernel on first use)" if on_use else ""
        return f"result: OK: no checked module is a fault now or after the next boot{where}{later}"
    parts = []
    for label, facts in (("now", rule.now), ("after the next boot", rule.after_boot)):
        bad = [f"{n} {f}" for n, f in facts.items() if f in FAULTS]
        if bad:
            parts.append(f"{label}: {', '.join(bad)}")
    if not parts:
        return f"result: UNKNOWN{where}: cannot judge {', '.join(rule.unknown)}"
    denied = any(f == DENIED for f in (*rule.now.values(), *rule.after_boot.values()))
    tail = " (SELinux denies a container's module request: list them for boot)" if denied else ""
    return f"result: NOT OK{where}: {'; '.join(parts)}{tail}"


def render_text(report: NodeReport) -> str:
    """The report as a human reads it in a job log or a terminal."""
    out = [f"node-report for {report.root} (kernel {report.kernel or 'unknown'})"]
    if report.backend:
        out.append(f"iptables backend checked: {report.backend} ({report.backend_reason})")
    out.extend(module_table(report))
    out.append("")
    out.append(f"iptables: {report.iptables.detail}")
    others = [k for k in report.kernels if not k.running]
    if others:
        parts = [
            f"{k.release}{' (newest)' if k.newest else ''}: "
            + (f"missing {', '.join(k.missing)}" if k.missing else "has them all")
            for k in others
        ]
        out.append("other installed kernels: " + "; ".join(parts))
    if report.findings:
        out.append("")
        out.append("findings:")
        shown: list[Remedy] = []
        explained = Explained()  # a reason shared by several modules reads once
        for finding in report.findings:
            out.extend(_finding_lines(finding, shown, explained))
    if report.notes:
        out.append("")
        out.append("notes:")
        out.extend(f"  - {note}" for note in report.notes)
    out.append("")
    out.append(result_line(report))
    return "\n".join(out) + "\n"
