"""The whole in-cluster diagnosis against the fake API: discovery, service evidence, helper pod,
fallbacks when permissions are missing, and the time to a verdict."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from preflight.diagnosis.model import Confidence, Diagnosis, FaultClass
from preflight.exitcodes import ExitCode
from preflight.kube.diagnose import diagnose_in_cluster
from preflight.kube.service import ServiceDeathWatch
from preflight.kube.settings import KubeSettings
from preflight.probe.model import ProbeResult, Verdict
from tests.kube.conftest import BUILD_IMAGE, JOB_POD, NODE, TERMINATED_NAT
from tests.kube.failing_daemons import saved_log
from tests.kube.fake_cluster import (
    FakeCluster,
    FakeKubelet,
    finishes,
    image_pull_fails,
    oom_killed,
    rejected,
)
from tests.kube.node_roots import centos8_node, node_report_output

REFUSED = ProbeResult(
    verdict=Verdict.REFUSED,
    docker_host="tcp://docker:2375",
    elapsed_s=0.02,
    detail="connection refused",
)
AddPod = Callable[..., dict[str, Any]]


@pytest.fixture
def job_proc(tmp_path: Path) -> Path:
    """The job's own /proc on the field-report node: the kernel is shared, iptable_nat absent."""
    proc = tmp_path / "job-proc"
    (proc / "sys/kernel").mkdir(parents=True)
    (proc / "net").mkdir()
    (proc / "modules").write_text("overlay 135168 4 - Live 0x0000000000000000\n")
    (proc / "sys/kernel/osrelease").write_text("4.18.0-348.7.1.el8_5.x86_64\n")
    (proc / "net/ip_tables_names").write_text("")
    return proc


@pytest.fixture
def node_output(tmp_path: Path) -> str:
    return node_report_output(centos8_node(tmp_path / "node"))[1]


@pytest.fixture
def fixed_node_output(tmp_path: Path) -> str:
    return node_report_output(centos8_node(tmp_path / "fixed", fixed=True))[1]


def terminated_with(
    cluster: FakeCluster, add_job_pod: AddPod, log_name: str, **kwargs: Any
) -> None:
    add_job_pod(service_state=TERMINATED_NAT, **kwargs)
    cluster.set_log(JOB_POD, "svc-0", saved_log(log_name))


def posts(cluster: FakeCluster) -> int:
    return len([r for r in cluster.requests() if r.method == "POST" and r.path.endswith("/pods")])


def test_terminated_with_nat_log_is_iptable_nat_in_well_under_a_second(
    cluster: FakeCluster, add_job_pod: AddPod, settings: KubeSettings, node_output: str
) -> None:
    """The flow of `run`: the death watch is connected while the probe waits; dind dies; from
    Kubernetes reporting the termination to the Diagnosis (helper pod included)."""
    add_job_pod()
    watch = ServiceDeathWatch(settings, min_interval=0.0)
    assert watch.poll() is None  # dind still starting
    cluster.set_log(JOB_POD, "svc-0", saved_log("legacy-nat-missing"))
    with FakeKubelet(cluster, finishes(node_output, exit_code=1)):
        cluster.patch_status(JOB_POD, {"containerStatuses": [_svc_status(TERMINATED_NAT)]})
        started = time.monotonic()
        dead = watch.poll()
        diagnosis = diagnose_in_cluster(REFUSED, settings, service_hint=dead, context=watch.context)
        elapsed = time.monotonic() - started
    print(
        f"\n[measure] service terminated -> diagnosis (helper pod included): {elapsed * 1000:.0f} ms"
    )
    assert (diagnosis.cause.code, diagnosis.fault, diagnosis.confidence) == (
        "iptable_nat-missing",
        FaultClass.NODE,
        Confidence.HIGH,
    )
    assert diagnosis.cause.module == "iptable_nat"
    # Decided by the evidence, not by running out the budget (median ~0.15 s: no tight bound).
    assert elapsed < settings.timeout
    assert diagnosis.exit_code == ExitCode.TEMPFAIL
    assert (diagnosis.node, diagnosis.pod, diagnosis.namespace) == (NODE, JOB_POD, "ci")
    assert diagnosis.evidence_source == "helper-pod"
    assert diagnosis.helper_pod is not None and diagnosis.helper_pod.startswith(
        "dind-preflight-node-987654-"
    )
    assert diagnosis.service is not None and diagnosis.service.state == "terminated"
    assert diagnosis.service.matches[0].signature == "iptables-legacy-nat-table-missing"
    assert diagnosis.node_report is not None
    assert diagnosis.node_report.modules["iptable_nat"].loaded is False
    # The node report's own remedy: the fix that worked in the field report.
    assert diagnosis.remedy is not None
    assert diagnosis.remedy.file == "/etc/modules-load.d/iptable_nat.conf"
    assert diagnosis.remedy.content == "iptable_nat\niptable_filter\n"
    assert diagnosis.limitations == []


