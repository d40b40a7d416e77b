"""The product end to end, as a user adopts it: a project includes the component at its commit,
its job ``extends: .dind-preflight``, and gitlab-ci-local runs that job for real with the shell
executor (the runner's side of GitLab) against real dockerd processes, a node root and the fake
GitLab.

gitlab-ci-local cannot start services, so the test starts the daemon itself (tests/harness) and
the job uses the component's ``dind: none`` variant with ``DOCKER_HOST`` pointing at it.
"""

from __future__ import annotations

import json
import re
import ssl
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
import trustme

from tests.admin.support import in_admin_namespace, needs_mount_namespace
from tests.ci.gitlab_ci_local import GclRun, SampleProject, include_component, make_project
from tests.gitlab.fake_gitlab import FakeGitLab
from tests.harness.dockerd import Dockerd, free_port
from tests.node.profiles import centos8_field_report, healthy

pytestmark = pytest.mark.dockerd

JOB = "dind-job"
TOKEN = "glpat-E2eOnlyT0ken-4c3b2a19"
JOB_TOKEN = "glcbt-64_E2eJobT0ken5678"
RUNNER_ID = 42
INCIDENTS = "infra/runner-incidents"
SCRIPT_MARK = "the job's own script ran"
TIMEOUT_S = 3

CI_YAML = include_component(
    "dind-preflight", {"dind": "none", "timeout": TIMEOUT_S, "report-project": INCIDENTS}
) + (
    f"{JOB}:\n"
    "  extends: .dind-preflight\n"
    "  script:\n"
    "    - docker version\n"
    f'    - echo "{SCRIPT_MARK}"\n'
)


@pytest.fixture
def project(tmp_path: Path) -> SampleProject:
    """A user's project that includes the component at its own commit."""
    return make_project(tmp_path / "app", CI_YAML)


@pytest.fixture
def gitlab(fake_gitlab: FakeGitLab) -> tuple[FakeGitLab, int]:
    """The fake GitLab with an admin token, runner 42, a running job and the incident project."""
    fake_gitlab.add_token(TOKEN, scopes=("api",), admin=True)
    fake_gitlab.add_runner(RUNNER_ID, description="k8s-runner-a")
    fake_gitlab.add_job(JOB_TOKEN, job_id=1001, runner_id=RUNNER_ID)
    fake_gitlab.add_job(f"{JOB_TOKEN}-2", job_id=1002, runner_id=RUNNER_ID)
    return fake_gitlab, fake_gitlab.add_project(INCIDENTS)


def _job_variables(fake: FakeGitLab, docker_host: str, job_id: int = 1001) -> dict[str, str]:
    """What GitLab and the runner give the job (the fake's URLs instead of gitlab.example.com)."""
    return {
        "DOCKER_HOST": docker_host,
        "CI_SERVER_URL": fake.url,
        "CI_API_V4_URL": fake.api_url,
        "CI_SERVER_HOST": "127.0.0.1",
        "CI_SERVER_PORT": fake.url.rsplit(":", 1)[1],
        "DIND_PREFLIGHT_ALLOW_HTTP": "1",
        "CI_RUNNER_ID": str(RUNNER_ID),
        "CI_RUNNER_DESCRIPTION": "k8s-runner-a",
        "CI_JOB_ID": str(job_id),
        "CI_JOB_URL": f"{fake.url}/acme/platform/app/-/jobs/{job_id}",
        "CI_JOB_TOKEN": JOB_TOKEN if job_id == 1001 else f"{JOB_TOKEN}-2",
    }


def _run_job(project: SampleProject, variables: Mapping[str, str]) -> GclRun:
    return project.run("--force-shell-executor", JOB, variables=variables, timeout=180)


def _job_exit_code(result: GclRun) -> int:
    """The job's own exit code as gitlab-ci-local reports it (``FAIL <code>``; 0 on PASS)."""
    if (
        re.search(rf"{JOB}\s+finished in .*PASS", result.output)
        or "PASS  dind-job" in result.output
    ):
        return 0
    found = re.search(r"FAIL (\d+)", result.output)
    assert found, f"no exit code in gitlab-ci-local's output:\n{result.output}"
    return int(found.group(1))


def _preflight_lines(result: GclRun) -> list[str]:
    """The job log lines the preflight printed (between `$ dind-preflight run` and the next `$`)."""
    lines = result.stdout.splitlines() + result.stderr.splitlines()
    start = next(i for i, line in enumerate(lines) if line.endswith("$ dind-preflight run"))
    printed: list[str] = []
    for line in lines[start + 1 :]:
        if re.match(rf"^{JOB}\s+\$ ", line):
            break
        match = re.match(rf"^{JOB}\s+> ?(.*)$", line)
        if match:
            printed.append(match.group(1))
    return printed


