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
        "--backends",
        metavar="LIST",
        default=None,
        help="the iptables backends the node must serve, comma-separated: legacy, nft (default "
        "both: every dind image a project may choose, legacy-only images included); narrow "
        "it to nft when the runner allows only current images",
    )
    parser.add_argument(
        "--backend",
        choices=("auto", "legacy", "nft"),
        default=None,
        help="check one backend's module set only (auto: what a current docker:dind's "
        "entrypoint would pick on this node); IPv6 counterparts are warnings",
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
    """Analyse the host root and print the report; 0 OK, 1 NOT OK, 2 UNKNOWN (the result
    line says which)."""
    if sum(bool(v) for v in (args.module, args.backend, args.backends)) > 1:
        raise UsageError("--module, --backend and --backends exclude each other")
    backends_list(args.backends)  # a bad --backends is a usage error before any reading
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
    from preflight.node.loadability import verdict

    return verdict(report).exit_code  # 0 OK, 1 NOT OK, 2 UNKNOWN: as the result line says


def backends_list(value: str | None) -> tuple[str, ...]:
    """``--backends`` as backend names (default both)."""
    from preflight.node.api import parse_backends

    try:
        return parse_backends(value if value is not None else "legacy,nft")
    except ValueError as exc:
        raise UsageError(f"--backends {value!r}: {exc}") from None


def _analyze(args: argparse.Namespace) -> NodeReport:
    """The report for ``--module`` names, the module set of ``--backend``, else the sets of
    every backend of ``--backends`` (default both)."""
    from preflight.node.api import analyze_host, analyze_host_backend, analyze_host_backends

    if args.module:
        return analyze_host(args.root, args.proc, module_list(args.module))
    if args.backend:
        backend = {"nft": "nf_tables"}.get(args.backend, args.backend)
        return analyze_host_backend(args.root, args.proc, backend)
    return analyze_host_backends(args.root, args.proc, backends_list(args.backends))


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
