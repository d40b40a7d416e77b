"""`dind-preflight probe` end to end: the installed CLI against real daemons and real sockets.

Every verdict and exit code is produced here by a real peer: dockerd processes (healthy, the
field report's, TLS, late, in their own network namespace), a listener that never answers, a
small HTTP server that answers 500, a closed port, a missing socket, a ``.invalid`` name.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
import trustme
from pytest_httpserver import HTTPServer

from tests.harness.dockerd import Dockerd, free_port
from tests.probe.conftest import CLI, ProbeRun, ended_by_the_deadline, probe_env, run_probe

pytestmark = pytest.mark.dockerd

# The --json document (the README links this contract).
RESULT_SCHEMA = {
    "type": "object",
    "required": [
        "verdict",
        "healthy",
        "docker_host",
        "elapsed_s",
        "server_version",
        "api_version",
        "detail",
        "reason",
        "hint",
        "tls",
        "attempts",
        "timeout_s",
        "deep",
        "daemon_log_line",
        "exit_code",
    ],
    "properties": {
        "verdict": {
            "enum": [
                "healthy",
                "refused",
                "timeout",
                "tls-mismatch",
                "unreachable",
                "error",
                "degraded",
            ]
        },
        "healthy": {"type": "boolean"},
        "docker_host": {"type": "string", "pattern": "^(tcp|unix)://"},
        "elapsed_s": {"type": "number", "minimum": 0},
        "server_version": {"type": ["string", "null"]},
        "api_version": {"type": ["string", "null"]},
        "detail": {"type": "string", "minLength": 1},
        "reason": {"type": "string"},
        "hint": {"type": "string"},
        "tls": {"type": "boolean"},
        "attempts": {"type": "integer", "minimum": 1},
        "timeout_s": {"type": "number", "exclusiveMinimum": 0},
        "deep": {
            "type": ["array", "null"],
            "items": {
                "type": "object",
                "required": ["name", "ok", "elapsed_s", "detail"],
                "properties": {
                    "name": {"enum": ["create-network", "remove-network"]},
                    "ok": {"type": "boolean"},
                },
            },
        },
        "daemon_log_line": {"type": ["string", "null"]},
        "exit_code": {"enum": [0, 69, 78]},
    },
}


def assert_verdict(
    run: ProbeRun, verdict: str, code: int, reason: str | None = None
) -> dict[str, Any]:
    """The JSON document of ``run``, after checking verdict, reason and exit code."""
    assert run.code == code, run.stdout + run.stderr
    document = run.json()
    jsonschema.validate(document, RESULT_SCHEMA)
    assert document["verdict"] == verdict, document
    assert document["exit_code"] == code
    assert document["healthy"] is (verdict == "healthy" and code == 0)
    if reason is not None:
        assert document["reason"] == reason, document
    if verdict != "healthy":
        assert document["server_version"] is None
    # stderr: at most the progress line of a wait longer than 2 s, never an error.
    progress = "dind-preflight: waiting for dind at "
    assert all(line.startswith(progress) for line in run.stderr.splitlines()), run.stderr
    return document


def server_version(daemon_host: str, env: dict[str, str] | None = None) -> str:
    """The daemon's version according to the Go docker CLI (the oracle)."""
    docker = shutil.which("docker")
    if docker is None:
        pytest.fail("the docker CLI is not installed (make test installs docker.io)")
    proc = subprocess.run(
        [docker, "version", "--format", "{{.Server.Version}}"],
        env=probe_env({"DOCKER_HOST": daemon_host, **(env or {})}),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return proc.stdout.strip()


# --- healthy -----------------------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["tcp", "unix"])
def test_healthy_daemon(healthy_dockerd: Dockerd, transport: str) -> None:
    host = healthy_dockerd.tcp_host if transport == "tcp" else healthy_dockerd.unix_host
    run = run_probe("--json", env=probe_env({"DOCKER_HOST": host}))
    document = assert_verdict(run, "healthy", 0, "ok")
    assert document["docker_host"] == host
    assert document["server_version"] == server_version(host)
    assert document["api_version"] and document["attempts"] == 1
    assert document["tls"] is False and document["deep"] is None


def test_healthy_human_summary_is_one_line(healthy_dockerd: Dockerd) -> None:
    run = run_probe("--docker-host", healthy_dockerd.tcp_host)
    assert run.code == 0
    lines = run.stdout.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(
        f"dind-preflight: docker daemon at {healthy_dockerd.tcp_host} is healthy"
    )
    assert f"Docker {server_version(healthy_dockerd.tcp_host)}" in lines[0]


# --- refused -----------------------------------------------------------------------------------


def test_refused_on_a_closed_port_waits_for_the_timeout() -> None:
    run = run_probe("--json", "--timeout", "1", "--docker-host", f"tcp://127.0.0.1:{free_port()}")
    document = assert_verdict(run, "refused", 69, "connection-refused")
    assert document["attempts"] > 10  # retried: dind takes seconds to start
    assert document["hint"].startswith("check the dind service log")
    assert document["elapsed_s"] >= 1.0 and ended_by_the_deadline(run, 1.0)


def test_refused_on_a_missing_socket(tmp_path: Path) -> None:
    socket_path = tmp_path / "missing.sock"
    run = run_probe("--json", "--timeout", "0.5", "--docker-host", f"unix://{socket_path}")
    document = assert_verdict(run, "refused", 69, "socket-missing")
    assert str(socket_path) in document["detail"]
    assert ended_by_the_deadline(run, 0.5)


def test_no_wait_makes_a_single_attempt() -> None:
    run = run_probe("--json", "--no-wait", "--docker-host", f"tcp://127.0.0.1:{free_port()}")
    document = assert_verdict(run, "refused", 69, "connection-refused")
    assert document["attempts"] == 1


def test_field_report_daemon_is_refused_and_its_fatal_line_quoted(
    field_report_dockerd: Dockerd,
) -> None:
    args = ("--timeout", "0.5", "--docker-host", field_report_dockerd.tcp_host)
    log = str(field_report_dockerd.log_path)
    document = assert_verdict(
        run_probe("--json", *args, "--daemon-log", log), "refused", 69, "connection-refused"
    )
    line = document["daemon_log_line"]
    assert line.startswith("failed to start daemon: Error initializing network controller")
    assert "Table does not exist (do you need to insmod?)" in line
    assert "(exit status 3)" in line and "\n" not in line
    assert document["hint"] == ""  # the quoted fatal line replaces "check the dind service log"
    human = run_probe(*args, "--daemon-log", log)
    assert human.code == 69
    assert "is NOT usable: refused" in human.stdout
    assert "daemon log: failed to start daemon" in human.stdout
    assert "exit code 69" in human.stdout


def test_unreadable_daemon_log_is_noted_not_fatal(tmp_path: Path) -> None:
    missing = tmp_path / "nope.log"
    run = run_probe(
        "--json",
        "--no-wait",
        "--docker-host",
        f"unix://{tmp_path}/x.sock",
        "--daemon-log",
        str(missing),
    )
    document = assert_verdict(run, "refused", 69, "socket-missing")
    assert document["daemon_log_line"] is None
    assert str(missing) in document["daemon_log_note"]


# --- late daemon -------------------------------------------------------------------------------


@pytest.fixture
def late_dockerd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dockerd]:
    """A daemon that is configured but not started yet; stopped whatever happens.

    Its directory is short: containerd's sockets under the exec root must fit in 108 bytes.
    """
    daemon = Dockerd(workdir=tmp_path_factory.mktemp("late"), port=free_port())
    try:
        yield daemon
    finally:
        daemon.stop()
        daemon.cleanup_files()


