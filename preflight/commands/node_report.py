"""`dind-preflight node-report`: are the dind kernel modules loaded now, and at the next boot?"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from preflight.errors import UsageError
from preflight.exitcodes import ExitCode

if TYPE_CHECKING:
    from preflight.node.model import NodeReport

NAME = "node-report"
HELP = (
    "Analyse a host root: are the dind kernel modules loaded now, and will they load at the "
    "next boot?"
)


def configure(parser: argparse.ArgumentParser) -> None:
    """Add this command's arguments."""
    parser.add_argument(
        "--root",
        metavar="DIR",
        default="/",
        help="the host's root directory (default /; in the helper pod e.g. /host)",
    )
    parser.add_argument(
        "--proc",
        metavar="DIR",
        default=None,
        help="the host's proc directory (default ROOT/proc)",
    )
    parser.add_argument(
        "--module",
        metavar="NAME",
        action="append",
        default=None,
        help="a module to check instead of a backend's set (iptable_nat, iptable_filter when "
        "only +NAME is given: +NAME adds to them); repeat or separate with commas",
    )
    parser.add_argument(
        "--backend",
        choices=("auto", "legacy", "nft"),
        default=None,
        help="check the module set of this iptables backend (default auto: what docker:dind's "
        "entrypoint would pick on this node); unloaded modules of the other backend are no "
        "finding; IPv6 counterparts are warnings",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--npd",
        nargs="?",
        const="now",
        choices=("now", "after-reboot"),
        default=None,
        help="node-problem-detector custom plugin mode: one line, exit 0 ok, 1 problem, "
        "2 unknown; for the node now (default) or after its next reboot",
    )


def module_list(values: list[str] | None) -> list[str]:
    """The modules to check from ``--module`` values (``+NAME`` adds to the defaults)."""
    from preflight.node.analysis import DEFAULT_MODULES
    from preflight.node.kernel import is_valid_module_name, normalize

    if not values:
        return list(DEFAULT_MODULES)
    replace: list[str] = []
    add: list[str] = []
    for value in values:
        for item in value.split(","):
            item = item.strip()
            adding = item.startswith("+")
            name = item[1:] if adding else item
            if not is_valid_module_name(name):
                raise UsageError(
                    f"--module {item!r}: a module name is letters, digits, '_' and '-' "
                    "(at most 64 characters)"
                )
            (add if adding else replace).append(normalize(name))
    base = replace if replace else list(DEFAULT_MODULES)
    return list(dict.fromkeys([*base, *add]))


def run(args: argparse.Namespace) -> int:
    """Analyse the host root and print the report; 0 when every module is fine, else 1."""
    if args.module and args.backend:
        raise UsageError("--module and --backend exclude each other")
    if args.npd:
        return npd_plugin(args)
    report = _analyze(args)
    if args.json:
        import json

        from preflight.jsonable import to_json

        print(json.dumps(to_json(report), indent=2, sort_keys=False))
    else:
        from preflight.node.render import render_text

        print(render_text(report), end="")
    return int(ExitCode.OK if report.ok else ExitCode.NOT_OK)


def _analyze(args: argparse.Namespace) -> NodeReport:
    """The report for ``--module`` names, else for the module set of ``--backend``."""
    from preflight.node.api import analyze_host, analyze_host_backend

    if args.module:
        return analyze_host(args.root, args.proc, module_list(args.module))
    backend = {"nft": "nf_tables"}.get(args.backend or "auto", args.backend or "auto")
    return analyze_host_backend(args.root, args.proc, backend)


def npd_plugin(args: argparse.Namespace) -> int:
    """node-problem-detector's custom plugin protocol: one line on stdout, exit 0 (ok),
    1 (problem) or 2 (unknown; also when the host root cannot be read)."""
    from preflight.errors import PreflightError
    from preflight.readiness.model import Status
    from preflight.readiness.verdict import readiness_of

    try:
        readiness = readiness_of(_analyze(args))
    except PreflightError as exc:
        print(f"unknown: {exc}"[:1000])
        return int(ExitCode.UNKNOWN)
    item = readiness.now if args.npd == "now" else readiness.after_reboot
    print(f"{item.code}: {item.message}"[:1000])
    codes = {Status.TRUE: ExitCode.OK, Status.FALSE: ExitCode.NOT_OK}
    return int(codes.get(item.status, ExitCode.UNKNOWN))
