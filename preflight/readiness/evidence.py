"""The agent's DindReady conditions as node evidence for a job's diagnosis. Pure.

A job that finds its node's conditions fresh uses them instead of starting a helper pod: the
agent on that node wrote them, so a job cannot forge them (it can read, never write, nodes).
The report carries exactly the module facts the conditions state (:mod:`.stated`: the backends
checked, and per module the module-fact rule's result now and after the next boot) and no
more: a module the condition does not name is ``unchecked``, never "loaded". A condition that
states no facts (an agent of an older version) stands for no report: the job takes its
evidence elsewhere.
"""

from __future__ import annotations

from preflight.node.loadability import ABSENT, AT_BOOT, FIRST_USE, LOADED
from preflight.node.model import ModuleState, NodeReport
from preflight.readiness.conditions import Observed
from preflight.readiness.model import Status
from preflight.readiness.stated import stated

SOURCE = "node-condition"


def report_from(observed: Observed, node: str) -> NodeReport | None:
    """The node report the fresh conditions stand for; ``None`` when they cannot stand for one
    (stale, Unknown, or no stated facts)."""
    now = observed.readiness.now
    after = observed.readiness.after_reboot
    if not observed.fresh or now.status is Status.UNKNOWN:
        return None
    facts_now = stated(now.message)
    if facts_now is None or not facts_now.facts:
        return None
    facts_boot = stated(after.message, boot=True) if after.status is not Status.UNKNOWN else None
    boot = facts_boot.facts if facts_boot is not None else {}
    modules = {
        name: ModuleState(
            name,
            loaded=fact == LOADED,
            builtin=False,
            available=fact != ABSENT,
            loads_at_boot=boot.get(name) == AT_BOOT,
            loads_at_boot_known=name in boot,
            first_use_suffices=boot.get(name) == FIRST_USE,
        )
        for name, fact in facts_now.facts.items()
    }
    age = f"{int(observed.age_s)} s ago" if observed.age_s is not None else "recently"
    return NodeReport(
        root=f"node/{node}",
        kernel=None,
        modules=modules,
        notes=[f"from the dind-preflight agent's DindReady condition on {node} (checked {age})"],
        evidence_source=SOURCE,
        checked=list(facts_now.facts),
        backends=list(facts_now.backends),
        stated_facts=dict(facts_now.facts),
        stated_boot_facts=dict(boot),
    )
