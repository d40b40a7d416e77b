"""Endpoint resolution: DOCKER_HOST and TLS settings, exactly like the docker CLI.

Two kinds of tests: tables of cases with the expected answer written out, and the same inputs
given to the real docker CLI (``docker context inspect``), whose answer must equal ours.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from preflight.errors import UsageError
from preflight.exitcodes import ExitCode
from preflight.probe.endpoint import (
    HostError,
    TLSSettings,
    join_host_port,
    mask_userinfo,
    parse_host,
    resolve_endpoint,
    resolve_tls,
    split_host_port,
)

# (DOCKER_HOST value, normalised host) — valid for the CLI.
VALID_HOSTS = [
    ("", "unix:///var/run/docker.sock"),
    ("   ", "unix:///var/run/docker.sock"),
    ("unix://", "unix:///var/run/docker.sock"),
    ("unix:///run/docker.sock", "unix:///run/docker.sock"),
    ("unix://path/to/socket", "unix://path/to/socket"),
    ("tcp://", "tcp://localhost:2375"),
    ("tcp://:", "tcp://localhost:2375"),
    ("tcp://docker", "tcp://docker:2375"),
    ("tcp://docker:", "tcp://docker:2375"),
    ("tcp://docker:2376", "tcp://docker:2376"),
    ("docker", "tcp://docker:2375"),
    ("docker:2376", "tcp://docker:2376"),
    ("localhost:", "tcp://localhost:2375"),
    ("localhost:5555/path", "tcp://localhost:5555/path"),
    (":6666", "tcp://localhost:6666"),
    ("tcp://:7777/path", "tcp://localhost:7777/path"),
    ("  tcp://x:1  ", "tcp://x:1"),
    ("tcp://0.0.0.0:8080", "tcp://0.0.0.0:8080"),
    ("tcp://192.168:8080", "tcp://192.168:8080"),
    ("tcp://h:0", "tcp://h:0"),
    ("tcp://h:99999", "tcp://h:99999"),
    ("tcp://[::1]:5", "tcp://[::1]:5"),
    ("tcp://[::1]:", "tcp://[::1]:2375"),
    ("[0:0:0:0:0:0:0:1]:5555/path", "tcp://[0:0:0:0:0:0:0:1]:5555/path"),
    ("x:1:2", "tcp://[x:1:2]:2375"),
    ("tcp://user@docker:2375", "tcp://docker:2375"),
    ("tcp://docker:2375?x=1", "tcp://docker:2375"),
    ("tcp://docker:2375#frag", "tcp://docker:2375"),
    ("tcp://docker-1.ns_x.svc~:2375", "tcp://docker-1.ns_x.svc~:2375"),
]

# DOCKER_HOST values the CLI rejects.
INVALID_HOSTS = [
    "htp://x",
    "http://x",
    "https://x:1",
    "udp://127.0.0.1:2375",
    "://",
    "unknown://",
    "tcp://:port",
    "tcp://invalid:port",
    "tcp://x:-1",
    "tcp://x:abc",
    "tcp://a b",
    "something with spaces",
    "tcp://unix:///run/docker.sock",
    "unix://tcp://127.0.0.1",
    "tcp://[::1]",
    "tcp://a|b:1",
    "tcp://a{b:1",
]


@pytest.mark.parametrize(("value", "expected"), VALID_HOSTS)
def test_parse_host_normalises_like_the_cli(value: str, expected: str) -> None:
    assert parse_host(value) == expected


@pytest.mark.parametrize("value", INVALID_HOSTS)
def test_parse_host_rejects_what_the_cli_rejects(value: str) -> None:
    with pytest.raises(HostError):
        parse_host(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", "tcp://localhost:2376"),  # the only case where TLS changes the default port
        ("tcp://docker", "tcp://docker:2375"),  # the CLI keeps 2375 even with TLS
        ("unix:///x.sock", "unix:///x.sock"),
    ],
)
def test_tls_changes_only_the_empty_default(value: str, expected: str) -> None:
    assert parse_host(value, default_to_tls=True) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/var/run/other.sock", "unix:///var/run/other.sock"),
        ("./docker.sock", "unix://./docker.sock"),
    ],
)
def test_a_bare_path_is_a_unix_socket(value: str, expected: str) -> None:
    # docker/cli master: a path without scheme means unix:// (28.2 and older made it a tcp path).
    assert parse_host(value) == expected


@pytest.mark.parametrize(
    ("hostport", "expected"),
    [
        ("h:1", ("h", "1")),
        ("h:", ("h", "")),
        (":1", ("", "1")),
        ("[::1]:2", ("::1", "2")),
        ("[fe80::1%lo]:2", ("fe80::1%lo", "2")),
    ],
)
def test_split_host_port_like_go(hostport: str, expected: tuple[str, str]) -> None:
    assert split_host_port(hostport) == expected


@pytest.mark.parametrize(
    "hostport", ["h", "[::1]", "::1:2", "[::1]x:2", "[::1]:2]", "h[:2", "[::1", "a:b:c"]
)
def test_split_host_port_errors_like_go(hostport: str) -> None:
    with pytest.raises(HostError):
        split_host_port(hostport)


def test_join_host_port_brackets_ipv6() -> None:
    assert join_host_port("::1", "2375") == "[::1]:2375"
    assert join_host_port("docker", "2375") == "docker:2375"


# --- resolve_endpoint: env + flag -> Endpoint --------------------------------------------------


def _files(*paths: str) -> set[str]:
    return set(paths)


@pytest.mark.parametrize(
    ("env", "flag", "scheme", "host", "port", "socket", "base_path", "source"),
    [
        ({}, None, "unix", "", 0, "/var/run/docker.sock", "", "default"),
        ({"DOCKER_HOST": ""}, None, "unix", "", 0, "/var/run/docker.sock", "", "default"),
        ({"DOCKER_HOST": "tcp://docker:2375"}, None, "tcp", "docker", 2375, "", "", "DOCKER_HOST"),
        ({"DOCKER_HOST": "tcp://docker"}, "unix:///s", "unix", "", 0, "/s", "", "--docker-host"),
        ({}, "tcp://[::1]:2376/api/", "tcp", "::1", 2376, "", "/api", "--docker-host"),
        ({}, "127.0.0.1:1", "tcp", "127.0.0.1", 1, "", "", "--docker-host"),
    ],
)
def test_resolve_endpoint(
    env: dict[str, str],
    flag: str | None,
    scheme: str,
    host: str,
    port: int,
    socket: str,
    base_path: str,
    source: str,
) -> None:
    endpoint = resolve_endpoint(env, flag)
    assert (endpoint.scheme, endpoint.host, endpoint.port) == (scheme, host, port)
    assert (endpoint.socket_path, endpoint.base_path, endpoint.host_source) == (
        socket,
        base_path,
        source,
    )
    assert endpoint.tls is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("htp://x", "invalid DOCKER_HOST 'htp://x': invalid bind address format: htp://x"),
        ("tcp://h:0", "port 0 is out of range"),
        ("tcp://h:70000", "port 70000 is out of range"),
        ("ssh://me@build-host", "supports tcp:// and unix:// daemons only, not ssh://"),
        ("fd://", "not fd://"),
        ("npipe:////./pipe/docker_engine", "not npipe://"),
        ("tcp://user:s3cret@h:x", "tcp://***@h:x"),
        ("unix:///" + "d" * 107, "longer than 107 bytes"),
    ],
)
def test_invalid_hosts_are_usage_errors(value: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        resolve_endpoint({"DOCKER_HOST": value})
    assert message in str(caught.value)
    assert caught.value.exit_code == ExitCode.USAGE
    assert "\n" not in str(caught.value)
    assert "s3cret" not in str(caught.value)


def test_flag_errors_name_the_flag() -> None:
    with pytest.raises(UsageError, match="invalid --docker-host 'udp://x'"):
        resolve_endpoint({"DOCKER_HOST": "tcp://fine:1"}, "udp://x")


def test_mask_userinfo() -> None:
    assert mask_userinfo("tcp://a:b@h:1") == "tcp://***@h:1"
    assert mask_userinfo("tcp://h:1") == "tcp://h:1"


# --- TLS ---------------------------------------------------------------------------------------

CERTS = "/certs/client"
ALL_CLIENT_FILES = _files(f"{CERTS}/ca.pem", f"{CERTS}/cert.pem", f"{CERTS}/key.pem")


@pytest.mark.parametrize(
    ("env", "files", "expected"),
    [
        ({}, set(), None),
        ({"DOCKER_TLS_VERIFY": ""}, set(), None),
        (
            {"DOCKER_TLS_VERIFY": "1", "HOME": "/home/u"},
            set(),
            TLSSettings(
                True, "/home/u/.docker/ca.pem", None, None, "/home/u/.docker", "DOCKER_TLS_VERIFY"
            ),
        ),
        (  # any non-empty value turns TLS on, even "0" (as in the CLI)
            {"DOCKER_TLS_VERIFY": "0", "DOCKER_CONFIG": "/cfg"},
            set(),
            TLSSettings(True, "/cfg/ca.pem", None, None, "/cfg", "DOCKER_TLS_VERIFY"),
        ),
        (
            {"DOCKER_TLS": "1", "DOCKER_CERT_PATH": CERTS + "/"},
            ALL_CLIENT_FILES,
            TLSSettings(
                False,
                f"{CERTS}/ca.pem",
                f"{CERTS}/cert.pem",
                f"{CERTS}/key.pem",
                CERTS,
                "DOCKER_TLS",
            ),
        ),
        (  # client cert files are used only when they exist; the CA is always named
            {"DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": CERTS},
            _files(f"{CERTS}/cert.pem"),
            TLSSettings(
                True, f"{CERTS}/ca.pem", f"{CERTS}/cert.pem", None, CERTS, "DOCKER_TLS_VERIFY"
            ),
        ),
        (  # DOCKER_TLS_CERTDIR turns nothing on: the docker CLI never reads it
            {"DOCKER_TLS_CERTDIR": "/certs", "DOCKER_HOST": "tcp://docker:2376"},
            ALL_CLIENT_FILES,
            None,
        ),
        (  # ... and an explicit DOCKER_CERT_PATH is what counts
            {
                "DOCKER_TLS_CERTDIR": "/certs",
                "DOCKER_HOST": "tcp://docker:2376",
                "DOCKER_TLS_VERIFY": "1",
                "DOCKER_CERT_PATH": "/mine",
            },
            ALL_CLIENT_FILES,
            TLSSettings(True, "/mine/ca.pem", None, None, "/mine", "DOCKER_TLS_VERIFY"),
        ),
        (  # DOCKER_TLS with DOCKER_TLS_CERTDIR: the CLI's default cert path, no verification
            {"DOCKER_TLS_CERTDIR": "/certs/", "DOCKER_HOST": "docker:2376", "DOCKER_TLS": "1"},
            ALL_CLIENT_FILES,
            TLSSettings(False, "/.docker/ca.pem", None, None, "/.docker", "DOCKER_TLS"),
        ),
        (  # empty DOCKER_TLS_CERTDIR means "no TLS" in dind
            {"DOCKER_TLS_CERTDIR": "", "DOCKER_HOST": "tcp://docker:2375"},
            ALL_CLIENT_FILES,
            None,
        ),
    ],
)
def test_resolve_tls(env: dict[str, str], files: set[str], expected: TLSSettings | None) -> None:
    assert resolve_tls(env, exists=files.__contains__) == expected


def test_certificates_in_the_certdir_only_feed_the_hint() -> None:
    env = {"DOCKER_TLS_CERTDIR": "/certs", "DOCKER_HOST": "tcp://docker:2376"}
    endpoint = resolve_endpoint(env, exists=ALL_CLIENT_FILES.__contains__)
    assert endpoint.tls is None and endpoint.unused_certdir == CERTS
    incomplete = resolve_endpoint(env, exists=_files(f"{CERTS}/ca.pem").__contains__)
    assert incomplete.unused_certdir == ""
    with_tls = resolve_endpoint(
        {**env, "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": CERTS},
        exists=ALL_CLIENT_FILES.__contains__,
    )
    assert with_tls.tls is not None and with_tls.unused_certdir == ""


def test_the_docker_cli_ignores_docker_tls_certdir(tmp_path: Path) -> None:
    client = tmp_path / "certs" / "client"
    client.mkdir(parents=True)
    for name in ("ca.pem", "cert.pem", "key.pem"):
        (client / name).write_text("-----BEGIN CERTIFICATE-----\n")
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    env = {"DOCKER_HOST": "tcp://docker:2376", "DOCKER_TLS_CERTDIR": str(tmp_path / "certs")}
    cli = _cli_endpoint(env, config_dir)
    assert cli is not None
    _, _, material = cli
    assert material == frozenset(), "the real CLI loads no TLS material from DOCKER_TLS_CERTDIR"
    ours = resolve_endpoint({**env, "HOME": str(config_dir)}, exists=os.path.isfile)
    assert ours.tls is None


def test_tls_is_applied_to_tcp_and_the_empty_host_becomes_2376() -> None:
    endpoint = resolve_endpoint({"DOCKER_TLS_VERIFY": "1", "HOME": "/h"})
    assert endpoint.docker_host == "tcp://localhost:2376"
    assert endpoint.tls is not None and endpoint.tls.verify


# --- the docker CLI as the oracle --------------------------------------------------------------


def _cli_endpoint(env: dict[str, str], config_dir: Path) -> tuple[str, bool, frozenset[str]] | None:
    """(host, skip_verify, TLS files) the real docker CLI resolves, or None when it refuses."""
    docker = shutil.which("docker")
    if docker is None:
        pytest.fail("the docker CLI is not installed (make test installs docker.io)")
    full_env = {
        "PATH": os.environ["PATH"],
        "HOME": str(config_dir),
        "DOCKER_CONFIG": str(config_dir),
    }
    full_env.update(env)
    fmt = "{{json .Endpoints.docker}}|{{json .TLSMaterial}}"
    proc = subprocess.run(
        [docker, "context", "inspect", "default", "--format", fmt],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if proc.returncode != 0:
        return None
    endpoint_json, _, material_json = proc.stdout.strip().partition("|")
    endpoint = json.loads(endpoint_json)
    material = json.loads(material_json) or {}
    return endpoint["Host"], endpoint["SkipTLSVerify"], frozenset(material.get("docker", []))


ORACLE_HOSTS = [value for value, _ in VALID_HOSTS if "h:0" not in value and "99999" not in value]


def test_host_parsing_matches_the_docker_cli(tmp_path: Path) -> None:
    mismatches = []
    for value in ORACLE_HOSTS + INVALID_HOSTS:
        cli = _cli_endpoint({"DOCKER_HOST": value}, tmp_path)
        try:
            ours: str | None = parse_host(value)
        except HostError:
            ours = None
        theirs = cli[0] if cli else None
        if ours != theirs:
            mismatches.append((value, ours, theirs))
    assert mismatches == []


@pytest.mark.parametrize(
    ("env", "files"),
    [
        ({"DOCKER_TLS_VERIFY": "1"}, ("ca.pem",)),
        ({"DOCKER_TLS_VERIFY": "1"}, ("ca.pem", "cert.pem", "key.pem")),
        ({"DOCKER_TLS_VERIFY": "0"}, ("ca.pem", "cert.pem")),
        ({"DOCKER_TLS": "1"}, ("ca.pem", "cert.pem", "key.pem")),
        ({"DOCKER_TLS": "1", "DOCKER_HOST": "tcp://docker"}, ("ca.pem", "key.pem")),
        ({"DOCKER_TLS_VERIFY": "1", "DOCKER_HOST": "unix:///x.sock"}, ("ca.pem",)),
        ({"DOCKER_TLS_VERIFY": "1"}, ()),  # no CA: the CLI refuses; we report tls-files-missing
    ],
)
def test_tls_resolution_matches_the_docker_cli(
    tmp_path: Path, env: dict[str, str], files: tuple[str, ...]
) -> None:
    cert_path = tmp_path / "certs"
    cert_path.mkdir()
    for name in files:
        (cert_path / name).write_text("-----BEGIN CERTIFICATE-----\n")
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    full_env = {**env, "DOCKER_CERT_PATH": str(cert_path)}
    cli = _cli_endpoint(full_env, config_dir)
    endpoint = resolve_endpoint({**full_env, "HOME": str(config_dir)}, exists=os.path.isfile)
    if "ca.pem" not in files:
        assert cli is None
        assert endpoint.tls is not None and not os.path.exists(endpoint.tls.ca_file)
        return
    assert cli is not None
    host, skip_verify, material = cli
    assert endpoint.docker_host == host
    tls = endpoint.tls if endpoint.scheme == "tcp" else resolve_tls(full_env, exists=os.path.isfile)
    assert tls is not None
    assert (not tls.verify) == skip_verify
    ours = {Path(p).name for p in (tls.ca_file, tls.cert_file, tls.key_file) if p}
    assert ours == material
