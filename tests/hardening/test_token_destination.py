"""The token goes only to the pinned GitLab, over https, never through a redirect.

Every case runs the real CLI (`dind-preflight report`, whose URL is pinned beside its token;
job mode's `run` sends tokens only to the admin's file, tests/admin/) against loopback servers;
a second host (127.0.0.2) records every byte it receives, and must receive no token, whatever
the job's variables say.
"""

from __future__ import annotations

import json

import pytest

from preflight.jsonable import to_json
from tests.gitlab.diagnoses import field_report_diagnosis
from tests.gitlab.fake_gitlab import FakeGitLab
from tests.hardening.conftest import (
    INCIDENTS,
    ISSUES_TOKEN,
    JOB_TOKEN,
    RUNNER_ID,
    TOKEN,
    Job,
    assert_no_secret,
    point_at,
)
from tests.hardening.hostile_servers import http_answer, raw_server

SECOND_HOST = "127.0.0.2"


@pytest.fixture(autouse=True)
def _reports(job: Job) -> None:
    """Each case reports the field report's diagnosis with `report` (not `run`)."""
    path = job.tmp / "diagnosis.json"
    path.write_text(json.dumps(to_json(field_report_diagnosis())))
    original = job.run

    def report(*args: str, timeout: float = 60) -> object:
        return original(*(args or ("report", "--diagnosis", str(path))), timeout=timeout)

    job.run = report  # type: ignore[method-assign]


def test_a_job_url_on_another_host_than_ci_server_host_gets_no_token(job: Job) -> None:
    with raw_server(host=SECOND_HOST, behaviour="answer", answer=http_answer("200 OK")) as evil:
        point_at(job, evil.url)
        job.env["CI_SERVER_HOST"] = "gitlab.example.com"
        result = job.run()
    assert result.code == 64, result.output
    assert evil.requests == []
    assert "not at this job's GitLab 'gitlab.example.com' (CI_SERVER_HOST)" in result.output
    assert_no_secret(result, job)


def test_plain_http_is_refused_without_allow_http(job: Job, gitlab: FakeGitLab) -> None:
    point_at(job, gitlab.url)
    del job.env["DIND_PREFLIGHT_ALLOW_HTTP"]
    result = job.run()
    assert result.code == 64, result.output
    assert gitlab.recorded == []
    assert "is plain http: the token would travel in clear text" in result.output


def test_a_url_with_credentials_is_refused_and_not_echoed(job: Job, gitlab: FakeGitLab) -> None:
    point_at(job, gitlab.url)
    job.env["CI_API_V4_URL"] = gitlab.url.replace("http://", "http://u:hunter2secret@") + "/api/v4"
    result = job.run()
    assert result.code == 64
    assert gitlab.recorded == []
    assert "must not contain credentials" in result.output
    assert "hunter2secret" not in result.output


def test_the_url_pinned_beside_the_token_file_wins_over_the_jobs_variables(
    job: Job, gitlab: FakeGitLab
) -> None:
    secret_dir = job.tmp / "secret"
    secret_dir.mkdir()
    (secret_dir / "gitlab-token").write_text(TOKEN + "\n")
    (secret_dir / "gitlab-url").write_text(gitlab.url + "\n")
    with raw_server(host=SECOND_HOST, behaviour="answer", answer=http_answer("200 OK")) as evil:
        point_at(job, evil.url)  # the job points every CI_* variable at its own server
        job.env["CI_SERVER_HOST"] = SECOND_HOST
        del job.env["DIND_PREFLIGHT_GITLAB_TOKEN"]
        job.env["DIND_PREFLIGHT_GITLAB_TOKEN_FILE"] = str(secret_dir / "gitlab-token")
        result = job.run()
    assert result.code == 0, result.output
    assert evil.requests == []
    assert gitlab.runners[RUNNER_ID]["paused"] is True
    assert all(r.headers.get("Private-Token") == TOKEN for r in gitlab.recorded)
    assert_no_secret(result, job)


