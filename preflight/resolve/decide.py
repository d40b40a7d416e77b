"""Whether an incident of job mode is over (pure): the node's fresh report no longer shows it.

Only issues that carry the project's marker (the hidden ``<!-- dind-preflight v1 ... -->`` line)
and a node fault are considered; the node's report from a helper pod must show no fault for
the cause's modules, now or after the next boot (the module-fact rule). A report that could not be taken keeps everything as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from preflight.diagnosis.causes import CAUSES
from preflight.node.loadability import AT_BOOT, FAULTS, LOADED, UNCHECKED, UNKNOWN, verdict
from preflight.node.model import NodeReport


class Verdict(str, Enum):
    FIXED = "fixed"
    BROKEN = "still-broken"
    UNKNOWN = "unknown"  # no report: nothing is undone


@dataclass(frozen=True)
class ResolveIncident:
    """One open issue of job mode: where, what, and which runner its job reported from."""

    iid: int
    key: str
    node: str
    cause: str
    runner_id: int | None


@dataclass(frozen=True)
class Judgement:
    incident: ResolveIncident
    verdict: Verdict
    evidence: str


def modules_of(cause: str) -> tuple[str, ...]:
    entry = CAUSES.get(cause)
    return (entry.module,) if entry is not None and entry.module else ()


def judge(incident: ResolveIncident, report: NodeReport | None, problem: str | None) -> Judgement:
    """Fixed when the module-fact rule finds no fault, now or after the next boot, for the
    cause's modules (or, without a module, for every module the report checked); the same rule
    as the agent, audit and the job (:mod:`preflight.node.loadability`): a module that is not
    loaded but loads on first use is fixed, one SELinux denies to a container is not."""
    if report is None:
        return Judgement(incident, Verdict.UNKNOWN, problem or "no node report")
    wanted = modules_of(incident.cause)
    if wanted and any(name not in report.modules for name in wanted):
        return Judgement(
            incident, Verdict.UNKNOWN, f"the node report does not check {', '.join(wanted)}"
        )
    rule = verdict(report, list(wanted) or None)
    kernel = report.kernel or "?"
    bad = [f"{name} {fact} now" for name, fact in rule.now.items() if fact in FAULTS] + [
        f"{name} {fact} after the next boot"
        for name, fact in rule.after_boot.items()
        if fact in FAULTS
    ]
    if bad:
        return Judgement(incident, Verdict.BROKEN, f"{', '.join(bad)} (kernel {kernel})")
    unknown = [
        name
        for name in rule.now
        if rule.now[name] in (UNKNOWN, UNCHECKED) or rule.after_boot[name] in (UNKNOWN, UNCHECKED)
    ]
    if unknown:
        return Judgement(
            incident, Verdict.UNKNOWN, f"{', '.join(unknown)}: could not be read (kernel {kernel})"
        )
    names = ", ".join(rule.now) or "no module"
    if all(f == LOADED for f in rule.now.values()) and all(
        f == AT_BOOT for f in rule.after_boot.values()
    ):
        return Judgement(
            incident, Verdict.FIXED, f"{names} loaded now and at boot (kernel {kernel})"
        )
    return Judgement(
        incident,
        Verdict.FIXED,
        f"{names}: no fault for containers now or after the next boot (kernel {kernel})",
    )
