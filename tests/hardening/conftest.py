"""A broken-node job for `dind-preflight run` as a real process, and what to assert on its end.

The job: DOCKER_HOST points at a closed loopback port, the dind service log holds the real
"Table does not exist" start-up failure (tests/kube/logs), and the node is the field report's
CentOS 8 host root. So the run is a node fault (exit 75) that reaches the GitLab report in
about a second, and each test changes one thing: the GitLab it talks to, a file, a variable.
"""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.admin.support import in_admin_namespace, namespaces_work
from tests.gitlab.fake_gitlab import FakeGitLab, fake_gitlab
from tests.harness.dockerd import free_port
from tests.kube.failing_daemons import saved_log
from tests.kube.node_roots import centos8_node

__all__ = ["fake_gitlab"]

TOKEN = "glpat-HardenT3stToken-5a5a5a"
ISSUES_TOKEN = "glpat-IssuesOnlyT0ken-6b6b6b"
JOB_TOKEN = "glcbt-64_HardenJobT0ken99"
RUNNER_ID = 42
INCIDENTS = "ops/incidents"
GRACE_S = 2.0  # the issue's bound: wall time <= deadline + 2 s
DOCUMENTED_EXITS = {0, 64, 66, 69, 70, 75, 78, 130, 143}


@dataclass
class Job:
    """A job's files and environment; ``env`` may be changed before :meth:`run`."""

    tmp: Path
    env: dict[str, str]
    # The admin's file (None: absent) and read-only mounts, in the run's own mount namespace.
    admin: dict[str, Any] | None = None
    read_only: tuple[tuple[Path, str], ...] = ()
    tls: ssl.SSLContext | None = None  # the servers' TLS, whose CA the admin's file names

    @property
    def artifacts(self) -> Path:
        return Path(self.env["DIND_PREFLIGHT_ARTIFACTS_DIR"])

    def artifact_text(self) -> str:
        try:
            return "".join(p.read_text(errors="replace") for p in self.artifacts.iterdir())
        except OSError:  # none written, or a path no file system accepts
            return ""

    def start(self, *args: str) -> subprocess.Popen[str]:
        command = [sys.executable, "-m", "preflight", *args]
        if self.admin is not None:
            workdir = Path(tempfile.mkdtemp(prefix="ns-", dir=self.tmp))
            command = in_admin_namespace(
                command, workdir, config=self.admin, read_only=self.read_only
            )
        return subprocess.Popen(
            command,
            env=self.env,
            cwd=self.tmp,  # a relative path a job sets lands in its own directory, not the repo
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )

    def run(self, *args: str, timeout: float = 60) -> Result:
        started = time.monotonic()
        process = self.start(*(args or ("run",)))
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
        return Result(process.returncode, stdout, stderr, time.monotonic() - started)


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str
    elapsed_s: float

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def base_env(tmp: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DOCKER_", "DIND_", "CI_", "KUBERNETES_"))
        and k.upper() not in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY")
    }
    env["DIND_PREFLIGHT_ARTIFACTS_DIR"] = str(tmp / "reports")
    return env


@pytest.fixture
def job(tmp_path: Path) -> Job:
    """The broken-node job, with a token and GitLab variables still to point somewhere."""
    node = centos8_node(tmp_path / "node")
    log = tmp_path / "dind.log"
    log.write_text(saved_log("legacy-nat-missing"))
    env = base_env(tmp_path)
    env.update(
        DOCKER_HOST=f"tcp://127.0.0.1:{free_port()}",
        DIND_PREFLIGHT_TIMEOUT="5",
        DIND_PREFLIGHT_SERVICE_LOG=str(log),
        DIND_PREFLIGHT_NODE_ROOT=str(node),
        DIND_PREFLIGHT_GITLAB_TOKEN=TOKEN,
        DIND_PREFLIGHT_REPORT_PROJECT=INCIDENTS,
        DIND_PREFLIGHT_ALLOW_HTTP="1",
        DIND_PREFLIGHT_GITLAB_TIMEOUT="30",
        CI_SERVER_HOST="127.0.0.1",
        CI_RUNNER_ID=str(RUNNER_ID),
        CI_JOB_ID="7001",
        CI_PROJECT_PATH="g/app",
    )
    # A consistent GitLab (every setting is checked before the probe): on a closed loopback port
    # until a test points the job at a server of its own.
    point_at(Job(tmp_path, env), f"http://127.0.0.1:{free_port()}")
    return Job(tmp_path, env)


