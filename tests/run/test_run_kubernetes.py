"""`dind-preflight run` in Kubernetes mode, as a real process inside a (fake) job pod.

The job's dind service dies while the probe waits; `run` learns it from the Kubernetes API (not
by waiting out its timeout), diagnoses with a helper pod on the node, pauses the runner or
taints the node, files one issue, writes the job's reports and exits 75. The Kubernetes API is
the kmock-based fake over TLS with a service-account token, GitLab the stateful fake; both are
reached through their real clients.
"""

from __future__ import annotations

import json
import os
import re
import ssl
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from tests.admin.support import in_admin_namespace, needs_mount_namespace
from tests.gitlab.fake_gitlab import FakeGitLab
from tests.harness.dockerd import free_port
from tests.kube.conftest import HELPER_IMAGE, JOB_POD, NODE, TERMINATED_NAT, job_pod_manifest
from tests.kube.failing_daemons import saved_log
from tests.kube.fake_cluster import FakeCluster, FakeKubelet, finishes, running_cluster
from tests.kube.node_roots import centos8_node, node_report_output

TOKEN = "glpat-RunK8sOnlyT0ken-77aa11"
SA_TOKEN = "eyJhbGciOiJSUzI1NiJ9.run-test-service-account"
RUNNER_ID = 42
JOB_ID = 5150
INCIDENTS = "infra/runner-incidents"
TIMEOUT_S = 20  # the probe's own timeout: the death watch must end the wait long before it
pytestmark = needs_mount_namespace  # the admin's file at its fixed path: a mount namespace


JOB_TOKEN = "glcbt-64_RunK8sJobT0ken-5150"


@pytest.fixture
def tls(tmp_path: Path) -> tuple[ssl.SSLContext, Path]:
    """One CA for the fake API server and the fake GitLab (the admin's CA file for GitLab)."""
    ca = trustme.CA()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    ca_file = tmp_path / "ca.crt"
    ca.cert_pem.write_to_path(str(ca_file))
    return context, ca_file


@pytest.fixture
def cluster(tmp_path: Path, tls: tuple[ssl.SSLContext, Path]) -> Iterator[tuple[FakeCluster, Path]]:
    """The fake API over TLS and the job pod's service-account directory for it."""
    context, ca_file = tls
    sa = tmp_path / "serviceaccount"
    sa.mkdir()
    (sa / "token").write_text(SA_TOKEN)
    (sa / "namespace").write_text("ci")
    (sa / "ca.crt").write_bytes(ca_file.read_bytes())
    with running_cluster(tmp_path / "cluster", tls=context) as fake:
        fake.identity = (JOB_POD, NODE)  # what the job pod's bound token says
        yield fake, sa
        assert fake.helper_pods() == [], "a helper pod was left behind"


@pytest.fixture
def gitlab(tls: tuple[ssl.SSLContext, Path]) -> Iterator[tuple[FakeGitLab, int]]:
    fake = FakeGitLab(ssl_context=tls[0]).start()
    try:
        fake.add_token(TOKEN, scopes=("api",), admin=True)
        fake.add_runner(RUNNER_ID, description="k8s-runner-a")
        fake.add_job(JOB_TOKEN, JOB_ID, RUNNER_ID)
        yield fake, fake.add_project(INCIDENTS)
    finally:
        fake.stop()
    assert not fake.errors, fake.errors


