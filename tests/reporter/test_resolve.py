"""`dind-preflight resolve` in job mode: a job tainted the node, paused the runner and opened the
issue; once a fresh node report (helper pod) shows the node fixed, all three are undone -- only
what carries our marker, never a runner someone else paused; --dry-run changes nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from preflight.actions.taint import Taint, taint_for
from preflight.gitlab.client import open_client
from preflight.kube.settings import KubeSettings
from preflight.kube.taint_node import taint_node
from preflight.resolve.apply import helper_pod_reader, resolve
from tests.gitlab.diagnoses import field_report_diagnosis
from tests.gitlab.fake_gitlab import FakeGitLab
from tests.gitlab.support import FAST, TOKEN, report, settings
from tests.kube.fake_cluster import FakeCluster, FakeKubelet, finishes
from tests.kube.node_roots import centos8_node, node_report_output
from tests.reporter.support import RUNNER, kube_context, node, put_nodes

PROJECT_ID = 5
HUMAN_NOTE = "owner: platform team"


def job_mode_incident(cluster: FakeCluster, gitlab: FakeGitLab) -> None:
    """What a job did in job mode: the issue, the runner paused, the node tainted."""
    diagnosis = field_report_diagnosis("worker-3")
    outcome = report(diagnosis, settings(gitlab), pause=True)
    assert outcome.ok, outcome.errors
    put_nodes(cluster, node("worker-3"))
    taint = taint_for(diagnosis)
    assert isinstance(taint, Taint)
    assert taint_node(kube_context(cluster, "ci"), "worker-3", taint).changed


def run_resolve(cluster: FakeCluster, gitlab: FakeGitLab, root: Path, *, dry_run: bool = False):  # type: ignore[no-untyped-def]
    ctx = kube_context(cluster, "ci")
    kube_settings = KubeSettings(timeout=20.0, helper_image="registry.example.com/dind-preflight:1")
    client = open_client(settings(gitlab), policy=FAST)
    _, output = node_report_output(root)
    with FakeKubelet(cluster, finishes(output, exit_code=0)) as kubelet:
        result = resolve(client, ctx, helper_pod_reader(ctx, kube_settings), dry_run=dry_run)
    assert not kubelet.errors
    assert cluster.helper_pods() == []
    return result


def taints(cluster: FakeCluster) -> list[dict[str, str]]:
    found = cluster.get("v1/nodes", None, "worker-3")
    assert found is not None
    return list(found["spec"].get("taints") or [])


def test_resolve_undoes_taint_pause_and_issue_once_the_node_is_fixed(
    cluster: FakeCluster, gitlab: FakeGitLab, tmp_path: Path
) -> None:
    gitlab.add_runner(RUNNER, maintenance_note=HUMAN_NOTE)
    job_mode_incident(cluster, gitlab)
    assert gitlab.runners[RUNNER]["paused"] is True

    still = run_resolve(cluster, gitlab, centos8_node(tmp_path / "broken"))
    assert still.still_broken == 1 and still.fixed == 0
    assert gitlab.runners[RUNNER]["paused"] is True and taints(cluster)

    dry = run_resolve(
        cluster, gitlab, centos8_node(tmp_path / "fixed-dry", fixed=True), dry_run=True
    )
    assert dry.fixed == 1 and any("would resume" in line for line in dry.lines), dry.lines
    assert gitlab.runners[RUNNER]["paused"] is True and taints(cluster)
    assert len(gitlab.project_issues(PROJECT_ID, "opened")) == 1

    done = run_resolve(cluster, gitlab, centos8_node(tmp_path / "fixed", fixed=True))
    assert done.fixed == 1 and not done.errors, done
    assert gitlab.runners[RUNNER]["paused"] is False
    assert gitlab.runners[RUNNER]["maintenance_note"] == HUMAN_NOTE
    assert taints(cluster) == []
    issue = gitlab.project_issues(PROJECT_ID)[0]
    assert issue["state"] == "closed"
    assert "loaded now and at boot" in gitlab.issue_notes(PROJECT_ID, issue["iid"])[-1]["body"]


def test_resolve_never_resumes_a_runner_someone_else_paused(
    cluster: FakeCluster, gitlab: FakeGitLab, tmp_path: Path
) -> None:
    gitlab.add_runner(RUNNER, paused=True, maintenance_note="hardware swap - bo")
    job_mode_incident(cluster, gitlab)  # the job only annotated the pause
    done = run_resolve(cluster, gitlab, centos8_node(tmp_path / "fixed", fixed=True))
    assert done.fixed == 1
    assert gitlab.runners[RUNNER]["paused"] is True
    assert gitlab.runners[RUNNER]["maintenance_note"] == "hardware swap - bo"


def test_resolve_resumes_every_runner_paused_for_the_incident(
    cluster: FakeCluster, gitlab: FakeGitLab, tmp_path: Path
) -> None:
    """Two runners' jobs hit the same node: job mode paused both for one incident (same key);
    the issue's marker names only the first. Resolve finds the other through its note."""
    second = RUNNER + 1
    gitlab.add_runner(RUNNER, maintenance_note=HUMAN_NOTE)
    gitlab.add_runner(second, maintenance_note="second pool")
    gitlab.add_runner(second + 1, paused=True, maintenance_note="swapped disks - ana")
    job_mode_incident(cluster, gitlab)
    other = report(
        field_report_diagnosis("worker-3"), settings(gitlab, runner_id=second), pause=True
    )
    assert other.ok, other.errors
    assert gitlab.runners[second]["paused"] is True
    done = run_resolve(cluster, gitlab, centos8_node(tmp_path / "fixed", fixed=True))
    assert done.fixed == 1 and not done.errors, done
    assert (gitlab.runners[RUNNER]["paused"], gitlab.runners[second]["paused"]) == (False, False)
    assert gitlab.runners[second]["maintenance_note"] == "second pool"
    # A runner a human paused, with no key of ours, is never touched.
    assert gitlab.runners[second + 1]["paused"] is True
    assert not [r for r in gitlab.requests("PUT", rf"^/api/v4/runners/{second + 1}$")]


def test_resolve_leaves_issues_without_our_marker(
    cluster: FakeCluster, gitlab: FakeGitLab, tmp_path: Path
) -> None:
    job_mode_incident(cluster, gitlab)
    # A human opened an issue with the same labels by hand: no marker, not ours to close.
    issue = gitlab.project_issues(PROJECT_ID)[0]
    gitlab.issues[PROJECT_ID][issue["iid"]]["description"] = "filed by hand"
    done = run_resolve(cluster, gitlab, centos8_node(tmp_path / "fixed", fixed=True))
    assert done.fixed == 0 and done.lines == []
    assert gitlab.project_issues(PROJECT_ID)[0]["state"] == "opened"


def test_resolve_command_refuses_a_plain_http_gitlab_that_is_not_loopback(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text(TOKEN)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "preflight",
            "resolve",
            "--gitlab-url",
            "http://gitlab.example.com",
            "--token-file",
            str(token),
            "--report-project",
            "ops/x",
            "--helper-image",
            "x",
            "--dry-run",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 64
    assert result.stderr.strip() == (
        "dind-preflight: error: --gitlab-url must be https:// (the token goes nowhere else), "
        "got 'http://gitlab.example.com'"
    )
