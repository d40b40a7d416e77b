"""Exit codes of every command (sysexits.h values where one fits), documented in the README."""

from enum import IntEnum


class ExitCode(IntEnum):
    """What the process exit status means to the job and to the runner."""

    OK = 0  # healthy, or nothing to do
    NOT_OK = 1  # node-report: a checked module is not loaded now or will not load at boot
    UNKNOWN = 2  # node-report --npd, audit, agent --once: could not tell (NPD's "unknown")
    USAGE = 64  # EX_USAGE: invalid flags or invalid environment
    NO_INPUT = 66  # EX_NOINPUT: a host root or input file does not exist or cannot be read
    UNAVAILABLE = 69  # EX_UNAVAILABLE: daemon unhealthy, cause not established
    SOFTWARE = 70  # EX_SOFTWARE: internal error (a bug); one line, no traceback
    TEMPFAIL = 75  # EX_TEMPFAIL: node/runner fault; retry the job on another runner
    CONFIG = 78  # EX_CONFIG: the job's own configuration is wrong (TLS/port mismatch)
    INTERRUPTED = 130  # SIGINT
