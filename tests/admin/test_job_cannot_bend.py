"""Issue 20's "Why", as a job would try it: `dind-preflight run` as a process in a job pod (the
fake API server over TLS, the fake GitLab over TLS), the admin's file at its fixed path in the
process's own mount namespace, the service-account token and CA at their standard path.

The baseline shows the run does quarantine on evidence the job cannot forge (so each attack
below could have succeeded); each attack then ends with no pause of another runner, no pause
at all where the evidence is bent, no taint, and no token sent anywhere but the admin's GitLab.
"""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trustme

from preflight.admin.config import ADMIN_CONFIG_PATH
from tests.admin.support import in_admin_namespace, needs_mount_namespace
from tests.gitlab.fake_gitlab import FakeGitLab
from tests.harness.dockerd import free_port
from tests.kube.conftest import HELPER_IMAGE, JOB_POD, NODE, TERMINATED_NAT, job_pod_manifest
from tests.kube.failing_daemons import saved_log
from tests.kube.fake_cluster import FakeCluster, FakeKubelet, finishes, running_cluster
from tests.kube.node_roots import centos8_node, node_report_output

pytestmark = needs_mount_namespace

TOKEN = "glpat-AdminPinnedT0ken-20aa11"
JOB_TOKEN = "glcbt-64_JobT0kenOfThisJob-20"
SA_TOKEN = "eyJhbGciOiJSUzI1NiJ9.admin-anchors-service-account"
RUNNER_ID = 42  # the job's own runner, as GET /job says
OTHER_RUNNER = 77  # another team's runner
JOB_ID = 5150
INCIDENTS = "infra/runner-incidents"
VICTIM_POD = "runner-other-project-7-concurrent-0-ffff0000"


@dataclass
class World:
    """Everything one run talks to, and the admin's file for it."""

    tmp: Path
    ca: trustme.CA
    server_tls: ssl.SSLContext
    cluster: FakeCluster
    gitlab: FakeGitLab
    sa: Path
    admin: dict[str, Any]

    def env(self, **extra: str) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "KUBE", "CI_"))}
        base = {k: v for k, v in base.items() if not k.startswith("DIND_PREFLIGHT_")}
        base.update(
            {
                "KUBERNETES_SERVICE_HOST": "127.0.0.1",
                "KUBERNETES_SERVICE_PORT": self.cluster.url.rsplit(":", 1)[1],
                "HOSTNAME": JOB_POD,
                "DOCKER_HOST": f"tcp://127.0.0.1:{free_port()}",  # dead dind: nothing listens
                "DIND_PREFLIGHT_TIMEOUT": "10",
                "DIND_PREFLIGHT_ARTIFACTS_DIR": str(self.tmp / "reports"),
                "DIND_PREFLIGHT_REPORT_PROJECT": INCIDENTS,
                "CI_JOB_TOKEN": JOB_TOKEN,
                "CI_JOB_ID": str(JOB_ID),
                "CI_SERVER_URL": self.gitlab.url,
                "CI_API_V4_URL": self.gitlab.api_url,
                "CI_SERVER_HOST": "127.0.0.1",
                "CI_RUNNER_ID": str(RUNNER_ID),
            }
        )
        base.update(extra)
        return base

    def run(
        self, env: dict[str, str], *, admin: bool = True, read_only: tuple[Any, ...] = ()
    ) -> subprocess.CompletedProcess[str]:
        command = in_admin_namespace(
            [sys.executable, "-m", "preflight", "run"],
            self.tmp / "ns",
            config=self.admin if admin else None,
            service_account=self.sa,
            read_only=read_only,
        )
        _, output = node_report_output(centos8_node(self.tmp / f"node-{len(os.listdir(self.tmp))}"))
        with FakeKubelet(self.cluster, finishes(output, exit_code=1)):
            return subprocess.run(
                command, env=env, capture_output=True, text=True, timeout=90, check=False
            )

    def runner_writes(self) -> list[str]:
        return [r.path for r in self.gitlab.recorded if r.method == "PUT" and "/runners/" in r.path]

    def node_patches(self) -> list[str]:
        return [
            r.path for r in self.cluster.requests() if r.method == "PATCH" and "/nodes/" in r.path
        ]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    ca = trustme.CA()
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(server_tls)
    ca_file = tmp_path / "ca.crt"
    ca.cert_pem.write_to_path(str(ca_file))
    sa = tmp_path / "serviceaccount"
    sa.mkdir()
    (sa / "token").write_text(SA_TOKEN)
    (sa / "namespace").write_text("ci")
    (sa / "ca.crt").write_bytes(ca_file.read_bytes())
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "gitlab-token").write_text(TOKEN)
    gitlab = FakeGitLab(ssl_context=server_tls).start()
    try:
        gitlab.add_token(TOKEN, scopes=("api",), admin=True)
        gitlab.add_runner(RUNNER_ID, description="k8s-runner-a")
        gitlab.add_runner(OTHER_RUNNER, description="another team's runner")
        gitlab.add_project(INCIDENTS)
        gitlab.add_job(JOB_TOKEN, JOB_ID, RUNNER_ID)
        with running_cluster(tmp_path / "cluster", tls=server_tls) as cluster:
            cluster.identity = (JOB_POD, NODE)
            cluster.add("v1/pods", "ci", job_pod_manifest(service_state=TERMINATED_NAT))
            cluster.set_log(JOB_POD, "svc-0", saved_log("legacy-nat-missing"))
            admin = {
                "gitlab_url": gitlab.url.replace("http://", "https://"),
                "gitlab_ca_file": str(ca_file),
                "token_file": str(secret / "gitlab-token"),
                "helper_images": [HELPER_IMAGE],
                "actions": ["pause-runner"],
                "api_server": "127.0.0.1:" + cluster.url.rsplit(":", 1)[1],
            }
            yield World(tmp_path, ca, server_tls, cluster, gitlab, sa, admin)
            assert cluster.helper_pods() == [], "a helper pod was left behind"
    finally:
        gitlab.stop()
    assert not gitlab.errors, gitlab.errors


