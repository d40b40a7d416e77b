"""The fleet audit over 200 nodes in mixed states: agent conditions, helper pods that report,
cannot be scheduled, cannot pull, an API 500 mid-run; a SIGINT that leaves no helper pod."""

from __future__ import annotations

import datetime
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from preflight.audit.fleet import AuditSettings, audit_nodes
from preflight.audit.model import exit_status
from preflight.audit.render import junit, table
from preflight.kube.client import connect
from preflight.kube.settings import KubeSettings
from tests.fleet.conftest import node_object
from tests.fleet.kubelet import FleetKubelets
from tests.kube.fake_cluster import (
    FakeCluster,
    Scenario,
    finishes,
    image_pull_fails,
    stays_pending,
    unschedulable,
)
from tests.kube.node_roots import centos8_node, node_report_output

IMAGE = "registry.example.com/ci/dind-preflight:0.1.0"


def _beat(age_s: float) -> str:
    when = datetime.datetime.now(tz=datetime.UTC) - datetime.timedelta(seconds=age_s)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def agent_conditions(now: str, after: str, age_s: float = 10) -> list[dict[str, Any]]:
    beat = _beat(age_s)
    reasons = {"True": "ModulesLoaded", "False": "IptableNatMissing"}
    return [
        {
            "type": "DindReady",
            "status": now,
            "reason": reasons[now],
            "message": "m",
            "lastHeartbeatTime": beat,
            "lastTransitionTime": beat,
        },
        {
            "type": "DindReadyAfterReboot",
            "status": after,
            "reason": "EtcModulesNotRead" if after == "False" else "ModulesLoadAtBoot",
            "message": "m",
            "lastHeartbeatTime": beat,
            "lastTransitionTime": beat,
        },
    ]


def fleet(cluster: FakeCluster, count: int = 200) -> dict[str, str]:
    """``count`` nodes; returns each node's kind (what the audit should find)."""
    kinds = {}
    for i in range(count):
        name = f"node-{i:03d}"
        kind = [
            "agent-ok",
            "agent-reboot",
            "agent-broken",
            "stale",
            "helper-ok",
            "helper-broken",
            "unschedulable",
            "pull-fails",
            "helper-ok",
            "helper-broken",
        ][i % 10]
        conditions = {
            "agent-ok": agent_conditions("True", "True"),
            "agent-reboot": agent_conditions("True", "False"),
            "agent-broken": agent_conditions("False", "False"),
            "stale": agent_conditions("True", "True", age_s=3600),
        }.get(kind, [])
        cluster.add("v1/nodes", None, node_object(name, conditions, {"role": "ci"}))
        kinds[name] = kind
    return kinds


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    base = tmp_path_factory.mktemp("roots")
    return {
        "ok": node_report_output(centos8_node(base / "ok", fixed=True))[1],
        "broken": node_report_output(centos8_node(base / "broken"))[1],
    }


def scenarios(kinds: dict[str, str], outputs: dict[str, str]) -> Any:
    def scenario_for(node: str) -> Scenario:
        kind = kinds[node]
        if kind in ("helper-ok", "stale"):
            return finishes(outputs["ok"], 0)
        if kind == "helper-broken":
            return finishes(outputs["broken"], 1)
        if kind == "unschedulable":
            return unschedulable()
        return image_pull_fails()

    return scenario_for


def test_200_nodes_in_mixed_states(cluster: FakeCluster, outputs: dict[str, str]) -> None:
    kinds = fleet(cluster)
    ctx = connect(KubeSettings(kubeconfig=str(cluster.kubeconfig())))
    cluster.fail("create", "pods", times=3)  # the API answers 500 to three helper creates
    settings = AuditSettings(
        helper=KubeSettings(helper_image=IMAGE, job_id="audit-test", timeout=20),
        parallel=10,
        per_node_timeout_s=20,
    )
    from preflight.kube.node_status import list_nodes

    with FleetKubelets(cluster, scenarios(kinds, outputs)) as kubelets:
        results = audit_nodes(ctx, list_nodes(ctx, "role=ci"), settings)
    assert kubelets.errors == []
    assert len(results) == 200
    by = {r.node: r for r in results}
    for name, kind in kinds.items():
        r = by[name]
        now, after = r.readiness.now.status.value, r.readiness.after_reboot.status.value
        if kind.startswith("agent"):
            assert r.source == "agent"
        expected = {
            "agent-ok": ("True", "True"),
            "agent-reboot": ("True", "False"),
            "agent-broken": ("False", "False"),
            "stale": ("True", "True"),
            "helper-ok": ("True", "True"),
            # CentOS 8, SELinux enforcing: not loaded, and a container's module request is
            # denied: a fault now and after the next boot (the module-fact rule).
            "helper-broken": ("False", "False"),
            "unschedulable": ("Unknown", "Unknown"),
            "pull-fails": ("Unknown", "Unknown"),
        }[kind]
        if r.problem and "HTTP 500" in r.problem:
            assert (now, after) == ("Unknown", "Unknown")
            continue
        assert (now, after) == expected, (name, kind, r)
    failed_creates = [r for r in results if r.problem and "HTTP 500" in r.problem]
    assert len(failed_creates) == 3
    helper_nodes = [n for n, k in kinds.items() if not k.startswith("agent")]
    assert sorted(kubelets.seen) == sorted(
        n for n in helper_nodes if n not in {r.node for r in failed_creates}
    )
    assert exit_status(results) == 1
    text = table(results)
    assert re.search(r"^node-002 +NOT OK \(iptable_nat-missing\) +NOT OK", text, re.M)
    assert text.endswith("nodes ready for dind now and after their next reboot\n")
    assert junit(results).count("<testcase ") == 400


