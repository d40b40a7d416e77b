"""``artifacts:reports:junit``: the diagnosis' checks as JUnit test cases (pure build + write).

Test cases: ``probe``, ``service``, and for every checked module ``module <name> loaded now`` and
``module <name> loads at boot``. A failing check carries a one-line message and the details
(evidence lines, the remedy) as its text, so the pipeline's Tests tab shows the fix.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from preflight.artifacts.write import write_text
from preflight.gitlab.issue_text import clean, one_line

if TYPE_CHECKING:
    from preflight.diagnosis.model import Diagnosis, ServiceEvidence
    from preflight.node.model import ModuleState, NodeReport, Remedy
    from preflight.probe.model import ProbeResult

SUITE = "dind-preflight"
# Characters XML 1.0 cannot carry at all (ElementTree would write them and break the file).
# Compiling this class costs ~3 ms: done on first use, not on the healthy path's import.
_NOT_XML_PATTERN = "[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
_XML_SAFE = re.compile("[\t\n\r\x20-\x7e]*")


@dataclass(frozen=True)
class Check:
    """One test case: passed (no message), failed, or skipped (not checkable)."""

    classname: str
    name: str
    failure: str | None = None  # one-line message
    skipped: str | None = None
    details: str = ""
    time_s: float = 0.0


def _xml(text: str) -> str:
    text = clean(text)
    if _XML_SAFE.fullmatch(text):
        return text
    return re.sub(_NOT_XML_PATTERN, "", text)


def _remedy_text(remedy: Remedy | None) -> str:
    if remedy is None:
        return ""
    from preflight.node.fix_steps import fix_lines

    return "\n".join(["Fix:", *fix_lines(remedy)])


def probe_check(probe: ProbeResult | None) -> Check:
    """The probe: did the daemon answer?"""
    if probe is None:
        return Check(f"{SUITE}.probe", "probe", skipped="no probe result in the diagnosis")
    if probe.healthy:
        return Check(f"{SUITE}.probe", "probe", time_s=probe.elapsed_s)
    detail = "\n".join(
        [f"verdict: {probe.verdict.value}", f"detail: {probe.detail}"]
        + [f"deep step {s.name}: {'ok' if s.ok else 'failed'} {s.detail}" for s in probe.deep or []]
        + ([f"hint: {probe.hint}"] if probe.hint else [])
    )
    return Check(
        f"{SUITE}.probe",
        "probe",
        failure=f"{probe.docker_host}: {probe.verdict.value}: {probe.detail}",
        details=detail,
        time_s=probe.elapsed_s,
    )


def service_check(service: ServiceEvidence | None) -> Check:
    """The dind service container: running, or dead with the log lines that say why."""
    from preflight.diagnosis.log_excerpt import log_excerpt

    name = "service"
    if service is None:
        return Check(f"{SUITE}.service", name, skipped="the dind service could not be inspected")
    if service.state == "absent":
        return Check(f"{SUITE}.service", name, failure="the job has no dind service container")
    if not service.dead and not service.matches:
        if service.state == "running":
            return Check(f"{SUITE}.service", name)
        return Check(f"{SUITE}.service", name, skipped=f"service state: {service.state}")
    state = service.state
    if service.exit_code is not None:
        state += f" (exit code {service.exit_code})"
    first = f": {service.matches[0].line}" if service.matches else ""
    details = [f"restarts: {service.restart_count}"]
    excerpt = log_excerpt(service)
    if excerpt:
        details.append("log lines that say why (with their context):")
        details.extend(f"  {line}" for line in excerpt)
    return Check(
        f"{SUITE}.service",
        name,
        failure=f"dind container {service.container} {state}{first}",
        details="\n".join(details),
    )


def module_checks(
    report: NodeReport, module: ModuleState, *, missing_on_use: bool = False
) -> list[Check]:
    """Two checks per module: loaded in the running kernel, and loaded at the next boot.

    They say what the job log's node table says (:func:`preflight.node.render.why`): unknown is
    skipped, not "probably not loaded"; a module the kernel loads on first use is not a failure
    unless the dind log shows it missing when dockerd needed it (``missing_on_use``).
    """
    name = module.name
    from preflight.node.fix_steps import module_remedy
    from preflight.node.render import why

    remedy = _remedy_text(module_remedy(report, name))
    kernel = report.kernel or "unknown"
    now_name = f"module {name} loaded now"
    if module.builtin:
        now = Check(f"{SUITE}.modules.now", now_name)
    elif not module.loaded_known:  # in the order of the table's NOW column
        now = Check(
            f"{SUITE}.modules.now",
            now_name,
            skipped=f"unknown whether {name} is loaded: {why(module, report.kernel)}",
        )
    elif module.loaded:
        now = Check(f"{SUITE}.modules.now", now_name)
    elif module.autoload_on_use and not missing_on_use:
        now = Check(
            f"{SUITE}.modules.now",
            now_name,
            skipped=f"{name} is not loaded yet; the kernel loads it on first use",
        )
    else:
        avail = "" if module.available else f"; kernel {kernel} does not have it"
        seen = "; the dind log shows it missing on use" if missing_on_use else ""
        now = Check(
            f"{SUITE}.modules.now",
            now_name,
            failure=f"{name} is not loaded in the running kernel {kernel}{avail}{seen}",
            details=remedy,
        )
    boot_name = f"module {name} loads at boot"
    if not module.loads_at_boot_known:
        boot = Check(f"{SUITE}.modules.boot", boot_name, skipped="boot configuration not visible")
    elif module.loads_at_boot:
        boot = Check(f"{SUITE}.modules.boot", boot_name)
    else:
        reasons = [f"{i.path}: {i.reason}" for i in module.ignored]
        reasons += [f"blocked: {b.code} in {b.path}" for b in module.blockers] or [
            f"blocked: {b}" for b in module.blocked_by
        ]
        because = f" ({'; '.join(reasons)})" if reasons else " (not listed in modules-load.d)"
        boot = Check(
            f"{SUITE}.modules.boot",
            boot_name,
            failure=one_line(f"{name} will not load at boot{because}", 500),
            details=remedy,
        )
    return [now, boot]


def checks_of(diagnosis: Diagnosis) -> list[Check]:
    """Every check of a diagnosis, in a stable order."""
    checks = [probe_check(diagnosis.probe), service_check(diagnosis.service)]
    report = diagnosis.node_report
    if report is None:
        why = "; ".join(diagnosis.limitations) or "no node report in the diagnosis"
        checks.append(Check(f"{SUITE}.modules", "node modules", skipped=one_line(why, 500)))
        return checks
    from preflight.diagnosis.render import backend_modules, missing_on_use

    only = backend_modules(diagnosis)
    missing = missing_on_use(diagnosis)
    for name in sorted(report.modules):
        if only is not None and name not in only:
            continue  # the job log's node table shows the backend dind used, and so does this
        checks.extend(module_checks(report, report.modules[name], missing_on_use=name in missing))
    return checks


def build_junit(diagnosis: Diagnosis) -> str:
    """The JUnit XML document (UTF-8 text) for ``artifacts:reports:junit``."""
    return _document(checks_of(diagnosis))


def build_probe_junit(probe: ProbeResult) -> str:
    """The JUnit document of a run that only probed (a healthy daemon): one test case."""
    return _document([probe_check(probe)])


def _document(checks: list[Check]) -> str:
    root = ET.Element("testsuites")
    suite = ET.SubElement(
        root,
        "testsuite",
        name=SUITE,
        tests=str(len(checks)),
        failures=str(sum(c.failure is not None for c in checks)),
        errors="0",
        skipped=str(sum(c.skipped is not None for c in checks)),
        time=f"{sum(c.time_s for c in checks):.3f}",
    )
    for check in checks:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=_xml(check.classname),
            name=_xml(check.name),
            time=f"{check.time_s:.3f}",
        )
        if check.failure is not None:
            failure = ET.SubElement(case, "failure", message=_xml(one_line(check.failure, 500)))
            failure.text = _xml(check.details) or None
        elif check.skipped is not None:
            ET.SubElement(case, "skipped", message=_xml(check.skipped))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(path: str | os.PathLike[str], diagnosis: Diagnosis) -> Path:
    """Write the JUnit XML for ``artifacts:reports:junit``."""
    return write_text(path, build_junit(diagnosis))


def write_probe_junit(path: str | os.PathLike[str], probe: ProbeResult) -> Path:
    """Write the JUnit XML of a run that only probed."""
    return write_text(path, build_probe_junit(probe))