def _paused(world: World, runner: int) -> bool:
    return bool(world.gitlab.runners[runner].get("paused"))


def test_baseline_evidence_the_job_cannot_forge_pauses_the_jobs_own_runner(world: World) -> None:
    result = world.run(world.env())
    out = result.stdout + result.stderr
    assert result.returncode == 75, out
    assert "quarantine allowed" in out, out
    assert _paused(world, RUNNER_ID), out
    assert not _paused(world, OTHER_RUNNER)
    helper = next(
        r for r in world.cluster.requests() if r.method == "POST" and r.path.endswith("/pods")
    )
    assert helper.data["spec"]["containers"][0]["image"] == HELPER_IMAGE
    assert TOKEN not in out and SA_TOKEN not in out and JOB_TOKEN not in out


def test_ci_runner_id_does_not_choose_the_runner_to_pause(world: World) -> None:
    result = world.run(
        world.env(
            CI_RUNNER_ID=str(OTHER_RUNNER),
            CI_JOB_ID="31337",
            CI_JOB_URL="https://evil.example/other/team/-/jobs/31337",
            CI_PROJECT_PATH="other/team",
        )
    )
    out = result.stdout + result.stderr
    assert result.returncode == 75, out
    assert not _paused(world, OTHER_RUNNER), out
    assert f"/api/v4/runners/{OTHER_RUNNER}" not in [r.path for r in world.gitlab.recorded]
    assert world.runner_writes() == [f"/api/v4/runners/{RUNNER_ID}"]  # GET /job named it
    assert world.gitlab.recorded[0].path == "/api/v4/job"  # asked first: who the job is
    note = world.gitlab.runners[RUNNER_ID]["maintenance_note"]
    assert f"job {JOB_ID}" in note and "31337" not in note and "evil.example" not in note
    (project,) = [
        p for p in world.gitlab.projects.values() if p.get("path_with_namespace") == INCIDENTS
    ]
    issues = world.gitlab.project_issues(project["id"])
    assert issues and all("31337" not in i["description"] for i in issues)
    assert all("other/team" not in i["description"] for i in issues)


def test_without_the_admin_file_report_and_retry_only_and_no_token_leaves(world: World) -> None:
    result = world.run(world.env(DIND_PREFLIGHT_GITLAB_TOKEN=TOKEN), admin=False)
    out = result.stdout + result.stderr
    assert result.returncode == 75, out
    lines = [line for line in result.stderr.splitlines() if "no admin configuration" in line]
    assert lines == [
        f"dind-preflight: no admin configuration at {ADMIN_CONFIG_PATH} (mount it from a "
        "ConfigMap in the runner's configuration, docs/runner-wide.md): report and retry only, "
        "no quarantine, no token sent"
    ], out
    assert world.gitlab.recorded == []  # not one request: no token sent anywhere
    assert world.node_patches() == []
    assert "quarantine allowed" not in out


