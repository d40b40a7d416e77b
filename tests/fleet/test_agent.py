"""The node agent against the fake API: conditions, Events, taint, outages, restarts, SIGTERM."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from preflight.agent.loop import Agent, AgentSettings
from preflight.agent.publish import Target
from preflight.kube.client import connect
from preflight.kube.settings import KubeSettings
from tests.fleet.conftest import NODE, node_object
from tests.kube.fake_cluster import FakeCluster
from tests.node import profiles
from tests.node.rootbuilder import HostRoot

TAINT_KEY = "dind-preflight.io/broken"


def make_agent(cluster: FakeCluster, root: HostRoot, *, taint: bool = True) -> Agent:
    settings = KubeSettings(kubeconfig=str(cluster.kubeconfig()))
    return Agent(
        AgentSettings(
            Target(NODE, taint=taint),
            root=str(root.path),
            proc=str(root.path / "proc"),
        ),
        lambda: connect(settings),
        out=io.StringIO(),
    )


HARDENING = "/etc/modprobe.d/hardening.conf"


def break_node(root: HostRoot) -> None:
    """A hardening rule blocks iptable_nat and it is not loaded (the legacy tables still
    registered: dind stays on the legacy backend). Not loaded alone would be no fault."""
    loaded = ["x_tables", "ip_tables", "iptable_filter"]
    root.lines(HARDENING, "install iptable_nat /bin/false")
    root.proc(profiles.HEALTHY, loaded, cmdline="ro", ip_tables=["filter"])


def heal_node(root: HostRoot) -> None:
    (root.path / HARDENING.lstrip("/")).unlink(missing_ok=True)
    root.proc(profiles.HEALTHY, profiles.HEALTHY_LOADED, cmdline="ro", ip_tables=["nat", "filter"])


def healthy_node(path: Path) -> HostRoot:
    """A healthy legacy node: both modules loaded and listed, the legacy tables registered; no
    SELinux, so nf_tables' nft_chain_nat (not loaded) loads on first use: both backends served."""
    root = profiles.healthy(path, selinux=False)
    heal_node(root)
    return root


def cycle(agent: Agent) -> bool:
    agent.check()
    published = agent.publish()
    if not published.ok:  # pytest shows it with the failure
        print(f"publish: {published.problem}; taint: {published.taint}")
    return published.ok


def conditions(cluster: FakeCluster) -> dict[str, dict[str, Any]]:
    node = cluster.get("v1/nodes", None, NODE)
    assert node is not None
    return {c["type"]: c for c in node["status"]["conditions"]}


def our_taints(cluster: FakeCluster) -> list[dict[str, Any]]:
    node = cluster.get("v1/nodes", None, NODE)
    assert node is not None
    return [t for t in node["spec"].get("taints") or [] if t["key"] == TAINT_KEY]


def events(cluster: FakeCluster) -> list[dict[str, Any]]:
    return [
        r.data
        for r in cluster.requests()
        if r.method == "POST" and r.path.endswith("/events") and isinstance(r.data, dict)
    ]


def test_breaks_and_heals(cluster: FakeCluster, tmp_path: Path) -> None:
    cluster.add("v1/nodes", None, node_object(NODE))
    root = healthy_node(tmp_path)
    agent = make_agent(cluster, root)
    assert cycle(agent)
    first = conditions(cluster)
    assert first["Ready"]["reason"] == "KubeletReady"  # the kubelet's condition is untouched
    assert first["DindReady"]["status"] == "True"
    assert first["DindReadyAfterReboot"]["status"] == "True"
    assert our_taints(cluster) == []

    break_node(root)
    assert cycle(agent)
    broken = conditions(cluster)["DindReady"]
    assert (broken["status"], broken["reason"]) == ("False", "IptableNatMissing")
    assert broken["message"].startswith("iptable_nat is blocked")
    assert our_taints(cluster) == [
        {"key": TAINT_KEY, "value": "iptable_nat-missing", "effect": "NoSchedule"}
    ]
    warning = next(e for e in events(cluster) if e["message"].startswith("DindReady False"))
    assert warning["type"] == "Warning" and warning["reason"] == "IptableNatMissing"
    assert warning["involvedObject"] == {
        "apiVersion": "v1",
        "kind": "Node",
        "name": NODE,
        "uid": f"uid-{NODE}",
    }
    assert warning["message"].startswith("DindReady False (was True): ")
    assert "Fix: " in warning["message"] and "modprobe" in warning["message"]
    assert (
        warning["metadata"]["namespace"] == "default"
    )  # an Event about a Node lives there (the API server refuses any other)

    count = len(events(cluster))
    assert cycle(agent)  # still broken: no Event, same transition time
    again = conditions(cluster)["DindReady"]
    assert again["lastTransitionTime"] == broken["lastTransitionTime"]
    assert len(events(cluster)) == count

    heal_node(root)
    assert cycle(agent)
    assert conditions(cluster)["DindReady"]["status"] == "True"
    assert events(cluster)[-1]["type"] == "Normal"
    assert len(our_taints(cluster)) == 1, "one healthy check does not untaint"
    assert cycle(agent)
    assert our_taints(cluster) == []
    node = cluster.get("v1/nodes", None, NODE)
    assert (
        node is not None
        and {"key": "other", "value": "x", "effect": "NoSchedule"} in node["spec"]["taints"]
    )