@pytest.mark.parametrize("transport", ["tcp", "unix"])
def test_late_daemon_is_waited_for(late_dockerd: Dockerd, transport: str) -> None:
    host = late_dockerd.tcp_host if transport == "tcp" else late_dockerd.unix_host
    starter = threading.Timer(1.0, late_dockerd.start)
    starter.start()
    try:
        run = run_probe("--json", "--timeout", "30", env=probe_env({"DOCKER_HOST": host}))
    finally:
        starter.join()
    document = assert_verdict(run, "healthy", 0, "ok")
    assert document["attempts"] > 5  # refused (or a missing socket) for a second, then healthy
    assert 1.0 < document["elapsed_s"] < 30


# --- timeout -----------------------------------------------------------------------------------


def test_silent_listener_times_out_on_time(silent_port: int) -> None:
    run = run_probe("--json", "--timeout", "1", "--docker-host", f"tcp://127.0.0.1:{silent_port}")
    document = assert_verdict(run, "timeout", 69, "no-answer")
    assert document["elapsed_s"] >= 1.0 and ended_by_the_deadline(run, 1.0)


def test_silent_listener_times_out_during_the_tls_handshake(
    silent_port: int, tls_dockerd: Dockerd
) -> None:
    assert tls_dockerd.tls is not None
    env = probe_env(
        {
            "DOCKER_HOST": f"tcp://127.0.0.1:{silent_port}",
            "DOCKER_TLS_VERIFY": "1",
            "DOCKER_CERT_PATH": str(tls_dockerd.tls.client_dir),
        }
    )
    run = run_probe("--json", "--timeout", "1", env=env)
    document = assert_verdict(run, "timeout", 69, "tls-handshake-timeout")
    assert ended_by_the_deadline(run, 1.0) and document["tls"] is True


