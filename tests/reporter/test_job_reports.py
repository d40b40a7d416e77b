"""Job reports in fleet mode: verified with GitLab (GET /job with JOB-TOKEN at the pinned URL),
placed on a node by Kubernetes, never trusted for runner, URL or evidence; bounded in size and
rate."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from preflight.diagnosis.causes import cause
from preflight.diagnosis.model import Confidence, Diagnosis, FaultClass
from preflight.reporter.job_report import MAX_BODY_BYTES, RateLimit
from preflight.reporter.server import REPORT_PATH, ReporterServer
from preflight.reporter.service import Reporter
from preflight.reporter.submit import report_body, send
from tests.admin.support import in_admin_namespace, namespaces_work
from tests.gitlab.fake_gitlab import FakeGitLab
from tests.kube.conftest import job_pod_manifest
from tests.kube.fake_cluster import FakeCluster
from tests.reporter.support import NAT, RUNNER, make_reporter, node, put_nodes

JOB_TOKEN = "glcbt-64_JobT0kenOfJob777xyz"
PROJECT_ID = 5


@pytest.fixture
def served(
    cluster: FakeCluster, gitlab: FakeGitLab, tmp_path: Path
) -> Iterator[tuple[Reporter, str]]:
    put_nodes(cluster, node("worker-3", ready="False"), node("n1"), node("n2"), node("n3"))
    pod = job_pod_manifest()
    pod["metadata"]["annotations"] = {"job.runner.gitlab.com/id": "777"}
    cluster.add("v1/pods", "ci", pod)
    gitlab.add_job(JOB_TOKEN, 777, RUNNER, project_id=9)
    reporter = make_reporter(cluster, gitlab, tmp_path)
    reporter.cycle()  # the node's issue is open
    server = ReporterServer(reporter, "127.0.0.1", 0, 0).start()
    try:
        yield reporter, f"http://127.0.0.1:{server.port}"
    finally:
        server.stop()


def post(url: str, body: object, token: str | None = JOB_TOKEN) -> requests.Response:
    headers = {"JOB-TOKEN": token} if token else {}
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return requests.post(url + REPORT_PATH, data=data, headers=headers, timeout=10)


def test_a_forged_runner_id_and_url_are_ignored_and_logged(
    served: tuple[Reporter, str], gitlab: FakeGitLab, caplog: pytest.LogCaptureFixture
) -> None:
    reporter, url = served
    caplog.set_level(logging.WARNING, "dind-preflight.reporter")
    forged = {
        "runner_id": 99,
        "gitlab_url": "https://gitlab.attacker.example",
        "job_id": 1,
        "diagnosis": {"cause": {"code": "not-privileged", "summary": "trust me"}, "node": "n1"},
    }
    answer = post(url, forged)
    assert answer.status_code == 202, answer.text
    assert "worker-3" in answer.json()["message"]  # the node from Kubernetes, not the claim n1
    logged = caplog.text
    assert "runner_id=99 (GitLab: 42)" in logged and "gitlab.attacker.example" in logged
    assert "claims node n1, Kubernetes says worker-3" in logged
    # GitLab was asked once, with the job token, at the pinned URL; nothing was paused.
    job_lookups = gitlab.requests("GET", r"^/api/v4/job$")
    assert [r.auth for r in job_lookups] == ["job"]
    before_puts = len(gitlab.runner_writes(RUNNER))
    reporter.cycle()
    assert len(gitlab.runner_writes(RUNNER)) == before_puts
    issue = gitlab.project_issues(PROJECT_ID, "opened")[0]
    note = gitlab.issue_notes(PROJECT_ID, issue["iid"])[-1]["body"]
    assert note.startswith("Unverified context") and "runner 42" in note and "99" not in note
    assert "forged-fields" in reporter.metrics.render().decode()


def test_an_unknown_token_is_refused_and_acts_on_nothing(
    served: tuple[Reporter, str], gitlab: FakeGitLab, caplog: pytest.LogCaptureFixture
) -> None:
    _, url = served
    caplog.set_level(logging.WARNING, "dind-preflight.reporter")
    answer = post(url, {"diagnosis": {"cause": {"code": NAT}}}, token="glcbt-64_NotAJobTokenAtAll")
    assert answer.status_code == 403
    # The log says what GitLab said, with no job-mode advice (no variable fixes a job token).
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "GitLab does not accept it as a running job's token" in logged
    assert "CI_RUNNER_ID" not in logged and "--runner-id" not in logged
    assert post(url, {"diagnosis": {}}, token=None).status_code == 401


def test_sizes_and_shapes_are_bounded(served: tuple[Reporter, str]) -> None:
    _, url = served
    assert post(url, b"x" * (MAX_BODY_BYTES + 1)).status_code == 413
    assert post(url, b"not json").status_code == 400
    assert post(url, [1, 2]).status_code == 400


def test_the_rate_is_bounded(served: tuple[Reporter, str], gitlab: FakeGitLab) -> None:
    reporter, url = served
    reporter.limits = RateLimit(rate_per_s=0.001, burst=2)
    statuses = [post(url, {"diagnosis": {}}).status_code for _ in range(5)]
    assert statuses[:2] != [429, 429] and statuses[2:] == [429, 429, 429]
    # The second report of the same job was answered without another pod lookup or note.
    assert len(gitlab.requests("GET", r"^/api/v4/job$")) == 2


def test_run_sends_its_diagnosis_with_the_job_token_only(served: tuple[Reporter, str]) -> None:
    _, url = served
    diagnosis = Diagnosis(cause(NAT), FaultClass.NODE, Confidence.HIGH, node="worker-3")
    body = report_body(None, diagnosis, 75)
    assert json.loads(body)["diagnosis"]["cause"]["code"] == NAT
    assert "token" not in body.decode().lower()
    assert send(url, JOB_TOKEN, body).startswith("HTTP 202")
    assert send(url, None, body) == "not sent: CI_JOB_TOKEN is not set"
    assert send("http://127.0.0.1:9", JOB_TOKEN, body).startswith("not delivered")


def test_healthz_and_metrics_on_their_own_port(served: tuple[Reporter, str]) -> None:
    reporter, reports_url = served
    assert requests.get(reports_url + "/healthz", timeout=5).status_code == 404
    server = ReporterServer(reporter, "127.0.0.1", 0, 0).start()
    try:
        url = f"http://127.0.0.1:{server.health_port}"
        health = requests.get(url + "/healthz", timeout=5)
        metrics = requests.get(url + "/metrics", timeout=5).text
        assert requests.post(url + "/v1/job-reports", json={}, timeout=5).status_code == 501
    finally:
        server.stop()
    assert health.status_code == 200 and health.text.strip() == "leader"
    assert "dind_preflight_reporter_open_incidents 1.0" in metrics
    assert "dind_preflight_reporter_broken_nodes 1.0" in metrics
    assert "dind_preflight_reporter_leader 1.0" in metrics


def test_a_fleet_mode_job_sends_only_its_job_token_and_takes_no_action(
    served: tuple[Reporter, str], gitlab: FakeGitLab, tmp_path: Path
) -> None:
    """`run` with DIND_PREFLIGHT_REPORTER_URL: the dind service is down; the job reports to the
    reporter with CI_JOB_TOKEN, pauses nothing and holds no GitLab access token."""
    import os
    import subprocess
    import sys

    from tests.harness.dockerd import free_port

    _, url = served
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DOCKER_", "KUBERNETES_", "CI_", "DIND_PREFLIGHT_"))
    }
    env.update(
        DOCKER_HOST=f"tcp://127.0.0.1:{free_port()}",
        DIND_PREFLIGHT_TIMEOUT="1",
        DIND_PREFLIGHT_REPORTER_URL=url,
        DIND_PREFLIGHT_ARTIFACTS_DIR=str(tmp_path / "reports"),
        CI_JOB_TOKEN=JOB_TOKEN,
        CI_RUNNER_ID="99",  # a job may say anything: the reporter asks GitLab
        CI_API_V4_URL=f"{gitlab.url}/api/v4",
    )
    before = len(gitlab.requests())
    # The reporter's URL comes from the admin's file (a variable naming one only disarms).
    admin = {"gitlab_url": "https://gitlab.example.com", "reporter_url": url}
    command = [sys.executable, "-m", "preflight", "run"]
    if namespaces_work():
        command = in_admin_namespace(command, tmp_path / "ns", config=admin)
    result = subprocess.run(
        command,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode in (69, 75), result.stdout + result.stderr
    if not namespaces_work():
        assert gitlab.requests()[before:] == []  # no admin file: nothing sent anywhere
        return
    assert "fleet reporter: HTTP 202" in result.stderr, result.stderr
    sent = gitlab.requests()[before:]
    assert [(r.method, r.path, r.auth) for r in sent] == [("GET", "/api/v4/job", "job")]
    assert gitlab.runner_writes(RUNNER) == []


def test_each_source_is_rate_limited_after_the_cheap_checks_and_never_reaches_gitlab(
    cluster: FakeCluster, gitlab: FakeGitLab, tmp_path: Path
) -> None:
    from preflight.reporter.server import PerSource

    reporter = make_reporter(cluster, gitlab, tmp_path)
    now = [0.0]
    server = ReporterServer(
        reporter, "127.0.0.1", 0, 0, per_source=PerSource(0.1, 2, clock=lambda: now[0])
    ).start()
    url = f"http://127.0.0.1:{server.port}"
    try:
        assert requests.post(url + "/elsewhere", json={}, timeout=5).status_code == 404
        before = len(gitlab.requests())
        answers = [post(url, {"version": 1}, token=None).status_code for _ in range(2)]
        answers += [post(url, {"version": 1}).status_code for _ in range(3)]
        now[0] += 10.0  # one token back
        answers.append(post(url, {"version": 1}, token=None).status_code)
    finally:
        server.stop()
    assert answers[:2] != [429, 429] and answers[2:5] == [429, 429, 429], answers
    assert answers[5] != 429
    assert len(gitlab.requests()) == before  # a limited request never reaches GitLab


def test_the_workers_are_bounded(cluster: FakeCluster, gitlab: FakeGitLab, tmp_path: Path) -> None:
    """With every worker held by a slow client, the next connection gets 503 at once."""
    import socket

    reporter = make_reporter(cluster, gitlab, tmp_path)
    server = ReporterServer(reporter, "127.0.0.1", 0, 0, workers=2).start()
    slow = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(2)]
    try:
        for client in slow:  # a header that never ends: each holds a worker
            client.sendall(b"POST /v1/job-reports HTTP/1.1\r\nHost: x\r\n")
        time.sleep(0.3)
        started = time.monotonic()
        answer = requests.post(url_of(server), json={}, timeout=5)
        assert answer.status_code == 503
        assert time.monotonic() - started < 2
    finally:
        for client in slow:
            client.close()
        server.stop()


def url_of(server: ReporterServer) -> str:
    return f"http://127.0.0.1:{server.port}/v1/job-reports"
