"""The helper pod through the real kubernetes client against the fake API: create, watch, log,
delete — on success, on every failure, on timeout and on signals."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from preflight.kube.client import KubeContext, connect
from preflight.kube.discovery import JobPod, job_pod_from
from preflight.kube.helper_pod import HelperOutcome, run_helper_pod
from preflight.kube.helper_pod_state import HelperPhase
from preflight.kube.settings import KubeSettings
from preflight.kube.signals import Terminated
from tests.kube.conftest import HELPER_IMAGE, JOB_ID, NODE
from tests.kube.fake_cluster import (
    FakeCluster,
    FakeKubelet,
    Recorded,
    cannot_start,
    finishes,
    image_pull_fails,
    rejected,
    stays_pending,
    unschedulable,
)
from tests.kube.node_roots import centos8_node, node_report_output
from tests.kube.validation import validate_strict


@pytest.fixture
def job(add_job_pod: Callable[..., dict[str, Any]]) -> JobPod:
    return job_pod_from(add_job_pod())


@pytest.fixture
def ctx(settings: KubeSettings) -> KubeContext:
    return connect(settings)


@pytest.fixture
def field_report_output(tmp_path: Path) -> str:
    code, output = node_report_output(centos8_node(tmp_path / "node"))
    assert code == 1  # node-report: a module is not fine
    return output


def run(
    ctx: KubeContext, job: JobPod, settings: KubeSettings, budget: float = 5.0
) -> HelperOutcome:
    return run_helper_pod(ctx, job, settings, time.monotonic() + budget)


def helper_requests(cluster: FakeCluster, name: str) -> list[Recorded]:
    """Requests about the helper pod ``name``: by path, field selector, or created object."""

    def about(r: Recorded) -> bool:
        created = isinstance(r.data, dict) and (r.data.get("metadata") or {}).get("name") == name
        return name in r.path or r.params.get("fieldSelector", "").endswith(name) or created

    return [r for r in cluster.requests() if about(r)]


def test_success_reads_the_real_node_report_and_deletes(
    cluster: FakeCluster,
    ctx: KubeContext,
    job: JobPod,
    settings: KubeSettings,
    field_report_output: str,
) -> None:
    with FakeKubelet(cluster, finishes(field_report_output, exit_code=1)) as kubelet:
        outcome = run(ctx, job, settings)
    assert kubelet.errors == []
    assert outcome.problem is None and outcome.deleted
    assert outcome.state.phase is HelperPhase.FINISHED and outcome.state.exit_code == 1
    assert outcome.report is not None
    assert outcome.report.modules["iptable_nat"].loaded is False
    assert outcome.report.modules["iptable_nat"].ignored[0].path == "/etc/modules"

    requests = helper_requests(cluster, outcome.pod_name)
    methods = [(r.method, r.path.rsplit("/", 1)[-1]) for r in requests]
    assert methods[0] == ("POST", "pods")
    assert methods[-1] == ("DELETE", outcome.pod_name)
    watch = next(r for r in requests if r.params.get("watch") == "true")
    assert watch.params["fieldSelector"] == f"metadata.name={outcome.pod_name}"
    log = next(r for r in requests if r.path.endswith("/log"))
    assert log.params["container"] == "node-report"
    delete = requests[-1]
    assert delete.params == {"gracePeriodSeconds": "0", "propagationPolicy": "Background"}
    # The manifest as sent: schema-valid in strict mode, pinned, owned, labelled.
    sent = requests[0].data
    validate_strict(sent)
    assert sent == outcome.manifest
    assert sent["spec"]["nodeName"] == NODE
    assert sent["spec"]["containers"][0]["image"] == HELPER_IMAGE
    assert sent["spec"]["imagePullSecrets"] == [{"name": "regcred"}]
    assert sent["metadata"]["ownerReferences"][0]["uid"] == job.uid
    assert sent["metadata"]["labels"]["dind-preflight.io/job-id"] == JOB_ID
    assert kubelet.seen[0]["metadata"]["name"] == outcome.pod_name


@pytest.mark.parametrize(
    ("scenario", "phase", "words"),
    [
        (rejected(), HelperPhase.UNSCHEDULABLE, "could not run on the node (OutOfcpu"),
        (unschedulable(), HelperPhase.UNSCHEDULABLE, "Unschedulable: 0/3 nodes are available"),
        (image_pull_fails("ErrImagePull"), HelperPhase.IMAGE_PULL_FAILED, "--helper-image"),
        (
            image_pull_fails("ImagePullBackOff"),
            HelperPhase.IMAGE_PULL_FAILED,
            "could not be pulled",
        ),
        (cannot_start(), HelperPhase.START_FAILED, "must contain dind-preflight"),
        (finishes("Traceback: boom\n", exit_code=70), HelperPhase.FINISHED, "gave no node report"),
    ],
    ids=[
        "kubelet-rejects",
        "unschedulable",
        "err-image-pull",
        "image-pull-backoff",
        "no-binary",
        "garbage",
    ],
)
def test_failures_are_reported_and_cleaned_up(
    cluster: FakeCluster,
    ctx: KubeContext,
    job: JobPod,
    settings: KubeSettings,
    scenario: Any,
    phase: HelperPhase,
    words: str,
) -> None:
    started = time.monotonic()
    with FakeKubelet(cluster, scenario) as kubelet:
        outcome = run(ctx, job, settings)
    assert kubelet.errors == []
    assert time.monotonic() - started < 5.0  # a verdict at once, not at the 5 s budget of run()
    assert outcome.report is None and outcome.deleted
    assert outcome.state.phase is phase
    assert outcome.problem is not None and words in outcome.problem
    assert [r.method for r in helper_requests(cluster, outcome.pod_name)][-1] == "DELETE"


def test_timeout_deletes_the_pod_and_keeps_to_the_budget(
    cluster: FakeCluster, ctx: KubeContext, job: JobPod, settings: KubeSettings
) -> None:
    started = time.monotonic()
    with FakeKubelet(cluster, stays_pending()):
        outcome = run(ctx, job, settings, budget=1.0)
    elapsed = time.monotonic() - started
    assert outcome.state.phase is HelperPhase.TIMEOUT
    assert "did not finish within the timeout" in (outcome.problem or "")
    assert outcome.deleted
    assert 1.0 <= elapsed < settings.timeout  # the 1 s budget ended it, not the 10 s timeout


def test_create_forbidden_is_a_limitation_and_nothing_is_left(
    cluster: FakeCluster, ctx: KubeContext, job: JobPod, settings: KubeSettings
) -> None:
    cluster.deny("create", "pods")
    outcome = run(ctx, job, settings)
    assert outcome.report is None
    assert outcome.problem is not None
    assert (
        "cannot create pods in namespace ci: forbidden (403) for system:serviceaccount:ci:dind-preflight"
        in outcome.problem
    )
    assert "grant verb 'create' on 'pods'" in outcome.problem
    methods = [r.method for r in helper_requests(cluster, outcome.pod_name)]
    assert "DELETE" not in methods  # nothing was created, nothing to delete


def test_watch_forbidden_falls_back_to_polling(
    cluster: FakeCluster,
    ctx: KubeContext,
    job: JobPod,
    settings: KubeSettings,
    field_report_output: str,
) -> None:
    cluster.deny("watch", "pods")
    with FakeKubelet(cluster, finishes(field_report_output, exit_code=1, delay=0.2)):
        outcome = run(ctx, job, settings)
    assert outcome.report is not None and outcome.deleted and outcome.problem is None
    polls = [
        r
        for r in helper_requests(cluster, outcome.pod_name)
        if r.method == "GET" and r.path.endswith(outcome.pod_name)
    ]
    assert len(polls) >= 1


def test_a_watch_the_server_ends_is_resumed(
    cluster: FakeCluster,
    ctx: KubeContext,
    job: JobPod,
    settings: KubeSettings,
    field_report_output: str,
) -> None:
    cluster.short_watches()
    with FakeKubelet(cluster, finishes(field_report_output, exit_code=1, delay=0.4)):
        outcome = run(ctx, job, settings)
    assert outcome.report is not None and outcome.deleted and outcome.problem is None
    watches = [r for r in cluster.requests() if r.params.get("watch") == "true"]
    assert 2 <= len(watches) <= 20  # watched again, without hammering the API


def test_log_forbidden_names_pods_log(
    cluster: FakeCluster,
    ctx: KubeContext,
    job: JobPod,
    settings: KubeSettings,
    field_report_output: str,
) -> None:
    cluster.deny("get", "pods/log")
    with FakeKubelet(cluster, finishes(field_report_output, exit_code=1)):
        outcome = run(ctx, job, settings)
    assert outcome.report is None and outcome.deleted
    assert "cannot get pods/log" in (outcome.problem or "")


def test_delete_forbidden_leaves_it_to_the_owner_reference(
    cluster: FakeCluster,
    ctx: KubeContext,
    job: JobPod,
    settings: KubeSettings,
    field_report_output: str,
) -> None:
    cluster.deny("delete", "pods")
    with FakeKubelet(cluster, finishes(field_report_output, exit_code=1)):
        outcome = run(ctx, job, settings)
    assert outcome.report is not None and not outcome.deleted
    assert "not deleted" in (outcome.problem or "") and "ownerReference" in (outcome.problem or "")
    (left,) = cluster.helper_pods()
    assert left["metadata"]["ownerReferences"][0]["uid"] == job.uid
    # What Kubernetes' garbage collector does once the job pod is gone:
    cluster.emulator_delete_pod(left["metadata"]["name"])


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_while_waiting_deletes_the_pod(
    cluster: FakeCluster,
    ctx: KubeContext,
    job: JobPod,
    settings: KubeSettings,
    signum: signal.Signals,
) -> None:
    before = signal.getsignal(signum)
    sent = threading.Event()

    def kill_when_created() -> None:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not cluster.helper_pods():
            time.sleep(0.01)
        time.sleep(0.1)  # let the watch start
        os.kill(os.getpid(), signum)
        sent.set()

    killer = threading.Thread(target=kill_when_created)
    expected: type[BaseException] = Terminated if signum == signal.SIGTERM else KeyboardInterrupt
    with FakeKubelet(cluster, stays_pending()):
        killer.start()
        with pytest.raises(expected):
            run(ctx, job, settings, budget=10.0)
        killer.join()
    assert sent.is_set()
    assert cluster.helper_pods() == []
    deletes = [r for r in cluster.requests() if r.method == "DELETE"]
    assert len(deletes) == 1
    assert signal.getsignal(signum) == before


def test_helper_image_and_pull_secrets_can_be_set(
    cluster: FakeCluster,
    ctx: KubeContext,
    job: JobPod,
    settings: KubeSettings,
    field_report_output: str,
) -> None:
    from dataclasses import replace

    custom = replace(
        settings,
        helper_image="registry.example.com/tools/dind-preflight:1",
        helper_pull_policy="Always",
        helper_pull_secrets=("tools-pull",),
    )
    with FakeKubelet(cluster, finishes(field_report_output, exit_code=1)) as kubelet:
        outcome = run(ctx, job, custom)
    assert outcome.report is not None
    container = kubelet.seen[0]["spec"]["containers"][0]
    assert container["image"] == "registry.example.com/tools/dind-preflight:1"
    assert container["imagePullPolicy"] == "Always"
    assert kubelet.seen[0]["spec"]["imagePullSecrets"] == [{"name": "tools-pull"}]


def test_no_node_name_means_no_helper(
    cluster: FakeCluster, ctx: KubeContext, settings: KubeSettings
) -> None:
    unscheduled = JobPod("p", "ci", "uid", None, "img", None, "x")
    outcome = run(ctx, unscheduled, settings)
    assert outcome.problem == "helper pod not started: no node name known for the job pod"
    assert [r for r in cluster.requests() if r.method == "POST" and r.path.endswith("/pods")] == []
