"""The reporter's pure decisions, as tables: conditions, proportional quarantine, convergence,
the Lease, and undoing a pause."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from preflight.gitlab.issue_text import incident_key
from preflight.gitlab.runner_pause import (
    PauseAction,
    PauseNote,
    RunnerState,
    decide_pause,
    decide_resume,
    our_block,
    parse_note,
)
from preflight.reporter.conditions import cause_of_reason, node_state
from preflight.reporter.converge import plan
from preflight.reporter.lease import LeaseRecord, LeaseStep, decide
from preflight.reporter.model import (
    CloseIssue,
    ClusterView,
    Condition,
    Executor,
    GitLabView,
    NodeState,
    NoteRecurrence,
    OpenIncident,
    OpenIssue,
    PauseRunner,
    Policy,
    Readiness,
    ReporterPolicy,
    ResumeRunner,
    RunnerPauseState,
    RunnerTarget,
    RunnerView,
)
from preflight.reporter.quarantine import judge
from tests.reporter.support import NAT, node

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
HOUR_AGO = NOW - timedelta(hours=1)


def state(name: str, status: Readiness = Readiness.TRUE, **kw: object) -> NodeState:
    cause = NAT if status is Readiness.FALSE else ""
    return NodeState(name, Condition(status, cause, "m", HOUR_AGO), **kw)  # type: ignore[arg-type]


def fleet(broken: int, total: int) -> tuple[NodeState, ...]:
    return tuple(
        state(f"n{i}", Readiness.FALSE if i < broken else Readiness.TRUE) for i in range(total)
    )


@pytest.mark.parametrize(
    ("reason", "code"),
    [
        (NAT, NAT),
        ("IptableNatMissing", NAT),
        ("NftChainNatMissing", "nft_chain_nat-missing"),
        ("SomethingNew", "SomethingNew"),
        ("weird reason!", "weird-reason"),
        ("", "unknown-cause"),
    ],
)
def test_condition_reasons_map_to_cause_codes(reason: str, code: str) -> None:
    assert cause_of_reason(reason) == code


def test_node_state_reads_taints_tolerations_selector_and_cordon() -> None:
    raw = node(
        "n1",
        ready="False",
        labels={"pool": "ci"},
        taints=[
            {"key": "dind-preflight.io/broken", "value": NAT, "effect": "NoSchedule"},
            {"key": "gpu", "value": "true", "effect": "NoSchedule"},
            {"key": "ci-only", "value": "yes", "effect": "NoSchedule"},
            {"key": "soft", "effect": "PreferNoSchedule"},
        ],
    )
    seen = node_state(
        raw,
        node_selector={"pool": "ci"},
        tolerations=[{"key": "ci-only", "operator": "Equal", "value": "yes"}],
    )
    assert seen.broken and seen.our_taint == NAT and seen.matches_jobs
    assert seen.blocking_taints == ("gpu:NoSchedule",)
    assert node_state(raw, node_selector={"pool": "other"}).matches_jobs is False


K8S = RunnerTarget(42)


@pytest.mark.parametrize(
    ("broken", "total", "min_healthy", "share", "pause"),
    [
        (0, 5, 2, 0.5, False),
        (1, 5, 2, 0.5, False),  # 20% broken, 4 healthy
        (2, 4, 2, 0.5, False),  # exactly 50% is not more than 50%
        (3, 4, 2, 0.5, True),  # 75% > 50%
        (1, 2, 2, 0.9, True),  # 1 healthy < 2
        (1, 3, 2, 0.5, False),  # 2 healthy, 33%
        (1, 3, 3, 0.5, True),  # 2 healthy < 3
        (5, 5, 0, 1.0, False),  # thresholds off: never pauses
    ],
)
def test_proportional_quarantine_thresholds(
    broken: int, total: int, min_healthy: int, share: float, pause: bool
) -> None:
    policy = ReporterPolicy(min_healthy_nodes=min_healthy, max_broken_share=share)
    assert judge(K8S, fleet(broken, total), policy).pause is pause


def test_unknown_and_absent_conditions_are_never_broken_and_still_take_jobs() -> None:
    nodes = (
        state("a", Readiness.UNKNOWN),
        state("b", Readiness.ABSENT),
        state("c", Readiness.FALSE),
    )
    verdict = judge(K8S, nodes, ReporterPolicy(min_healthy_nodes=2, max_broken_share=0.5))
    assert (verdict.pause, verdict.broken, verdict.available) == (False, ("c",), 2)


def test_cordoned_tainted_and_unmatched_nodes_do_not_count_as_able_to_take_jobs() -> None:
    nodes = (
        state("bad", Readiness.FALSE),
        state("ok"),
        state("cordoned", unschedulable=True),
        state("gpu", blocking_taints=("gpu:NoSchedule",)),
        state("other-pool", matches_jobs=False),
    )
    verdict = judge(K8S, nodes, ReporterPolicy(min_healthy_nodes=2, max_broken_share=0.9))
    assert (verdict.pause, verdict.available, verdict.matching) == (True, 1, 4)


@pytest.mark.parametrize("executor", [Executor.SHELL, Executor.DOCKER])
def test_shell_and_docker_executors_pause_when_their_host_breaks(executor: Executor) -> None:
    policy = ReporterPolicy(executor=executor)
    nodes = (state("host-a", Readiness.FALSE), state("host-b"))
    assert judge(RunnerTarget(7, "host-a"), nodes, policy).pause is True
    assert judge(RunnerTarget(8, "host-b"), nodes, policy).pause is False
    report_only = ReporterPolicy(executor=executor, policy=Policy.REPORT_ONLY)
    assert judge(RunnerTarget(7, "host-a"), nodes, report_only).pause is False


def incident(
    name: str, iid: int, *, updated: datetime = HOUR_AGO, fault: str = "node"
) -> OpenIncident:
    return OpenIncident(
        iid, incident_key(name, NAT), name, NAT, created_at=updated, updated_at=updated, fault=fault
    )


def runner(pause: RunnerPauseState) -> RunnerView:
    return RunnerView(42, pause)


POLICY = ReporterPolicy(runners=(K8S,), heal_after_s=300)


def test_convergence_opens_missing_issues_and_pauses_an_active_runner() -> None:
    cluster = ClusterView(fleet(3, 4))
    view = GitLabView((incident("n0", 1),), (runner(RunnerPauseState.ACTIVE),))
    actions = plan(cluster, view, POLICY, NOW).actions
    assert [type(a) for a in actions] == [OpenIssue, OpenIssue, PauseRunner]
    assert {a.node for a in actions if isinstance(a, OpenIssue)} == {"n1", "n2"}


@pytest.mark.parametrize(
    ("pause", "expected"),
    [
        (RunnerPauseState.ACTIVE, []),
        (RunnerPauseState.PAUSED_BY_US, [ResumeRunner]),
        (RunnerPauseState.PAUSED_BY_OTHERS, []),
    ],
)
def test_healthy_fleet_resumes_only_our_pause(
    pause: RunnerPauseState, expected: list[type]
) -> None:
    actions = plan(ClusterView(fleet(0, 4)), GitLabView((), (runner(pause),)), POLICY, NOW).actions
    assert [type(a) for a in actions] == expected


def test_issues_close_after_heal_after_and_only_with_the_node_seen_ready() -> None:
    ready_long = state("n0")
    ready_short = NodeState("n1", Condition(Readiness.TRUE, "", "m", NOW - timedelta(seconds=10)))
    unknown = state("n2", Readiness.UNKNOWN)
    view = GitLabView(
        (
            incident("n0", 1),
            incident("n1", 2),
            incident("n2", 3),
            incident("gone", 4),
            incident("n0", 5, fault="runner"),
        ),
        (runner(RunnerPauseState.ACTIVE),),
    )
    actions = plan(ClusterView((ready_long, ready_short, unknown)), view, POLICY, NOW).actions
    assert [(type(a), a.iid) for a in actions if isinstance(a, CloseIssue)] == [(CloseIssue, 1)]


def test_a_partial_view_never_closes_resumes_or_pauses() -> None:
    view = GitLabView((incident("n0", 1),), (runner(RunnerPauseState.PAUSED_BY_US),))
    partial = ClusterView(fleet(0, 4), complete=False)
    assert plan(partial, view, POLICY, NOW).actions == ()
    broken_partial = ClusterView(fleet(4, 4), complete=False)
    assert all(
        isinstance(a, OpenIssue) for a in plan(broken_partial, GitLabView(), POLICY, NOW).actions
    )
    no_issue_list = GitLabView((), (runner(RunnerPauseState.ACTIVE),), complete=False)
    assert [
        type(a) for a in plan(ClusterView(fleet(4, 4)), no_issue_list, POLICY, NOW).actions
    ] == [PauseRunner]


def test_recurrence_notes_only_for_a_new_transition_and_within_the_caps() -> None:
    broke_again = NodeState("n0", Condition(Readiness.FALSE, NAT, "m", NOW - timedelta(minutes=1)))
    old = incident("n0", 1, updated=NOW - timedelta(hours=2))
    noted = plan(ClusterView((broke_again,)), GitLabView((old,)), POLICY, NOW).actions
    assert [type(a) for a in noted] == [NoteRecurrence]
    fresh = incident("n0", 1, updated=NOW - timedelta(seconds=30))  # touched after the transition
    assert plan(ClusterView((broke_again,)), GitLabView((fresh,)), POLICY, NOW).actions == ()


@pytest.mark.parametrize(
    ("holder", "age_s", "step"),
    [
        ("me", 100, LeaseStep.RENEW),
        (None, 0, LeaseStep.TAKE),
        ("other", 5, LeaseStep.WAIT),
        ("other", 16, LeaseStep.TAKE),
    ],
)
def test_lease_steps(holder: str | None, age_s: float, step: LeaseStep) -> None:
    """``age_s``: how long this replica has seen the record unchanged, on its own clock."""
    record = LeaseRecord(holder, NOW, 15)
    assert decide(record, "me", NOW, NOW - timedelta(seconds=age_s)) is step


@pytest.mark.parametrize("skew_s", [-3600, 3600])
def test_lease_expiry_never_reads_the_other_replicas_clock(skew_s: float) -> None:
    """The holder's renewTime an hour off (its clock skewed, either way): what counts is how
    long this replica has seen the record unchanged (client-go's observedTime)."""
    record = LeaseRecord("other", NOW + timedelta(seconds=skew_s), 15)
    assert decide(record, "me", NOW, NOW - timedelta(seconds=5)) is LeaseStep.WAIT
    assert decide(record, "me", NOW, NOW - timedelta(seconds=16)) is LeaseStep.TAKE
    assert decide(record, "me", NOW) is LeaseStep.WAIT  # first seen just now


NOTE = PauseNote(key="0123456789ab", cause=NAT, node="n0", runner_id=42, when=NOW)


def test_undo_restores_the_human_note_and_never_resumes_a_human_pause() -> None:
    ours = our_block(NOTE) + "\n\nhuman words"
    resumed = decide_resume(RunnerState(42, True, ours), key=NOTE.key)
    assert resumed.action is PauseAction.RESUME
    assert resumed.payload == {"paused": False, "maintenance_note": "human words"}
    assert decide_resume(RunnerState(42, True, "human only")).action is PauseAction.SKIP
    assert decide_resume(RunnerState(42, True, ours), key="ffffffffffff").action is PauseAction.SKIP
    # A job annotated a pause someone else made: undoing removes our block, the runner stays paused.
    annotated = decide_pause(RunnerState(42, True, "kernel work"), NOTE, can_keep_elsewhere=False)
    assert annotated.payload is not None
    note = annotated.payload["maintenance_note"]
    assert parse_note(note).paused_before and not parse_note(note).paused_by_us
    undo = decide_resume(RunnerState(42, True, note))
    assert undo.action is PauseAction.ANNOTATE and undo.payload == {
        "maintenance_note": "kernel work"
    }