# --- TLS ---------------------------------------------------------------------------------------


def tls_env(daemon_host: str, cert_path: Path, verify: bool = True) -> dict[str, str]:
    variable = "DOCKER_TLS_VERIFY" if verify else "DOCKER_TLS"
    return probe_env(
        {"DOCKER_HOST": daemon_host, variable: "1", "DOCKER_CERT_PATH": str(cert_path)}
    )


def test_tls_daemon_with_client_certs_is_healthy(tls_dockerd: Dockerd) -> None:
    assert tls_dockerd.tls is not None
    env = tls_env(tls_dockerd.tcp_host, tls_dockerd.tls.client_dir)
    document = assert_verdict(run_probe("--json", env=env), "healthy", 0, "ok")
    assert document["tls"] is True
    assert document["server_version"] == server_version(
        tls_dockerd.tcp_host,
        {"DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(tls_dockerd.tls.client_dir)},
    )


def test_docker_tls_certdir_alone_is_a_78_whose_hint_names_the_certificates(
    tls_dockerd: Dockerd, tmp_path: Path
) -> None:
    # The docker CLI never reads DOCKER_TLS_CERTDIR: it sends plain HTTP to the TLS port.
    assert tls_dockerd.tls is not None
    shutil.copytree(tls_dockerd.tls.client_dir, tmp_path / "certs" / "client")
    env = probe_env(
        {"DOCKER_HOST": tls_dockerd.tcp_host, "DOCKER_TLS_CERTDIR": str(tmp_path / "certs")}
    )
    document = assert_verdict(run_probe("--json", "--timeout", "5", env=env), "tls-mismatch", 78)
    assert document["tls"] is False
    client = str(tmp_path / "certs" / "client")
    assert document["hint"] == (
        f"certificates exist in {client} ($DOCKER_TLS_CERTDIR/client) but your docker CLI will "
        f"not use them: set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH={client}"
    )


def test_tls_daemon_without_client_certs(tls_dockerd: Dockerd, tmp_path: Path) -> None:
    assert tls_dockerd.tls is not None
    shutil.copy(tls_dockerd.tls.client_dir / "ca.pem", tmp_path / "ca.pem")
    run = run_probe("--json", "--timeout", "5", env=tls_env(tls_dockerd.tcp_host, tmp_path))
    document = assert_verdict(run, "tls-mismatch", 78, "client-cert-required")
    assert str(tmp_path) in document["detail"]
    assert document["attempts"] == 1  # certain: not retried


def test_tls_daemon_with_certificates_of_another_ca(tls_dockerd: Dockerd, tmp_path: Path) -> None:
    other = trustme.CA()
    other.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    client = other.issue_cert("intruder")
    client.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    client.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    run = run_probe("--json", env=tls_env(tls_dockerd.tcp_host, tmp_path))
    document = assert_verdict(run, "tls-mismatch", 78, "server-cert-untrusted")
    assert "unable to get local issuer certificate" in document["detail"]
    # Without verification the server is accepted, but the daemon rejects our client cert.
    run = run_probe("--json", env=tls_env(tls_dockerd.tcp_host, tmp_path, verify=False))
    assert_verdict(run, "tls-mismatch", 78, "client-cert-rejected")


def test_plain_client_against_the_tls_port(tls_dockerd: Dockerd) -> None:
    run = run_probe("--json", "--timeout", "5", "--docker-host", tls_dockerd.tcp_host)
    document = assert_verdict(run, "tls-mismatch", 78, "plain-http-to-tls-port")
    assert "DOCKER_TLS_VERIFY=1" in document["hint"]
    assert document["attempts"] == 1  # certain: no waiting for the timeout


def test_tls_client_against_a_plain_daemon(healthy_dockerd: Dockerd, tls_dockerd: Dockerd) -> None:
    assert tls_dockerd.tls is not None
    env = tls_env(healthy_dockerd.tcp_host, tls_dockerd.tls.client_dir)
    run = run_probe("--json", "--timeout", "5", env=env)
    document = assert_verdict(run, "tls-mismatch", 78, "tls-to-plain-port")
    assert "unset DOCKER_TLS_VERIFY" in document["hint"]
    assert document["attempts"] == 1  # certain: no waiting for the timeout


def test_missing_tls_files_are_retried_then_reported(tls_dockerd: Dockerd, tmp_path: Path) -> None:
    run = run_probe(
        "--json", "--timeout", "0.5", env=tls_env(tls_dockerd.tcp_host, tmp_path / "nope")
    )
    document = assert_verdict(run, "tls-mismatch", 78, "tls-files-missing")
    assert f"{tmp_path}/nope/ca.pem" in document["detail"]
    assert document["attempts"] > 1 and ended_by_the_deadline(run, 0.5)


def test_human_summary_for_tls_mismatch(tls_dockerd: Dockerd) -> None:
    run = run_probe("--docker-host", tls_dockerd.tcp_host)
    assert run.code == 78
    assert f"docker daemon at {tls_dockerd.tcp_host} is NOT usable: tls-mismatch" in run.stdout
    assert "expects TLS but the probe spoke plain HTTP" in run.stdout
    assert "hint: " in run.stdout and "exit code 78" in run.stdout


# --- inside a pod-like network namespace: dind's own ports ---------------------------------------


def test_tls_certificate_names_are_checked(netns_tls_dockerd: Dockerd) -> None:
    assert netns_tls_dockerd.tls is not None
    client = netns_tls_dockerd.tls.client_dir
    by_ip = run_probe(
        "--json", env=tls_env("tcp://127.0.0.1:2376", client), prefix=netns_tls_dockerd.in_netns([])
    )
    document = assert_verdict(by_ip, "tls-mismatch", 78, "server-cert-name-mismatch")
    assert "127.0.0.1" in document["detail"]
    by_name = run_probe(
        "--json", env=tls_env("tcp://localhost:2376", client), prefix=netns_tls_dockerd.in_netns([])
    )
    assert_verdict(by_name, "healthy", 0, "ok")


def test_plain_job_against_dind_with_tls_is_a_wrong_port(netns_tls_dockerd: Dockerd) -> None:
    # The classic: DOCKER_HOST=tcp://docker:2375 while dind (DOCKER_TLS_CERTDIR set) serves 2376.
    run = run_probe(
        "--json",
        "--timeout",
        "10",
        env=probe_env({"DOCKER_HOST": "tcp://localhost:2375"}),
        prefix=netns_tls_dockerd.in_netns([]),
    )
    document = assert_verdict(run, "tls-mismatch", 78, "wrong-port")
    assert "a TLS daemon answers on port 2376" in document["detail"]
    assert "DOCKER_HOST=tcp://localhost:2376" in document["hint"]
    assert document["attempts"] == 1  # certain at the first attempt, no waiting for the timeout


def test_tls_job_against_dind_without_tls_is_a_wrong_port(
    netns_nat_dockerd: Dockerd, tls_dockerd: Dockerd
) -> None:
    assert tls_dockerd.tls is not None
    env = tls_env("tcp://localhost:2376", tls_dockerd.tls.client_dir)
    run = run_probe("--json", "--timeout", "10", env=env, prefix=netns_nat_dockerd.in_netns([]))
    document = assert_verdict(run, "tls-mismatch", 78, "wrong-port")
    assert "a plain-HTTP daemon answers on port 2375" in document["detail"]
    assert "DOCKER_HOST=tcp://localhost:2375" in document["hint"]
    assert document["attempts"] == 1  # certain: no waiting for the timeout


# --- deep --------------------------------------------------------------------------------------


def networks_labelled(daemon_host: str) -> list[str]:
    docker = shutil.which("docker")
    assert docker is not None
    proc = subprocess.run(
        [docker, "network", "ls", "--quiet", "--filter", "label=dind-preflight"],
        env=probe_env({"DOCKER_HOST": daemon_host}),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return proc.stdout.split()


def test_deep_on_the_healthy_daemon(healthy_dockerd: Dockerd) -> None:
    run = run_probe("--json", "--deep", "--docker-host", healthy_dockerd.unix_host)
    document = assert_verdict(run, "healthy", 0, "ok")
    steps = document["deep"]
    assert [(s["name"], s["ok"]) for s in steps] == [
        ("create-network", True),
        ("remove-network", True),
    ]
    assert networks_labelled(healthy_dockerd.unix_host) == []
    human = run_probe("--deep", "--docker-host", healthy_dockerd.unix_host)
    assert "deep check create-network: ok" in human.stdout and human.code == 0


def test_deep_catches_a_node_that_lost_its_nat_table(netns_nat_dockerd: Dockerd) -> None:
    host = netns_nat_dockerd.unix_host
    assert_verdict(run_probe("--json", "--deep", "--docker-host", host), "healthy", 0, "ok")
    netns_nat_dockerd.set_nat_missing(True)
    try:
        run = run_probe("--json", "--deep", "--docker-host", host)
        human = run_probe("--deep", "--docker-host", host)
    finally:
        netns_nat_dockerd.set_nat_missing(False)
    assert run.code == 69
    document = run.json()
    jsonschema.validate(document, RESULT_SCHEMA)
    # /_ping still answers, the network step failed: its own verdict, and the nat cause
    assert document["verdict"] == "degraded" and document["healthy"] is False
    assert document["exit_code"] == 69
    assert document["reason"] == "deep-create-network-failed"
    assert document["cause"] == "iptable_nat-missing"
    assert document["hint"].startswith("iptable_nat-missing: Load iptable_nat")
    [step] = document["deep"]
    assert step["name"] == "create-network" and step["ok"] is False
    assert "Table does not exist (do you need to insmod?)" in step["detail"]
    assert "deep check create-network: FAILED" in human.stdout and human.code == 69
    assert "  hint: iptable_nat-missing: " in human.stdout
    assert networks_labelled(host) == []


# --- unreachable, error ------------------------------------------------------------------------


def test_unresolvable_name_is_unreachable() -> None:
    run = run_probe(
        "--json", "--timeout", "5", "--docker-host", "tcp://dind-preflight-test.invalid:2375"
    )
    document = assert_verdict(run, "unreachable", 69)
    assert document["reason"] in ("dns-failure", "dns-temporary")
    assert "dind-preflight-test.invalid" in document["detail"]
    assert ended_by_the_deadline(run, 5.0)


def test_http_error_from_the_daemon(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/_ping").respond_with_data("daemon exploded", status=500)
    run = run_probe(
        "--json", "--timeout", "5", "--docker-host", f"tcp://127.0.0.1:{httpserver.port}"
    )
    document = assert_verdict(run, "error", 69, "http-error")
    assert "HTTP 500" in document["detail"] and "daemon exploded" in document["detail"]
    assert document["attempts"] == 1


def test_not_http_at_all(tmp_path: Path) -> None:
    import socket

    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def answer() -> None:
        conn, _ = server.accept()
        conn.sendall(b"SSH-2.0-OpenSSH_9.2p1\r\n")
        time.sleep(0.5)
        conn.close()

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        run = run_probe(
            "--json",
            "--timeout",
            "5",
            "--docker-host",
            f"tcp://127.0.0.1:{server.getsockname()[1]}",
        )
    finally:
        thread.join(timeout=5)
        server.close()
    document = assert_verdict(run, "error", 69, "not-http")
    assert "SSH-2.0" in document["detail"]


# --- usage errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        ((), {"DOCKER_HOST": "htp://x"}, "invalid DOCKER_HOST 'htp://x'"),
        (("--docker-host", "tcp://h:port"), {}, "invalid --docker-host 'tcp://h:port'"),
        (("--docker-host", "ssh://u@h"), {}, "supports tcp:// and unix://"),
        (("--timeout", "0"), {}, "--timeout"),
        (("--timeout", "soon"), {}, "--timeout"),
        (("--bogus",), {}, "unrecognized arguments"),
    ],
)
def test_invalid_usage_is_one_line_and_exit_64(
    args: tuple[str, ...], env: dict[str, str], message: str
) -> None:
    run = run_probe(*args, env=probe_env(env))
    assert run.code == 64
    assert run.stdout == ""
    lines = run.stderr.strip().splitlines()
    assert "Traceback" not in run.stderr
    error_lines = [line for line in lines if "error:" in line]
    assert len(error_lines) == 1 and message in error_lines[0]


def test_help_documents_verdicts_and_exit_codes() -> None:
    proc = subprocess.run(
        [str(CLI), "probe", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert proc.returncode == 0
    for word in (
        "healthy",
        "refused",
        "timeout",
        "tls-mismatch",
        "unreachable",
        "error",
        "69",
        "78",
        "64",
        "DOCKER_TLS_CERTDIR",
        "--deep",
        "--timeout",
        "--json",
    ):
        assert word in proc.stdout


def test_json_round_trips_into_the_contract(healthy_dockerd: Dockerd) -> None:
    from preflight.jsonable import from_json
    from preflight.probe.model import ProbeResult, Verdict

    document = run_probe("--json", "--docker-host", healthy_dockerd.tcp_host).json()
    result = from_json(ProbeResult, document)
    assert result.verdict is Verdict.HEALTHY and result.healthy
    assert json.loads(json.dumps(document)) == document


@pytest.mark.parametrize("verify", [True, False])
def test_deep_over_tls_ignores_the_ci_image_ca_bundle(
    tls_dockerd: Dockerd, tmp_path: Path, verify: bool
) -> None:
    # CI images often set REQUESTS_CA_BUNDLE; it must not replace the dind CA for --deep.
    assert tls_dockerd.tls is not None
    unrelated = tmp_path / "bundle.pem"
    trustme.CA().cert_pem.write_to_path(str(unrelated))
    env = tls_env(tls_dockerd.tcp_host, tls_dockerd.tls.client_dir, verify=verify)
    env.update(REQUESTS_CA_BUNDLE=str(unrelated), CURL_CA_BUNDLE=str(unrelated))
    document = assert_verdict(run_probe("--json", "--deep", env=env), "healthy", 0, "ok")
    assert [s["ok"] for s in document["deep"]] == [True, True]


def test_version_from_get_version_when_ping_does_not_name_it(httpserver: HTTPServer) -> None:
    # A daemon behind a proxy that rewrites Server: the probe asks GET /version instead.
    httpserver.expect_request("/_ping").respond_with_data("OK", status=200)
    httpserver.expect_request("/version").respond_with_json(
        {"Version": "99.1.0", "ApiVersion": "1.99"}
    )
    run = run_probe("--json", "--docker-host", f"tcp://127.0.0.1:{httpserver.port}")
    document = assert_verdict(run, "healthy", 0, "ok")
    assert (document["server_version"], document["api_version"]) == ("99.1.0", "1.99")
    assert [request.path for request, _ in httpserver.log] == ["/_ping", "/version"]


def test_a_bare_probe_gets_the_arguments_the_parser_would_give() -> None:
    from preflight.cli import build_parser
    from preflight.commands.probe import defaults

    parsed = vars(build_parser("probe").parse_args(["probe"]))
    for internal in ("command", "_run"):
        parsed.pop(internal)
    assert vars(defaults()) == parsed
