"""The ``dind-preflight`` command line: parse, dispatch, and turn every error into one line."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from preflight import __version__
from preflight.errors import PreflightError
from preflight.exitcodes import ExitCode
from preflight.exitcodes import help_text as exit_help
from preflight.redaction import redact
from preflight.shown import one_line

TYPE_CHECKING = False  # typing's constant without importing typing: the healthy path
if TYPE_CHECKING:
    import argparse

COMMANDS = (
    "probe",
    "node_report",
    "diagnose",
    "report",
    "run",
    "reporter",
    "resolve",
    "agent",
    "audit",
)
# Commands that, given no argument at all, run on their defaults without building a parser.
BARE_COMMANDS = ("run", "probe")


def _parser_class() -> type[argparse.ArgumentParser]:
    """argparse with exit code 64 (EX_USAGE) and a one-line error (argparse is imported here:
    a bare ``run`` needs no parser)."""
    import argparse

    class _Parser(argparse.ArgumentParser):
        def error(self, message: str) -> None:  # type: ignore[override]
            self.exit(ExitCode.USAGE, f"{self.prog}: error: {message}\n")

    return _Parser


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The full parser with every command's arguments.

    ``only`` (a command name as typed, e.g. ``node-report``) builds just that command's
    sub-parser, so that running one command never imports the other command modules.
    """
    import argparse
    import importlib

    parser_class = _parser_class()
    parser = parser_class(
        prog="dind-preflight",
        description="Probe the docker:dind service before a job; diagnose, report and retry "
        "elsewhere when the node is broken.",
        epilog=exit_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=parser_class)
    sub.required = True
    for module_name in COMMANDS:
        if only is not None and module_name != only.replace("-", "_"):
            continue
        module = importlib.import_module(f"preflight.commands.{module_name}")
        cmd = sub.add_parser(
            module.NAME,
            help=module.HELP,
            description=module.HELP,
            epilog=exit_help(module.NAME),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.configure(cmd)
        cmd.set_defaults(_run=module.run)
    return parser


def _command_named(arguments: Sequence[str]) -> str | None:
    """The command when it comes first (the top level has only --help/--version), else None."""
    typed = {module_name.replace("_", "-") for module_name in COMMANDS}
    if arguments and arguments[0] in typed:
        return arguments[0]
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: returns the process exit code; never lets a traceback reach the user."""
    try:
        arguments = sys.argv[1:] if argv is None else list(argv)
        if not arguments:
            build_parser().print_help(sys.stderr)
            return int(ExitCode.USAGE)
        if len(arguments) == 1 and arguments[0] in BARE_COMMANDS:
            # What every dind job runs (the component's before_script): no flag to parse, so no
            # argparse (with gettext, locale and shutil) on the path every job pays for.
            import importlib

            command = importlib.import_module(f"preflight.commands.{arguments[0]}")
            return int(command.run(command.defaults()))
        args = build_parser(_command_named(arguments)).parse_args(arguments)
        return int(args._run(args))
    except PreflightError as exc:
        print(f"dind-preflight: error: {one_line(redact(str(exc)))}", file=sys.stderr)
        return int(exc.exit_code)
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): say nothing more, exit like a shell would.
        silence_stdout()
        return int(ExitCode.BROKEN_PIPE)
    except KeyboardInterrupt:
        print("dind-preflight: interrupted", file=sys.stderr)
        return int(ExitCode.INTERRUPTED)
    except Exception as exc:  # the last line of defence against tracebacks
        from preflight.inputs import TRUE_WORDS

        # The switch's own mistakes are not worth an error: only an "on" word shows tracebacks.
        if os.environ.get("DIND_PREFLIGHT_DEBUG", "").strip().lower() in TRUE_WORDS:
            import traceback

            print(redact(traceback.format_exc()), file=sys.stderr, end="")
        text = (
            redact(f"{type(exc).__name__}: {exc}").splitlines()[0]
            if str(exc)
            else type(exc).__name__
        )
        print(f"dind-preflight: internal error: {one_line(text, 400)}", file=sys.stderr)
        return int(ExitCode.SOFTWARE)
    except BaseException as exc:  # SIGTERM while a helper pod existed (it is deleted by now)
        from preflight.kube.signals import Terminated

        if not isinstance(exc, Terminated):
            raise
        print(f"dind-preflight: error: {one_line(redact(str(exc)))}", file=sys.stderr)
        return int(ExitCode.TERMINATED)


def silence_stdout() -> None:
    """Point stdout at /dev/null so that flushing it at exit raises no second BrokenPipeError."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
