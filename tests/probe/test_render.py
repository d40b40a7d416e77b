"""The human summary a CI log shows, and the --json document."""

from __future__ import annotations

from preflight.jsonable import from_json
from preflight.probe.model import DeepStep, ProbeResult, Verdict
from preflight.probe.render import human_summary, result_document

HEALTHY = ProbeResult(
    Verdict.HEALTHY, "tcp://docker:2376", 0.0123, "ok", "24.0.7", "1.43", tls=True, reason="ok"
)
REFUSED = ProbeResult(
    Verdict.REFUSED,
    "tcp://docker:2375",
    30.004,
    "connection refused at tcp://docker:2375: nothing listens (daemon not running or crashed)",
    attempts=1187,
    reason="connection-refused",
    hint="check the dind service log",
    timeout_s=30.0,
    daemon_log_line="failed to start daemon: ... Table does not exist (do you need to insmod?)",
)


def test_healthy_is_one_line() -> None:
    assert human_summary(HEALTHY) == (
        "dind-preflight: docker daemon at tcp://docker:2376 is healthy "
        "(Docker 24.0.7, API 1.43, TLS) in 0.012 s"
    )


def test_unhealthy_says_what_why_how_long_and_the_exit_code() -> None:
    assert human_summary(REFUSED).splitlines() == [
        "dind-preflight: docker daemon at tcp://docker:2375 is NOT usable: refused",
        "  connection refused at tcp://docker:2375: nothing listens (daemon not running or crashed)",
        "  gave up after 30.0 s (timeout 30 s), 1187 attempts",
        "  daemon log: failed to start daemon: ... Table does not exist (do you need to insmod?)",
        "  hint: check the dind service log",
        "  exit code 69 (daemon unhealthy)",
    ]


def test_tls_mismatch_exit_code_line() -> None:
    result = ProbeResult(Verdict.TLS_MISMATCH, "tcp://docker:2375", 0.01, "plain vs TLS")
    assert human_summary(result).splitlines()[-1] == (
        "  exit code 78 (the job's TLS/port configuration does not match the daemon)"
    )


def test_failed_deep_step_is_shown() -> None:
    result = ProbeResult(
        Verdict.HEALTHY,
        "unix:///var/run/docker.sock",
        0.2,
        "ok",
        "20.10.24",
        deep=[DeepStep("create-network", False, 0.02, "Failed to Setup IP tables")],
    )
    lines = human_summary(result).splitlines()
    assert "answers, but a deep check FAILED" in lines[0]
    assert lines[1] == "  deep check create-network: FAILED (0.020 s) Failed to Setup IP tables"
    assert lines[-1] == "  exit code 69 (daemon unhealthy)"


def test_document_adds_healthy_and_exit_code_and_round_trips() -> None:
    for result in (HEALTHY, REFUSED):
        document = result_document(result)
        assert document["healthy"] is result.healthy
        assert document["exit_code"] == int(result.exit_code)
        assert document["verdict"] == result.verdict.value
        assert from_json(ProbeResult, document) == result