def test_ci_api_v4_url_and_ci_server_host_agreeing_get_no_token(world: World) -> None:
    evil = FakeGitLab().start()
    try:
        evil.add_token(TOKEN, admin=True)
        evil.add_runner(RUNNER_ID)
        evil.add_job(JOB_TOKEN, JOB_ID, RUNNER_ID)
        bent = world.env(
            CI_API_V4_URL=evil.api_url,
            CI_SERVER_URL=evil.url,
            CI_SERVER_HOST="127.0.0.1",
            CI_SERVER_PORT=evil.url.rsplit(":", 1)[1],
            DIND_PREFLIGHT_GITLAB_URL=evil.url,
            DIND_PREFLIGHT_ALLOW_HTTP="1",
        )
        with_admin = world.run(bent)
        without_admin = world.run({**bent, "DIND_PREFLIGHT_GITLAB_TOKEN": TOKEN}, admin=False)
        assert evil.recorded == [], "a token went where the job's variables point"
    finally:
        evil.stop()
    assert with_admin.returncode == 75 and without_admin.returncode == 75
    # With the admin's file the report went to the admin's GitLab only.
    assert world.gitlab.recorded and all(
        r.path.startswith("/api/v4/") for r in world.gitlab.recorded
    )


def test_kubernetes_service_host_elsewhere_is_not_asked_and_nothing_is_paused(
    world: World, tmp_path: Path
) -> None:
    evil_ca = trustme.CA()
    evil_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    evil_ca.issue_cert("127.0.0.1").configure_cert(evil_tls)
    with running_cluster(tmp_path / "evil", tls=evil_tls) as evil:
        evil.identity = (JOB_POD, NODE)
        evil.add("v1/pods", "ci", job_pod_manifest(service_state=TERMINATED_NAT))
        result = world.run(world.env(KUBERNETES_SERVICE_PORT=evil.url.rsplit(":", 1)[1]))
        assert evil.requests() == [], "the job's API server was asked"
    out = result.stdout + result.stderr
    assert result.returncode == 75, out
    assert "KUBERNETES_SERVICE_HOST=127.0.0.1:" in out
    assert world.runner_writes() == [] and world.node_patches() == []


def test_a_job_chosen_helper_image_is_not_run(world: World) -> None:
    evil_image = "registry.example.com/job/own@sha256:" + "cd" * 32
    result = world.run(world.env(DIND_PREFLIGHT_HELPER_IMAGE=evil_image))
    out = result.stdout + result.stderr
    assert result.returncode == 75, out
    images = [
        r.data["spec"]["containers"][0]["image"]
        for r in world.cluster.requests()
        if r.method == "POST" and r.path.endswith("/pods")
    ]
    assert images == [HELPER_IMAGE]
    assert not _paused(world, OTHER_RUNNER) and world.node_patches() == []


def test_hostname_does_not_choose_the_pod_that_is_read(world: World) -> None:
    victim = job_pod_manifest(service_state=TERMINATED_NAT)
    victim["metadata"]["name"] = VICTIM_POD
    world.cluster.add("v1/pods", "ci", victim)
    result = world.run(world.env(HOSTNAME=VICTIM_POD))
    out = result.stdout + result.stderr
    assert result.returncode == 75, out
    reads = [r.path for r in world.cluster.requests() if r.method == "GET" and "/pods/" in r.path]
    assert reads and all(VICTIM_POD not in path for path in reads), reads
    assert not _paused(world, OTHER_RUNNER) and world.node_patches() == []


def test_a_node_root_the_job_made_is_job_side_evidence(world: World) -> None:
    made = centos8_node(world.tmp / "job-made-root")
    result = world.run(world.env(DIND_PREFLIGHT_NODE_ROOT=str(made)))
    out = result.stdout + result.stderr
    assert result.returncode == 75, out
    assert "quarantine allowed" not in out, out
    assert world.runner_writes() == [] and world.node_patches() == []


def test_the_admins_read_only_node_root_is_node_side_evidence(world: World) -> None:
    world.admin["node_root"] = str(world.tmp / "host")
    made = centos8_node(world.tmp / "node-source")
    result = world.run(world.env(), read_only=((made, str(world.tmp / "host")),))
    out = result.stdout + result.stderr
    assert result.returncode == 75, out
    assert "the node's own root, mounted read-only" in out, out
    assert _paused(world, RUNNER_ID)
