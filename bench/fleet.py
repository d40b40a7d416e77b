"""Fleet-mode benchmarks (part of ``make bench``): the audit's wall time over 200 nodes at
parallelism 1, 10 and 50 with a realistic 1-2 s helper pod start, API requests per node, and the
agent's CPU and RSS per check.

Starts only a loopback fake API server (tests/kube/fake_cluster.py) and the agent as a child
process; no dockerd, no iptables: nothing to put into a network namespace.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fleet.conftest import node_object  # noqa: E402
from tests.fleet.kubelet import FleetKubelets  # noqa: E402
from tests.kube.fake_cluster import finishes, running_cluster  # noqa: E402
from tests.kube.node_roots import centos8_node, node_report_output  # noqa: E402
from tests.node import profiles  # noqa: E402

IMAGE = "registry.example.com/ci/dind-preflight:0.1.0"
POD_START_S = (1.0, 2.0)
CHECK_CPU_TARGET_S = 1.0
RSS_TARGET_MIB = 50.0


@dataclass(frozen=True)
class AuditRun:
    parallel: int
    nodes: int
    wall_s: float
    requests_per_node: float
    pods_left: int


def audit_run(
    work: Path,
    nodes: int,
    parallel: int,
    output: str,
    start_delay: tuple[float, float] = POD_START_S,
) -> AuditRun:
    """One audit of ``nodes`` nodes without agent conditions: a helper pod for each, starting
    ``start_delay`` seconds after it is created."""
    from preflight.audit.fleet import AuditSettings, audit_nodes
    from preflight.kube.client import connect
    from preflight.kube.node_status import list_nodes
    from preflight.kube.settings import KubeSettings

    place = work / f"p{parallel}-{start_delay[1]:g}"
    place.mkdir()
    with running_cluster(place) as cluster:
        for i in range(nodes):
            cluster.add("v1/nodes", None, node_object(f"node-{i:03d}"))
        ctx = connect(KubeSettings(kubeconfig=str(cluster.kubeconfig())))
        settings = AuditSettings(
            helper=KubeSettings(helper_image=IMAGE, job_id=f"audit-bench-{parallel}", timeout=60),
            parallel=parallel,
            per_node_timeout_s=60,
        )
        with FleetKubelets(cluster, lambda node: finishes(output, 0), start_delay=start_delay):
            started = time.perf_counter()
            results = audit_nodes(ctx, list_nodes(ctx), settings)
            wall = time.perf_counter() - started
        assert all(r.ok for r in results), [r for r in results if not r.ok][:3]
        ours = [r for r in cluster.requests() if "authorization" in {k.lower() for k in r.headers}]
        return AuditRun(parallel, nodes, wall, len(ours) / nodes, len(cluster.helper_pods()))


def audit_from_conditions(work: Path, nodes: int) -> int:
    """API requests of an audit when every node's agent conditions are fresh."""
    import datetime

    from preflight.audit.fleet import AuditSettings, audit_nodes
    from preflight.kube.client import connect
    from preflight.kube.node_status import list_nodes
    from preflight.kube.settings import KubeSettings
    from preflight.readiness.conditions import to_conditions
    from preflight.readiness.model import NodeReadiness, Readiness, Status

    ready = NodeReadiness(
        Readiness("DindReady", Status.TRUE, "modules-loaded", "m"),
        Readiness("DindReadyAfterReboot", Status.TRUE, "modules-load-at-boot", "m"),
    )
    fresh = to_conditions(ready, {}, datetime.datetime.now(tz=datetime.UTC))
    (work / "conditions").mkdir()
    with running_cluster(work / "conditions") as cluster:
        for i in range(nodes):
            cluster.add("v1/nodes", None, node_object(f"node-{i:03d}", fresh))
        ctx = connect(KubeSettings(kubeconfig=str(cluster.kubeconfig())))
        results = audit_nodes(
            ctx, list_nodes(ctx), AuditSettings(helper=KubeSettings(helper_image=IMAGE))
        )
        assert all(r.source == "agent" for r in results)
        return len(cluster.requests())