def test_cold_diagnosis_connects_by_itself(
    cluster: FakeCluster, add_job_pod: AddPod, settings: KubeSettings, node_output: str
) -> None:
    terminated_with(cluster, add_job_pod, "legacy-nat-missing")
    with FakeKubelet(cluster, finishes(node_output, exit_code=1)):
        started = time.monotonic()
        diagnosis = diagnose_in_cluster(REFUSED, settings)
        elapsed = time.monotonic() - started
    print(
        f"\n[measure] diagnose_in_cluster from nothing (connects itself): {elapsed * 1000:.0f} ms"
    )
    assert (diagnosis.cause.code, diagnosis.fault) == ("iptable_nat-missing", FaultClass.NODE)
    assert diagnosis.evidence_source == "helper-pod"
    assert elapsed < settings.timeout  # decided by the evidence, not by running out the budget


def test_without_helper_the_verdict_is_the_same_and_faster(
    cluster: FakeCluster, add_job_pod: AddPod, settings: KubeSettings, job_proc: Path
) -> None:
    terminated_with(cluster, add_job_pod, "legacy-nat-missing")
    quick = dataclasses.replace(settings, use_helper=False, proc=str(job_proc))
    started = time.monotonic()
    diagnosis = diagnose_in_cluster(REFUSED, quick)
    elapsed = time.monotonic() - started
    print(
        f"\n[measure] terminated+nat log -> diagnosis without helper pod: {elapsed * 1000:.0f} ms"
    )
    assert (diagnosis.cause.code, diagnosis.fault) == ("iptable_nat-missing", FaultClass.NODE)
    assert elapsed < settings.timeout  # decided by the evidence, not by running out the budget
    assert posts(cluster) == 0  # faster because no helper pod is created at all
    assert diagnosis.evidence_source == "job-proc"
    assert any("--no-helper" in text for text in diagnosis.limitations)


def test_rbac_denied_get_pods_falls_back_to_the_jobs_own_proc(
    cluster: FakeCluster, add_job_pod: AddPod, settings: KubeSettings, job_proc: Path
) -> None:
    terminated_with(cluster, add_job_pod, "legacy-nat-missing")
    cluster.deny("get", "pods")
    diagnosis = diagnose_in_cluster(REFUSED, dataclasses.replace(settings, proc=str(job_proc)))
    # The job's /proc says iptable_nat is not loaded: alone, that establishes nothing.
    assert (diagnosis.cause.code, diagnosis.fault, diagnosis.confidence) == (
        "not-established",
        FaultClass.UNKNOWN,
        Confidence.LOW,
    )
    assert [c.module for c in diagnosis.possible_causes] == ["iptable_nat", "iptable_filter"]
    assert diagnosis.quarantine.allowed is False
    assert diagnosis.evidence_source == "job-proc"
    assert diagnosis.node is None and diagnosis.pod == JOB_POD
    (limitation,) = diagnosis.limitations
    assert limitation.startswith("cannot get pods in namespace ci: forbidden (403)")
    assert "grant verb 'get' on 'pods' in namespace ci" in limitation
    assert posts(cluster) == 0


def test_rbac_denied_log_still_uses_state_and_helper(
    cluster: FakeCluster, add_job_pod: AddPod, settings: KubeSettings, node_output: str
) -> None:
    terminated_with(cluster, add_job_pod, "legacy-nat-missing")
    cluster.deny("get", "pods/log")
    with FakeKubelet(cluster, finishes(node_output, exit_code=1)):
        diagnosis = diagnose_in_cluster(REFUSED, settings)
    # Service log and helper log are both pods/log: the helper's report is lost too.
    assert diagnosis.service is not None and diagnosis.service.state == "terminated"
    assert diagnosis.service.log_tail == []
    assert any(
        text.startswith("dind service log: cannot get pods/log") for text in diagnosis.limitations
    )
    assert any("helper pod: cannot get pods/log" in text for text in diagnosis.limitations)
    assert diagnosis.evidence_source in ("job-proc", "none")


