"""The ``dind-preflight`` command line: parse, dispatch, and turn every error into one line."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from preflight import __version__
from preflight.errors import PreflightError
from preflight.exitcodes import ExitCode
from preflight.redaction import redact

COMMANDS = ("probe", "node_report", "diagnose", "report", "run")

EXIT_CODES_HELP = """exit codes:
  0   healthy (probe, run), every module fine (node-report), nothing to do
  1   node-report: a checked module is not loaded now or will not load at boot
  64  invalid usage or invalid environment (e.g. DOCKER_HOST=htp://x)
  66  node-report: the host root does not exist or cannot be read
  69  daemon unhealthy, cause not established (no action taken)
  70  internal error (a bug; set DIND_PREFLIGHT_DEBUG=1 for the traceback)
  75  node or runner fault: the job should be retried on another runner
  78  the job's own configuration is wrong (TLS/port mismatch)
"""


class _Parser(argparse.ArgumentParser):
    """argparse with exit code 64 (EX_USAGE) and a one-line error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(ExitCode.USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The full parser with every command's arguments."""
    parser = _Parser(
        prog="dind-preflight",
        description="Probe the docker:dind service before a job; diagnose, report and retry "
        "elsewhere when the node is broken.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for module_name in COMMANDS:
        module = importlib.import_module(f"preflight.commands.{module_name}")
        cmd = sub.add_parser(
            module.NAME,
            help=module.HELP,
            description=module.HELP,
            epilog=EXIT_CODES_HELP,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.configure(cmd)
        cmd.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: returns the process exit code; never lets a traceback reach the user."""
    debug = bool(os.environ.get("DIND_PREFLIGHT_DEBUG"))
    try:
        args = build_parser().parse_args(argv)
        return int(args._run(args))
    except PreflightError as exc:
        print(f"dind-preflight: error: {redact(str(exc))}", file=sys.stderr)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        print("dind-preflight: interrupted", file=sys.stderr)
        return int(ExitCode.INTERRUPTED)
    except Exception as exc:  # the last line of defence against tracebacks
        if debug:
            import traceback

            print(redact(traceback.format_exc()), file=sys.stderr, end="")
        text = (
            redact(f"{type(exc).__name__}: {exc}").splitlines()[0]
            if str(exc)
            else type(exc).__name__
        )
        print(f"dind-preflight: internal error: {text}", file=sys.stderr)
        return int(ExitCode.SOFTWARE)
