"""Whether an incident of job mode is over (pure): the node's fresh report no longer shows it.

Only issues that carry the project's marker (the hidden ``<!-- dind-preflight v1 ... -->`` line)
and a node fault are considered; the node's report from a helper pod must show the cause's
modules loaded now and at boot. A report that could not be taken keeps everything as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from preflight.diagnosis.causes import CAUSES
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
    """Fixed when the cause's modules are loaded now and at boot (or, without a module, when every
    checked module is)."""
    if report is None:
        return Judgement(incident, Verdict.UNKNOWN, problem or "no node report")
    wanted = modules_of(incident.cause)
    states = [report.modules[name] for name in wanted if name in report.modules]
    if wanted and len(states) != len(wanted):
        return Judgement(
            incident, Verdict.UNKNOWN, f"the node report does not check {', '.join(wanted)}"
        )
    checked = states or list(report.modules.values())
    bad = [m.name for m in checked if not (m.ready_now and m.ready_at_boot)]
    kernel = report.kernel or "?"
    if bad:
        return Judgement(
            incident,
            Verdict.BROKEN,
            f"{', '.join(bad)} not loaded now or not at boot (kernel {kernel})",
        )
    names = ", ".join(m.name for m in checked) or "no module"
    return Judgement(incident, Verdict.FIXED, f"{names} loaded now and at boot (kernel {kernel})")