def test_no_api_at_all(settings: KubeSettings, job_proc: Path) -> None:
    offline = dataclasses.replace(settings, kubeconfig=None, proc=str(job_proc))
    diagnosis = diagnose_in_cluster(REFUSED, offline)
    assert diagnosis.cause.code == "not-established" and diagnosis.confidence is Confidence.LOW
    assert diagnosis.quarantine.allowed is False
    assert diagnosis.limitations[0].startswith("no Kubernetes API: not running in a pod")
    assert diagnosis.evidence_source == "job-proc"


@pytest.mark.parametrize(
    ("scenario", "words"),
    [
        (rejected(), "could not run on the node"),
        (image_pull_fails(), "could not be pulled"),
        (oom_killed(), "helper pod was OOM-killed (OOMKilled: exit 137): node-report needed more"),
    ],
    ids=["unschedulable", "image-pull", "oom-killed"],
)
def test_helper_that_cannot_run_is_reported_and_falls_back(
    cluster: FakeCluster,
    add_job_pod: AddPod,
    settings: KubeSettings,
    job_proc: Path,
    scenario: Any,
    words: str,
) -> None:
    terminated_with(cluster, add_job_pod, "legacy-nat-missing")
    with FakeKubelet(cluster, scenario):
        diagnosis = diagnose_in_cluster(REFUSED, dataclasses.replace(settings, proc=str(job_proc)))
    assert diagnosis.cause.code == "iptable_nat-missing"
    assert diagnosis.evidence_source == "job-proc"
    assert any(words in text for text in diagnosis.limitations)
    assert cluster.helper_pods() == []


def test_runner_fault_needs_no_helper(
    cluster: FakeCluster, add_job_pod: AddPod, settings: KubeSettings
) -> None:
    terminated_with(cluster, add_job_pod, "not-privileged")
    diagnosis = diagnose_in_cluster(REFUSED, settings)
    assert (diagnosis.cause.code, diagnosis.fault) == ("not-privileged", FaultClass.RUNNER)
    assert posts(cluster) == 0
    assert diagnosis.evidence_source == "none"


def test_crash_loop_reads_the_previous_log(
    cluster: FakeCluster, add_job_pod: AddPod, settings: KubeSettings, node_output: str
) -> None:
    add_job_pod(
        service_state={"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 20s"}},
        restarts=2,
        last_state=TERMINATED_NAT,
    )
    cluster.set_log(JOB_POD, "svc-0", saved_log("legacy-nat-missing"), previous=True)
    with FakeKubelet(cluster, finishes(node_output, exit_code=1)):
        diagnosis = diagnose_in_cluster(REFUSED, settings)
    assert diagnosis.cause.code == "iptable_nat-missing"
    assert diagnosis.service is not None and diagnosis.service.reason == "CrashLoopBackOff"
    log_reads = [r for r in cluster.requests() if r.path.endswith(f"{JOB_POD}/log")]
    assert log_reads[0].params["previous"] == "true"
    assert log_reads[0].params["tailLines"] == "200"


def test_dead_service_on_a_fixed_node_is_not_blamed_on_the_node(
    cluster: FakeCluster, add_job_pod: AddPod, settings: KubeSettings, fixed_node_output: str
) -> None:
    add_job_pod(service_state={"terminated": {"exitCode": 2, "reason": "Error"}})
    cluster.set_log(JOB_POD, "svc-0", 'level=info msg="Starting up"\nsomething unexpected\n')
    with FakeKubelet(cluster, finishes(fixed_node_output, exit_code=0)):
        diagnosis = diagnose_in_cluster(REFUSED, settings)
    assert (diagnosis.cause.code, diagnosis.fault) == ("dind-exited", FaultClass.UNKNOWN)
    assert diagnosis.exit_code == ExitCode.UNAVAILABLE
    assert "something unexpected" in diagnosis.cause.summary
    assert diagnosis.evidence_source == "helper-pod"


def test_job_without_dind_service(
    cluster: FakeCluster, add_job_pod: AddPod, settings: KubeSettings, fixed_node_output: str
) -> None:
    add_job_pod(with_service=False)
    with FakeKubelet(cluster, finishes(fixed_node_output, exit_code=0)):
        diagnosis = diagnose_in_cluster(REFUSED, settings)
    assert (diagnosis.cause.code, diagnosis.fault) == ("no-dind-service", FaultClass.JOB)
    assert any("no dind service container found" in text for text in diagnosis.limitations)


