"""The probe as a library call (what `dind-preflight run` uses), against real sockets."""

from __future__ import annotations

import time

from preflight.probe.api import endpoint_from_environment, probe
from preflight.probe.model import Verdict
from preflight.probe.render import human_summary
from tests.harness.dockerd import Dockerd, free_port


def test_probe_a_healthy_daemon(healthy_dockerd: Dockerd) -> None:
    endpoint = endpoint_from_environment(env={"DOCKER_HOST": healthy_dockerd.unix_host})
    result = probe(endpoint, 10)
    assert result.verdict is Verdict.HEALTHY and result.healthy and result.exit_code == 0
    assert result.server_version and result.api_version and result.gave_up is None


def test_give_up_ends_the_wait_early() -> None:
    endpoint = endpoint_from_environment(f"tcp://127.0.0.1:{free_port()}", env={})
    started = time.monotonic()
    deadline_for_dind = started + 0.3

    def dind_died() -> str | None:
        if time.monotonic() >= deadline_for_dind:
            return "Kubernetes reports the dind service container docker Error"
        return None

    result = probe(endpoint, 30, give_up=dind_died)
    assert time.monotonic() - started < 2.0
    assert result.verdict is Verdict.REFUSED and result.exit_code == 69
    assert result.gave_up == "Kubernetes reports the dind service container docker Error"
    assert "  stopped waiting: Kubernetes reports" in human_summary(result)


def test_the_environment_decides_the_endpoint(tls_dockerd: Dockerd) -> None:
    assert tls_dockerd.tls is not None
    env = {
        "DOCKER_HOST": tls_dockerd.tcp_host,
        "DOCKER_TLS_VERIFY": "1",
        "DOCKER_CERT_PATH": str(tls_dockerd.tls.client_dir),
    }
    result = probe(endpoint_from_environment(env=env), 10)
    assert result.verdict is Verdict.HEALTHY and result.tls
