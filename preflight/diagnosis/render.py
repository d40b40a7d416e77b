"""A diagnosis as plain text, in three sections: what was seen, why, the fix (pure).

The one plain-text rendering of a diagnosis: ``diagnose`` prints it under plain headings, ``run``
prints the same sections in the job log (GitLab collapsible sections in CI, see
:mod:`preflight.ci_log`). The fix is worded by :mod:`preflight.node.fix_steps`, as everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from preflight.diagnosis.log_excerpt import log_excerpt
from preflight.diagnosis.model import Diagnosis, FaultClass, ServiceEvidence
from preflight.exitcodes import ExitCode
from preflight.node.fix_steps import fix_lines
from preflight.node.model import NodeReport, Severity
from preflight.node.render import module_table
from preflight.probe.model import ProbeResult

EXIT_MEANING = {
    ExitCode.OK: "healthy",
    ExitCode.TEMPFAIL: "node or runner fault: retry the job on another runner",
    ExitCode.CONFIG: "the job's own configuration is wrong",
    ExitCode.UNAVAILABLE: "cause not established: no action taken",
}
_SOURCE_TEXT = {
    "helper-pod": "helper pod",
    "host-root": "host root",
    "job-proc": "the job's own /proc, loaded modules only",
    "none": "none",
}


@dataclass(frozen=True)
class Section:
    """One titled block of the log: ``name`` is its GitLab section id."""

    name: str
    title: str
    lines: tuple[str, ...]
    collapsed: bool = False


def headline(diagnosis: Diagnosis) -> str:
    """``<cause> on node <node> (<fault> fault, <confidence> confidence)``."""
    d = diagnosis
    where = f" on node {d.node}" if d.node else ""
    return f"{d.cause.code}{where} ({d.fault.value} fault, {d.confidence.value} confidence)"


def sections(diagnosis: Diagnosis) -> list[Section]:
    """What was seen (collapsed in CI), why, and the fix (only when there is one)."""
    out = [
        Section("dind_preflight_seen", "What was seen", tuple(seen_lines(diagnosis)), True),
        Section("dind_preflight_why", "Why", tuple(why_lines(diagnosis))),
    ]
    fix = fix_section_lines(diagnosis)
    if fix:
        title = f"The fix, on node {diagnosis.node}" if diagnosis.node else "The fix"
        out.append(Section("dind_preflight_fix", title, tuple(fix)))
    return out


def render_text(diagnosis: Diagnosis) -> str:
    """``diagnose``'s text: the headline, then the sections under plain headings."""
    lines = [f"dind-preflight diagnosis: {headline(diagnosis)}"]
    for section in sections(diagnosis):
        lines.append(f"{section.title}:")
        lines += [f"  {line}" for line in section.lines]
    return "\n".join(lines) + "\n"


def seen_lines(diagnosis: Diagnosis) -> list[str]:
    """The probe's answer, the dind service and its log excerpt, the node's module table."""
    d = diagnosis
    # The probe's hint guesses at a cause; once the diagnosis established one, it is noise.
    guessing = d.fault in (FaultClass.UNKNOWN, FaultClass.JOB)
    lines = []
    if d.probe is not None:
        lines = probe_lines(d.probe, quote_log=d.service is None, hint=guessing)
    if d.pod:
        lines.append(f"job pod {d.pod}" + (f" (namespace {d.namespace})" if d.namespace else ""))
    if d.service is not None:
        lines += _service_lines(d.service)
    if d.backend.backend != "unknown" or d.backend.source != "none":
        lines.append(f"iptables backend: {d.backend.backend} ({d.backend.detail})")
    if d.node_report is not None:
        lines += _node_lines(d, d.node_report)
    return lines


def probe_lines(probe: ProbeResult, *, quote_log: bool = True, hint: bool = True) -> list[str]:
    """How the daemon answered, how long it was waited for, and why the wait stopped."""
    if probe.healthy:
        return [f"probe: {probe.docker_host} is healthy ({probe.elapsed_s:.2f} s)"]
    waited = f"{probe.elapsed_s:.1f} s"
    if probe.timeout_s is not None:
        waited += f" of {probe.timeout_s:g} s"
    attempts = f"{probe.attempts} attempt{'s' if probe.attempts != 1 else ''}"
    lines = [f"probe: {probe.verdict.value} after {attempts}, {waited}: {probe.detail}"]
    if probe.gave_up:
        lines.append(f"stopped waiting: {probe.gave_up}")
    if quote_log and probe.daemon_log_line:
        lines.append(f"daemon log: {probe.daemon_log_line}")
    for step in probe.deep or []:
        state = "ok" if step.ok else "FAILED"
        lines.append(f"deep check {step.name}: {state} ({step.elapsed_s:.3f} s) {step.detail}")
    if hint and probe.hint:
        lines.append(f"hint: {probe.hint}")
    return lines


