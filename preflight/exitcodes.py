"""Exit codes of every command (sysexits.h values where one fits): the one source for each
command's ``--help``, the README and docs (``make docs`` generates them from :data:`BY_COMMAND`)."""

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
    INTERRUPTED = 130  # 128 + SIGINT: interrupted; what was found is printed and written
    BROKEN_PIPE = 141  # 128 + SIGPIPE: the reader of stdout went away (e.g. `| head`)
    TERMINATED = 143  # 128 + SIGTERM (GitLab cancelled the job): the same as SIGINT


GENERAL = {
    ExitCode.OK: "healthy, skipped, or nothing to do",
    ExitCode.NOT_OK: "a checked module is not loaded now or will not load at boot; a node is "
    "not ready for dind now or after its next reboot",
    ExitCode.UNKNOWN: "could not tell (node-problem-detector's unknown; a node not checked)",
    ExitCode.USAGE: "invalid flags or environment",
    ExitCode.NO_INPUT: "an input (host root, file) does not exist or cannot be read",
    ExitCode.UNAVAILABLE: "dind unhealthy or (probe --deep) degraded with no cause established "
    "(no action), or the Kubernetes API unreachable",
    ExitCode.SOFTWARE: "internal error (a bug; DIND_PREFLIGHT_DEBUG=1 shows the traceback)",
    ExitCode.TEMPFAIL: "retry: a node or runner fault (the job, on another runner), or GitLab "
    "unavailable (later)",
    ExitCode.CONFIG: "a configuration to fix: the job's own (TLS/port), or the GitLab token's "
    "scope or permissions",
    ExitCode.INTERRUPTED: "interrupted (SIGINT)",
    ExitCode.BROKEN_PIPE: "the reader of the output went away",
    ExitCode.TERMINATED: "terminated (SIGTERM, e.g. a cancelled job)",
}

# Every command ends with these too; listed once per command in its --help.
_COMMON = {
    ExitCode.USAGE: "invalid flags or environment (e.g. DOCKER_HOST=htp://x, --timeout 0)",
    ExitCode.SOFTWARE: "internal error: a bug (DIND_PREFLIGHT_DEBUG=1 shows the traceback)",
    ExitCode.INTERRUPTED: "interrupted by SIGINT",
    ExitCode.BROKEN_PIPE: "the reader of the output went away (e.g. | head)",
    ExitCode.TERMINATED: "terminated by SIGTERM (e.g. a cancelled job)",
}