def job_environment(
    fake_cluster: FakeCluster, sa: Path, fake: FakeGitLab, artifacts: Path, **extra: str
) -> dict[str, str]:
    """What a job pod's build container sees: the runner's and GitLab's variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "KUBE", "CI_"))}
    env = {k: v for k, v in env.items() if not k.startswith("DIND_PREFLIGHT_")}
    env.update(
        {
            "KUBERNETES_SERVICE_HOST": "127.0.0.1",
            "KUBERNETES_SERVICE_PORT": fake_cluster.url.rsplit(":", 1)[1],
            "HOSTNAME": JOB_POD,
            "DOCKER_HOST": f"tcp://127.0.0.1:{free_port()}",  # the dead dind: nothing listens
            "DIND_PREFLIGHT_TIMEOUT": str(TIMEOUT_S),
            "DIND_PREFLIGHT_ARTIFACTS_DIR": str(artifacts),
            "DIND_PREFLIGHT_REPORT_PROJECT": INCIDENTS,
            "GITLAB_CI": "true",  # a GitLab job: the log gets collapsible sections
            "CI_SERVER_URL": fake.url,
            "CI_API_V4_URL": fake.api_url,
            "CI_SERVER_HOST": "127.0.0.1",
            "CI_RUNNER_ID": str(RUNNER_ID),  # ignored: GET /job names the runner
            "CI_RUNNER_DESCRIPTION": "k8s-runner-a",
            "CI_JOB_ID": str(JOB_ID),
            "CI_JOB_TOKEN": JOB_TOKEN,
            "CI_JOB_URL": f"{fake.url}/acme/app/-/jobs/{JOB_ID}",
            "CI_PROJECT_PATH": "acme/app",
        }
    )
    env.update(extra)
    return env


def run_command(fake_cluster: FakeCluster, sa: Path, fake: FakeGitLab) -> list[str]:
    """`run` in a job pod whose runner mounts the admin's file (the GitLab, its CA, the token
    file, the helper image) and the service account at their fixed paths."""
    workdir = Path(tempfile.mkdtemp(prefix="run-k8s-", dir=sa.parent))
    secret = workdir / "secret"
    secret.mkdir()
    (secret / "gitlab-token").write_text(TOKEN)
    admin = {
        "gitlab_url": fake.url,
        "gitlab_ca_file": str(sa.parent / "ca.crt"),
        "token_file": str(secret / "gitlab-token"),
        "helper_images": [HELPER_IMAGE],
        "api_server": "127.0.0.1:" + fake_cluster.url.rsplit(":", 1)[1],
    }
    return in_admin_namespace(
        [sys.executable, "-m", "preflight", "run"],
        workdir / "ns",
        config=admin,
        service_account=sa,
    )


def run_until_dind_dies(
    fake_cluster: FakeCluster, env: dict[str, str], node_root: Path, command: list[str]
) -> tuple[subprocess.CompletedProcess[str], float]:
    """Start `run` while dind is starting; kill dind (per Kubernetes); time to the exit."""
    fake_cluster.add("v1/pods", "ci", job_pod_manifest())
    fake_cluster.set_log(JOB_POD, "svc-0", saved_log("legacy-nat-missing"))
    _, output = node_report_output(node_root)
    with FakeKubelet(fake_cluster, finishes(output, exit_code=1)):
        process = subprocess.Popen(
            command,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            time.sleep(1.0)  # the probe is waiting for dind, which is still "running"
            assert process.poll() is None, process.communicate()
            status = job_pod_manifest(service_state=TERMINATED_NAT)["status"]
            died = time.monotonic()
            fake_cluster.patch_status(JOB_POD, {"containerStatuses": status["containerStatuses"]})
            stdout, stderr = process.communicate(timeout=TIMEOUT_S + 30)
            elapsed = time.monotonic() - died
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr), elapsed


def test_dead_dind_in_kubernetes_pauses_the_runner_files_one_issue_and_exits_75(
    cluster: tuple[FakeCluster, Path], gitlab: tuple[FakeGitLab, int], tmp_path: Path
) -> None:
    fake_cluster, sa = cluster
    fake, incidents = gitlab
    artifacts = tmp_path / "reports"
    env = job_environment(fake_cluster, sa, fake, artifacts)
    result, elapsed = run_until_dind_dies(
        fake_cluster, env, centos8_node(tmp_path / "node"), run_command(fake_cluster, sa, fake)
    )
    out = result.stdout + result.stderr

    assert result.returncode == 75, out
    print(f"[measure] dead service container -> exit 75: {elapsed:.2f} s")
    # It stopped waiting because Kubernetes said so, not because its own timeout ran out.
    assert "stopped waiting: Kubernetes reports the dind service container svc-0" in result.stdout
    assert elapsed < TIMEOUT_S, f"run waited {elapsed:.1f} s after Kubernetes reported dind dead"
    first = result.stdout.splitlines()[0]
    assert first.startswith("dind-preflight: FAILED:") and NODE in first and "exit 75" in first
    assert "section_start:" in result.stdout and "section_end:" in result.stdout
    # A GitLab job: the summary line, three sections (evidence collapsed), what was done.
    assert result.stdout.count("section_start:") == 3
    assert ":dind_preflight_seen[collapsed=true]" in result.stdout
    print(f"[measure] Kubernetes run log: {len(result.stdout.splitlines())} lines")
    assert len(result.stdout.splitlines()) <= 60, result.stdout
    assert "/etc/modules-load.d/iptable_nat.conf" in result.stdout
    assert "Traceback" not in out and TOKEN not in out and SA_TOKEN not in out

    # The runner is paused once, with a note naming the node and the cause.
    writes = fake.runner_writes(RUNNER_ID)
    assert len(writes) == 1 and writes[0].body["paused"] is True
    assert NODE in writes[0].body["maintenance_note"]
    # One issue for (node, cause), carrying the remedy.
    issues = fake.project_issues(incidents, state="opened")
    assert len(issues) == 1
    assert NODE in issues[0]["title"] and "iptable_nat" in issues[0]["title"]
    assert "/etc/modules-load.d/iptable_nat.conf" in issues[0]["description"]
    # The helper pod ran on the job's node and is gone; the node was not tainted.
    helpers = [
        r for r in fake_cluster.requests() if r.method == "POST" and r.path.endswith("/pods")
    ]
    assert len(helpers) == 1 and helpers[0].data["spec"]["nodeName"] == NODE
    assert not [r for r in fake_cluster.requests() if "/nodes/" in r.path and r.method == "PATCH"]
    # The job's reports.
    links = json.loads((artifacts / "annotations.json").read_text())["dind_preflight"]
    assert any(link["external_link"]["url"] == issues[0]["web_url"] for link in links)
    failures = ET.parse(artifacts / "junit.xml").getroot().findall(".//testcase/failure")
    assert failures, "the JUnit report shows no failed check"


def test_taint_node_action_taints_instead_of_pausing(
    cluster: tuple[FakeCluster, Path], gitlab: tuple[FakeGitLab, int], tmp_path: Path
) -> None:
    fake_cluster, sa = cluster
    fake, _ = gitlab
    fake_cluster.add(
        "v1/nodes", None, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": NODE}}
    )
    env = job_environment(
        fake_cluster, sa, fake, tmp_path / "reports", DIND_PREFLIGHT_ACTION="taint-node"
    )
    result, _ = run_until_dind_dies(
        fake_cluster, env, centos8_node(tmp_path / "node"), run_command(fake_cluster, sa, fake)
    )

    assert result.returncode == 75, result.stdout + result.stderr
    assert fake.runner_writes(RUNNER_ID) == []
    node = fake_cluster.get("v1/nodes", None, NODE)
    assert node is not None
    taints = node["spec"]["taints"]
    assert [t["effect"] for t in taints] == ["NoSchedule"]
    assert "dind-preflight" in taints[0]["key"] and taints[0]["value"] == "iptable_nat-missing"
    assert "taint" in result.stdout.splitlines()[0]


def test_the_nat_log_outweighs_a_module_loaded_since(
    cluster: tuple[FakeCluster, Path], gitlab: tuple[FakeGitLab, int], tmp_path: Path
) -> None:
    """dind died with the nat log, and by the time the helper pod looks someone has loaded
    iptable_nat (and made it persistent): the node is still named (low confidence), the job is
    retried and an issue filed, but the node's own report contradicts the log, so nothing is
    paused or tainted."""
    fake_cluster, sa = cluster
    fake, incidents = gitlab
    env = job_environment(fake_cluster, sa, fake, tmp_path / "reports")
    node_root = centos8_node(tmp_path / "node", fixed=True)
    result, _ = run_until_dind_dies(
        fake_cluster, env, node_root, run_command(fake_cluster, sa, fake)
    )

    assert result.returncode == 75, result.stdout + result.stderr
    first = result.stdout.splitlines()[0]
    assert "(node fault, low confidence)" in first
    assert re.search(r"\n +iptable_nat +loaded +yes ", result.stdout), result.stdout
    # the headline says both the log's moment and the node's now, never "is not loaded" alone
    assert first.split("): ", 1)[1].startswith(
        "iptable_nat was not loaded when dind started (legacy iptables has no nat table, says "
        "the dind log); the node report says iptable_nat is loaded now"
    ), first
    assert "The node's kernel module iptable_nat is not loaded" not in result.stdout
    assert "quarantine NOT allowed: the node's own report contradicts the cause" in result.stdout
    assert fake.runner_writes(RUNNER_ID) == []
    assert len(fake.project_issues(incidents, state="opened")) == 1


def test_auto_taints_when_the_job_may_and_pauses_when_it_may_not(
    cluster: tuple[FakeCluster, Path], gitlab: tuple[FakeGitLab, int], tmp_path: Path
) -> None:
    """DIND_PREFLIGHT_ACTION=auto (the default): the node's taint when the job's service account
    may patch nodes; the runner's pause when the API refuses the patch."""
    fake_cluster, sa = cluster
    fake, _ = gitlab
    fake_cluster.add(
        "v1/nodes", None, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": NODE}}
    )
    env = job_environment(fake_cluster, sa, fake, tmp_path / "reports")
    env.pop("DIND_PREFLIGHT_ACTION", None)
    result, _ = run_until_dind_dies(
        fake_cluster, env, centos8_node(tmp_path / "node"), run_command(fake_cluster, sa, fake)
    )
    assert result.returncode == 75, result.stdout + result.stderr
    node = fake_cluster.get("v1/nodes", None, NODE)
    assert node is not None and node["spec"]["taints"][0]["value"] == "iptable_nat-missing"
    assert fake.runner_writes(RUNNER_ID) == []

    fake_cluster.deny("patch", "nodes")
    fake.age(600)  # past the grace in which the issue's opener owns the runner
    fake_cluster.add(
        "v1/nodes", None, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": NODE}}
    )
    again, _ = run_until_dind_dies(
        fake_cluster, env, centos8_node(tmp_path / "node2"), run_command(fake_cluster, sa, fake)
    )
    assert again.returncode == 75, again.stdout + again.stderr
    assert "not applied" in again.stdout, again.stdout
    assert [w.body["paused"] for w in fake.runner_writes(RUNNER_ID)] == [True], again.stdout