def _service_lines(service: ServiceEvidence) -> list[str]:
    if service.state == "absent":
        return ["dind service: none found in the job pod"]
    state = service.state
    if service.exit_code is not None:
        state += f", exit code {service.exit_code}"
    if service.reason:
        state += f" ({service.reason})"
    image = f" [{service.image}]" if service.image else ""
    excerpt = log_excerpt(service)
    head = f"dind service {service.container}{image}: {state}, restarts {service.restart_count}"
    return [head + (", its log:" if excerpt else ""), *(f"  {line}" for line in excerpt)]


def _node_lines(d: Diagnosis, report: NodeReport) -> list[str]:
    """The node's module table: the rows of the backend dind used (when it is known), and a
    module the dind log shows missing is not said to load on use."""
    via = _SOURCE_TEXT.get(d.evidence_source, d.evidence_source)
    if d.helper_pod:
        via += f" {d.helper_pod}"
    name = f"node {d.node}" if d.node else "the node"
    head = f"{name} ({via}, kernel {report.kernel or 'unknown'}):"
    only = backend_modules(d)
    missing = missing_on_use(d)
    if only is not None and not any(name in only for name in report.modules):
        return [head, f"  (no module of the {d.backend.backend} set dind used was checked)"]
    return [head, *module_table(report, only=only, missing_on_use=missing)]


def backend_modules(d: Diagnosis) -> tuple[str, ...] | None:
    """The modules of the backend dind used (its set and their IPv6 counterparts), or None
    when the backend is not known: what the node table, JUnit and Why speak of."""
    from preflight.node.module_sets import MODULE_SETS

    chosen = MODULE_SETS.get(d.backend.backend)
    return None if chosen is None else (*chosen.required, *chosen.ipv6)


def missing_on_use(d: Diagnosis) -> tuple[str, ...]:
    """The decided module, when a fatal log line (not a node inference) says it was missing."""
    if d.cause.module is None or d.service is None:
        return ()
    from preflight.diagnosis.decide import is_fatal

    if any(is_fatal(m) and m.cause == d.cause.code for m in d.service.matches):
        return (d.cause.module,)
    return ()


def why_lines(diagnosis: Diagnosis) -> list[str]:
    """The cause, the node's own errors behind it, other and possible causes, notes, whether
    quarantine is allowed and why, blind spots, the verdict."""
    d = diagnosis
    from preflight.shown import Explained

    explained = Explained()  # a reason shared by several modules reads once
    lines = [d.cause.summary]
    if d.node_report is not None:
        lines += [
            explained.once(f.message)
            for f in d.node_report.findings
            if f.severity is Severity.ERROR and _of_backend(d, f.module)
        ]
    lines += [f"also: {other.code}: {other.summary}" for other in d.other_causes]
    lines += [
        f"possible cause (not established): {possible.code}: {possible.summary}"
        for possible in d.possible_causes
    ]
    lines += [f"note: {note}" for note in d.notes]
    if d.fault in (FaultClass.NODE, FaultClass.RUNNER):
        verdict = "allowed" if d.quarantine.allowed else "NOT allowed"
        lines.append(f"quarantine {verdict}: {d.quarantine.reason}")
    lines += [f"could not see: {text}" for text in d.limitations]
    code = d.exit_code
    lines.append(f"exit {int(code)}: {EXIT_MEANING.get(code, code.name.lower())}")
    return lines


def _of_backend(d: Diagnosis, module: str | None) -> bool:
    """A finding about a module of the backend dind used (or about no module); all when the
    backend is unknown."""
    only = backend_modules(d)
    return module is None or only is None or module in only


def fix_section_lines(diagnosis: Diagnosis) -> list[str]:
    """The remedy's numbered steps; nothing for a healthy daemon or an unknown cause's."""
    if diagnosis.remedy is None or diagnosis.exit_code is ExitCode.OK:
        return []
    return fix_lines(diagnosis.remedy)
