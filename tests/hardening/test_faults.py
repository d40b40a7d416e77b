"""Servers that hang, drip, answer HTML, 401, 409 or 5xx, and signals at each stage.

Every run ends by its deadline + 2 s with the diagnosis' exit code (75) or the signal's
(143/130), the summary printed and the artifacts written, one line saying what was not done.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest
import trustme

from tests.gitlab.fake_gitlab import FakeGitLab, Fault
from tests.hardening.conftest import (
    GRACE_S,
    RUNNER_ID,
    Job,
    Result,
    assert_no_secret,
    point_at,
    stderr_lines,
)
from tests.hardening.hostile_servers import http_answer, raw_server, wait_for

DEADLINE_S = 6


def _assert_found_and_kept(result: Result, job: Job) -> None:
    """The diagnosis is in the log and in the artifacts, whatever happened to GitLab."""
    assert result.stdout.startswith("dind-preflight: FAILED:"), result.output[:500]
    assert "iptable_nat-missing" in result.stdout.splitlines()[0]
    assert "iptable_nat" in (job.artifacts / "junit.xml").read_text()
    json.loads((job.artifacts / "annotations.json").read_text())
    assert_no_secret(result, job)


@pytest.mark.parametrize(
    ("behaviour", "answer", "message"),
    [
        ("hang", b"", "GitLab did not answer"),
        ("drip", b"", "GitLab did not answer"),
        (
            "answer",
            http_answer(
                "200 OK", b"<html><body>Sign in</body></html>", {"Content-Type": "text/html"}
            ),
            "not the JSON its API documents",
        ),
        ("answer", http_answer("401 Unauthorized", b'{"message":"401 Unauthorized"}'), "401"),
        ("answer", http_answer("503 Service Unavailable", b"down"), "HTTP 503"),
    ],
    ids=["hang", "drip", "html", "401", "503"],
)
def test_a_misbehaving_gitlab_never_stretches_the_run(
    admin_job: Job, behaviour: str, answer: bytes, message: str
) -> None:
    job = admin_job
    job.env["DIND_PREFLIGHT_DEADLINE"] = str(DEADLINE_S)
    with raw_server(behaviour=behaviour, answer=answer, drip_every_s=0.5, tls=job.tls) as gitlab:
        point_at(job, gitlab.url)
        result = job.run(timeout=DEADLINE_S + 20)
    assert result.code == 75, result.output
    assert result.elapsed_s <= DEADLINE_S + GRACE_S, result.elapsed_s
    _assert_found_and_kept(result, job)
    assert message in result.stdout, result.stdout[-1500:]


def test_a_resource_lock_409_is_retried(admin_job: Job, tls_gitlab: FakeGitLab) -> None:
    job, gitlab = admin_job, tls_gitlab
    point_at(job, gitlab.url)
    gitlab.inject(
        "PUT",
        rf"/runners/{RUNNER_ID}$",
        Fault(status=409, body='{"message":"409 Conflict: Resource lock"}'),
    )
    result = job.run()
    assert result.code == 75, result.output
    assert len(gitlab.requests("PUT", rf"/runners/{RUNNER_ID}$")) == 2
    assert gitlab.runners[RUNNER_ID]["paused"] is True


def test_a_plain_409_is_not_retried(admin_job: Job, tls_gitlab: FakeGitLab) -> None:
    job, gitlab = admin_job, tls_gitlab
    point_at(job, gitlab.url)
    gitlab.inject("PUT", rf"/runners/{RUNNER_ID}$", Fault(status=409, body='{"message":"x"}'))
    result = job.run()
    assert result.code == 75
    assert len(gitlab.requests("PUT", rf"/runners/{RUNNER_ID}$")) == 1


def test_a_dind_that_accepts_and_never_answers_ends_at_the_deadline(job: Job) -> None:
    """The probe's own timeout (30 s) is longer than the run's deadline: the watchdog ends it."""
    with raw_server(behaviour="drip", drip_every_s=0.5) as dind:
        job.env["DOCKER_HOST"] = f"tcp://127.0.0.1:{dind.port}"
        job.env["DIND_PREFLIGHT_TIMEOUT"] = "30"
        job.env["DIND_PREFLIGHT_DEADLINE"] = "3"
        del job.env["DIND_PREFLIGHT_SERVICE_LOG"]
        result = job.run(timeout=40)
    assert result.code == 69, result.output
    assert result.elapsed_s <= 3 + GRACE_S
    (line,) = stderr_lines(result)
    assert line.startswith("dind-preflight: stopped by its deadline (3 s) during the probe")
    assert "nothing was changed" in line or "nothing was found yet" in line


def test_a_dripping_kubernetes_api_cannot_stretch_the_run(job: Job, tmp_path: Path) -> None:
    """In a cluster the probe polls the job pod; an API that drips its TLS handshake is cut."""
    ca = trustme.CA()
    sa = tmp_path / "sa"
    sa.mkdir()
    (sa / "token").write_text("eyJhbGciOiJSUzI1NiJ9.hardening")
    (sa / "namespace").write_text("ci")
    ca.cert_pem.write_to_path(str(sa / "ca.crt"))
    # A TLS record header announcing 16 KB, then one byte every half second.
    with raw_server(behaviour="drip", drip_every_s=0.5, drip_prefix=b"\x16\x03\x01\x40\x00") as api:
        job.env.update(
            KUBERNETES_SERVICE_HOST="127.0.0.1",
            KUBERNETES_SERVICE_PORT=str(api.port),
            DIND_PREFLIGHT_SERVICE_ACCOUNT_DIR=str(sa),
            HOSTNAME="job-pod",
            DIND_PREFLIGHT_TIMEOUT="30",
            DIND_PREFLIGHT_DEADLINE="5",
        )
        del job.env["DIND_PREFLIGHT_NODE_ROOT"]
        del job.env["DIND_PREFLIGHT_GITLAB_TOKEN"]
        result = job.run(timeout=40)
    assert result.elapsed_s <= 5 + GRACE_S, result.output
    assert result.code in (69, 75), result.output
    assert "Traceback" not in result.output


def _signal_when(job: Job, signum: signal.Signals, ready: object, timeout_s: float = 20) -> Result:
    started = time.monotonic()
    process = job.start("run")
    try:
        assert wait_for(ready, timeout_s), "the run never reached the stage"
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    return Result(process.returncode, stdout, stderr, time.monotonic() - started)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_during_the_probe(job: Job, signum: signal.Signals) -> None:
    with raw_server(behaviour="hang") as dind:
        job.env["DOCKER_HOST"] = f"tcp://127.0.0.1:{dind.port}"
        job.env["DIND_PREFLIGHT_TIMEOUT"] = "60"
        del job.env["DIND_PREFLIGHT_SERVICE_LOG"]
        result = _signal_when(job, signum, lambda: dind.requests)
    assert result.code == 128 + signum, result.output
    (line,) = stderr_lines(result)
    assert line.startswith(f"dind-preflight: stopped by {signum.name} during the probe")
    assert "nothing was found yet, nothing was changed" in line


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_during_the_gitlab_report_keeps_the_diagnosis(
    admin_job: Job, signum: signal.Signals
) -> None:
    job = admin_job
    with raw_server(behaviour="hang", tls=job.tls) as gitlab:
        point_at(job, gitlab.url)
        result = _signal_when(job, signum, lambda: gitlab.requests)
    assert result.code == 128 + signum, result.output
    _assert_found_and_kept(result, job)
    (line,) = stderr_lines(result)
    assert line.startswith(f"dind-preflight: stopped by {signum.name} during the GitLab report")
    assert "diagnosis printed and artifacts written" in line
    assert "the GitLab report is incomplete" in line


def test_a_signal_with_json_output_still_prints_one_document(admin_job: Job) -> None:
    job = admin_job
    with raw_server(behaviour="hang", tls=job.tls) as gitlab:
        point_at(job, gitlab.url)
        started = time.monotonic()
        process = job.start("run", "--json")
        try:
            assert wait_for(lambda: gitlab.requests, 20)
            process.send_signal(signal.SIGTERM)
            stdout, stderr = process.communicate(timeout=15)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert process.returncode == 143, stdout + stderr
    document = json.loads(stdout)
    assert document["exit_code"] == 75
    assert document["diagnosis"]["cause"]["code"] == "iptable_nat-missing"
    assert any("stopped by SIGTERM during the GitLab report" in e for e in document["errors"])
    assert time.monotonic() - started < 30
