"""The agent's DindReady condition as node evidence for a job's diagnosis. Pure.

A job that finds its node's conditions fresh uses them instead of starting a helper pod: the
agent on that node wrote them, so a job cannot forge them (it can read, never write, nodes).
The report carries what the condition says and no more: the module it blames and the fact the
agent found (absent, blocked or unloadable, in the decision's own words at the start of the
message), whether it loads at boot (``DindReadyAfterReboot``), or every checked module loaded.
"""

from __future__ import annotations

from dataclasses import replace

from preflight.diagnosis import causes
from preflight.node.analysis import DEFAULT_MODULES
from preflight.node.loadability import ABSENT, BLOCKED, FAULTS, describe
from preflight.node.model import Blocker, Finding, KernelModules, ModuleState, NodeReport, Severity
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
    kernels: list[KernelModules] = []
    if now.status is Status.FALSE:
        entry = causes.CAUSES.get(now.code)
        if entry is None or entry.module is None:
            return None
        name = entry.module
        # The agent's message starts with the decision's own words for the fact (describe()).
        fact = next((f for f in FAULTS if now.message.startswith(describe(name, f))), None)
        if fact is None:
            return None
        state = ModuleState(
            name,
            loaded=False,
            builtin=False,
            available=fact != ABSENT,
            loads_at_boot=at_boot,
            loads_at_boot_known=boot_known,
        )
        if fact == ABSENT:
            kernels.append(KernelModules(release="running", running=True, missing=[name]))
        elif fact == BLOCKED:
            blocker = Blocker("blacklisted", SOURCE, None, now.message, name)
            state = replace(state, blockers=[blocker])
        else:
            findings.append(
                Finding("running-kernel-modules-missing", Severity.ERROR, None, now.message)
            )
        modules[name] = state
        findings.append(Finding("module-not-loaded", Severity.ERROR, name, now.message))
    age = f"{int(observed.age_s)} s ago" if observed.age_s is not None else "recently"
    return NodeReport(
        root=f"node/{node}",
        kernel=None,
        modules=modules,
        findings=findings,
        kernels=kernels,
        notes=[f"from the dind-preflight agent's DindReady condition on {node} (checked {age})"],
        evidence_source=SOURCE,
    )
