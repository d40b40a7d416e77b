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


def test_a_black_hole_does_not_hold_the_whole_timeout_away_from_the_death_watch() -> None:
    """A port whose SYNs are dropped (a full accept queue: Linux drops new SYNs then) blocks
    connect(); each attempt is capped, so the death watch is asked while the probe waits."""
    import socket

    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    try:
        for _ in range(3):  # never accepted: the queue is full afterwards
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
            fillers.append(filler)
        time.sleep(0.2)
        endpoint = endpoint_from_environment(f"tcp://127.0.0.1:{port}", env={})
        asked: list[float] = []
        started = time.monotonic()

        def dind_died() -> str | None:
            asked.append(time.monotonic() - started)
            return "Kubernetes reports the dind service container docker Error"

        result = probe(endpoint, 20, give_up=dind_died)
        elapsed = time.monotonic() - started
    finally:
        for filler in fillers:
            filler.close()
        server.close()
    assert asked, "the death watch was never asked"
    assert result.gave_up == "Kubernetes reports the dind service container docker Error"
    assert elapsed < 10, f"waited {elapsed:.1f} s of the 20 s timeout"  # loose: ~1 s expected