def test_a_healthy_daemon_lets_the_job_run(
    project: SampleProject, healthy_dockerd: Dockerd, gitlab: tuple[FakeGitLab, int]
) -> None:
    fake, incidents = gitlab
    result = _run_job(project, _job_variables(fake, healthy_dockerd.tcp_host))

    assert result.returncode == 0, result.output
    assert _job_exit_code(result) == 0
    assert SCRIPT_MARK in result.output
    # Healthy costs nothing on GitLab's side: no pause, no issue, not even a read.
    assert fake.requests() == []
    assert fake.project_issues(incidents) == []
    # The reports are there for a healthy job too (the project's own pipeline asserts on them).
    reports = project.artifacts_of(JOB) / ".dind-preflight"
    assert isinstance(json.loads((reports / "annotations.json").read_text()), dict)
    junit = ET.parse(reports / "junit.xml").getroot()
    assert junit.findall(".//testcase")
    assert not junit.findall(".//testcase/failure") + junit.findall(".//testcase/error")


@pytest.fixture
def tls_gitlab(tmp_path: Path) -> Iterator[tuple[FakeGitLab, int, Path]]:
    """The fake GitLab over TLS (the admin's file names it and its CA), as the gitlab fixture."""
    ca = trustme.CA()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    ca_file = tmp_path / "gitlab-ca.crt"
    ca.cert_pem.write_to_path(str(ca_file))
    fake = FakeGitLab(ssl_context=context).start()
    try:
        fake.add_token(TOKEN, scopes=("api",), admin=True)
        fake.add_runner(RUNNER_ID, description="k8s-runner-a")
        fake.add_job(JOB_TOKEN, job_id=1001, runner_id=RUNNER_ID)
        fake.add_job(f"{JOB_TOKEN}-2", job_id=1002, runner_id=RUNNER_ID)
        yield fake, fake.add_project(INCIDENTS), ca_file
    finally:
        fake.stop()
    assert not fake.errors, fake.errors


@needs_mount_namespace
def test_the_field_report_node_is_diagnosed_reported_and_the_job_sent_elsewhere(
    project: SampleProject,
    field_report_dockerd: Dockerd,
    tls_gitlab: tuple[FakeGitLab, int, Path],
    tmp_path: Path,
) -> None:
    fake, incidents, ca_file = tls_gitlab
    # The daemon died exactly as in the field report (no nat table); the node is CentOS 8 after
    # the reboot into a new kernel, iptable_nat listed only in /etc/modules. The runner mounts
    # it read-only where the admin's file says, and the admin's file at its fixed path.
    assert field_report_dockerd.process is None or field_report_dockerd.process.poll() is not None
    node = centos8_field_report(tmp_path / "node", "before")
    host = str(tmp_path / "host")
    admin = {"gitlab_url": fake.url, "gitlab_ca_file": str(ca_file), "node_root": host}

    def on_the_runner(command: list[str]) -> list[str]:
        workdir = Path(tempfile.mkdtemp(dir=tmp_path))
        return in_admin_namespace(command, workdir, config=admin, read_only=((node.path, host),))

    variables = _job_variables(fake, field_report_dockerd.tcp_host)
    variables["DIND_PREFLIGHT_GITLAB_TOKEN"] = TOKEN
    # the dead daemon's own log (its nat failure line); the node's root backs it
    variables["DIND_PREFLIGHT_SERVICE_LOG"] = str(field_report_dockerd.log_path)

    result = project.run(
        "--force-shell-executor", JOB, variables=variables, timeout=180, wrap=on_the_runner
    )

    assert result.returncode != 0
    assert _job_exit_code(result) == 75, result.output
    assert SCRIPT_MARK not in result.output, "the job's script must not run on a broken node"
    summary = _preflight_lines(result)[0]
    assert "iptable_nat" in summary, f"the first line names the cause: {summary!r}"
    assert TOKEN not in result.output, "the token must never reach the job log"

    pauses = fake.runner_writes(RUNNER_ID)
    assert len(pauses) == 1, result.output
    assert pauses[0].body["paused"] is True
    assert fake.runners[RUNNER_ID]["paused"] is True
    assert "iptable_nat" in (fake.runners[RUNNER_ID]["maintenance_note"] or "")

    (issue,) = fake.project_issues(incidents)
    description = issue["description"] or ""
    assert "iptable_nat" in issue["title"] + description
    assert "/etc/modules-load.d/iptable_nat.conf" in description, "the issue carries the remedy"
    assert "modprobe" in description

    # Reports uploaded by `artifacts: when: always` although the job failed.
    reports = project.artifacts_of(JOB) / ".dind-preflight"
    annotations = json.loads((reports / "annotations.json").read_text())
    assert isinstance(annotations, dict) and annotations
    for section in annotations.values():
        for entry in section:
            assert set(entry) == {"external_link"}
            assert {"label", "url"} <= set(entry["external_link"])
    junit = ET.parse(reports / "junit.xml").getroot()
    failures = junit.findall(".//testcase/failure") + junit.findall(".//testcase/error")
    assert failures, ET.tostring(junit, encoding="unicode")
    assert "iptable_nat" in ET.tostring(junit, encoding="unicode")

    # The retried job (GitLab retries on exit 75) fails the same way on this node: still one issue.
    again = project.run(
        "--force-shell-executor",
        JOB,
        variables=_job_variables(fake, field_report_dockerd.tcp_host, job_id=1002)
        | {
            "DIND_PREFLIGHT_GITLAB_TOKEN": TOKEN,
            "DIND_PREFLIGHT_SERVICE_LOG": str(field_report_dockerd.log_path),
        },
        timeout=180,
        wrap=on_the_runner,
    )
    assert _job_exit_code(again) == 75, again.output
    assert len(fake.project_issues(incidents)) == 1


