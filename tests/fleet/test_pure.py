"""The pure parts of fleet mode: conditions (transition times, staleness), the agent's memory
(transitions, restarts) and the taint policy, as tables of cases."""

from __future__ import annotations

import datetime

import pytest

from preflight.agent.memory import Memory, delivered, observe, sync_with_node
from preflight.agent.taint_policy import TaintAction, taint_decision
from preflight.readiness import conditions
from preflight.readiness.model import (
    READY_AFTER_REBOOT,
    READY_NOW,
    NodeReadiness,
    Readiness,
    Status,
    camel_case,
)

T0 = datetime.datetime(2026, 11, 30, 1, 0, 0, tzinfo=datetime.UTC)


def at(minutes: float) -> datetime.datetime:
    return T0 + datetime.timedelta(minutes=minutes)


def readiness(now: Status, after: Status = Status.TRUE, code: str = "") -> NodeReadiness:
    codes = {Status.TRUE: "modules-loaded", Status.FALSE: "iptable_nat-missing"}
    return NodeReadiness(
        Readiness(READY_NOW, now, code or codes.get(now, "module-state-unknown"), "m"),
        Readiness(READY_AFTER_REBOOT, after, "modules-load-at-boot", "m"),
    )


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("iptable_nat-missing", "IptableNatMissing"),
        ("etc-modules-not-read", "EtcModulesNotRead"),
        ("nf_tables-missing", "NfTablesMissing"),
        ("", "Unknown"),
    ],
)
def test_reason_is_the_code_camel_cased(code: str, reason: str) -> None:
    assert camel_case(code) == reason


def test_transition_time_is_kept_while_the_status_holds() -> None:
    first = conditions.to_conditions(readiness(Status.FALSE), {}, at(0))
    by_type = {c["type"]: c for c in first}
    second = conditions.to_conditions(readiness(Status.FALSE), by_type, at(5))
    assert second[0]["lastTransitionTime"] == "2026-11-30T01:00:00Z"
    assert second[0]["lastHeartbeatTime"] == "2026-11-30T01:05:00Z"
    third = conditions.to_conditions(readiness(Status.TRUE), {c["type"]: c for c in second}, at(10))
    assert third[0]["lastTransitionTime"] == "2026-11-30T01:10:00Z"
    assert third[1]["lastTransitionTime"] == "2026-11-30T01:00:00Z"  # after-reboot held


@pytest.mark.parametrize(
    ("age_minutes", "fresh", "status"),
    [(1, True, "False"), (9.9, True, "False"), (10.1, False, "Unknown"), (600, False, "Unknown")],
)
def test_readers_treat_old_heartbeats_as_unknown(
    age_minutes: float, fresh: bool, status: str
) -> None:
    node = {"status": {"conditions": conditions.to_conditions(readiness(Status.FALSE), {}, at(0))}}
    observed = conditions.observe(node, at(age_minutes), interval_s=300)
    assert observed.fresh is fresh
    assert observed.readiness.now.status.value == status
    if fresh:
        assert observed.readiness.now.code == "iptable_nat-missing"
    else:
        assert observed.readiness.now.code == conditions.STALE


def test_no_conditions_is_unknown_not_fresh() -> None:
    observed = conditions.observe({"status": {"conditions": []}}, at(0))
    assert not observed.fresh and observed.age_s is None
    assert observed.readiness.now.code == conditions.NOT_PUBLISHED


def test_memory_records_each_transition_once() -> None:
    memory = Memory()
    for minute, status in enumerate([Status.TRUE, Status.TRUE, Status.FALSE, Status.FALSE]):
        memory = observe(memory, readiness(status), at(minute))
    now_events = [t for t in memory.pending if t.readiness.condition == READY_NOW]
    assert [(t.before, t.readiness.status) for t in now_events] == [
        (None, Status.TRUE),
        (Status.TRUE, Status.FALSE),
    ]
    assert memory.since[READY_NOW] == at(2)
    assert memory.healthy_streak == 0
    assert delivered(memory, 3).pending == memory.pending[3:]


def test_restart_with_an_unchanged_node_is_not_a_transition() -> None:
    published = {c["type"]: c for c in conditions.to_conditions(readiness(Status.FALSE), {}, at(0))}
    memory = observe(Memory(), readiness(Status.FALSE), at(30))
    memory = sync_with_node(memory, published)
    assert memory.pending == ()
    assert memory.since[READY_NOW] == at(0)


def test_restart_with_a_changed_node_is_a_transition_from_what_it_showed() -> None:
    published = {c["type"]: c for c in conditions.to_conditions(readiness(Status.TRUE), {}, at(0))}
    memory = sync_with_node(observe(Memory(), readiness(Status.FALSE), at(30)), published)
    assert [(t.before, t.readiness.status) for t in memory.pending] == [(Status.TRUE, Status.FALSE)]


@pytest.mark.parametrize(
    ("now", "streak", "current", "enabled", "action"),
    [
        (Status.FALSE, 0, None, True, TaintAction.TAINT),
        (Status.FALSE, 0, "iptable_nat-missing", True, TaintAction.KEEP),
        (Status.FALSE, 0, "other-cause", True, TaintAction.TAINT),
        (Status.FALSE, 0, None, False, TaintAction.KEEP),
        (Status.TRUE, 1, "iptable_nat-missing", True, TaintAction.KEEP),
        (Status.TRUE, 2, "iptable_nat-missing", True, TaintAction.UNTAINT),
        (Status.TRUE, 5, None, True, TaintAction.KEEP),
        (Status.UNKNOWN, 0, None, True, TaintAction.KEEP),
        (Status.UNKNOWN, 9, "iptable_nat-missing", True, TaintAction.KEEP),
    ],
)
def test_taint_policy(
    now: Status, streak: int, current: str | None, enabled: bool, action: TaintAction
) -> None:
    decision = taint_decision(readiness(now).now, streak, current, enabled)
    assert decision.action is action
    if action is TaintAction.TAINT:
        assert decision.value == "iptable_nat-missing"