@pytest.mark.parametrize("signum", [15, 2], ids=["SIGTERM", "SIGINT"])
def test_a_signal_during_the_helper_pod_deletes_it_and_says_so(
    cluster: tuple[FakeCluster, Path],
    gitlab: tuple[FakeGitLab, int],
    tmp_path: Path,
    signum: int,
) -> None:
    """Cancelled while the helper pod is pending: the pod is deleted (the fixture checks none is
    left), one line says so, the exit code is 128 + the signal, nothing reached GitLab."""
    from tests.kube.fake_cluster import stays_pending

    fake_cluster, sa = cluster
    fake, _ = gitlab
    env = job_environment(fake_cluster, sa, fake, tmp_path / "reports")
    fake_cluster.add("v1/pods", "ci", job_pod_manifest(service_state=TERMINATED_NAT))
    fake_cluster.set_log(JOB_POD, "svc-0", saved_log("legacy-nat-missing"))
    with FakeKubelet(fake_cluster, stays_pending()):
        process = subprocess.Popen(
            run_command(fake_cluster, sa, fake),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 20
            while not fake_cluster.helper_pods() and time.monotonic() < deadline:
                time.sleep(0.02)
            assert fake_cluster.helper_pods(), "the helper pod was never created"
            process.send_signal(signum)
            stdout, stderr = process.communicate(timeout=20)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert process.returncode == 128 + signum, stdout + stderr
    (line,) = [text for text in stderr.splitlines() if text.strip()]
    name = "SIGTERM" if signum == 15 else "SIGINT"
    assert line.startswith(f"dind-preflight: stopped by {name} during the diagnosis"), line
    assert "helper pod" in line and "deleted" in line
    assert fake.recorded == []
