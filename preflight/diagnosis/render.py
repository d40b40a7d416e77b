"""Human text for a diagnosis: what a CI log reader needs, at a glance, then the evidence."""

from __future__ import annotations

from preflight.diagnosis.model import Diagnosis, ServiceEvidence
from preflight.exitcodes import ExitCode
from preflight.node.model import NodeReport, Remedy

_EXIT_MEANING = {
    ExitCode.OK: "healthy",
    ExitCode.TEMPFAIL: "node or runner fault: retry the job on another runner",
    ExitCode.CONFIG: "the job's own configuration is wrong",
    ExitCode.UNAVAILABLE: "cause not established: no action taken",
}
_SOURCE_TEXT = {
    "helper-pod": "helper pod on the node",
    "host-root": "host root",
    "job-proc": "the job's own /proc (loaded modules only)",
    "none": "none",
}


def render_text(diagnosis: Diagnosis) -> str:
    """A short summary first, then the evidence, the fix and what could not be seen."""
    d = diagnosis
    lines = [
        f"dind-preflight diagnosis: {d.cause.code} "
        f"({d.fault.value} fault, {d.confidence.value} confidence)",
        f"  {d.cause.summary}",
    ]
    where = [f"node {d.node}" if d.node else "", f"pod {d.pod}" if d.pod else ""]
    if d.namespace and d.pod:
        where[1] += f" (namespace {d.namespace})"
    if any(where):
        lines.append("  " + ", ".join(w for w in where if w))
    if d.service is not None:
        lines += _service_lines(d.service)
    if d.backend.backend != "unknown" or d.backend.source != "none":
        lines.append(f"  iptables backend: {d.backend.backend} ({d.backend.detail})")
    if d.node_report is not None:
        lines += _node_lines(d.node_report, d.evidence_source, d.helper_pod)
    if d.remedy is not None:
        lines += _remedy_lines(d.remedy)
    for other in d.other_causes:
        lines.append(f"  also: {other.code}: {other.summary}")
    for possible in d.possible_causes:
        lines.append(f"  possible cause (not established): {possible.code}: {possible.summary}")
    lines += [f"  note: {note}" for note in d.notes]
    if d.fault.value in ("node", "runner"):
        verdict = "allowed" if d.quarantine.allowed else "NOT allowed"
        lines.append(f"  quarantine {verdict}: {d.quarantine.reason}")
    if d.limitations:
        lines.append("  could not see:")
        lines += [f"    - {text}" for text in d.limitations]
    code = d.exit_code
    lines.append(f"  exit {int(code)}: {_EXIT_MEANING.get(code, code.name.lower())}")
    return "\n".join(lines) + "\n"


def _service_lines(service: ServiceEvidence) -> list[str]:
    if service.state == "absent":
        return ["  dind service: none found in the job pod"]
    state = service.state
    if service.exit_code is not None:
        state += f", exit code {service.exit_code}"
    if service.reason:
        state += f" ({service.reason})"
    image = f" [{service.image}]" if service.image else ""
    out = [f"  dind service {service.container}{image}: {state}, restarts {service.restart_count}"]
    quoted = list(dict.fromkeys(match.line.strip() for match in service.matches))
    out += [f"    log: {line}" for line in quoted[-3:]]
    if not service.matches and service.dead:
        tail = [line for line in service.log_tail if line.strip()][-3:]
        out += [f"    log: {line.strip()}" for line in tail]
    return out


def _node_lines(report: NodeReport, source: str, helper_pod: str | None) -> list[str]:
    via = _SOURCE_TEXT.get(source, source)
    if helper_pod:
        via += f" {helper_pod}"
    out = [f"  node report ({via}): kernel {report.kernel or 'unknown'}"]
    for name, module in sorted(report.modules.items()):
        now = "loaded" if module.loaded else "NOT loaded"
        if not module.loaded_known:
            now = "unknown"
        boot = "loads at boot" if module.loads_at_boot else "does NOT load at boot"
        if not module.loads_at_boot_known:
            boot = "boot unknown"
        out.append(f"    {name}: {now}, {boot}")
    for finding in report.findings:
        if finding.severity.value == "error":
            out.append(f"    ! {finding.message}")
    return out


def _remedy_lines(remedy: Remedy) -> list[str]:
    return ["  fix:", *remedy_lines(remedy, indent="    ")]


def remedy_lines(remedy: Remedy, indent: str = "") -> list[str]:
    """The fix as log lines: the explanation, the file and its content, load now, verify."""
    out = []
    if remedy.text:
        out.append(f"{indent}{remedy.text}")
    if remedy.file:
        out.append(f"{indent}write {remedy.file}:")
        out += [f"{indent}  {line}" for line in (remedy.content or "").splitlines()]
    if remedy.load_now:
        out.append(f"{indent}load now: {remedy.load_now}")
    if remedy.verify:
        out.append(f"{indent}verify (now, and again after the next reboot): {remedy.verify}")
    return out