def test_tls_port_mismatch_from_the_real_tls_daemon_log(
    cluster: FakeCluster, add_job_pod: AddPod, settings: KubeSettings
) -> None:
    add_job_pod()
    log = saved_log("tls-daemon")
    cluster.set_log(JOB_POD, "svc-0", log)
    diagnosis = diagnose_in_cluster(REFUSED, settings)  # DOCKER_HOST names 2375
    assert (diagnosis.cause.code, diagnosis.fault) == ("tls-port-mismatch", FaultClass.JOB)
    assert diagnosis.exit_code == ExitCode.CONFIG
    assert "port 2375" in diagnosis.cause.summary
    assert posts(cluster) == 0  # the job's own configuration: the node is not the question


def test_configured_service_container(
    cluster: FakeCluster, add_job_pod: AddPod, settings: KubeSettings
) -> None:
    add_job_pod(service_name="engine", service_image="corp/engine:1", service_state=TERMINATED_NAT)
    cluster.set_log(JOB_POD, "engine", saved_log("not-privileged"))
    found = diagnose_in_cluster(REFUSED, dataclasses.replace(settings, service_container="engine"))
    assert found.cause.code == "not-privileged"
    assert found.service is not None and found.service.container == "engine"


def test_death_watch_notices_the_service_dying(
    cluster: FakeCluster, add_job_pod: AddPod, settings: KubeSettings
) -> None:
    add_job_pod()
    now = [0.0]
    watch = ServiceDeathWatch(settings, min_interval=0.5, clock=lambda: now[0])
    assert watch.poll() is None  # running
    gets = len([r for r in cluster.requests() if r.method == "GET"])
    assert watch.poll() is None  # rate-limited: no request
    assert len([r for r in cluster.requests() if r.method == "GET"]) == gets
    cluster.set_log(JOB_POD, "svc-0", saved_log("legacy-nat-missing"))
    cluster.patch_status(JOB_POD, {"containerStatuses": [_svc_status(TERMINATED_NAT)]})
    now[0] = 0.6
    started = time.monotonic()
    dead = watch.poll()
    poll_ms = (time.monotonic() - started) * 1000
    assert dead is not None and dead.state == "terminated" and dead.exit_code == 1
    assert dead.matches[0].cause == "iptable_nat-missing"
    # ... and the diagnosis reuses what the watch saw.
    started = time.monotonic()
    diagnosis = diagnose_in_cluster(
        REFUSED,
        dataclasses.replace(settings, use_helper=False),
        service_hint=dead,
        context=watch.context,
    )
    verdict_ms = (time.monotonic() - started) * 1000
    print(f"\n[measure] death watch poll: {poll_ms:.0f} ms; then diagnosis: {verdict_ms:.0f} ms")
    assert diagnosis.cause.code == "iptable_nat-missing"
    assert poll_ms + verdict_ms < 500


def _svc_status(state: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "svc-0",
        "image": "docker:24.0-dind",
        "imageID": "",
        "ready": False,
        "restartCount": 0,
        "state": state,
    }


def test_death_watch_without_permission_disables_itself(
    cluster: FakeCluster, add_job_pod: AddPod, settings: KubeSettings
) -> None:
    add_job_pod(service_state=TERMINATED_NAT)
    cluster.deny("get", "pods")
    watch = ServiceDeathWatch(settings, min_interval=0.0)
    assert watch.poll() is None
    assert watch.limitation is not None and "grant verb 'get' on 'pods'" in watch.limitation
    before = len(cluster.requests())
    assert watch.poll() is None
    assert len(cluster.requests()) == before


def test_death_watch_without_interval_answers_at_once(
    cluster: FakeCluster, add_job_pod: AddPod, settings: KubeSettings
) -> None:
    add_job_pod(service_state=TERMINATED_NAT)
    cluster.set_log(JOB_POD, "svc-0", saved_log("nft-nat-missing"))
    dead = ServiceDeathWatch(settings, min_interval=0.0).poll()
    assert dead is not None and dead.matches[0].cause == "nft_chain_nat-missing"


def test_diagnosis_json_round_trip(
    cluster: FakeCluster, add_job_pod: AddPod, settings: KubeSettings, node_output: str
) -> None:
    from preflight.jsonable import from_json, to_json

    terminated_with(cluster, add_job_pod, "legacy-nat-missing")
    with FakeKubelet(cluster, finishes(node_output, exit_code=1)):
        diagnosis = diagnose_in_cluster(REFUSED, settings)
    assert from_json(Diagnosis, to_json(diagnosis)) == diagnosis