def test_taint_can_be_turned_off(cluster: FakeCluster, tmp_path: Path) -> None:
    cluster.add("v1/nodes", None, node_object(NODE))
    root = healthy_node(tmp_path)
    break_node(root)
    agent = make_agent(cluster, root, taint=False)
    assert cycle(agent)
    assert conditions(cluster)["DindReady"]["status"] == "False"
    assert our_taints(cluster) == []


def test_outage_loses_no_transition(cluster: FakeCluster, tmp_path: Path) -> None:
    cluster.add("v1/nodes", None, node_object(NODE))
    root = healthy_node(tmp_path)
    agent = make_agent(cluster, root)
    assert cycle(agent)
    before = len(events(cluster))
    cluster.set_outage(True)
    break_node(root)
    assert not cycle(agent)  # checked, not published
    heal_node(root)
    assert not cycle(agent)
    cluster.set_outage(False)
    assert agent.publish().ok
    sent = events(cluster)[before:]
    assert [e["message"].split(":")[0] for e in sent if e["message"].startswith("DindReady ")] == [
        "DindReady False (was True)",
        "DindReady True (was False)",
    ]
    assert conditions(cluster)["DindReady"]["status"] == "True"
    assert our_taints(cluster) == []  # healthy when the API came back: nothing to taint


def test_restart_does_not_flap(cluster: FakeCluster, tmp_path: Path) -> None:
    cluster.add("v1/nodes", None, node_object(NODE))
    root = healthy_node(tmp_path)
    break_node(root)
    assert cycle(make_agent(cluster, root))
    published = conditions(cluster)["DindReady"]
    count = len(events(cluster))

    restarted = make_agent(cluster, root)  # a new pod: empty memory, same node
    assert cycle(restarted)
    assert conditions(cluster)["DindReady"]["lastTransitionTime"] == published["lastTransitionTime"]
    assert len(events(cluster)) == count
    heal_node(root)
    assert cycle(restarted)
    assert len(our_taints(cluster)) == 1
    assert cycle(restarted)
    assert our_taints(cluster) == []


def test_restart_during_outage_keeps_the_transition(cluster: FakeCluster, tmp_path: Path) -> None:
    cluster.add("v1/nodes", None, node_object(NODE))
    root = healthy_node(tmp_path)
    assert cycle(make_agent(cluster, root))
    count = len(events(cluster))
    cluster.set_outage(True)
    break_node(root)
    restarted = make_agent(cluster, root)
    assert not cycle(restarted)
    cluster.set_outage(False)
    assert restarted.publish().ok
    sent = [e["message"].split(":")[0] for e in events(cluster)[count:]]
    assert [m for m in sent if m.startswith("DindReady ")] == ["DindReady False (was True)"]


def test_unreadable_root_is_unknown_and_never_taints(cluster: FakeCluster, tmp_path: Path) -> None:
    cluster.add("v1/nodes", None, node_object(NODE))
    root = HostRoot(tmp_path / "missing")
    agent = make_agent(cluster, root)
    assert cycle(agent)
    found = conditions(cluster)
    assert found["DindReady"]["status"] == "Unknown"
    assert found["DindReady"]["reason"] == "HostRootUnreadable"
    assert our_taints(cluster) == []


def test_metrics(cluster: FakeCluster, tmp_path: Path) -> None:
    cluster.add("v1/nodes", None, node_object(NODE))
    root = profiles.centos8_field_report(tmp_path / "root", "manual")
    agent = make_agent(cluster, root)
    assert cycle(agent)
    text = agent.metrics.text()
    # An admin ran modprobe for the legacy tables; nft_chain_nat is not loaded and SELinux
    # denies a container's module request (CentOS 8): not ready for an nf_tables dind.
    assert 'dind_preflight_condition{condition="DindReady",status="False"} 1.0' in text
    assert 'dind_preflight_condition{condition="DindReadyAfterReboot",status="False"} 1.0' in text
    assert 'dind_preflight_module_loaded{backend="legacy",module="iptable_nat"} 1.0' in text
    assert 'dind_preflight_module_loads_at_boot{backend="legacy",module="iptable_nat"} 0.0' in text
    # Each module carries its own backend, whichever backend dind would pick.
    assert 'dind_preflight_module_loaded{backend="nf_tables",module="nft_chain_nat"} 0.0' in text
    assert 'dind_preflight_module_loaded{backend="shared",module="nf_nat"} 1.0' in text
    assert 'backend="legacy",module="nft_chain_nat"' not in text
    assert "dind_preflight_check_duration_seconds_count 1.0" in text
    assert "dind_preflight_last_good_check_timestamp_seconds " in text


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_command_serves_metrics_and_stops_on_sigterm(cluster: FakeCluster, tmp_path: Path) -> None:
    cluster.add("v1/nodes", None, node_object(NODE))
    root = healthy_node(tmp_path)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("KUBERNETES_SERVICE_HOST", "NODE_NAME")}
    env.update(KUBECONFIG=str(cluster.kubeconfig()), NODE_NAME=NODE)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "preflight",
            "agent",
            "--root",
            str(root.path),
            "--proc",
            str(root.path / "proc"),
            "--metrics-port",
            str(port),
            "--metrics-address",
            "127.0.0.1",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and "DindReady" not in conditions(cluster):
            time.sleep(0.1)
        assert conditions(cluster)["DindReady"]["status"] == "True"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            assert b"dind_preflight_condition" in response.read()
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    assert out.splitlines()[-1] == "dind-preflight agent: stopped"
    # Stopping (a reboot stops the agent first) closes the startup gate: no dind job lands on
    # the node before the next agent's first healthy check.
    assert "startup gate closed" in out
    closed = [{k: v for k, v in t.items() if k != "timeAdded"} for t in gate_taints(cluster)]
    assert closed == [{"key": "dind-preflight.io/unchecked", "value": "", "effect": "NoSchedule"}]


