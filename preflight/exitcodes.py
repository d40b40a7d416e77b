"""Exit codes of every command (sysexits.h values where one fits), documented in the README."""

from enum import IntEnum


class ExitCode(IntEnum):
    """What the process exit status means to the job and to the runner."""

    OK = 0  # healthy, or nothing to do
    NOT_OK = 1  # node-report: a checked module is not loaded now or will not load at boot
    USAGE = 64  # EX_USAGE: invalid flags or invalid environment
    NO_INPUT = 66  # EX_NOINPUT: a host root or input file does not exist or cannot be read
    UNAVAILABLE = 69  # EX_UNAVAILABLE: daemon unhealthy, cause not established
    SOFTWARE = 70  # EX_SOFTWARE: internal error (a bug); one line, no traceback
    TEMPFAIL = 75  # EX_TEMPFAIL: node/runner fault; retry the job on another runner
    CONFIG = 78  # EX_CONFIG: the job's own configuration is wrong (TLS/port mismatch)
    INTERRUPTED = 130  # SIGINT


SIGPIPE_EXIT = 128 + 13  # the reader of stdout went away (e.g. `| head`), as a shell reports it

# Every code each command can return (the README's table is generated from this; a test
# compares them). Every command can also end with 64, 70, 130 and 141.
COMMON: tuple[int, ...] = (
    ExitCode.USAGE,
    ExitCode.SOFTWARE,
    ExitCode.INTERRUPTED,
    SIGPIPE_EXIT,
)
COMMAND_EXIT_CODES: dict[str, tuple[int, ...]] = {
    "probe": (ExitCode.OK, ExitCode.UNAVAILABLE, ExitCode.CONFIG),
    "run": (ExitCode.OK, ExitCode.UNAVAILABLE, ExitCode.TEMPFAIL, ExitCode.CONFIG),
    "diagnose": (
        ExitCode.OK,
        ExitCode.NO_INPUT,
        ExitCode.UNAVAILABLE,
        ExitCode.TEMPFAIL,
        ExitCode.CONFIG,
    ),
    "report": (ExitCode.OK, ExitCode.NO_INPUT, ExitCode.TEMPFAIL, ExitCode.CONFIG),
    "node-report": (ExitCode.OK, ExitCode.NOT_OK, ExitCode.NO_INPUT),
}
MEANINGS: dict[int, str] = {
    ExitCode.OK: "healthy or skipped; (node-report) every checked module fine; (report) reported",
    ExitCode.NOT_OK: "node-report: a checked module is not loaded now or will not load at boot",
    ExitCode.USAGE: "invalid usage or invalid environment (e.g. `DOCKER_HOST=htp://x`, an "
    "unknown action)",
    ExitCode.NO_INPUT: "an input (host root, diagnosis file, service log) does not exist or "
    "cannot be read",
    ExitCode.UNAVAILABLE: "daemon unhealthy (or `--deep` degraded), cause not established: no "
    "action taken",
    ExitCode.SOFTWARE: "internal error (a bug; `DIND_PREFLIGHT_DEBUG=1` shows the traceback)",
    ExitCode.TEMPFAIL: "node or runner fault: retry the job on another runner (`retry: "
    "exit_codes: [75]`); the runner is paused or the node tainted only when evidence the job "
    "cannot forge backs the cause; (report) GitLab unavailable",
    ExitCode.CONFIG: "the job's own configuration is wrong (TLS/port mismatch): no action "
    "against the runner; (report) token or permission problem",
    ExitCode.INTERRUPTED: "interrupted (SIGINT, or SIGTERM when GitLab cancels the job), after "
    "cleaning up",
    SIGPIPE_EXIT: "the reader of the output went away (e.g. piped into `head`)",
}


def exit_code_table() -> str:
    """The README's exit-code table: what each code means and which commands return it."""
    commands = list(COMMAND_EXIT_CODES)
    header = "| code | meaning | " + " | ".join(f"`{c}`" for c in commands) + " |"
    rule = "| --- | --- | " + " | ".join("---" for _ in commands) + " |"
    rows = [header, rule]
    for code in sorted(MEANINGS):
        marks = ["x" if code in COMMAND_EXIT_CODES[c] or code in COMMON else "" for c in commands]
        rows.append(f"| {int(code)} | {MEANINGS[code]} | " + " | ".join(marks) + " |")
    return "\n".join(rows) + "\n"
