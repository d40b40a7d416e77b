"""`dind-preflight node-report`: are the dind kernel modules loaded now, and at the next boot?"""

from __future__ import annotations

import argparse

from preflight.errors import UsageError
from preflight.exitcodes import ExitCode

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
    from preflight.node.api import analyze_host, analyze_host_backend

    if args.module and args.backend:
        raise UsageError("--module and --backend exclude each other")
    if args.module:
        report = analyze_host(args.root, args.proc, module_list(args.module))
    else:
        backend = {"nft": "nf_tables"}.get(args.backend or "auto", args.backend or "auto")
        report = analyze_host_backend(args.root, args.proc, backend)
    if args.json:
        import json

        from preflight.jsonable import to_json

        print(json.dumps(to_json(report), indent=2, sort_keys=False))
    else:
        from preflight.node.render import render_text

        print(render_text(report), end="")
    return int(ExitCode.OK if report.ok else ExitCode.NOT_OK)