def test_two_pins_that_disagree_send_nothing(job: Job, gitlab: FakeGitLab) -> None:
    secret_dir = job.tmp / "secret"
    secret_dir.mkdir()
    (secret_dir / "gitlab-token").write_text(TOKEN)
    (secret_dir / "gitlab-url").write_text(gitlab.url)
    with raw_server(host=SECOND_HOST, behaviour="answer", answer=http_answer("200 OK")) as evil:
        point_at(job, gitlab.url)
        job.env["DIND_PREFLIGHT_GITLAB_URL"] = evil.url
        job.env["DIND_PREFLIGHT_GITLAB_TOKEN_FILE"] = str(secret_dir / "gitlab-token")
        result = job.run()
    assert result.code == 64
    assert evil.requests == [] and gitlab.recorded == []
    assert "pin different GitLab URLs" in result.output or "different GitLab URLs" in result.output


def test_a_redirect_to_another_host_is_a_configuration_error(job: Job) -> None:
    with raw_server(host=SECOND_HOST, behaviour="answer", answer=http_answer("200 OK")) as evil:
        redirect = http_answer("302 Found", headers={"Location": f"{evil.url}/api/v4/x"})
        with raw_server(behaviour="answer", answer=redirect) as gitlab:
            point_at(job, gitlab.url)
            result = job.run()
            sent = gitlab.all_bytes()
    assert result.code == 78, result.output
    assert evil.requests == [], "the redirect was followed"
    assert b"PRIVATE-TOKEN: " + TOKEN.encode() in sent
    assert "with a redirect (HTTP 302 to '127.0.0.2')" in result.output
    assert "the token is never sent through a redirect" in result.output
    assert_no_secret(result, job)


def test_a_redirect_of_the_job_token_is_not_followed_either(job: Job) -> None:
    with raw_server(host=SECOND_HOST, behaviour="answer", answer=http_answer("200 OK")) as evil:
        redirect = http_answer("301 Moved Permanently", headers={"Location": f"{evil.url}/job"})
        with raw_server(behaviour="answer", answer=redirect) as gitlab:
            point_at(job, gitlab.url)
            del job.env["CI_RUNNER_ID"]  # the runner is looked up with GET /job (JOB-TOKEN)
            del job.env["DIND_PREFLIGHT_REPORT_PROJECT"]
            job.env["CI_JOB_TOKEN"] = JOB_TOKEN
            result = job.run()
            sent = gitlab.all_bytes()
    assert result.code == 78, result.output
    assert evil.requests == []
    assert b"JOB-TOKEN: " + JOB_TOKEN.encode() in sent
    assert "with a redirect (HTTP 301" in result.output
    assert_no_secret(result, job)


def test_a_gitlab_file_variable_token_and_a_separate_issues_token(
    job: Job, fake_gitlab: FakeGitLab
) -> None:
    """The runner token (manage_runner) pauses; the Reporter project token files the issue."""
    project_id = fake_gitlab.add_project(INCIDENTS)
    fake_gitlab.add_runner(RUNNER_ID)
    fake_gitlab.add_token(TOKEN, scopes=("manage_runner",), runners=(RUNNER_ID,), projects=())
    fake_gitlab.add_token(ISSUES_TOKEN, scopes=("api",), projects=(project_id,))
    point_at(job, fake_gitlab.url)
    # GitLab "File" variables: the variable holds the path of a file with the value.
    runner_file = job.tmp / "runner-token-file"
    runner_file.write_text(TOKEN)
    issues_file = job.tmp / "issues-token-file"
    issues_file.write_text(ISSUES_TOKEN + "\n")
    del job.env["DIND_PREFLIGHT_GITLAB_TOKEN"]
    job.env["DIND_PREFLIGHT_GITLAB_TOKEN_FILE"] = str(runner_file)
    job.env["DIND_PREFLIGHT_ISSUES_TOKEN_FILE"] = str(issues_file)
    job.artifacts.mkdir()
    annotations_file = job.artifacts / "annotations.json"
    result = job.run(
        "report",
        "--diagnosis",
        str(job.tmp / "diagnosis.json"),
        "--annotations",
        str(annotations_file),
    )
    assert result.code == 0, result.output
    assert fake_gitlab.runners[RUNNER_ID]["paused"] is True
    assert len(fake_gitlab.project_issues(project_id)) == 1
    for request in fake_gitlab.recorded:
        used = request.headers.get("Private-Token")
        expected = TOKEN if "/runners/" in request.path else ISSUES_TOKEN
        assert used == expected, (request.method, request.path)
    assert_no_secret(result, job)
    annotations = json.loads((job.artifacts / "annotations.json").read_text())
    assert annotations, "the annotations link the issue"
