"""The reporter end to end against the fake Kubernetes API and the fake GitLab: nodes breaking and
healing, thresholds crossed and not, restarts and leader changes, a human's pause, GitLab faults."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from preflight.errors import UsageError
from preflight.gitlab.runner_pause import parse_note
from preflight.reporter.gitlab_view import FLEET_KEY
from tests.gitlab.fake_gitlab import FakeGitLab, Fault
from tests.kube.fake_cluster import FakeCluster
from tests.reporter.support import NAT, RUNNER, kube_context, make_reporter, node, put_nodes

PROJECT_ID = 5


def writes(gitlab: FakeGitLab) -> list[str]:
    """Every successful write the fake saw, as 'METHOD path'."""
    return [
        f"{r.method} {r.path}"
        for r in gitlab.requests()
        if r.method in ("POST", "PUT") and r.status < 300
    ]


def fleet(cluster: FakeCluster, broken: int, total: int, *, camel: bool = False) -> None:
    put_nodes(
        cluster,
        *(
            node(f"n{i}", ready="False" if i < broken else "True", camel_reason=camel)
            for i in range(total)
        ),
    )


def test_one_broken_node_of_five_opens_its_issue_and_leaves_the_runner(
    cluster: FakeCluster, gitlab: FakeGitLab, tmp_path: Path
) -> None:
    fleet(cluster, 1, 5)
    reporter = make_reporter(cluster, gitlab, tmp_path)
    result = reporter.cycle()
    assert result.led and not result.errors, result.errors
    issues = gitlab.project_issues(PROJECT_ID, "opened")
    assert [i["title"] for i in issues] == [f"dind-preflight: {NAT} on node n0"]
    assert "DindReady=False reason=iptable_nat-missing" in issues[0]["description"]
    assert "modules-load.d" in issues[0]["description"]  # the fix from the cause catalog
    assert "the fleet reporter, from node n0" in issues[0]["description"]
    assert "CI_RUNNER_ID" not in issues[0]["description"]
    assert gitlab.runner_writes(RUNNER) == []
    assert any("jobs route around" in reason for reason in result.plan.reasons)
    # Converged: a second cycle writes nothing.
    before = writes(gitlab)
    reporter.cycle()
    assert writes(gitlab) == before
    # The node heals: the issue is closed with the healthy report as evidence.
    fleet(cluster, 0, 5)
    reporter.cycle()
    issue = gitlab.project_issues(PROJECT_ID)[0]
    assert issue["state"] == "closed"
    notes = gitlab.issue_notes(PROJECT_ID, issue["iid"])
    assert "DindReady=True since" in notes[-1]["body"]


def test_crossing_the_share_pauses_once_and_healing_resumes_with_the_human_note(
    cluster: FakeCluster, gitlab: FakeGitLab, tmp_path: Path
) -> None:
    gitlab.add_runner(RUNNER, maintenance_note="owner: platform team, ticket OPS-12")
    fleet(cluster, 3, 4, camel=True)  # 75% broken > 50%; reasons in CamelCase
    reporter = make_reporter(cluster, gitlab, tmp_path)
    reporter.cycle()
    reporter.cycle()
    assert len(gitlab.project_issues(PROJECT_ID, "opened")) == 3
    pauses = gitlab.runner_writes(RUNNER)
    assert len(pauses) == 1
    assert pauses[0].body["paused"] is True
    parsed = parse_note(pauses[0].body["maintenance_note"])
    assert parsed.key == FLEET_KEY and parsed.paused_by_us
    assert parsed.human == "owner: platform team, ticket OPS-12"
    # The note says where the incidents are: one issue per broken node, in the report project.
    note = pauses[0].body["maintenance_note"]
    assert "Issue: none" not in note
    assert re.search(
        r"^Issues: one per broken node in project \S+ \(label dind-preflight; 3 ", note, re.M
    )
    # Two nodes heal: 1 of 4 broken, 3 take jobs -> the runner is resumed, the note restored.
    fleet(cluster, 1, 4)
    reporter.cycle()
    runner_puts = gitlab.runner_writes(RUNNER)
    assert len(runner_puts) == 2
    assert runner_puts[1].body == {
        "paused": False,
        "maintenance_note": "owner: platform team, ticket OPS-12",
    }
    assert gitlab.runners[RUNNER]["paused"] is False
    assert len(gitlab.project_issues(PROJECT_ID, "opened")) == 1


def test_too_few_healthy_nodes_pauses_even_below_the_share(
    cluster: FakeCluster, gitlab: FakeGitLab, tmp_path: Path
) -> None:
    # 1 of 3 broken (33% <= 50%), but one of the two others is cordoned: 1 < 2 can take jobs.
    put_nodes(
        cluster,
        node("n0", ready="False"),
        node("n1"),
        node("n2", unschedulable=True),
    )
    result = make_reporter(cluster, gitlab, tmp_path).cycle()
    assert any("fewer than 2 nodes can take jobs" in r for r in result.plan.reasons)
    assert len(gitlab.runner_writes(RUNNER)) == 1


def test_unknown_conditions_never_pause(
    cluster: FakeCluster, gitlab: FakeGitLab, tmp_path: Path
) -> None:
    put_nodes(
        cluster, node("n0", ready="Unknown"), node("n1", ready=None), node("n2", ready="Unknown")
    )
    result = make_reporter(cluster, gitlab, tmp_path).cycle()
    assert result.plan.actions == ()
    assert writes(gitlab) == []


def test_restart_and_leader_change_mid_incident_one_issue_one_pause_one_resume(
    cluster: FakeCluster, gitlab: FakeGitLab, tmp_path: Path
) -> None:
    fleet(cluster, 3, 4)
    first = make_reporter(cluster, gitlab, tmp_path, identity="reporter-a")
    assert first.cycle().led
    # reporter-a dies without releasing the lease. reporter-b waits while the lease is fresh...
    second = make_reporter(cluster, gitlab, tmp_path, identity="reporter-b")
    assert not second.cycle().led
    # ...and takes over once it expired; it rebuilds everything from GitLab and the cluster.
    second.now = lambda: datetime.now(timezone.utc) + timedelta(seconds=30)
    result = second.cycle()
    assert result.led and result.plan.actions == (), result.plan.actions
    # A restarted reporter-a (same identity, new process) now waits for reporter-b.
    restarted = make_reporter(cluster, gitlab, tmp_path, identity="reporter-a")
    assert not restarted.cycle().led
    fleet(cluster, 0, 4)
    second.cycle()
    second.cycle()
    assert len(gitlab.project_issues(PROJECT_ID)) == 3  # one issue per node, none twice
    assert len(gitlab.project_issues(PROJECT_ID, "closed")) == 3
    assert [w.body["paused"] for w in gitlab.runner_writes(RUNNER)] == [True, False]


def test_a_runner_a_human_paused_is_never_resumed(
    cluster: FakeCluster, gitlab: FakeGitLab, tmp_path: Path
) -> None:
    gitlab.add_runner(RUNNER, paused=True, maintenance_note="kernel upgrade, do not resume - ana")
    fleet(cluster, 3, 4)
    reporter = make_reporter(cluster, gitlab, tmp_path)
    result = reporter.cycle()
    assert any("already paused by someone else" in r for r in result.plan.reasons)
    fleet(cluster, 0, 4)
    reporter.cycle()
    assert gitlab.runner_writes(RUNNER) == []
    assert gitlab.runners[RUNNER]["paused"] is True
    assert gitlab.runners[RUNNER]["maintenance_note"] == "kernel upgrade, do not resume - ana"


def test_a_human_resume_of_our_pause_is_not_fought_once_nodes_heal(
    cluster: FakeCluster, gitlab: FakeGitLab, tmp_path: Path
) -> None:
    fleet(cluster, 3, 4)
    reporter = make_reporter(cluster, gitlab, tmp_path)
    reporter.cycle()
    # A human pauses it for their own reason: they rewrite the note without our block.
    gitlab.runners[RUNNER]["maintenance_note"] = "held for the storage migration"
    fleet(cluster, 0, 4)
    reporter.cycle()
    assert gitlab.runners[RUNNER]["paused"] is True
    assert len(gitlab.runner_writes(RUNNER)) == 1


def test_gitlab_429_5xx_and_timeouts_converge_without_duplicates(
    cluster: FakeCluster, gitlab: FakeGitLab, tmp_path: Path
) -> None:
    fleet(cluster, 3, 4)
    gitlab.inject(
        "POST",
        r"/issues$",
        Fault(status=429, body='{"message":"Retry later"}', headers={"Retry-After": "0"}),
        Fault(status=502, body="<html>502 Bad Gateway</html>", content_type="text/html"),
    )
    gitlab.inject("GET", r"/runners/42$", Fault(delay_s=1.5, then_process=True))
    reporter = make_reporter(cluster, gitlab, tmp_path, timeout_s=0.5)
    first = reporter.cycle()
    # The 429 is retried; a 502 on a POST is not resent blindly (it may have landed): the issue
    # is looked up by its key, not found, and sent again within the cycle's budget, so no issue
    # is lost. The slow runner read times out and is retried.
    assert len(gitlab.project_issues(PROJECT_ID, "opened")) == 3
    statuses = [r.status for r in gitlab.requests("POST", r"/issues$")]
    assert 429 in statuses and 502 in statuses
    assert len(statuses) == 5  # 3 issues, one 429 retried, one 502 looked up and sent again
    # Everything failing past the budget: the cycle reports it, the next one converges.
    gitlab.inject("*", r"/api/v4/", *[Fault(status=503) for _ in range(200)])
    failed = reporter.cycle()
    assert failed.errors
    gitlab._rules.clear()
    reporter.cycle()
    reporter.cycle()
    assert len(gitlab.project_issues(PROJECT_ID)) == 3
    assert len(gitlab.runner_writes(RUNNER)) == 1
    metrics = reporter.metrics.render().decode()
    assert 'dind_preflight_reporter_api_errors_total{api="gitlab"}' in metrics
    assert first.led


def test_after_reboot_only_opens_an_issue_but_never_quarantines(
    cluster: FakeCluster, gitlab: FakeGitLab, tmp_path: Path
) -> None:
    put_nodes(
        cluster,
        *(node(f"n{i}", ready="True", after_reboot="False") for i in range(3)),
    )
    reporter = make_reporter(cluster, gitlab, tmp_path)
    reporter.cycle()
    issues = gitlab.project_issues(PROJECT_ID, "opened")
    assert len(issues) == 3
    assert "after the next reboot" in issues[0]["description"]
    assert gitlab.runner_writes(RUNNER) == []


def test_heal_after_keeps_a_flapping_node_on_one_issue_with_a_recurrence_note(
    cluster: FakeCluster, gitlab: FakeGitLab, tmp_path: Path
) -> None:
    now = datetime.now(timezone.utc)
    put_nodes(
        cluster,
        node("n0", ready="False", since=now - timedelta(seconds=60)),
        node("n1"),
        node("n2"),
    )
    reporter = make_reporter(cluster, gitlab, tmp_path, heal_after_s=300.0, note_interval_s=0)
    reporter.cycle()
    # Ready for 10 s only: the issue stays open.
    put_nodes(cluster, node("n0", since=now - timedelta(seconds=10)), node("n1"), node("n2"))
    reporter.cycle()
    assert len(gitlab.project_issues(PROJECT_ID, "opened")) == 1
    # Broken again: a note on the same issue, not a new issue.
    put_nodes(
        cluster, node("n0", ready="False", since=now + timedelta(seconds=5)), node("n1"), node("n2")
    )
    reporter.now = lambda: now + timedelta(seconds=6)
    reporter.cycle()
    issues = gitlab.project_issues(PROJECT_ID)
    assert len(issues) == 1 and issues[0]["state"] == "opened"
    assert "Broke again" in gitlab.issue_notes(PROJECT_ID, issues[0]["iid"])[-1]["body"]


def _condition(status: str) -> dict[str, object]:
    when = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "status": {
            "conditions": [
                {
                    "type": "DindReady",
                    "status": status,
                    "reason": "IptableNatMissing" if status == "False" else "DindWorks",
                    "message": "kernel module iptable_nat is not loaded",
                    "lastTransitionTime": when,
                    "lastHeartbeatTime": when,
                }
            ]
        }
    }


def test_no_storm_when_twenty_nodes_break_at_once_and_heal(
    cluster: FakeCluster, gitlab: FakeGitLab, tmp_path: Path
) -> None:
    """The running service, woken by its node watch: 20 issues, one pause; then 20 closes, one
    resume -- however the changes are spread over its cycles."""
    import threading
    import time

    from tests.reporter.support import kube_context

    put_nodes(cluster, *(node(f"node-{i:02d}") for i in range(24)))
    reporter = make_reporter(cluster, gitlab, tmp_path)
    reporter.interval_s = 30.0  # only the watch can make it react in time
    stop = threading.Event()
    loop = threading.Thread(target=reporter.run, args=(stop,), daemon=True)
    loop.start()
    try:
        time.sleep(1.0)
        api = kube_context(cluster).api
        for i in range(20):
            api.patch_node_status(f"node-{i:02d}", _condition("False"))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (
            len(gitlab.project_issues(PROJECT_ID, "opened")) == 20 and gitlab.runner_writes(RUNNER)
        ):
            time.sleep(0.05)
        time.sleep(1.5)  # any further cycle must not add anything
        assert len(gitlab.project_issues(PROJECT_ID)) == 20
        assert [w.body["paused"] for w in gitlab.runner_writes(RUNNER)] == [True]
        for i in range(20):
            api.patch_node_status(f"node-{i:02d}", _condition("True"))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and gitlab.project_issues(PROJECT_ID, "opened"):
            time.sleep(0.05)
        time.sleep(1.5)
    finally:
        stop.set()
        reporter.wake.set()
        loop.join(10)
    assert len(gitlab.project_issues(PROJECT_ID, "closed")) == 20
    assert [w.body["paused"] for w in gitlab.runner_writes(RUNNER)] == [True, False]
    assert not loop.is_alive()


def test_taint_nodes_taints_broken_nodes_and_removes_only_its_taint_when_healed(
    cluster: FakeCluster, gitlab: FakeGitLab, tmp_path: Path
) -> None:
    other = {"key": "gpu", "value": "true", "effect": "NoSchedule"}
    put_nodes(cluster, node("n0", ready="False", taints=[other]), node("n1"), node("n2"))
    reporter = make_reporter(cluster, gitlab, tmp_path, taint_nodes=True)
    reporter.cycle()
    tainted = cluster.get("v1/nodes", None, "n0")
    assert tainted is not None
    assert {(t["key"], t["value"]) for t in tainted["spec"]["taints"]} == {
        ("gpu", "true"),
        ("dind-preflight.io/broken", NAT),
    }
    reporter.cycle()  # idempotent: no second patch
    patches = [
        r for r in cluster.requests() if r.method == "PATCH" and r.path.endswith("/nodes/n0")
    ]
    assert len(patches) == 1
    healed = node("n0", taints=tainted["spec"]["taints"])
    put_nodes(cluster, healed)
    reporter.cycle()
    after = cluster.get("v1/nodes", None, "n0")
    assert after is not None and after["spec"]["taints"] == [other]


def test_lease_held_by_a_replica_whose_clock_is_an_hour_behind_is_not_taken(
    cluster: FakeCluster,
) -> None:
    """Replica a's clock runs an hour behind, so every renewTime it writes looks an hour old to
    replica b. b judges expiry by when it saw the record change (client-go's observedTime): it
    waits while a renews, and takes over only once a stops renewing for a lease duration."""
    from preflight.reporter.lease import LeaseKeeper

    real = datetime.now(timezone.utc)
    a = LeaseKeeper(kube_context(cluster), "dind-preflight", "skew", "reporter-a", 15)
    b = LeaseKeeper(kube_context(cluster), "dind-preflight", "skew", "reporter-b", 15)
    assert a.try_lead(real - timedelta(hours=1))
    assert not b.try_lead(real)
    for step in range(1, 4):  # a renews every 10 s (its clock), b checks every 10 s (its own)
        assert a.try_lead(real - timedelta(hours=1) + timedelta(seconds=10 * step))
        assert not b.try_lead(real + timedelta(seconds=10 * step))
    # a stops renewing: b sees the same record for more than 15 s, then takes it.
    assert not b.try_lead(real + timedelta(seconds=40))
    assert b.try_lead(real + timedelta(seconds=46))
    assert not a.try_lead(real - timedelta(hours=1) + timedelta(seconds=50))


def test_node_watch_wakes_only_for_what_the_reporter_acts_on(cluster: FakeCluster) -> None:
    """Heartbeats (the agent's, the kubelet's) wake nothing; a DindReady status, our taint and
    a cordon each wake the reporter once."""
    import threading
    import time

    from preflight.reporter.watch import NodeWatcher

    put_nodes(cluster, node("n0"), node("n1"))
    api = kube_context(cluster).api
    wake, stop = threading.Event(), threading.Event()
    watcher = NodeWatcher(kube_context(cluster), wake, stop).start()

    def settle(expect_wake: bool) -> None:
        deadline = time.monotonic() + (5.0 if expect_wake else 1.0)
        while time.monotonic() < deadline and not wake.is_set():
            time.sleep(0.02)
        assert wake.is_set() is expect_wake
        wake.clear()

    try:
        settle(True)  # the first sight of each node
        for _ in range(3):  # heartbeats: same status and reason, new times
            time.sleep(1.1)
            api.patch_node_status("n0", _condition("True"))
            api.patch_node_status("n0", _condition("True"))
        settle(False)
        assert watcher.ignored >= 1
        api.patch_node_status("n0", _condition("False"))
        settle(True)
        taint = {"key": "dind-preflight.io/broken", "value": "x", "effect": "NoSchedule"}
        api.patch_node("n1", {"spec": {"taints": [taint]}})
        settle(True)
        api.patch_node("n1", {"spec": {"unschedulable": True}})
        settle(True)
        api.patch_node("n1", {"metadata": {"labels": {"unrelated": "yes"}}})
        settle(False)
    finally:
        stop.set()


def test_a_job_pod_cannot_narrow_the_runners_nodes_to_one_broken_node(
    cluster: FakeCluster, gitlab: FakeGitLab, tmp_path: Path
) -> None:
    """Issue 20: a job shapes its own pod (nodeSelector, tolerations). The reporter takes the
    runner's placement from its flags only, so one broken node of five stays one node: an issue,
    no pause, no taint."""
    put_nodes(cluster, node("n0", ready="False"), *(node(f"n{i}") for i in range(1, 5)))
    forged = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "runner-abc-project-1-concurrent-0-zzz",
            "namespace": "ci",
            "labels": {"job.runner.gitlab.com/pod": "runner-abc"},
            "creationTimestamp": "2099-01-01T00:00:00Z",  # the newest job pod
        },
        "spec": {
            "nodeSelector": {"kubernetes.io/hostname": "n0"},
            "tolerations": [{"operator": "Exists"}],
            "containers": [{"name": "build", "image": "alpine"}],
        },
    }
    cluster.add("v1/pods", "ci", forged)
    result = make_reporter(cluster, gitlab, tmp_path).cycle()
    assert result.led and not result.errors, result.errors
    assert all(state.matches_jobs for state in result.cluster.nodes)
    assert gitlab.runner_writes(RUNNER) == []
    assert len(gitlab.project_issues(PROJECT_ID, "opened")) == 1
    assert not [r for r in cluster.requests() if r.method == "PATCH" and "/nodes/" in r.path]
    assert not [r for r in cluster.requests() if r.method == "GET" and r.path.endswith("/pods")]


def test_placement_comes_from_the_reporters_flags() -> None:
    from preflight.reporter.cluster import parse_toleration

    assert dict(parse_toleration("dedicated=ci:NoSchedule")) == {
        "key": "dedicated",
        "operator": "Equal",
        "value": "ci",
        "effect": "NoSchedule",
    }
    assert dict(parse_toleration(":NoExecute")) == {"operator": "Exists", "effect": "NoExecute"}
    with pytest.raises(UsageError, match="expected KEY\\[=VALUE\\]:EFFECT"):
        parse_toleration("dedicated=ci")