def test_a_tls_mismatch_is_the_jobs_fault_and_nothing_is_done_to_the_runner(
    project: SampleProject, tls_dockerd: Dockerd, gitlab: tuple[FakeGitLab, int]
) -> None:
    fake, incidents = gitlab
    # Plain HTTP to a TLS daemon (the job forgot DOCKER_TLS_VERIFY / DOCKER_CERT_PATH).
    variables = _job_variables(fake, tls_dockerd.tcp_host)
    variables["DIND_PREFLIGHT_GITLAB_TOKEN"] = TOKEN

    result = _run_job(project, variables)

    assert _job_exit_code(result) == 78, result.output
    assert SCRIPT_MARK not in result.output
    assert fake.runner_writes(RUNNER_ID) == []
    assert fake.runners[RUNNER_ID]["paused"] is False
    assert fake.project_issues(incidents) == []


def test_an_unexplained_dead_daemon_on_a_healthy_node_is_69_without_action(
    project: SampleProject, gitlab: tuple[FakeGitLab, int], tmp_path: Path
) -> None:
    fake, incidents = gitlab
    node = healthy(tmp_path / "node")
    variables = _job_variables(fake, f"tcp://127.0.0.1:{free_port()}")
    variables["DIND_PREFLIGHT_NODE_ROOT"] = str(node.path)
    variables["DIND_PREFLIGHT_GITLAB_TOKEN"] = TOKEN

    result = _run_job(project, variables)

    assert _job_exit_code(result) == 69, result.output
    assert fake.runner_writes(RUNNER_ID) == []
    assert fake.project_issues(incidents) == []


def test_disabled_the_job_runs_without_probing(
    project: SampleProject, gitlab: tuple[FakeGitLab, int]
) -> None:
    fake, _ = gitlab
    variables = _job_variables(fake, f"tcp://127.0.0.1:{free_port()}")
    variables["DIND_PREFLIGHT_DISABLE"] = "1"
    result = _run_job(project, variables)
    assert "$ dind-preflight run" in result.output
    assert fake.requests() == []
    # The preflight let the job's script start (which then fails on `docker version` against
    # nothing, as it should: disabling skips the preflight, not the job's own checks).
    assert "$ docker version" in result.output


def test_an_invalid_action_is_an_invalid_preflight_configuration(
    tmp_path: Path, gitlab: tuple[FakeGitLab, int]
) -> None:
    fake, _ = gitlab
    # Component inputs cannot carry an invalid action (GitLab rejects the pipeline), but a CI/CD
    # variable in the project settings can; it overrides the input's variable.
    project = make_project(tmp_path / "app", CI_YAML)
    variables = _job_variables(fake, f"tcp://127.0.0.1:{free_port()}")
    variables["DIND_PREFLIGHT_ACTION"] = "pause"
    result = _run_job(project, variables)
    assert _job_exit_code(result) == 64, result.output
    assert "dind-preflight: error:" in result.output
    assert fake.requests() == []
