"""`dind-preflight diagnose`: why is the dind service broken? (service state and log, helper pod)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from preflight.diagnosis.model import Diagnosis
    from preflight.kube.settings import KubeSettings
    from preflight.probe.model import ProbeResult

NAME = "diagnose"
HELP = (
    "Diagnose a broken dind service from inside a Kubernetes job (service state and log, "
    "helper pod on the node)."
)


def configure(parser: argparse.ArgumentParser) -> None:
    """Add this command's arguments."""
    parser.add_argument("--json", action="store_true", help="print the diagnosis as JSON")
    parser.add_argument(
        "--timeout",
        metavar="SECONDS",
        help="budget for the whole diagnosis, helper pod included (default 30; "
        "env DIND_PREFLIGHT_DIAGNOSE_TIMEOUT)",
    )
    parser.add_argument(
        "--service-container",
        metavar="NAME",
        help="the dind service container (default: a *dind* image, or 'docker', or the only "
        "svc-N running docker; env DIND_PREFLIGHT_SERVICE_CONTAINER)",
    )
    helper = parser.add_argument_group("helper pod")
    helper.add_argument(
        "--helper-image",
        metavar="IMAGE",
        help="image with dind-preflight for the helper pod (default: the build container's "
        "image; env DIND_PREFLIGHT_HELPER_IMAGE); the admin's helper_images win",
    )
    helper.add_argument(
        "--helper-pull-policy",
        metavar="POLICY",
        help="IfNotPresent (default), Always or Never (env DIND_PREFLIGHT_HELPER_PULL_POLICY)",
    )
    helper.add_argument(
        "--helper-pull-secret",
        metavar="NAME",
        action="append",
        help="image pull secret for the helper image, repeatable (default: the job pod's; "
        "env DIND_PREFLIGHT_HELPER_PULL_SECRETS, comma-separated)",
    )
    helper.add_argument(
        "--no-helper",
        action="store_true",
        help="do not start a helper pod (env DIND_PREFLIGHT_NO_HELPER=1)",
    )
    local = parser.add_argument_group("without Kubernetes")
    local.add_argument(
        "--host-root", metavar="DIR", help="analyse this host root instead of using a helper pod"
    )
    local.add_argument(
        "--proc",
        metavar="DIR",
        default="/proc",
        help="proc directory for the loaded-modules fallback (default /proc)",
    )
    local.add_argument(
        "--service-log",
        metavar="FILE",
        help="match the dind failure signatures in this log file (e.g. a saved service log)",
    )
    local.add_argument(
        "--probe-result",
        metavar="FILE",
        help="a saved `dind-preflight probe --json` result to take into account",
    )
    parser.add_argument(
        "--taint-node",
        action="store_true",
        help="on a node fault, taint the node dind-preflight.io/broken=CAUSE:NoSchedule "
        "(needs the optional ClusterRole in deploy/rbac/)",
    )


def run(args: argparse.Namespace) -> int:
    """Diagnose, print, optionally taint; exit with the diagnosis' code."""
    from preflight.admin.anchors import anchors_from
    from preflight.admin.config import load_admin_config
    from preflight.diagnosis.render import render_text
    from preflight.jsonable import to_json
    from preflight.kube.diagnose import diagnose_in_cluster
    from preflight.kube.settings import settings_from
    from preflight.redaction import redact

    # The admin's file (a fixed path) decides what may quarantine, as in `run`.
    anchors = anchors_from(os.environ, load_admin_config())
    settings = settings_from(
        os.environ,
        anchors=anchors,
        timeout=args.timeout,
        helper_image=args.helper_image,
        helper_pull_policy=args.helper_pull_policy,
        helper_pull_secrets=args.helper_pull_secret,
        service_container=args.service_container,
        no_helper=args.no_helper,
        host_root=args.host_root,
        proc=args.proc,
    )
    probe = _read_probe(args.probe_result) if args.probe_result else None
    from preflight.diagnosis.local import service_from_log_file

    hint = (
        service_from_log_file(args.service_log, settings.log_tail_lines)
        if args.service_log
        else None
    )
    diagnosis = diagnose_in_cluster(probe, settings, service_hint=hint)
    if args.json:
        print(redact(json.dumps(to_json(diagnosis), indent=2)))
    else:
        print(redact(render_text(diagnosis)), end="")
    if args.taint_node:
        print(redact(_taint(diagnosis, settings)), file=sys.stderr if args.json else sys.stdout)
    return int(diagnosis.exit_code)


def _read_probe(path: str) -> ProbeResult:
    from preflight.errors import InputError
    from preflight.input_files import MAX_JSON_BYTES, load_json, read_text
    from preflight.jsonable import from_json
    from preflight.probe.model import ProbeResult
    from preflight.shown import shown

    data = load_json(read_text(path, "the probe result", MAX_JSON_BYTES), path)
    try:
        return from_json(ProbeResult, data)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise InputError(f"{shown(path)} is not a probe result: {shown(exc)}") from None


def _taint(diagnosis: Diagnosis, settings: KubeSettings) -> str:
    from preflight.kube.taint_node import taint_diagnosed_node

    return taint_diagnosed_node(diagnosis, settings)
