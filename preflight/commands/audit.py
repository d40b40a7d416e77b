"""`dind-preflight audit`: is every node ready for dind now, and after its next reboot?"""

from __future__ import annotations

import argparse

from preflight.errors import UsageError

NAME = "audit"
HELP = (
    "Audit every node (or those matching --selector): ready for dind now and after the next "
    "reboot? From the agent's conditions, else from a helper pod per node. Exit 0 all ready, "
    "1 some node not ready, 2 some node could not be checked."
)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--selector",
        "-l",
        metavar="LABELS",
        default=None,
        help="label selector of the nodes to audit, e.g. role=ci",
    )
    parser.add_argument(
        "--parallel", metavar="N", type=int, default=10, help="helper pods at a time (default 10)"
    )
    parser.add_argument(
        "--timeout",
        metavar="SECONDS",
        default="60",
        help="per node, for its helper pod (default 60)",
    )
    parser.add_argument(
        "--helper-image",
        metavar="IMAGE",
        default=None,
        help="image with dind-preflight for helper pods (default $DIND_PREFLIGHT_HELPER_IMAGE; none: only the agent's conditions are read)",
    )
    parser.add_argument(
        "--helper-pull-policy",
        metavar="POLICY",
        default=None,
        help="IfNotPresent (default), Always or Never",
    )
    parser.add_argument(
        "--namespace",
        metavar="NS",
        default=None,
        help="namespace of the helper pods (default: the kubeconfig context's; it must allow "
        "a read-only hostPath, e.g. dind-preflight from deploy/agent/00-namespace.yaml)",
    )
    parser.add_argument(
        "--no-helper",
        action="store_true",
        help="read the agent's conditions only; never start a pod",
    )
    parser.add_argument(
        "--agent-interval",
        metavar="SECONDS",
        default=None,
        help="the agent's check interval (default 300): conditions older than two are stale",
    )
    parser.add_argument(
        "--backends",
        metavar="LIST",
        default=None,
        help="the iptables backends a node must serve, for helper-pod checks: legacy, nft "
        "(default both; set it as the agents' --backends)",
    )
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print the results as JSON")
    output.add_argument("--junit", action="store_true", help="print the results as JUnit XML")


def run(args: argparse.Namespace) -> int:
    import os
    import secrets
    import sys
    from dataclasses import replace

    from preflight.audit.fleet import AuditSettings, audit_nodes
    from preflight.audit.model import exit_status
    from preflight.audit.render import as_json, junit, progress_bar, table
    from preflight.commands.node_report import backends_list
    from preflight.errors import PreflightError
    from preflight.exitcodes import ExitCode
    from preflight.kube.client import KubeError, connect
    from preflight.kube.node_status import list_nodes
    from preflight.kube.settings import ENV_AGENT_INTERVAL, parse_timeout, settings_from

    backends = backends_list(args.backends)
    if args.parallel < 1:
        raise UsageError(f"--parallel {args.parallel}: must be at least 1")
    per_node = parse_timeout(args.timeout, 60.0)
    interval = parse_timeout(
        args.agent_interval
        if args.agent_interval is not None
        else os.environ.get(ENV_AGENT_INTERVAL),
        300.0,
    )
    kube = settings_from(
        os.environ,
        timeout=per_node,
        helper_image=args.helper_image,
        helper_pull_policy=args.helper_pull_policy,
    )
    kube = replace(
        kube, job_id=f"audit-{secrets.token_hex(4)}", namespace=args.namespace or kube.namespace
    )
    try:
        ctx = connect(kube)
        nodes = list_nodes(ctx, args.selector)
    except KubeError as exc:
        raise PreflightError(exc.limitation, ExitCode.UNAVAILABLE) from None
    progress = progress_bar(sys.stderr) if sys.stderr.isatty() else None
    results = audit_nodes(
        ctx,
        nodes,
        AuditSettings(
            helper=kube,
            parallel=args.parallel,
            per_node_timeout_s=per_node,
            agent_interval_s=interval,
            use_helper=not args.no_helper,
            backends=backends,
        ),
        progress,
    )
    if args.json:
        print(as_json(results), end="")
    elif args.junit:
        print(junit(results), end="")
    else:
        print(table(results), end="")
    return exit_status(results)