def test_conditions_only_never_creates_a_pod(cluster: FakeCluster) -> None:
    for i, (now, after) in enumerate([("True", "True"), ("True", "False")]):
        cluster.add("v1/nodes", None, node_object(f"n{i}", agent_conditions(now, after)))
    cluster.add("v1/nodes", None, node_object("n2"))
    ctx = connect(KubeSettings(kubeconfig=str(cluster.kubeconfig())))
    from preflight.kube.node_status import list_nodes

    results = audit_nodes(
        ctx, list_nodes(ctx), AuditSettings(helper=KubeSettings(), use_helper=False)
    )
    assert [(r.node, r.ok, r.failed) for r in results] == [
        ("n0", True, False),
        ("n1", False, True),
        ("n2", False, False),
    ]
    assert not [r for r in cluster.requests() if r.method == "POST"]


def _env(cluster: FakeCluster) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KUBE", "DIND_PREFLIGHT"))}
    env["KUBECONFIG"] = str(cluster.kubeconfig())
    return env


def test_command_json_and_exit_codes(cluster: FakeCluster) -> None:
    cluster.add("v1/nodes", None, node_object("a", agent_conditions("True", "True")))
    cluster.add("v1/nodes", None, node_object("b", agent_conditions("True", "True"), {"pool": "x"}))
    done = subprocess.run(
        [sys.executable, "-m", "preflight", "audit", "--json", "--no-helper"],
        env=_env(cluster),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert [d["node"] for d in data] == ["a", "b"]
    assert data[0]["readiness"]["now"]["status"] == "True"
    cluster.add("v1/nodes", None, node_object("c"))
    done = subprocess.run(
        [sys.executable, "-m", "preflight", "audit", "--no-helper"],
        env=_env(cluster),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stdout
    assert re.search(r"^c +unknown \(not-checked\) +unknown", done.stdout, re.M)
    done = subprocess.run(
        [sys.executable, "-m", "preflight", "audit", "--no-helper", "-l", "pool=x"],
        env=_env(cluster),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0 and "1 of 1 nodes" in done.stdout


def test_stale_agent_is_agent_heartbeat_stale_and_no_agent_is_not_checked(
    cluster: FakeCluster,
) -> None:
    cluster.add("v1/nodes", None, node_object("old", agent_conditions("True", "True", 90 * 86400)))
    cluster.add("v1/nodes", None, node_object("never"))
    done = subprocess.run(
        [sys.executable, "-m", "preflight", "audit", "--no-helper", "--json"],
        env=_env(cluster),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    by = {d["node"]: d for d in json.loads(done.stdout)}
    assert by["old"]["readiness"]["now"]["code"] == "agent-heartbeat-stale"
    assert by["old"]["readiness"]["now"]["status"] == "Unknown"
    assert by["old"]["source"] == "agent"
    assert by["never"]["readiness"]["now"]["code"] == "not-checked"
    assert by["never"]["source"] == "none"


def test_sigint_leaves_no_helper_pod(cluster: FakeCluster) -> None:
    for i in range(30):
        cluster.add("v1/nodes", None, node_object(f"node-{i:02d}"))
    with FleetKubelets(cluster, lambda node: stays_pending()):
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "preflight",
                "audit",
                "--helper-image",
                IMAGE,
                "--parallel",
                "10",
                "--timeout",
                "120",
            ],
            env=_env(cluster),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and len(cluster.helper_pods()) < 10:
                time.sleep(0.05)
            assert len(cluster.helper_pods()) == 10
            process.send_signal(signal.SIGINT)
            _, err = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert process.returncode == 130, err
    assert "interrupted" in err
    assert cluster.helper_pods() == []


def test_readme_quotes_the_real_table() -> None:
    from tests.fleet.readme_example import example

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert f"```\n{example()}```\n" in readme


def test_progress_bar_draws_on_one_line() -> None:
    import io

    from preflight.audit.render import progress_bar

    stream = io.StringIO()
    draw = progress_bar(stream, width=10)
    for done in (0, 5, 10):
        draw(done, 10)
    assert stream.getvalue() == (
        "\r[..........] 0/10 nodes\r[#####.....] 5/10 nodes\r[##########] 10/10 nodes\n"
    )


def test_forbidden_to_list_nodes_is_one_line_and_exit_69(cluster: FakeCluster) -> None:
    cluster.allow_only({("get", "nodes")})
    done = subprocess.run(
        [sys.executable, "-m", "preflight", "audit", "--no-helper"],
        env=_env(cluster),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 69
    assert done.stderr.startswith(
        "dind-preflight: error: cannot list nodes cluster-wide: forbidden"
    )
    assert done.stderr.count("\n") == 1 and done.stdout == ""
