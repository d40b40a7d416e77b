"""The agent's DindReady condition as node evidence for a job's diagnosis. Pure.

A job that finds its node's conditions fresh uses them instead of starting a helper pod: the
agent on that node wrote them, so a job cannot forge them (it can read, never write, nodes).
The report carries what the condition says and no more: the module it blames, not loaded (and
whether it loads at boot, from ``DindReadyAfterReboot``), or every checked module loaded.
"""

from __future__ import annotations

from preflight.diagnosis import causes
from preflight.node.analysis import DEFAULT_MODULES
from preflight.node.model import Finding, ModuleState, NodeReport, Severity
from preflight.readiness.conditions import Observed
from preflight.readiness.model import Status

SOURCE = "node-condition"


def report_from(observed: Observed, node: str) -> NodeReport | None:
    """The node report the fresh conditions stand for; ``None`` when they cannot stand for one
    (stale, Unknown, or a cause the catalog does not tie to a module)."""
    now = observed.readiness.now
    after = observed.readiness.after_reboot
    if not observed.fresh or now.status is Status.UNKNOWN:
        return None
    boot_known = after.status is not Status.UNKNOWN
    at_boot = after.status is Status.TRUE
    modules = {
        name: ModuleState(
            name,
            loaded=True,
            builtin=False,
            available=True,
            loads_at_boot=at_boot,
            loads_at_boot_known=boot_known,
        )
        for name in DEFAULT_MODULES
    }
    findings: list[Finding] = []
    if now.status is Status.FALSE:
        entry = causes.CAUSES.get(now.code)
        if entry is None or entry.module is None:
            return None
        modules[entry.module] = ModuleState(
            entry.module,
            loaded=False,
            builtin=False,
            available=True,
            loads_at_boot=at_boot,
            loads_at_boot_known=boot_known,
        )
        findings.append(Finding("module-not-loaded", Severity.ERROR, entry.module, now.message))
    age = f"{int(observed.age_s)} s ago" if observed.age_s is not None else "recently"
    return NodeReport(
        root=f"node/{node}",
        kernel=None,
        modules=modules,
        findings=findings,
        notes=[f"from the dind-preflight agent's DindReady condition on {node} (checked {age})"],
        evidence_source=SOURCE,
    )
