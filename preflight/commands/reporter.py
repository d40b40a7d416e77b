"""`dind-preflight reporter`: fleet mode's one holder of the GitLab token (a Deployment).

Watches the nodes' DindReady/DindReadyAfterReboot conditions and converges GitLab to them: one
issue per node and cause, closed when the node is ready again; runners paused only when their
jobs cannot route around broken nodes. See docs/fleet-mode.md.
"""

from __future__ import annotations

import argparse
import os
import sys

NAME = "reporter"
HELP = (
    "Fleet mode: hold the GitLab token, open and close one issue per node and cause from the "
    "nodes' DindReady conditions, pause runners only in proportion (a Deployment)."
)


def configure(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("GitLab")
    g.add_argument(
        "--gitlab-url",
        required=True,
        metavar="URL",
        help="the pinned GitLab (https); the token goes only there (required)",
    )
    g.add_argument(
        "--gitlab-ca-file",
        metavar="FILE",
        default=None,
        help="CA bundle of a GitLab with a private certificate (default: the system's)",
    )
    g.add_argument(
        "--token-file",
        required=True,
        metavar="FILE",
        help="the reporter token: a bot user's group or project access token with scopes api and "
        "manage_runner (not a runner's glrt- token), as a mounted Secret file (required)",
    )
    g.add_argument(
        "--report-project",
        metavar="PROJECT",
        help="project id or path that receives the incident issues (default: none, no issues)",
    )
    g.add_argument(
        "--runner",
        action="append",
        default=[],
        metavar="ID[@NODE]",
        help="a runner to quarantine (repeat; default: none, nothing is paused); @NODE for "
        "shell/docker executors",
    )
    p = parser.add_argument_group("policy")
    p.add_argument(
        "--policy",
        choices=("auto", "report-only"),
        default="auto",
        help="auto: pause a runner only when its jobs cannot route around the broken nodes; "
        "report-only: issues, never a pause (default auto)",
    )
    p.add_argument(
        "--executor",
        choices=("kubernetes", "shell", "docker"),
        default="kubernetes",
        help="the runners' executor: kubernetes (one runner, many nodes: proportional pause), "
        "or shell/docker (the runner is its node: paused when the node is broken) "
        "(default kubernetes)",
    )
    p.add_argument(
        "--min-healthy-nodes",
        type=int,
        default=2,
        metavar="N",
        help="pause a runner when fewer nodes than this can take its jobs (default 2)",
    )
    p.add_argument(
        "--max-broken-share",
        default="0.5",
        metavar="SHARE",
        help="pause a runner when more than this share (0-1) of its nodes is broken (default 0.5)",
    )
    p.add_argument(
        "--heal-after",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="ready this long before an issue is closed (default 300)",
    )
    p.add_argument(
        "--taint-nodes",
        action="store_true",
        help="taint and untaint broken nodes here (for node-problem-detector conditions; the "
        "agent taints by itself) (default: off)",
    )
    k = parser.add_argument_group("cluster")
    k.add_argument(
        "--job-namespace",
        default="gitlab-runner",
        metavar="NS",
        help="where the runner's job pods run (default gitlab-runner)",
    )
    k.add_argument(
        "--node-selector",
        default="",
        metavar="K=V,...",
        help="the runner's node_selector: which nodes its jobs may use (never read from a job pod) "
        "(default: none, every node)",
    )
    k.add_argument(
        "--toleration",
        action="append",
        default=[],
        metavar="KEY[=VALUE]:EFFECT",
        help="the runner's node_tolerations, repeatable (never read from a job pod) (default: "
        "none)",
    )
    k.add_argument(
        "--lease-namespace",
        metavar="NS",
        help="namespace of the Lease that elects the one acting replica (default: the pod's "
        "namespace)",
    )
    k.add_argument(
        "--lease-name",
        default="dind-preflight-reporter",
        metavar="NAME",
        help="the Lease's name (default dind-preflight-reporter)",
    )
    k.add_argument(
        "--lease-duration",
        type=int,
        default=60,
        metavar="SECONDS",
        help="how long a leader holds the Lease without renewing it; at least twice "
        "--interval (default 60)",
    )
    k.add_argument(
        "--interval",
        type=float,
        default=15.0,
        metavar="SECONDS",
        help="seconds between cycles (default 15)",
    )
    parser.add_argument(
        "--listen",
        default="0.0.0.0:8080",
        metavar="HOST:PORT",
        help="where jobs POST their reports (/v1/job-reports) (default 0.0.0.0:8080)",
    )
    parser.add_argument(
        "--health-port",
        type=int,
        default=8081,
        metavar="PORT",
        help="/healthz and /metrics, on a port of their own (default 8081)",
    )
    parser.add_argument(
        "--once",
        action="store_true",
        help="one cycle, print it as JSON, exit (default: run until SIGTERM)",
    )


def run(args: argparse.Namespace) -> int:
    import json
    import logging
    import signal
    import socket
    import threading

    from preflight.errors import PreflightError
    from preflight.exitcodes import ExitCode
    from preflight.jsonable import to_json
    from preflight.kube.client import KubeError, connect
    from preflight.kube.settings import settings_from
    from preflight.reporter import settings as reporter_settings
    from preflight.reporter.lease import LeaseKeeper
    from preflight.reporter.server import ReporterServer
    from preflight.reporter.service import Reporter

    identity = os.environ.get("POD_NAME") or socket.gethostname()
    cfg = reporter_settings.build(
        gitlab_url=args.gitlab_url,
        gitlab_ca_file=args.gitlab_ca_file,
        token_file=args.token_file,
        report_project=args.report_project,
        runners=args.runner,
        executor=args.executor,
        policy=args.policy,
        min_healthy_nodes=args.min_healthy_nodes,
        max_broken_share=args.max_broken_share,
        heal_after_s=args.heal_after,
        interval_s=args.interval,
        job_namespace=args.job_namespace,
        node_selector=args.node_selector,
        tolerations=tuple(args.toleration),
        taint_nodes=args.taint_nodes,
        lease_namespace=args.lease_namespace,
        lease_name=args.lease_name,
        lease_duration_s=args.lease_duration,
        identity=identity,
        listen=args.listen,
        health_port=args.health_port,
    )
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s"
    )
    try:
        kube = connect(settings_from(os.environ))
    except KubeError as exc:
        raise PreflightError(f"reporter: {exc.limitation}", ExitCode.UNAVAILABLE) from None
    lease = LeaseKeeper(
        kube,
        cfg.lease_namespace or kube.namespace,
        cfg.lease_name,
        identity,
        cfg.lease_duration_s,
    )
    reporter = Reporter(
        cfg.gitlab,
        cfg.policy,
        cfg.source,
        kube,
        lease,
        reporter_id=identity[:40],
        interval_s=cfg.interval_s,
    )
    if args.once:
        result = reporter.cycle()
        document = {
            "led": result.led,
            "actions": [{"kind": type(a).__name__, **to_json(a)} for a in result.plan.actions],
            "reasons": list(result.plan.reasons),
            "errors": list(result.errors),
            "gitlab_requests": result.gitlab_requests,
        }
        print(json.dumps(document, indent=2, default=str))
        return 0 if not result.errors else int(ExitCode.TEMPFAIL)
    server = ReporterServer(reporter, cfg.listen_host, cfg.listen_port, cfg.health_port).start()
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stop.set()
        reporter.wake.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print(
        f"dind-preflight reporter {identity}: listening on {cfg.listen_host}:{server.port} "
        f"(health {server.health_port}), "
        f"lease {lease.namespace}/{lease.name}",
        file=sys.stderr,
        flush=True,
    )
    try:
        reporter.run(stop)
    finally:
        server.stop()
    return 0
