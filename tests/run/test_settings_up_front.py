"""Every flag, variable and file of ``run`` is checked before the probe, whatever dind's state.

A healthy daemon (a loopback server answering ``/_ping`` as dockerd does) counts the requests it
gets: a wrong setting is one line naming it, exit 64 (66 for a missing file), and no probe at all.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from preflight import inputs
from preflight.errors import UsageError
from tests.run.test_run_cli import preflight_env, run

# dockerd 27's answer to GET /_ping (moby api/server/router/system/system_routes.go pingHandler).
PING = (
    b"HTTP/1.1 200 OK\r\nApi-Version: 1.47\r\nCache-Control: no-cache, no-store, must-revalidate\r\n"
    b"Docker-Experimental: false\r\nOstype: linux\r\nPragma: no-cache\r\n"
    b"Server: Docker/27.3.1 (linux)\r\nContent-Length: 2\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n\r\nOK"
)


class HealthyDaemon:
    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.requests = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """Wake the accept (shutdown does on Linux; close alone does not) and end the thread."""
        with contextlib.suppress(OSError):
            self.server.shutdown(socket.SHUT_RDWR)
        self.server.close()
        self.thread.join(timeout=5)
        assert not self.thread.is_alive()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                if data:
                    self.requests += 1
                    conn.sendall(PING)


@pytest.fixture
def daemon() -> Iterator[HealthyDaemon]:
    healthy = HealthyDaemon()
    try:
        yield healthy
    finally:
        healthy.stop()


def healthy_env(tmp_path: Path, daemon: HealthyDaemon, **extra: str) -> dict[str, str]:
    return preflight_env(tmp_path, DOCKER_HOST=f"tcp://127.0.0.1:{daemon.port}", **extra)


def test_the_healthy_daemon_is_healthy(tmp_path: Path, daemon: HealthyDaemon) -> None:
    result = run(healthy_env(tmp_path, daemon))
    assert result.returncode == 0, result.stderr
    assert daemon.requests == 1
    junit = (tmp_path / "reports" / "junit.xml").read_text()
    assert 'tests="1" failures="0"' in junit


@pytest.mark.parametrize(
    ("variable", "value", "code", "says"),
    [
        ("DIND_PREFLIGHT_GITLAB_TOKEN_FILE", "MISSING", 66, "does not exist"),
        ("DIND_PREFLIGHT_ISSUES_TOKEN_FILE", "MISSING", 66, "does not exist"),
        ("DIND_PREFLIGHT_REPORT_PROJECT", "bad project", 64, "is not a project id or path"),
        # (job mode takes the GitLab URL from the admin's file, not from a variable)
        ("DIND_PREFLIGHT_REPORTER_URL", "reporter:8080", 64, "is not an http(s) URL"),
        ("DIND_PREFLIGHT_HELPER_PULL_POLICY", "Sometimes", 64, "must be one of IfNotPresent"),
        ("DIND_PREFLIGHT_DIAGNOSE_TIMEOUT", "abc", 64, "is not a number of seconds"),
        ("DIND_PREFLIGHT_GITLAB_BUDGET", "-1", 64, "must be more than 0"),
        ("DIND_PREFLIGHT_GITLAB_TIMEOUT", "soon", 64, "is not a number of seconds"),
        ("DIND_PREFLIGHT_NO_HELPER", "maybe", 64, "must be on (1, true, yes, on)"),
        ("DIND_PREFLIGHT_DISABLE", "please", 64, "must be on (1, true, yes, on)"),
        ("DIND_PREFLIGHT_AGENT_INTERVAL", "0", 64, "must be more than 0"),
    ],
)
def test_a_wrong_setting_fails_before_the_probe_even_with_a_healthy_dind(
    tmp_path: Path, daemon: HealthyDaemon, variable: str, value: str, code: int, says: str
) -> None:
    if value == "MISSING":
        value = str(tmp_path / "missing-token")
    result = run(healthy_env(tmp_path, daemon, **{variable: value}))
    assert result.returncode == code, result.stderr
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("dind-preflight: error: ") and variable in result.stderr
    assert says in result.stderr
    assert daemon.requests == 0  # checked before the probe


def test_a_token_file_flag_that_is_missing_is_66(tmp_path: Path, daemon: HealthyDaemon) -> None:
    result = run(healthy_env(tmp_path, daemon), "--token-file", str(tmp_path / "nope"))
    assert result.returncode == 66 and "--token-file" in result.stderr
    assert daemon.requests == 0


@pytest.mark.parametrize("value", ["0", "false", "no", "off", "OFF", " "])
def test_disable_off_words_do_not_disable(
    tmp_path: Path, daemon: HealthyDaemon, value: str
) -> None:
    result = run(healthy_env(tmp_path, daemon, DIND_PREFLIGHT_DISABLE=value))
    assert result.returncode == 0 and "skipped" not in result.stdout
    assert daemon.requests == 1


@pytest.mark.parametrize("value", ["1", "true", "Yes", "on"])
def test_disable_on_words_disable(tmp_path: Path, daemon: HealthyDaemon, value: str) -> None:
    result = run(healthy_env(tmp_path, daemon, DIND_PREFLIGHT_DISABLE=value))
    assert result.stdout == "dind-preflight: skipped: DIND_PREFLIGHT_DISABLE is on\n"
    assert daemon.requests == 0


def test_one_boolean_parser() -> None:
    assert [inputs.boolean(v, "X") for v in ("1", "TRUE", " yes ", "on")] == [True] * 4
    assert [inputs.boolean(v, "X") for v in ("0", "False", "no", "off")] == [False] * 4
    assert inputs.boolean(None, "X") is False and inputs.boolean("", "X", default=True) is True
    with pytest.raises(UsageError, match=r"^X='2' must be on"):
        inputs.boolean("2", "X")


def test_a_bare_run_gets_the_arguments_the_parser_would_give() -> None:
    from preflight.cli import build_parser
    from preflight.commands.run import defaults

    parsed = vars(build_parser("run").parse_args(["run"]))
    for internal in ("command", "_run"):
        parsed.pop(internal)
    assert vars(defaults()) == parsed
