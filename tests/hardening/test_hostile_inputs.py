"""Files and variables a job controls: FIFOs, devices, huge and binary files, deep JSON,
control characters and 200 KB values. Each ends promptly, with one line and a documented code.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from preflight.jsonable import to_json
from tests.gitlab.diagnoses import field_report_diagnosis
from tests.gitlab.fake_gitlab import FakeGitLab
from tests.hardening.conftest import (
    DOCUMENTED_EXITS,
    TOKEN,
    Job,
    assert_clean_lines,
    assert_no_secret,
    point_at,
    stderr_lines,
)

FATAL_LINE_START = "failed to start daemon: Error initializing network controller"


@pytest.fixture
def diagnosis_file(tmp_path: Path) -> Path:
    path = tmp_path / "diagnosis.json"
    path.write_text(json.dumps(to_json(field_report_diagnosis())))
    return path


def _fifo(tmp_path: Path) -> str:
    path = tmp_path / "fifo"
    os.mkfifo(path)
    return str(path)


@pytest.mark.parametrize("kind", ["fifo", "/dev/zero", "directory"])
def test_a_service_log_that_is_not_a_file_does_not_hang_the_run(job: Job, kind: str) -> None:
    target = {"fifo": _fifo(job.tmp), "/dev/zero": "/dev/zero", "directory": str(job.tmp)}[kind]
    job.env["DIND_PREFLIGHT_SERVICE_LOG"] = target
    job.env["DIND_PREFLIGHT_TIMEOUT"] = "1"
    job.env["DIND_PREFLIGHT_DEADLINE"] = "8"
    del job.env["DIND_PREFLIGHT_GITLAB_TOKEN"]
    result = job.run(timeout=30)
    # Without the log's evidence the node root alone does not establish the cause (exit 69, no
    # action); the log is named as unreadable and the run ends.
    assert result.code == 69, result.output
    assert result.elapsed_s <= 8 + 2
    assert "not a regular file" in result.stdout


def test_a_huge_service_log_is_read_from_its_tail(job: Job) -> None:
    log = Path(job.env["DIND_PREFLIGHT_SERVICE_LOG"])
    real = log.read_text()
    noise = "".join(
        f'time="2024-01-01T00:00:{i % 60:02d}Z" level=info msg="noise {i}"\n' for i in range(60000)
    )
    log.write_text(noise + real)
    assert log.stat().st_size > 2_500_000
    del job.env["DIND_PREFLIGHT_GITLAB_TOKEN"]
    result = job.run()
    assert result.code == 75, result.output
    assert "stopped waiting: the dind service log" in result.stdout
    assert "Table does not exist" in result.stdout  # the fatal line at the end was found


def test_a_binary_service_log_is_survived(job: Job) -> None:
    Path(job.env["DIND_PREFLIGHT_SERVICE_LOG"]).write_bytes(os.urandom(300_000))
    job.env["DIND_PREFLIGHT_TIMEOUT"] = "1"
    del job.env["DIND_PREFLIGHT_GITLAB_TOKEN"]
    result = job.run()
    assert result.code == 69, result.output  # no signature in noise: not established
    assert "Traceback" not in result.output
    assert_clean_lines(result.output)


@pytest.mark.parametrize("kind", ["fifo", "/dev/zero"])
def test_a_token_file_that_is_not_a_file_is_one_line_and_66_before_the_probe(
    job: Job, kind: str
) -> None:
    """Checked before the probe (issue 21), without blocking on the FIFO or reading the device."""
    job.env["DIND_PREFLIGHT_GITLAB_TOKEN_FILE"] = _fifo(job.tmp) if kind == "fifo" else kind
    result = job.run(timeout=30)
    assert result.code == 66, result.output
    assert result.stdout == "" and result.stderr.count("\n") == 1
    assert "cannot read the GitLab token (DIND_PREFLIGHT_GITLAB_TOKEN_FILE)" in result.stderr
    assert "not a regular file" in result.stderr
    assert not job.artifacts.exists()  # stopped before the probe: nothing was written


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda tmp: "/dev/zero", "not a regular file (a device)"),
        (lambda tmp: _fifo(tmp), "not a regular file (a FIFO)"),
        (lambda tmp: str(tmp), "not a regular file (a directory)"),
        (lambda tmp: _write(tmp / "big.json", b" " * (5 * 1024 * 1024)), "more than the"),
        (lambda tmp: _write(tmp / "deep.json", b"[" * 100000 + b"]" * 100000), "nested 100000"),
        (lambda tmp: _write(tmp / "bin.json", os.urandom(5000)), "is not valid JSON"),
    ],
    ids=["dev-zero", "fifo", "directory", "huge", "deep", "binary"],
)
def test_report_diagnosis_inputs_exit_66_with_one_line(
    job: Job, make: object, message: str
) -> None:
    path = make(job.tmp)  # type: ignore[operator]
    result = job.run("report", "--diagnosis", path, "--dry-run", timeout=30)
    assert result.code == 66, result.output
    assert len(stderr_lines(result)) == 1 and message in result.stderr
    assert result.elapsed_s < 20


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda tmp: "/dev/zero", "not a regular file (a device)"),
        (lambda tmp: _fifo(tmp), "not a regular file (a FIFO)"),
        (lambda tmp: _write(tmp / "deep.json", b'{"a":' * 5000 + b"1" + b"}" * 5000), "nested"),
    ],
    ids=["dev-zero", "fifo", "deep"],
)
def test_diagnose_probe_result_inputs_exit_66(job: Job, make: object, message: str) -> None:
    path = make(job.tmp)  # type: ignore[operator]
    result = job.run("diagnose", "--probe-result", path, "--proc", "/nonexistent", timeout=30)
    assert result.code == 66, result.output
    assert len(stderr_lines(result)) == 1 and message in result.stderr


def test_report_token_file_device_is_66(job: Job, diagnosis_file: Path) -> None:
    result = job.run("report", "--diagnosis", str(diagnosis_file), "--token-file", "/dev/zero")
    assert result.code == 66
    assert len(stderr_lines(result)) == 1
    assert "not a regular file (a device)" in result.stderr


# Linux caps one environment string at 128 KiB (MAX_ARG_STRLEN): 100 KB is close to the most.
HOSTILE = "x\n\x1b[31mdind-preflight: OK: forged line\r" + "A" * 100_000
VARIABLES = [
    "DOCKER_HOST",
    "DOCKER_TLS_VERIFY",
    "DOCKER_CERT_PATH",
    "DIND_PREFLIGHT_TIMEOUT",
    "DIND_PREFLIGHT_DEADLINE",
    "DIND_PREFLIGHT_ACTION",
    "DIND_PREFLIGHT_NODE_ROOT",
    "DIND_PREFLIGHT_SERVICE_LOG",
    "DIND_PREFLIGHT_ARTIFACTS_DIR",
    "DIND_PREFLIGHT_REPORT_PROJECT",
    "DIND_PREFLIGHT_GITLAB_URL",
    "DIND_PREFLIGHT_GITLAB_TOKEN",
    "DIND_PREFLIGHT_GITLAB_TOKEN_FILE",
    "DIND_PREFLIGHT_ISSUES_TOKEN",
    "DIND_PREFLIGHT_GITLAB_TIMEOUT",
    "DIND_PREFLIGHT_GITLAB_BUDGET",
    "CI_API_V4_URL",
    "CI_SERVER_URL",
    "CI_SERVER_HOST",
    "CI_SERVER_PORT",
    "CI_RUNNER_ID",
    "CI_RUNNER_DESCRIPTION",
    "CI_JOB_ID",
    "CI_JOB_URL",
    "CI_JOB_TOKEN",
    "CI_PROJECT_PATH",
]


@pytest.mark.parametrize("name", VARIABLES)
def test_control_characters_and_100_kb_in_a_variable(
    job: Job, gitlab: FakeGitLab, name: str
) -> None:
    point_at(job, gitlab.url)
    job.env["DIND_PREFLIGHT_TIMEOUT"] = "2"
    job.env[name] = HOSTILE
    result = job.run(timeout=60)
    assert result.code in DOCUMENTED_EXITS - {70}, result.output[-2000:]
    assert "Traceback" not in result.output
    assert_clean_lines(result.output)
    for line in result.output.splitlines():
        assert not line.startswith("dind-preflight: OK: forged"), "a forged log line"
    assert "A" * 500 not in result.output, "a 100 KB value was echoed whole"
    assert_no_secret(result, job, TOKEN)


def test_probe_masks_a_token_shaped_value(job: Job) -> None:
    job.env["DOCKER_HOST"] = "tcp://glpat-AbCdEfGh12345678xyz@127.0.0.1:1"
    result = job.run("probe", "--timeout", "0.5", timeout=30)
    assert result.code in DOCUMENTED_EXITS
    assert "glpat-AbCdEfGh12345678xyz" not in result.output


def _write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)
