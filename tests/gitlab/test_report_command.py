"""`dind-preflight report` as a real process: exit codes, one-line errors, no token anywhere."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from preflight.gitlab.outcome import ReportOutcome
from preflight.jsonable import from_json, to_json
from tests.gitlab.diagnoses import field_report_diagnosis
from tests.gitlab.fake_gitlab import FakeGitLab
from tests.gitlab.support import RUNNER_ID, TOKEN, job_env, standard_fake


def run_cli(
    args: list[str], env: dict[str, str], stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("CI_", "DIND_PREFLIGHT_"))}
    return subprocess.run(
        [sys.executable, "-m", "preflight", "report", *args],
        env={
            **base,
            **env,
            "DIND_PREFLIGHT_GITLAB_BUDGET": env.get("DIND_PREFLIGHT_GITLAB_BUDGET", "5"),
        },
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def diagnosis_file(tmp_path: Path) -> Path:
    path = tmp_path / "diagnosis.json"
    path.write_text(json.dumps(to_json(field_report_diagnosis())))
    return path


def assert_clean(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr
    assert TOKEN not in result.stdout + result.stderr


def test_report_against_gitlab_writes_artifacts(
    fake_gitlab: FakeGitLab, diagnosis_file: Path, tmp_path: Path
) -> None:
    standard_fake(fake_gitlab)
    annotations, junit = tmp_path / "annotations.json", tmp_path / "junit.xml"
    result = run_cli(
        [
            "--diagnosis",
            str(diagnosis_file),
            "--settle",
            "0",
            "--annotations",
            str(annotations),
            "--junit",
            str(junit),
        ],
        job_env(fake_gitlab),
    )
    assert_clean(result)
    assert result.returncode == 0, result.stderr
    assert "dind-preflight: issue #1 " in result.stdout
    assert "dind-preflight: runner 42: paused: paused; maintenance note written" in result.stdout
    assert "dind-preflight: 5 GitLab request(s)" in result.stdout
    assert fake_gitlab.runners[RUNNER_ID]["paused"] is True
    links = json.loads(annotations.read_text())["dind_preflight"]
    assert links[0]["external_link"]["url"].endswith("/ops/node-health/-/issues/1")
    assert ET.parse(junit).getroot().find("testsuite") is not None
    for path in (annotations, junit):
        assert TOKEN not in path.read_text()


def test_dry_run_without_token_sends_nothing(fake_gitlab: FakeGitLab, diagnosis_file: Path) -> None:
    env = job_env(fake_gitlab, DIND_PREFLIGHT_GITLAB_TOKEN="")
    result = run_cli(["--diagnosis", "-"], env, stdin=diagnosis_file.read_text())
    assert_clean(result)
    assert result.returncode == 0, result.stderr
    assert "dry run (DIND_PREFLIGHT_GITLAB_TOKEN is not set): nothing was sent" in result.stdout
    assert "PRIVATE-TOKEN: [MASKED]" in result.stdout
    assert fake_gitlab.recorded == []


def test_dry_run_flag_with_token_never_prints_it(
    fake_gitlab: FakeGitLab, diagnosis_file: Path
) -> None:
    result = run_cli(["--diagnosis", str(diagnosis_file), "--dry-run"], job_env(fake_gitlab))
    assert_clean(result)
    assert result.returncode == 0 and "--dry-run was given" in result.stdout
    assert fake_gitlab.recorded == []


def test_json_outcome_round_trips(fake_gitlab: FakeGitLab, diagnosis_file: Path) -> None:
    standard_fake(fake_gitlab)
    result = run_cli(
        ["--diagnosis", str(diagnosis_file), "--json", "--settle", "0"], job_env(fake_gitlab)
    )
    assert_clean(result)
    outcome = from_json(ReportOutcome, json.loads(result.stdout))
    assert outcome.issue_iid == 1 and outcome.requests_made == 5 and outcome.ok


def test_gitlab_down_exits_75_with_the_diagnosis_in_the_log(diagnosis_file: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = job_env(
        None, CI_API_V4_URL=f"http://127.0.0.1:{port}/api/v4", DIND_PREFLIGHT_GITLAB_BUDGET="1"
    )
    result = run_cli(["--diagnosis", str(diagnosis_file), "--settle", "0"], env)
    assert_clean(result)
    assert result.returncode == 75
    assert (
        "GitLab was not reachable; diagnosis: iptable_nat-missing on node worker-3" in result.stderr
    )
    assert (
        "dind-preflight: the fix:\n  1. Write /etc/modules-load.d/iptable_nat.conf:"
        in result.stderr
    )
    errors = [
        line for line in result.stderr.splitlines() if line.startswith("dind-preflight: error:")
    ]
    assert len(errors) == 2 and all("connection failed" in e for e in errors)


def test_rejected_token_exits_78_with_one_line(
    fake_gitlab: FakeGitLab, diagnosis_file: Path
) -> None:
    fake_gitlab.add_runner(RUNNER_ID)
    fake_gitlab.add_project("ops/node-health")
    result = run_cli(["--diagnosis", str(diagnosis_file), "--settle", "0"], job_env(fake_gitlab))
    assert_clean(result)
    assert result.returncode == 78
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 2
    assert all("GitLab rejected the token (401)" in line for line in errors)


@pytest.mark.parametrize(
    ("args", "env_extra", "code", "message"),
    [
        ([], {"CI_RUNNER_ID": "abc"}, 64, "CI_RUNNER_ID='abc' is not an id"),
        (["--runner-id", "x1"], {}, 64, "--runner-id='x1' is not an id"),
        ([], {"CI_API_V4_URL": "htp://x"}, 64, "CI_API_V4_URL='htp://x' is not an http(s) URL"),
        (["--pause", "maybe"], {}, 64, "invalid choice: 'maybe'"),
        (["--token-file", "/nonexistent/token"], {}, 66, "cannot read --token-file"),
    ],
)
def test_invalid_input_is_one_line(
    diagnosis_file: Path, args: list[str], env_extra: dict[str, str], code: int, message: str
) -> None:
    result = run_cli(["--diagnosis", str(diagnosis_file), *args], {**job_env(None), **env_extra})
    assert_clean(result)
    assert result.returncode == code
    lines = result.stderr.strip().splitlines()
    assert message in lines[-1] and lines[-1].startswith("dind-preflight")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "does not exist"),
        ("{not json", "is not a diagnosis: invalid JSON at line 1 column 2"),
        ("[1, 2]", "is not a diagnosis: expected a JSON object"),
        ('{"cause": {"code": "x"}}', "is not a diagnosis"),
        (
            '{"cause": {"code": "x", "summary": "y"}, "fault": "martian", "confidence": "high"}',
            "is not a diagnosis",
        ),
    ],
)
def test_bad_diagnosis_input_exits_66(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "d.json"
    if content is not None:
        path.write_text(content)
    result = run_cli(["--diagnosis", str(path)], job_env(None))
    assert_clean(result)
    assert result.returncode == 66
    assert result.stderr.count("\n") == 1 and message in result.stderr
