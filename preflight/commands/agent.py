"""`dind-preflight agent`: the node agent of fleet mode (runs as the DaemonSet in deploy/agent/)."""

from __future__ import annotations

import argparse

from preflight.errors import PreflightError, UsageError
from preflight.exitcodes import ExitCode

NAME = "agent"
HELP = (
    "Run the node agent: check this node at start, after a reboot and every interval; publish "
    "the DindReady and DindReadyAfterReboot conditions, Events, a taint and /metrics."
)
ENV_NODE = "NODE_NAME"
ENV_INTERVAL = "DIND_PREFLIGHT_AGENT_INTERVAL"
DEFAULT_METRICS_PORT = 9808


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--root", metavar="DIR", default="/host", help="the host root (default /host)"
    )
    parser.add_argument(
        "--proc",
        metavar="DIR",
        default="/proc",
        help="the host's proc (default /proc: /proc/modules is not namespaced)",
    )
    parser.add_argument(
        "--node", metavar="NAME", default=None, help=f"this node's name (default ${ENV_NODE})"
    )
    parser.add_argument(
        "--interval",
        metavar="SECONDS",
        default=None,
        help=f"seconds between checks (default 300, or ${ENV_INTERVAL})",
    )
    parser.add_argument(
        "--no-taint",
        action="store_true",
        help="publish conditions only; never taint the node",
    )
    parser.add_argument(
        "--metrics-port",
        metavar="PORT",
        type=int,
        default=DEFAULT_METRICS_PORT,
        help=f"serve /metrics on this port (default {DEFAULT_METRICS_PORT}; 0: off)",
    )
    parser.add_argument(
        "--metrics-address", metavar="ADDR", default="0.0.0.0", help="address for /metrics"
    )
    parser.add_argument(
        "--no-startup-gate",
        action="store_true",
        help="neither open nor close the startup gate taint dind-preflight.io/unchecked "
        "(default: remove it after the first healthy check, put it back when stopping)",
    )
    parser.add_argument(
        "--backends",
        metavar="LIST",
        default=None,
        help="the iptables backends this node must serve, comma-separated: legacy, nft "
        "(default both: every dind image a project may choose)",
    )
    parser.add_argument("--once", action="store_true", help="one check and one publish, then exit")


def run(args: argparse.Namespace) -> int:
    import os
    import signal
    import threading

    from preflight.agent.loop import Agent, AgentSettings
    from preflight.agent.publish import Target
    from preflight.kube.node_api import connect_agent
    from preflight.kube.settings import parse_timeout, settings_from
    from preflight.readiness.model import Status

    node = args.node or os.environ.get(ENV_NODE, "").strip()
    if not node:
        raise UsageError(
            f"no node name: pass --node or set ${ENV_NODE} (the downward API's spec.nodeName)"
        )
    interval = parse_timeout(
        args.interval if args.interval is not None else os.environ.get(ENV_INTERVAL), 300.0
    )
    if args.metrics_port < 0 or args.metrics_port > 65535:
        raise UsageError(f"invalid --metrics-port {args.metrics_port}")
    from preflight.commands.node_report import backends_list

    backends = backends_list(args.backends)
    kube = settings_from(os.environ)
    settings = AgentSettings(
        target=Target(
            node=node,
            taint=not args.no_taint,
            gate=not args.no_startup_gate,
        ),
        root=args.root,
        proc=args.proc,
        interval_s=interval,
        retry_s=min(15.0, interval),
        backends=backends,
    )
    agent = Agent(settings, lambda: connect_agent(kube))
    if args.once:
        readiness = agent.check()
        published = agent.publish(will_retry=False)
        if readiness.now.status is Status.UNKNOWN or not published.ok:
            return int(ExitCode.UNKNOWN)
        return int(ExitCode.OK if readiness.now.status is Status.TRUE else ExitCode.NOT_OK)
    server = None
    if args.metrics_port:
        try:
            server = agent.metrics.serve(args.metrics_port, args.metrics_address)
        except OSError as exc:
            raise PreflightError(
                f"cannot serve /metrics on {args.metrics_address}:{args.metrics_port}: "
                f"{exc.strerror or exc}; choose another --metrics-port (0: off)",
                ExitCode.UNAVAILABLE,
            ) from None
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        agent.run(stop)
        agent.close_gate()  # stopping (a reboot, a rollout): no job before the next check
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if server is not None:
            server.shutdown()
            server.server_close()
    print("dind-preflight agent: stopped", flush=True)
    return int(ExitCode.OK)
