"""Fleet mode deployed as README's quick start says, on the real control plane.

The agent DaemonSet (one pod per node, the real DaemonSet controller and scheduler) checks the
field report's node and a fixed one, publishes DindReady, an Event ``kubectl describe node``
shows, and the taint; the reporter Deployment (2 replicas, one Lease) reads its token from the
Secret the quick start creates, opens an issue for the broken node and pauses the runner as its
policy says; when the node root is fixed the agent untaints, the reporter closes the issue and
resumes the runner. Every command of the quick start is taken from README.md and run with the
built kubectl: a quick start that fails fails here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.cluster.controlplane import ControlPlane
from tests.cluster.kubelet import ImageTable, Kubelet, NodeSpec, kubelet
from tests.cluster.support import (
    REPO,
    can_i,
    cluster_state,
    condition,
    fix_node,
    get_json,
    kubectl_commands,
    node,
    node_root,
    patch_as,
    pods,
    taint_keys,
    wait_for,
)
from tests.gitlab.fake_gitlab import FakeGitLab

BROKEN, HEALTHY = "fleet-field-report", "fleet-fixed"
TOKEN = "glpat-fleet-reporter-0123456789"
RUNNER = 42
NS = "dind-preflight"
JOB_NS = "gitlab-runner"
TAINT = "dind-preflight.io/broken"
GATE = "dind-preflight.io/unchecked"


@dataclass
class Fleet:
    cluster: ControlPlane
    kubelet: Kubelet
    gitlab: FakeGitLab
    project: int
    broken_root: Path
    applied: list[str]


def _user_edits(deployment: str, gitlab_url: str) -> str:
    """What README tells a user to edit in deploy/reporter/deployment.yaml: the pinned GitLab URL
    (here the test's GitLab, http on loopback, the one non-https URL the reporter accepts), the
    runner ids; and, so that this test need not wait the default 300 s, how long a node must stay
    ready before its issue is closed."""
    text = deployment.replace("https://gitlab.example.com", gitlab_url)
    text = re.sub(r"--runner=\d+", f"--runner={RUNNER}", text)
    return re.sub(r"(\n(\s+)- --max-broken-share=[^\n]*)", r"\1\n\2- --heal-after=5", text)


@pytest.fixture(scope="module")
def fleet(
    cluster: ControlPlane, images: ImageTable, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Fleet]:
    work = tmp_path_factory.mktemp("fleet")
    broken_root = node_root("centos8-field-report", work / "node-broken")
    healthy_root = node_root("centos8-fixed", work / "node-healthy")
    with FakeGitLab() as gitlab:
        gitlab.add_token(TOKEN, scopes=("api",), admin=True)
        gitlab.add_runner(RUNNER, description="k8s runner")
        project = gitlab.add_project("infra/runner-incidents")
        port = int(gitlab.url.rsplit(":", 1)[1].rstrip("/"))
        # Both nodes register behind the startup gate, as docs/fleet-mode.md configures kubelets.
        gate = ({"key": GATE, "effect": "NoSchedule"},)
        nodes = [
            NodeSpec(BROKEN, root=broken_root, register_with_taints=gate),
            NodeSpec(HEALTHY, root=healthy_root, register_with_taints=gate),
        ]
        with kubelet(cluster, nodes, images, forwards={port: port}) as k:
            token = work / "token.txt"
            token.write_text(TOKEN + "\n")
            deployment = work / "deployment.yaml"
            deployment.write_text(
                _user_edits(
                    (REPO / "deploy/reporter/deployment.yaml").read_text(), gitlab.url.rstrip("/")
                )
            )
            applied: list[str] = []
            # What the quick start presumes: gitlab-runner is installed, its jobs in this namespace.
            cluster.kubectl("create", "namespace", JOB_NS)
            try:
                for argv in kubectl_commands(REPO / "README.md", "**Fleet mode**"):
                    argv = [a.replace("./token.txt", str(token)) for a in argv]
                    argv = [
                        str(deployment) if a == "deploy/reporter/deployment.yaml" else a
                        for a in argv
                    ]
                    applied.append(" ".join(argv))
                    done = cluster.kubectl(*argv, check=False)
                    assert done.returncode == 0, (
                        f"README's `kubectl {' '.join(argv)}` failed:\n{done.stderr}"
                    )
                yield Fleet(cluster, k, gitlab, project, broken_root, applied)
            finally:
                cluster.kubectl("delete", "namespace", NS, JOB_NS, "--timeout=120s", check=False)
                for kind in ("clusterrole", "clusterrolebinding"):
                    cluster.kubectl(
                        "delete", kind, "-l", "app.kubernetes.io/name=dind-preflight", check=False
                    )
                cluster.kubectl(
                    "delete",
                    "validatingadmissionpolicy,validatingadmissionpolicybinding",
                    "-l",
                    "app.kubernetes.io/name=dind-preflight",
                    check=False,
                )


def _running(fleet: Fleet, selector: str, count: int) -> list[dict[str, object]] | None:
    items = [p for p in pods(fleet.cluster, NS, selector) if p["status"].get("phase") == "Running"]
    return items if len(items) == count else None


def test_agent_daemonset_runs_one_pod_per_node(fleet: Fleet) -> None:
    agents = wait_for(
        "one running agent pod per node",
        lambda: _running(fleet, "app.kubernetes.io/component=agent", 2),
        timeout=90,
        explain=lambda: cluster_state(fleet.cluster, NS),
    )
    assert sorted(p["spec"]["nodeName"] for p in agents) == [BROKEN, HEALTHY]  # type: ignore[index]


def test_field_report_node_is_not_ready_with_event_and_taint(fleet: Fleet) -> None:
    broken = wait_for(
        "DindReady on the field report's node",
        lambda: (n := node(fleet.cluster, BROKEN)) and condition(n, "DindReady") and n,
        timeout=90,
    )
    ready = condition(broken, "DindReady")
    assert ready is not None and ready["status"] == "False", ready
    assert "iptable_nat" in ready["message"]
    tainted = wait_for(
        "the taint", lambda: TAINT in taint_keys(node(fleet.cluster, BROKEN)), timeout=30
    )
    assert tainted
    described = wait_for(
        "the Event in kubectl describe node",
        lambda: (
            "DindReady False" in (d := fleet.cluster.kubectl("describe", "node", BROKEN).stdout)
            and d
        ),
        timeout=30,
    )
    assert "dind-preflight-agent" in described


def test_fixed_node_is_ready_and_untainted(fleet: Fleet) -> None:
    healthy = wait_for(
        "DindReady on the fixed node",
        lambda: (n := node(fleet.cluster, HEALTHY)) and condition(n, "DindReady") and n,
        timeout=90,
    )
    assert condition(healthy, "DindReady")["status"] == "True"  # type: ignore[index]
    assert TAINT not in taint_keys(healthy)
    wait_for("the startup gate open", lambda: GATE not in taint_keys(node(fleet.cluster, HEALTHY)))


def test_startup_gate_stays_closed_on_the_broken_node(fleet: Fleet) -> None:
    wait_for(
        "the agent's verdict",
        lambda: condition(node(fleet.cluster, BROKEN), "DindReady"),
        timeout=90,
    )
    assert GATE in taint_keys(node(fleet.cluster, BROKEN))


def test_reporter_reads_its_secret_opens_one_issue_and_holds_one_lease(fleet: Fleet) -> None:
    reporters = wait_for(
        "two running reporter pods",
        lambda: _running(fleet, "app.kubernetes.io/component=reporter", 2),
        timeout=90,
    )
    for pod in reporters:  # the token file is readable: no crash loop
        status = pod["status"]["containerStatuses"][0]  # type: ignore[index]
        assert status["restartCount"] == 0, fleet.cluster.kubectl(
            "logs", "-n", NS, pod["metadata"]["name"], check=False
        ).stdout  # type: ignore[index]
    issues = wait_for(
        "an issue for the field report's node naming iptable_nat",
        lambda: [
            i
            for i in fleet.gitlab.project_issues(fleet.project, "opened")
            if BROKEN in i["title"] and "iptable_nat" in i["title"]
        ],
        timeout=90,
    )
    assert len(issues) == 1
    titles = [i["title"] for i in fleet.gitlab.project_issues(fleet.project)]
    assert len(titles) == len(set(titles)), titles  # one issue per node and cause
    assert all(HEALTHY not in t for t in titles), titles
    # The policy (docs/reporter.md): fewer healthy nodes than --min-healthy-nodes=2 -> pause.
    wait_for("the runner paused", lambda: fleet.gitlab.runners[RUNNER]["paused"], timeout=60)
    assert "dind-preflight" in (fleet.gitlab.runners[RUNNER]["maintenance_note"] or "")
    lease = get_json(fleet.cluster, "lease", "dind-preflight-reporter", "-n", NS)
    names = {p["metadata"]["name"] for p in reporters}  # type: ignore[index]
    assert lease["spec"]["holderIdentity"] in names


def test_fixing_the_node_untaints_and_closes_the_issue(fleet: Fleet) -> None:
    fix_node(fleet.broken_root)
    fleet.cluster.kubectl(
        "-n", NS, "set", "env", "daemonset/dind-preflight-agent", "DIND_PREFLIGHT_AGENT_INTERVAL=2"
    )
    wait_for(
        "DindReady=True on the fixed field-report node",
        lambda: (
            (c := condition(node(fleet.cluster, BROKEN), "DindReady")) and c["status"] == "True"
        ),
        timeout=120,
    )
    wait_for(
        "the taint removed",
        lambda: TAINT not in taint_keys(node(fleet.cluster, BROKEN)),
        timeout=60,
    )
    wait_for("the runner resumed", lambda: not fleet.gitlab.runners[RUNNER]["paused"], timeout=120)
    wait_for(
        "the issue closed",
        lambda: (
            not [
                i
                for i in fleet.gitlab.project_issues(fleet.project, "opened")
                if BROKEN in i["title"] + i["description"]
            ]
        ),
        timeout=120,
    )


# Calls each component must never be able to make, whatever its code does.
MUST_NOT = {
    "dind-preflight-agent": [
        ("create", "pods", NS),
        ("get", "secrets", NS),
        ("list", "secrets", None),
        ("delete", "nodes", None),
        ("update", "nodes", None),
        ("create", "pods/exec", NS),
        ("create", "events", NS),
    ],
    "dind-preflight-reporter": [
        ("create", "pods", JOB_NS),
        ("get", "secrets", NS),
        ("list", "secrets", None),
        ("delete", "nodes", None),
        ("patch", "nodes/status", None),
        ("create", "pods/exec", JOB_NS),
    ],
}


def test_every_call_they_made_was_allowed_and_nothing_more_is(fleet: Fleet) -> None:
    """Least privilege on the real RBAC: the audit log holds every request the agent and the
    reporter made in this module, none refused; the calls they must not make are denied."""
    entries = fleet.cluster.audit(f"system:serviceaccount:{NS}:")
    users = {e.user for e in entries}
    assert {
        f"system:serviceaccount:{NS}:dind-preflight-agent",
        f"system:serviceaccount:{NS}:dind-preflight-reporter",
    } <= users
    refused = [e for e in entries if e.code == 403]
    assert refused == [], refused
    for account, calls in MUST_NOT.items():
        for verb, resource, namespace in calls:
            user = f"system:serviceaccount:{NS}:{account}"
            assert not can_i(fleet.cluster, user, verb, resource, namespace), (
                f"{account} may {verb} {resource} ({namespace or 'all namespaces'})"
            )


def _agent_token(fleet: Fleet, node_name: str) -> str:
    """A token bound to the agent pod on ``node_name``: what that pod holds."""
    agent = next(
        p
        for p in pods(fleet.cluster, NS, "app.kubernetes.io/component=agent")
        if p["spec"]["nodeName"] == node_name
    )
    return fleet.cluster.kubectl(
        "-n",
        NS,
        "create",
        "token",
        "dind-preflight-agent",
        "--bound-object-kind=Pod",
        f"--bound-object-name={agent['metadata']['name']}",
        f"--bound-object-uid={agent['metadata']['uid']}",
    ).stdout.strip()


AGENT_MAY_NOT = {
    "another node's condition": (
        HEALTHY,
        "/status",
        {"status": {"conditions": [{"type": "DindReady", "status": "False", "reason": "Forged"}]}},
    ),
    "its node's Ready condition": (
        BROKEN,
        "/status",
        {"status": {"conditions": [{"type": "Ready", "status": "False", "reason": "Forged"}]}},
    ),
    "its node's addresses": (
        BROKEN,
        "/status",
        {"status": {"addresses": [{"type": "InternalIP", "address": "10.9.9.9"}]}},
    ),
    "a label through the status": (BROKEN, "/status", {"metadata": {"labels": {"forged": "yes"}}}),
    "a label": (BROKEN, "", {"metadata": {"labels": {"forged": "yes"}}}),
    "a cordon": (BROKEN, "", {"spec": {"unschedulable": True}}),
    "another node's taint": (
        HEALTHY,
        "",
        {"spec": {"taints": [{"key": TAINT, "value": "forged", "effect": "NoSchedule"}]}},
    ),
}


@pytest.mark.parametrize("attempt", sorted(AGENT_MAY_NOT))
def test_the_agent_policy_denies_what_the_agent_must_not_do(fleet: Fleet, attempt: str) -> None:
    """With the agent's own token (as a compromised agent pod has it), the API server denies
    every write but its own node's DindReady conditions and our taint: by the admission
    policy, after RBAC let the patch through."""
    wait_for(
        "agent pods", lambda: _running(fleet, "app.kubernetes.io/component=agent", 2), timeout=90
    )
    target, subresource, patch = AGENT_MAY_NOT[attempt]
    status, text = patch_as(
        fleet.cluster, _agent_token(fleet, BROKEN), f"/api/v1/nodes/{target}{subresource}", patch
    )
    # A policy's denial is 422 Invalid (the validation's default reason), with its message.
    assert status == 422 and "dind-preflight-agent-own-node' denied request" in text, (status, text)


def test_the_agent_may_write_its_own_condition(fleet: Fleet) -> None:
    """The baseline of the denials above: the same token may write what the agent writes."""
    wait_for(
        "agent pods", lambda: _running(fleet, "app.kubernetes.io/component=agent", 2), timeout=90
    )
    ready = condition(node(fleet.cluster, BROKEN), "DindReady")
    assert ready is not None
    status, text = patch_as(
        fleet.cluster,
        _agent_token(fleet, BROKEN),
        f"/api/v1/nodes/{BROKEN}/status",
        {"status": {"conditions": [ready]}},
    )
    assert status == 200, text


def test_the_lease_moves_to_the_other_replica_when_the_leader_goes(fleet: Fleet) -> None:
    wait_for(
        "two reporters",
        lambda: _running(fleet, "app.kubernetes.io/component=reporter", 2),
        timeout=90,
    )
    holder = wait_for(
        "a lease holder",
        lambda: get_json(fleet.cluster, "lease", "dind-preflight-reporter", "-n", NS)["spec"].get(
            "holderIdentity"
        ),
    )
    fleet.cluster.kubectl("-n", NS, "delete", "pod", holder, "--timeout=60s")
    replicas = {
        p["metadata"]["name"]
        for p in pods(fleet.cluster, NS, "app.kubernetes.io/component=reporter")
    }
    new = wait_for(
        "another replica holding the lease",
        lambda: (
            (
                h := get_json(fleet.cluster, "lease", "dind-preflight-reporter", "-n", NS)[
                    "spec"
                ].get("holderIdentity")
            )
            not in (None, "", holder)
            and h
        ),
        timeout=150,
    )
    assert new in replicas | {
        p["metadata"]["name"]
        for p in pods(fleet.cluster, NS, "app.kubernetes.io/component=reporter")
    }
