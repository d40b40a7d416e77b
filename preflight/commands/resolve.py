"""`dind-preflight resolve`: undo job mode's taints, pauses and issues once nodes are fixed.

Re-verifies each affected node with a helper pod's node report; then removes our taint, resumes
the runner dind-preflight paused (restoring its maintenance note), comments and closes the issue.
Only issues carrying the project's marker; ``--dry-run`` changes nothing. Runs as a CronJob
(deploy/reporter/cronjob-resolve.yaml).
"""

from __future__ import annotations

import argparse
import os
import sys

NAME = "resolve"
HELP = (
    "Undo job mode once nodes are fixed: re-check each affected node (helper pod), remove the "
    "taint, resume the runner, comment and close the issue (--dry-run: show only)."
)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--gitlab-url", required=True, metavar="URL", help="the pinned GitLab (https)"
    )
    parser.add_argument(
        "--gitlab-ca-file",
        metavar="FILE",
        default=None,
        help="CA bundle of a GitLab with a private certificate (default: the system's)",
    )
    parser.add_argument("--token-file", required=True, metavar="FILE", help="access token file")
    parser.add_argument("--report-project", required=True, metavar="PROJECT")
    parser.add_argument(
        "--helper-image", required=True, metavar="IMAGE", help="image with dind-preflight"
    )
    parser.add_argument("--timeout", type=float, default=90.0, metavar="SECONDS", help="per node")
    parser.add_argument("--dry-run", action="store_true", help="check and print; change nothing")
    parser.add_argument(
        "--backends",
        metavar="LIST",
        default=None,
        help="the iptables backends a node must serve: legacy, nft (default both; as the agents')",
    )


def run(args: argparse.Namespace) -> int:
    from preflight.commands.node_report import backends_list
    from preflight.errors import PreflightError
    from preflight.exitcodes import ExitCode
    from preflight.gitlab.client import GitLabActionError, open_client
    from preflight.kube.client import KubeError, connect
    from preflight.kube.settings import settings_from
    from preflight.reporter.settings import admin_gitlab_settings
    from preflight.resolve.apply import helper_pod_reader, resolve

    backends = backends_list(args.backends)

    gitlab = admin_gitlab_settings(
        gitlab_url=args.gitlab_url,
        token_file=args.token_file,
        ca_file=args.gitlab_ca_file,
        report_project=args.report_project,
        budget_s=120.0,
    )
    kube_settings = settings_from(os.environ, timeout=args.timeout, helper_image=args.helper_image)
    try:
        kube = connect(kube_settings)
    except KubeError as exc:
        raise PreflightError(f"resolve: {exc.limitation}", ExitCode.UNAVAILABLE) from None
    client = open_client(gitlab)
    try:
        result = resolve(
            client, kube, helper_pod_reader(kube, kube_settings, backends), dry_run=args.dry_run
        )
    except GitLabActionError as exc:
        print(f"dind-preflight: resolve: {exc}", file=sys.stderr)
        return int(exc.exit_code)
    for line in result.lines:
        print(f"dind-preflight: {line}")
    for error in result.errors:
        print(f"dind-preflight: error: {error}", file=sys.stderr)
    print(
        f"dind-preflight: resolve: {result.fixed} fixed, {result.still_broken} still broken"
        + (" (dry run: nothing changed)" if args.dry_run else "")
    )
    return int(ExitCode.TEMPFAIL) if result.errors else 0
