"""Jobs with the agent: a fresh DindReady on the job's node replaces the helper pod (run and
diagnose both diagnose through diagnose_in_cluster); a stale one does not."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

from preflight.kube.diagnose import diagnose_in_cluster
from preflight.kube.settings import KubeSettings
from preflight.probe.model import ProbeResult, Verdict
from tests.admin.support import trusted_anchors
from tests.fleet.conftest import node_object
from tests.kube.conftest import JOB_ID, JOB_POD, NODE, TERMINATED_NAT, job_pod_manifest
from tests.kube.failing_daemons import saved_log
from tests.kube.fake_cluster import FakeCluster

REFUSED = ProbeResult(
    verdict=Verdict.REFUSED, docker_host="tcp://docker:2375", elapsed_s=0.02, detail="refused"
)
# The job's RBAC in fleet mode (deploy/rbac/fleet-mode/job-readonly.yaml plus the job Role without
# pods create): read its pod and the dind log, read nodes. No pods create, no nodes patch.
FLEET_JOB_RBAC = {("get", "pods"), ("get", "pods/log"), ("watch", "pods"), ("get", "nodes")}


MESSAGES = {
    # What the agent writes: a sentence, then the facts it stands for (readiness.stated).
    "False": "iptable_nat is blocked (an install rule, module_blacklist= or a blacklisted "
    "alias): /etc/modprobe.d/hardening.conf:3: install iptable_nat /bin/false "
    "[checked legacy,nf_tables: iptable_nat=blocked iptable_filter=loaded "
    "nft_chain_nat=not-loaded]",
    "True": "iptable_nat, iptable_filter loaded (legacy iptables backend) "
    "[checked legacy,nf_tables: iptable_nat=loaded iptable_filter=loaded "
    "nft_chain_nat=not-loaded]",
}


def _ago(seconds: float) -> str:
    when = datetime.datetime.now(tz=datetime.UTC) - datetime.timedelta(seconds=seconds)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def conditions(now: str, reason: str, age_s: float) -> list[dict[str, Any]]:
    beat = _ago(age_s)
    return [
        {
            "type": "DindReady",
            "status": now,
            "reason": reason,
            "message": MESSAGES[now],
            "lastHeartbeatTime": beat,
            "lastTransitionTime": beat,
        },
        {
            "type": "DindReadyAfterReboot",
            "status": "False",
            "reason": "EtcModulesNotRead",
            "message": "x",
            "lastHeartbeatTime": beat,
            "lastTransitionTime": beat,
        },
    ]


def setup(cluster: FakeCluster, node_conditions: list[dict[str, Any]]) -> KubeSettings:
    cluster.add("v1/nodes", None, node_object(NODE, node_conditions))
    cluster.add("v1/pods", "ci", job_pod_manifest(service_state=TERMINATED_NAT))
    # A dind log without a known signature: the node evidence decides.
    # dind died on the legacy nat table: the log says so, the node's own condition confirms.
    cluster.set_log(JOB_POD, "svc-0", saved_log("legacy-nat-missing"))
    cluster.allow_only(FLEET_JOB_RBAC)
    cluster.identity = (JOB_POD, NODE)  # the job pod's bound token
    return KubeSettings(
        timeout=10.0,
        pod_name=JOB_POD,
        job_id=JOB_ID,
        kubeconfig=str(cluster.kubeconfig()),
        proc="/nonexistent-proc",
        anchors=trusted_anchors(),
    )


def pod_creates(cluster: FakeCluster) -> int:
    return len([r for r in cluster.requests() if r.method == "POST" and r.path.endswith("/pods")])


def test_fresh_condition_is_used_and_no_helper_pod_is_started(cluster: FakeCluster) -> None:
    settings = setup(cluster, conditions("False", "IptableNatMissing", age_s=30))
    diagnosis = diagnose_in_cluster(REFUSED, settings)
    assert diagnosis.cause.code == "iptable_nat-missing"
    assert diagnosis.evidence_source == "node-condition"
    assert diagnosis.quarantine.allowed, diagnosis.quarantine.reason  # node-side evidence
    assert diagnosis.helper_pod is None
    assert pod_creates(cluster) == 0
    assert not any("pods" in text and "create" in text for text in diagnosis.limitations)


def test_fresh_ready_condition_clears_the_node(cluster: FakeCluster) -> None:
    settings = setup(cluster, conditions("True", "ModulesLoaded", age_s=30))
    diagnosis = diagnose_in_cluster(REFUSED, settings)
    assert diagnosis.evidence_source == "node-condition"
    # The log blames the module, the node's own condition says it is there: no quarantine.
    assert not diagnosis.quarantine.allowed
    assert pod_creates(cluster) == 0


def test_stale_condition_is_not_used(cluster: FakeCluster, tmp_path: Path) -> None:
    settings = setup(cluster, conditions("True", "ModulesLoaded", age_s=3 * 300))
    diagnosis = diagnose_in_cluster(REFUSED, settings)
    assert diagnosis.evidence_source != "node-condition"
    assert pod_creates(cluster) == 1  # tried the helper pod (refused by RBAC: 403)
    assert any("cannot create pods" in text for text in diagnosis.limitations)