def test_busy_metrics_port_is_one_line_and_exit_69(
    tmp_path: Path, capsys: Any, monkeypatch: Any
) -> None:
    import socket

    from preflight.cli import main

    root = healthy_node(tmp_path)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
        code = main(
            [
                "agent",
                "--node",
                NODE,
                "--root",
                str(root.path),
                "--metrics-port",
                str(port),
                "--metrics-address",
                "127.0.0.1",
            ]
        )
    err = capsys.readouterr().err
    assert code == 69
    assert (
        err.startswith("dind-preflight: error: cannot serve /metrics on 127.0.0.1:")
        and err.count("\n") == 1
    )


def test_a_new_boot_id_triggers_a_check_and_stop_is_prompt(
    cluster: FakeCluster, tmp_path: Path
) -> None:
    import dataclasses
    import threading

    cluster.add("v1/nodes", None, node_object(NODE))
    root = healthy_node(tmp_path)
    boot_id = root.path / "proc/sys/kernel/random/boot_id"
    boot_id.parent.mkdir(parents=True, exist_ok=True)
    boot_id.write_text("5b1c-first-boot\n")
    agent = make_agent(cluster, root)
    agent.settings = dataclasses.replace(agent.settings, interval_s=3600, boot_poll_s=0.05)
    stop = threading.Event()
    runner = threading.Thread(target=agent.run, args=(stop,))
    runner.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and agent.out.getvalue().count("check:") < 1:
            time.sleep(0.02)
        assert agent.out.getvalue().count("check:") == 1
        break_node(root)
        boot_id.write_text("9e2a-second-boot\n")  # the node rebooted (into a broken state)
        while time.monotonic() < deadline and agent.out.getvalue().count("check:") < 2:
            time.sleep(0.02)
        assert "boot id changed" in agent.out.getvalue()
        while time.monotonic() < deadline and conditions(cluster)["DindReady"]["status"] != "False":
            time.sleep(0.02)
        assert conditions(cluster)["DindReady"]["status"] == "False"
    finally:
        stop.set()
        runner.join(30)
    assert not runner.is_alive()
    assert agent.out.getvalue().count("check:") == 2  # nothing more until the next interval


GATE_TAINT = {"key": "dind-preflight.io/unchecked", "effect": "NoSchedule"}


def gate_taints(cluster: FakeCluster) -> list[dict[str, Any]]:
    node = cluster.get("v1/nodes", None, NODE)
    assert node is not None
    return [t for t in node["spec"].get("taints") or [] if t["key"] == GATE_TAINT["key"]]


def registered_with_gate(cluster: FakeCluster) -> None:
    """A node as the kubelet registers it with registerWithTaints: the gate closed."""
    fresh = node_object(NODE)
    fresh["spec"]["taints"].append(dict(GATE_TAINT))
    cluster.add("v1/nodes", None, fresh)


def test_startup_gate_opens_only_after_a_healthy_check(
    cluster: FakeCluster, tmp_path: Path
) -> None:
    registered_with_gate(cluster)
    root = healthy_node(tmp_path)
    break_node(root)
    agent = make_agent(cluster, root)
    assert cycle(agent)
    # Broken: the gate stays closed and the broken taint joins it.
    assert gate_taints(cluster) and our_taints(cluster)
    heal_node(root)
    assert cycle(agent)
    assert gate_taints(cluster) == []  # the first healthy check opens the gate
    other = [
        t for t in cluster.get("v1/nodes", None, NODE)["spec"]["taints"] if t["key"] == "other"
    ]
    assert other  # nobody else's taint is touched


def test_unknown_never_opens_the_startup_gate(cluster: FakeCluster, tmp_path: Path) -> None:
    registered_with_gate(cluster)
    agent = make_agent(cluster, HostRoot(tmp_path / "missing"))
    assert cycle(agent)
    assert conditions(cluster)["DindReady"]["status"] == "Unknown"
    assert gate_taints(cluster)