AGENT_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    from preflight.agent.loop import Agent, AgentSettings
    from preflight.agent.publish import Target
    from preflight.kube.node_api import connect_agent
    from preflight.kube.settings import KubeSettings

    def rss_mib(field="VmRSS:"):
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith(field):
                    return int(line.split()[1]) / 1024
        return 0.0

    root, sa_dir, checks = sys.argv[1], sys.argv[2], int(sys.argv[3])
    kube = KubeSettings(in_cluster=True, service_account_dir=sa_dir)
    agent = Agent(
        AgentSettings(Target("worker-1"), root=root, proc="/proc"),
        lambda: connect_agent(kube),
        out=open("/dev/null", "w"),
    )
    started = time.process_time()
    agent.check()
    assert agent.publish().ok  # the first round imports and connects the API client
    first = time.process_time() - started
    after_first = rss_mib()
    cpu = []
    for _ in range(checks):
        started = time.process_time()
        agent.check()
        assert agent.publish().ok
        cpu.append(time.process_time() - started)
    peak = rss_mib("VmHWM:")  # this process's own peak (ru_maxrss would count the fork's)
    print(json.dumps({"first": first, "cpu": cpu, "rss_first": after_first,
                      "rss_after": rss_mib(), "peak": peak,
                      "kubernetes_loaded": "kubernetes" in sys.modules}))
    """
)


def agent_cost(work: Path, root: Path | str, checks: int) -> dict[str, object]:
    """The agent as its own process, as in a pod (its small API client, TLS, a service-account
    token): CPU of each check + publish, RSS after the first round and at the end."""
    import ssl

    import trustme

    ca = trustme.CA()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    (work / "agent").mkdir(exist_ok=True)
    sa = work / "agent" / "serviceaccount"
    sa.mkdir(exist_ok=True)
    (sa / "token").write_text("bench-agent-token")
    (sa / "namespace").write_text("dind-preflight")
    ca.cert_pem.write_to_path(str(sa / "ca.crt"))
    with running_cluster(work / "agent", tls=context) as cluster:
        cluster.add("v1/nodes", None, node_object("worker-1"))
        env = {k: v for k, v in os.environ.items() if not k.startswith("KUBE")}
        env["KUBERNETES_SERVICE_HOST"] = "127.0.0.1"
        env["KUBERNETES_SERVICE_PORT"] = cluster.url.rsplit(":", 1)[1]
        done = subprocess.run(
            [sys.executable, "-c", AGENT_SCRIPT, str(root), str(sa), str(checks)],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if done.returncode != 0:
            raise SystemExit(f"bench: the agent failed: {done.stderr.strip()[-500:]}")
        result: dict[str, object] = json.loads(done.stdout)
        return result


def fleet_rows(
    nodes: int = 200, parallelism: tuple[int, ...] = (1, 10, 50)
) -> list[tuple[str, str, str, bool]]:
    """(measure, value, target, ok) rows for the bench table."""
    rows: list[tuple[str, str, str, bool]] = []
    with tempfile.TemporaryDirectory(prefix="dind-preflight-fleet-bench-") as tmp:
        work = Path(tmp)
        _, output = node_report_output(centos8_node(work / "node", fixed=True))
        runs = [audit_run(work, nodes, p, output) for p in parallelism]
        base = runs[0]
        mean_start = sum(POD_START_S) / 2
        for run in runs:
            # The baseline in the same run: the fake API's own limit, the same audit with pods
            # that start at once (one thread serves every request and watch).
            floor = audit_run(work, nodes, run.parallel, output, (0.0, 0.0)).wall_s
            ideal = -(-nodes // run.parallel) * mean_start
            bound = 1.5 * max(ideal, floor)
            rows.append(
                (
                    f"audit, {nodes} nodes, helper pods (1-2 s start), --parallel {run.parallel}",
                    f"{run.wall_s:.1f} s = {base.wall_s / run.wall_s:.1f}x parallel "
                    f"{base.parallel} (ideal {ideal:.0f} s, fake API floor {floor:.1f} s); "
                    f"{run.requests_per_node:.1f} API requests/node; {run.pods_left} pods left",
                    f"<= 1.5 x max(ideal, floor) = {bound:.0f} s, 0 pods left",
                    run.wall_s <= bound and run.pods_left == 0,
                )
            )
        total = audit_from_conditions(work, nodes)
        rows.append(
            (
                f"audit, {nodes} nodes, agent conditions: API requests",
                f"{total} ({total / nodes:.3f}/node)",
                "1 (one list)",
                total == 1,
            )
        )
        fixture = profiles.centos8_field_report(work / "centos8", "before").path
        for label, root in (("field-report root", fixture), ("this machine's /", "/")):
            cost = agent_cost(work, root, checks=20)
            cpu = [float(x) for x in cost["cpu"]]  # type: ignore[attr-defined]
            first = float(cost["first"])  # type: ignore[arg-type]
            rows.append(
                (
                    f"agent, {label}: CPU per check + publish, max of {len(cpu)}",
                    f"{max(cpu) * 1000:.1f} ms (start-up round with imports: {first * 1000:.0f} ms)",
                    f"<= {CHECK_CPU_TARGET_S:.0f} s",
                    max(cpu) <= CHECK_CPU_TARGET_S,
                )
            )
            grew = float(cost["rss_after"]) - float(cost["rss_first"])  # type: ignore[arg-type]
            peak = float(cost["peak"])  # type: ignore[arg-type]
            rows.append(
                (
                    f"agent, {label}: RSS of the whole process (peak); growth over {len(cpu)} checks",
                    f"{peak:.1f} MiB; {grew:+.1f} MiB"
                    + ("" if not cost["kubernetes_loaded"] else " (kubernetes package loaded)"),
                    f"<= {RSS_TARGET_MIB:.0f} MiB",
                    peak <= RSS_TARGET_MIB,
                )
            )
    return rows
