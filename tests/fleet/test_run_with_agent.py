"""`dind-preflight run` on a node whose agent says DindReady=False: the job reads the condition
(with the fleet-mode RBAC, which has no `pods create`), starts no helper pod, and exits 75."""

from __future__ import annotations

import datetime
import ssl
import subprocess
from pathlib import Path

import trustme

from tests.admin.support import needs_mount_namespace
from tests.fleet.conftest import node_object
from tests.gitlab.fake_gitlab import FakeGitLab
from tests.kube.conftest import JOB_POD, NODE, TERMINATED_NAT, job_pod_manifest
from tests.kube.failing_daemons import saved_log
from tests.kube.fake_cluster import FakeCluster
from tests.run.test_run_kubernetes import (
    INCIDENTS,
    JOB_ID,
    JOB_TOKEN,
    RUNNER_ID,
    TOKEN,
    job_environment,
    run_command,
)

FLEET_JOB_RBAC = {("get", "pods"), ("watch", "pods"), ("get", "pods/log"), ("get", "nodes")}


def fresh_broken_conditions() -> list[dict[str, str]]:
    beat = (datetime.datetime.now(tz=datetime.UTC) - datetime.timedelta(seconds=20)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    return [
        {
            "type": "DindReady",
            "status": "False",
            "reason": "IptableNatMissing",
            "message": "iptable_nat is blocked (an install rule, module_blacklist= or a "
            "blacklisted alias) [checked legacy,nf_tables: iptable_nat=blocked "
            "iptable_filter=loaded nft_chain_nat=not-loaded]",
            "lastHeartbeatTime": beat,
            "lastTransitionTime": beat,
        },
        {
            "type": "DindReadyAfterReboot",
            "status": "False",
            "reason": "EtcModulesNotRead",
            "message": "iptable_nat will not load at boot [checked legacy,nf_tables: "
            "iptable_nat=blocked iptable_filter=at-boot nft_chain_nat=first-use]",
            "lastHeartbeatTime": beat,
            "lastTransitionTime": beat,
        },
    ]


@needs_mount_namespace
def test_run_with_a_fresh_condition_starts_no_helper_pod(
    tls_cluster: tuple[FakeCluster, Path], tmp_path: Path
) -> None:
    cluster, sa = tls_cluster
    (sa / "namespace").write_text("ci")
    cluster.identity = (JOB_POD, NODE)  # the job pod's bound token
    ca = trustme.CA()  # the admin's CA for GitLab (run_command names sa.parent / "ca.crt")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    ca.cert_pem.write_to_path(str(sa.parent / "ca.crt"))
    fake_gitlab = FakeGitLab(ssl_context=context).start()
    try:
        _run_with_agent(cluster, sa, fake_gitlab, tmp_path)
    finally:
        fake_gitlab.stop()


def _run_with_agent(
    cluster: FakeCluster, sa: Path, fake_gitlab: FakeGitLab, tmp_path: Path
) -> None:
    fake_gitlab.add_token(TOKEN, scopes=("api",), admin=True)
    fake_gitlab.add_runner(RUNNER_ID, description="k8s-runner-a")
    fake_gitlab.add_project(INCIDENTS)
    fake_gitlab.add_job(JOB_TOKEN, JOB_ID, RUNNER_ID)
    cluster.add("v1/nodes", None, node_object(NODE, fresh_broken_conditions()))
    cluster.add("v1/pods", "ci", job_pod_manifest(service_state=TERMINATED_NAT))
    cluster.set_log(JOB_POD, "svc-0", saved_log("legacy-nat-missing"))
    cluster.allow_only(FLEET_JOB_RBAC)
    env = job_environment(cluster, sa, fake_gitlab, tmp_path / "reports")
    result = subprocess.run(
        run_command(cluster, sa, fake_gitlab),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    out = result.stdout + result.stderr
    assert result.returncode == 75, out
    assert "iptable_nat" in result.stdout.splitlines()[0]
    assert not [r for r in cluster.requests() if r.method == "POST" and r.path.endswith("/pods")]
    assert "create pods" not in out  # nothing was even attempted, so nothing was denied
    node_reads = [
        r for r in cluster.requests() if r.path == f"/api/v1/nodes/{NODE}" and r.method == "GET"
    ]
    assert node_reads  # the condition was read (the action may also try the taint: denied here)