BY_COMMAND: dict[str, dict[ExitCode, str]] = {
    "probe": {
        ExitCode.OK: "the daemon is healthy (and --deep passed)",
        ExitCode.UNAVAILABLE: "the daemon is not usable: refused, timeout, unreachable, error; "
        "or (--deep) degraded: it answers but a container cannot start or reach the network",
        ExitCode.CONFIG: "the job's TLS/port settings do not match the daemon (tls-mismatch)",
        **_COMMON,
    },
    "node-report": {
        ExitCode.OK: "no checked module is a fault for containers, now or after the next boot "
        "(loaded, loads at boot, or loads on first use); --npd: ok",
        ExitCode.NOT_OK: "a checked module is absent, blocked, unloadable or denied to containers "
        "(SELinux), now or after the next boot; --npd: the problem",
        ExitCode.UNKNOWN: "no fault found, but a checked module could not be judged (unreadable "
        "evidence); --npd: unknown (also when --root cannot be read)",
        ExitCode.NO_INPUT: "--root (or an explicit --proc) does not exist or cannot be read",
        **_COMMON,
    },
    "diagnose": {
        ExitCode.OK: "healthy: the --probe-result given says the daemon answered and the dind "
        "service is not dead (diagnose itself does not probe)",
        ExitCode.NO_INPUT: "--host-root, --service-log or --probe-result cannot be read, is not a "
        "regular file, is too large, or is JSON nested too deeply",
        ExitCode.UNAVAILABLE: "cause not established: no action",
        ExitCode.TEMPFAIL: "node or runner fault: retry the job on another runner (quarantine "
        "only when evidence the job cannot forge backs the cause)",
        ExitCode.CONFIG: "the job's own configuration is wrong (TLS/port)",
        **_COMMON,
        ExitCode.INTERRUPTED: "interrupted by SIGINT (a helper pod deleted first)",
        ExitCode.TERMINATED: "terminated by SIGTERM, e.g. a cancelled job (a helper pod deleted "
        "first)",
    },
    "report": {
        ExitCode.OK: "reported (or, without a token, the dry run was printed)",
        ExitCode.NO_INPUT: "the diagnosis or --token-file cannot be read, is not a regular file, "
        "is too large or too deeply nested, or is not a diagnosis",
        ExitCode.TEMPFAIL: "GitLab was unavailable: try again later",
        ExitCode.CONFIG: "GitLab refused: token, scope or permission problem",
        **_COMMON,
    },
    "run": {
        ExitCode.OK: "dind is healthy, or the job does not use dind (skipped)",
        ExitCode.NO_INPUT: "a file or directory a setting names cannot be read: "
        "DIND_PREFLIGHT_NODE_ROOT (--node-root), a token file (--token-file, "
        "DIND_PREFLIGHT_GITLAB_TOKEN_FILE, DIND_PREFLIGHT_ISSUES_TOKEN_FILE); checked before the "
        "probe",
        ExitCode.UNAVAILABLE: "dind is not healthy, cause not established: no action taken "
        "(also when --deadline ends the run before a cause is established)",
        ExitCode.TEMPFAIL: "node or runner fault: retry the job on another runner "
        "(retry: exit_codes: [75]); the runner is paused or the node tainted only when evidence "
        "the job cannot forge backs the cause; a failed report or action, or the deadline during "
        "the report, does not change it",
        ExitCode.CONFIG: "the job's own dind configuration is wrong (TLS/port): fix the job",
        **_COMMON,
        ExitCode.INTERRUPTED: "SIGINT: the summary and diagnosis were printed and the artifacts "
        "written first; one line says what was not done",
        ExitCode.TERMINATED: "SIGTERM (a cancelled job): the same",
    },
    "reporter": {
        ExitCode.OK: "stopped by SIGTERM or SIGINT after releasing its Lease; --once: a clean cycle",
        ExitCode.NO_INPUT: "--token-file cannot be read",
        ExitCode.UNAVAILABLE: "the Kubernetes API cannot be reached",
        ExitCode.TEMPFAIL: "--once: the cycle had errors (GitLab or Kubernetes): run it again",
        **_COMMON,
    },
    "agent": {
        ExitCode.OK: "stopped by SIGTERM or SIGINT; --once: the node is ready now, published",
        ExitCode.NOT_OK: "--once: the node is not ready for dind now (published)",
        ExitCode.UNKNOWN: "--once: could not tell, or the API did not take the result",
        ExitCode.UNAVAILABLE: "the /metrics port cannot be served",
        **_COMMON,
    },
    "audit": {
        ExitCode.OK: "every node is ready for dind now and after its next reboot",
        ExitCode.NOT_OK: "some node is not ready now or after its next reboot",
        ExitCode.UNKNOWN: "no node is known to be broken, but some could not be checked",
        ExitCode.UNAVAILABLE: "the Kubernetes API cannot be reached, or listing nodes is denied",
        **_COMMON,
    },
    "resolve": {
        ExitCode.OK: "every fixed node was resolved (nodes still broken are left as they are)",
        ExitCode.NO_INPUT: "--token-file cannot be read",
        ExitCode.UNAVAILABLE: "the Kubernetes API cannot be reached",
        ExitCode.TEMPFAIL: "a step failed or GitLab was unavailable: run it again later",
        ExitCode.CONFIG: "GitLab refused: token, scope or permission problem",
        **_COMMON,
    },
}


def help_text(command: str | None = None) -> str:
    """``exit codes:`` and one line per code, for one command or (None) for all of them."""
    if command is not None:
        codes = sorted(BY_COMMAND[command].items())
        return "exit codes:\n" + "".join(f"  {int(c):<3} {text}\n" for c, text in codes)
    lines = ["exit codes (each command's --help lists its own):"]
    for code in sorted({c for table in BY_COMMAND.values() for c in table}):
        users = [name for name, table in BY_COMMAND.items() if code in table]
        who = "" if len(users) == len(BY_COMMAND) else f" ({', '.join(users)})"
        lines.append(f"  {int(code):<3} {GENERAL[code]}{who}")
    return "\n".join(lines) + "\n"