def test_a_helper_running_the_jobs_own_image_is_not_node_side_evidence(
    cluster: FakeCluster, add_job_pod: AddPod, settings: KubeSettings, node_output: str
) -> None:
    terminated_with(cluster, add_job_pod, "legacy-nat-missing")
    own_image = dataclasses.replace(settings, helper_image=None)  # default: the build image
    with FakeKubelet(cluster, finishes(node_output, exit_code=1)):
        diagnosis = diagnose_in_cluster(REFUSED, own_image)
    helper = next(r for r in cluster.requests() if r.method == "POST" and r.path.endswith("/pods"))
    assert helper.data["spec"]["containers"][0]["image"] == BUILD_IMAGE
    assert diagnosis.cause.code == "iptable_nat-missing"
    assert diagnosis.exit_code == 75  # retried elsewhere, an issue filed ...
    assert diagnosis.quarantine.allowed is False  # ... but nothing paused or tainted
    assert diagnosis.node_trust.startswith(
        f"job-side: the helper pod ran {BUILD_IMAGE.split(':')[0]}"
    )
    assert "not one of the admin's helper image digests" in diagnosis.node_trust
    assert diagnosis.confidence is Confidence.MEDIUM


def test_oom_killed_in_a_crash_loop_is_kubernetes_evidence(
    cluster: FakeCluster, add_job_pod: AddPod, settings: KubeSettings
) -> None:
    add_job_pod(
        service_state={"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 10s"}},
        restarts=3,
        last_state={"terminated": {"exitCode": 137, "reason": "OOMKilled"}},
    )
    diagnosis = diagnose_in_cluster(REFUSED, settings)
    assert (diagnosis.cause.code, diagnosis.fault) == ("service-oom-killed", FaultClass.RUNNER)
    assert diagnosis.quarantine.allowed is True
    assert diagnosis.quarantine.trusted == ["kubernetes: reason OOMKilled (svc-0)"]
    assert posts(cluster) == 0, "Kubernetes' own words need no helper pod"


def test_a_helper_that_ran_another_digest_than_the_admins_is_not_node_side_evidence(
    cluster: FakeCluster, add_job_pod: AddPod, settings: KubeSettings, node_output: str
) -> None:
    """The pod spec names the admin's image, but the node reports another digest (a job-chosen
    image slipped in, or a mutating webhook rewrote it): status.imageID decides."""
    terminated_with(cluster, add_job_pod, "legacy-nat-missing")
    other = "registry.example.com/ci/dind-preflight@sha256:" + "6" * 64
    with FakeKubelet(cluster, finishes(node_output, exit_code=1, image_id=other)):
        diagnosis = diagnose_in_cluster(REFUSED, settings)
    assert diagnosis.cause.code == "iptable_nat-missing"
    assert diagnosis.quarantine.allowed is False
    assert "not one of the admin's helper image digests" in diagnosis.node_trust


def test_a_token_without_pod_claims_or_for_another_pod_does_not_quarantine(
    cluster: FakeCluster, add_job_pod: AddPod, settings: KubeSettings, node_output: str
) -> None:
    terminated_with(cluster, add_job_pod, "legacy-nat-missing")
    cluster.identity = None  # a token before Kubernetes 1.30: no pod or node named
    with FakeKubelet(cluster, finishes(node_output, exit_code=1)):
        diagnosis = diagnose_in_cluster(REFUSED, settings)
    assert diagnosis.quarantine.allowed is False
    assert "does not name its pod and node" in diagnosis.quarantine.reason
    cluster.identity = (JOB_POD, "worker-9")  # the token is on another node than the pod read
    with FakeKubelet(cluster, finishes(node_output, exit_code=1)):
        elsewhere = diagnose_in_cluster(REFUSED, settings)
    assert elsewhere.quarantine.allowed is False
    assert "is not the token's pod" in elsewhere.quarantine.reason


def test_without_the_admins_file_nothing_found_in_cluster_quarantines(
    cluster: FakeCluster, add_job_pod: AddPod, settings: KubeSettings
) -> None:
    """Kubernetes' own record (OOMKilled) would back a pause; without the admin's file the
    diagnosis still says so, but nothing may quarantine, and the reason says why."""
    add_job_pod(
        service_state={"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 10s"}},
        restarts=3,
        last_state={"terminated": {"exitCode": 137, "reason": "OOMKilled"}},
    )
    diagnosis = diagnose_in_cluster(REFUSED, dataclasses.replace(settings, anchors=None))
    assert diagnosis.cause.code == "service-oom-killed"
    assert diagnosis.quarantine.allowed is False
    assert diagnosis.quarantine.trusted  # the evidence is there ...
    assert diagnosis.quarantine.reason.startswith("no admin configuration at ")  # ... the file not
