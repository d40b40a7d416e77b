"""The demo node roots through every front door, as processes, with one expected verdict each.

Each root in ``demo/roots`` goes through ``node-report``, ``node-report --npd`` (now and after
the reboot), ``agent --once`` (against the fake API server) and ``audit`` (reading what the
agent published). All of them use the one module-fact rule (preflight.node.loadability), so the
exit codes, the result line, the conditions and the audit agree. Default settings: the node
must serve both iptables backends (every dind image a project may choose).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fleet.conftest import node_object
from tests.kube.fake_cluster import FakeCluster

REPO = Path(__file__).resolve().parents[2]
ROOTS = REPO / "demo" / "roots"
NODE_NAME = "worker-1"


@dataclass(frozen=True)
class Expected:
    root: str
    ready_now: str  # DindReady status
    ready_after: str  # DindReadyAfterReboot status
    reason: str  # DindReady's reason
    why: str  # in node-report's result line


CASES = [
    # The field report: CentOS 8, SELinux enforcing, iptable_nat listed only in /etc/modules
    # (which nothing reads there) and not loaded after the reboot: a container's request to
    # load it is denied. Not ready, with the fix (a modules-load.d/*.conf file).
    Expected("centos8-field-report", "False", "False", "IptableNatMissing", "iptable_nat denied"),
    # The same node after node-report's fix: the modules-load.d file, loaded.
    Expected("centos8-fixed", "True", "True", "ModulesLoaded", "no checked module is a fault"),
    # Debian 12 on iptables-nft: the legacy tables are not loaded and nothing lists them, but
    # nothing blocks or denies their load either (no SELinux): they load on first use.
    Expected("debian12", "True", "True", "ModulesLoaded", "loaded by the kernel on first use"),
    # Ubuntu 22.04: /etc/modules lists the legacy tables and Ubuntu reads it (modules.conf).
    Expected("ubuntu2204", "True", "True", "ModulesLoaded", "no checked module is a fault"),
    # RHEL 9.3, SELinux enforcing, nf_tables in use: a legacy-only dind image would find
    # iptable_nat not loaded and denied.
    Expected("rhel9", "False", "False", "IptableNatMissing", "iptable_nat denied"),
]
IDS = [c.root for c in CASES]


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "preflight", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )


def exit_of(status: str) -> int:
    return {"True": 0, "False": 1}.get(status, 2)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_node_report_result_line_and_exit_code_agree(case: Expected) -> None:
    root = str(ROOTS / case.root)
    done = cli("node-report", "--root", root)
    ok = case.ready_now == case.ready_after == "True"
    last = done.stdout.rstrip().splitlines()[-1]
    assert done.returncode == (0 if ok else 1), done.stderr
    assert last.startswith("result: OK" if ok else "result: NOT OK"), last
    assert case.why in last


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_npd_plugin(case: Expected) -> None:
    root = str(ROOTS / case.root)
    for which, status in (("now", case.ready_now), ("after-reboot", case.ready_after)):
        done = cli("node-report", "--root", root, "--npd", which)
        assert done.returncode == exit_of(status), (which, done.stdout)
        assert done.stdout.count("\n") == 1
    now = cli("node-report", "--root", root, "--npd").stdout
    if case.ready_now == "False":
        assert now.startswith("iptable_nat-missing: iptable_nat is not loaded, and the kernel")
        assert "fix: write /etc/modules-load.d/iptable_nat.conf" in now


def _env(cluster: FakeCluster) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KUBE", "DIND_PREFLIGHT"))}
    env.update(KUBECONFIG=str(cluster.kubeconfig()), NODE_NAME=NODE_NAME, POD_NAMESPACE="ci")
    return env


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_agent_once_then_audit(cluster: FakeCluster, case: Expected) -> None:
    cluster.add("v1/nodes", None, node_object(NODE_NAME, labels={"role": "ci"}))
    root = ROOTS / case.root
    done = cli(
        "agent", "--once", "--root", str(root), "--proc", str(root / "proc"), env=_env(cluster)
    )
    assert done.returncode == exit_of(case.ready_now), done.stdout + done.stderr
    node = cluster.get("v1/nodes", None, NODE_NAME)
    assert node is not None
    found = {c["type"]: c for c in node["status"]["conditions"]}
    now, after = found["DindReady"], found["DindReadyAfterReboot"]
    assert (now["status"], after["status"]) == (case.ready_now, case.ready_after)
    assert now["reason"] == case.reason
    # The condition states what was checked and the module facts, and nothing more.
    assert "[checked legacy,nf_tables: iptable_nat=" in now["message"]
    if case.ready_now == "False":
        assert "iptable_nat=denied" in now["message"]
        assert "/etc/modules-load.d/iptable_nat.conf" in now["message"]
    taints = [t for t in node["spec"].get("taints") or [] if t["key"].startswith("dind-preflight")]
    assert bool(taints) is (case.ready_now == "False")

    audit = cli("audit", "--no-helper", "--json", env=_env(cluster))
    assert audit.returncode == (0 if case.ready_now == case.ready_after == "True" else 1)
    (result,) = json.loads(audit.stdout)
    assert result["source"] == "agent"
    readiness = result["readiness"]
    assert (readiness["now"]["status"], readiness["after_reboot"]["status"]) == (
        case.ready_now,
        case.ready_after,
    )
    assert "[checked legacy,nf_tables:" in readiness["now"]["message"]
    if case.ready_now == "False":
        # The table is for people: the sentence and the fix, the facts stay in --json.
        text = cli("audit", "--no-helper", env=_env(cluster)).stdout
        assert f"{NODE_NAME}: DindReady False: iptable_nat is not loaded" in text
        assert "[checked" not in text


def test_narrowed_to_nf_tables_the_rhel9_node_serves_current_images_now(
    cluster: FakeCluster,
) -> None:
    """An admin whose runner allows only current images narrows the backends: RHEL 9's
    nft_chain_nat is loaded now (ready now), but nothing lists it for boot and SELinux denies
    its load after the reboot."""
    root = ROOTS / "rhel9"
    done = cli("node-report", "--root", str(root), "--backends", "nft", "--npd")
    assert done.returncode == 0, done.stdout
    assert done.stdout.endswith("[checked nf_tables: nft_chain_nat=loaded]\n")
    after = cli("node-report", "--root", str(root), "--backends", "nft", "--npd", "after-reboot")
    assert after.returncode == 1 and "nft_chain_nat=denied" in after.stdout
    cluster.add("v1/nodes", None, node_object(NODE_NAME))
    agent = cli(
        "agent",
        "--once",
        "--backends",
        "nft",
        "--root",
        str(root),
        "--proc",
        str(root / "proc"),
        env=_env(cluster),
    )
    assert agent.returncode == 0, agent.stdout + agent.stderr