def point_at(job: Job, url: str) -> None:
    """The job's GitLab variables name ``url`` (a server on 127.0.0.1), and so does the admin's
    file when the job has one."""
    if job.admin is not None:
        job.admin["gitlab_url"] = url
    job.env["CI_SERVER_URL"] = url
    job.env["CI_API_V4_URL"] = f"{url}/api/v4"
    job.env["CI_SERVER_PORT"] = url.rsplit(":", 1)[1]
    job.env["CI_JOB_URL"] = f"{url}/g/app/-/jobs/7001"


@pytest.fixture
def gitlab(fake_gitlab: FakeGitLab) -> Iterator[FakeGitLab]:
    fake_gitlab.add_token(TOKEN, scopes=("api",), admin=True)
    fake_gitlab.add_runner(RUNNER_ID)
    fake_gitlab.add_project(INCIDENTS)
    yield fake_gitlab


def assert_no_secret(result: Result, job: Job, *secrets: str) -> None:
    """No token in the output or the artifacts."""
    for secret in secrets or (TOKEN, ISSUES_TOKEN, JOB_TOKEN):
        assert secret not in result.output, "a token reached the output"
        assert secret not in job.artifact_text(), "a token reached the artifacts"


def assert_clean_lines(text: str, limit: int = 10_000) -> None:
    """No raw control character but newline/tab/section markers, no overlong line (a dry run
    prints each planned request's JSON body on one line: a few KB)."""
    for line in text.splitlines():
        body = line.replace("\x1b[0K", "")  # GitLab's section markers (ci_log.section)
        assert "\x1b" not in body, f"raw ESC in {line[:120]!r}"
        assert "\r" not in body, f"raw CR in {line[:120]!r}"
        assert len(body) <= limit, f"a {len(body)}-character line: {body[:120]!r}"


def stderr_lines(result: Result) -> list[str]:
    """stderr without the progress lines a run prints after a few quiet seconds (``...``)."""
    return [
        line for line in result.stderr.splitlines() if line.strip() and not line.endswith("...")
    ]


def env_without(env: Mapping[str, str], *names: str) -> dict[str, str]:
    return {k: v for k, v in env.items() if k not in names}


@pytest.fixture
def admin_job(job: Job) -> Iterator[Job]:
    """The broken-node job on a runner with the admin's file: GitLab over TLS (the admin's CA),
    the token file the admin names, the node's root mounted read-only where the admin says, the
    runner found with GET /job. :func:`point_at` sets the admin's GitLab URL."""
    if not namespaces_work():
        pytest.fail("needs root and mount namespaces (unshare --mount): run make test as root")
    import trustme

    ca = trustme.CA()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    ca_file = job.tmp / "gitlab-ca.crt"
    ca.cert_pem.write_to_path(str(ca_file))
    secret = job.tmp / "admin-secret"
    secret.mkdir()
    (secret / "gitlab-token").write_text(TOKEN)
    host = str(job.tmp / "host")
    job.read_only = ((Path(job.env.pop("DIND_PREFLIGHT_NODE_ROOT")), host),)
    for name in ("DIND_PREFLIGHT_GITLAB_TOKEN", "DIND_PREFLIGHT_ALLOW_HTTP"):
        job.env.pop(name, None)
    job.env["CI_JOB_TOKEN"] = JOB_TOKEN
    job.tls = context
    job.admin = {
        "gitlab_url": "https://127.0.0.1:1",
        "gitlab_ca_file": str(ca_file),
        "token_file": str(secret / "gitlab-token"),
        "actions": ["pause-runner"],
        "node_root": host,
    }
    yield job


@pytest.fixture
def tls_gitlab(admin_job: Job) -> Iterator[FakeGitLab]:
    """The stateful fake GitLab over TLS, knowing the job's token (GET /job names the runner)."""
    fake = FakeGitLab(ssl_context=admin_job.tls).start()
    try:
        fake.add_token(TOKEN, scopes=("api",), admin=True)
        fake.add_runner(RUNNER_ID)
        fake.add_project(INCIDENTS)
        fake.add_job(JOB_TOKEN, 7001, RUNNER_ID)
        yield fake
    finally:
        fake.stop()
    assert not fake.errors, fake.errors
