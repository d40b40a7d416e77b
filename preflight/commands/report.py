"""`dind-preflight report`: report a diagnosis to GitLab (issue, runner pause, job artifacts).

The command is a thin skin over :func:`preflight.gitlab.reporter.report_diagnosis`; nothing heavy
is imported until :func:`run`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING

from preflight.errors import InputError

if TYPE_CHECKING:
    from preflight.diagnosis.model import Diagnosis

NAME = "report"
HELP = (
    "Report a diagnosis to GitLab: pause the runner, open or update one issue per node and "
    "cause, write job artifacts."
)


def configure(parser: argparse.ArgumentParser) -> None:
    """Add this command's arguments."""
    parser.add_argument(
        "--diagnosis",
        required=True,
        metavar="FILE|-",
        help="the diagnosis JSON (from `dind-preflight diagnose --json`); - reads stdin",
    )
    gitlab = parser.add_argument_group(
        "GitLab", "flags override the job's environment (CI_API_V4_URL, CI_RUNNER_ID, ...)"
    )
    gitlab.add_argument(
        "--gitlab-url",
        metavar="URL",
        help="the GitLab the token may be sent to (default DIND_PREFLIGHT_GITLAB_URL, else "
        "CI_API_V4_URL on CI_SERVER_HOST)",
    )
    gitlab.add_argument(
        "--token-file",
        metavar="FILE",
        help="read the pause token from FILE (default DIND_PREFLIGHT_GITLAB_TOKEN_FILE, then "
        "DIND_PREFLIGHT_GITLAB_TOKEN); a gitlab-url file beside it pins the GitLab URL",
    )
    gitlab.add_argument("--runner-id", metavar="ID", help="runner to pause (default CI_RUNNER_ID)")
    gitlab.add_argument("--job-id", metavar="ID", help="the failing job (default CI_JOB_ID)")
    gitlab.add_argument("--job-url", metavar="URL", help="its page (default CI_JOB_URL)")
    gitlab.add_argument(
        "--report-project",
        metavar="PATH|ID",
        help="project for incident issues (default DIND_PREFLIGHT_REPORT_PROJECT; none: no issue)",
    )
    gitlab.add_argument(
        "--pause",
        choices=("auto", "always", "never"),
        default="auto",
        help="pause the runner: auto = when the node or the runner is at fault (default)",
    )
    gitlab.add_argument(
        "--dry-run", action="store_true", help="print what would be sent; send nothing"
    )
    gitlab.add_argument("--timeout", metavar="S", help="seconds per request (default 10)")
    gitlab.add_argument(
        "--budget", metavar="S", help="seconds for all requests and retries (default 45)"
    )
    gitlab.add_argument(
        "--settle",
        metavar="S",
        help="up to S random seconds before the first look-up, spreads bursts (default 1)",
    )
    gitlab.add_argument(
        "--note-interval",
        metavar="S",
        help="at most one recurrence note per issue per S seconds (default 900)",
    )
    gitlab.add_argument(
        "--max-notes", metavar="N", help="no recurrence note once an issue has N notes (default 20)"
    )
    gitlab.add_argument(
        "--leader-grace",
        metavar="S",
        help="seconds during which the job that opened the issue owns the runner pause "
        "(default 120)",
    )
    out = parser.add_argument_group("output")
    out.add_argument(
        "--annotations", metavar="FILE", help="write artifacts:reports:annotations JSON"
    )
    out.add_argument("--junit", metavar="FILE", help="write artifacts:reports:junit XML")
    out.add_argument("--json", action="store_true", help="print the outcome as JSON")


def load_diagnosis(source: str) -> Diagnosis:
    """Read a diagnosis from a file or ``-`` (stdin); one-line errors, exit 66."""
    from preflight.diagnosis.model import Diagnosis
    from preflight.input_files import MAX_JSON_BYTES, load_json, read_stdin, read_text
    from preflight.jsonable import from_json
    from preflight.shown import one_line, shown

    name = "stdin" if source == "-" else shown(source)
    if source == "-":
        text = read_stdin("the diagnosis", MAX_JSON_BYTES)
    else:
        text = read_text(source, "the diagnosis", MAX_JSON_BYTES)
    data = load_json(text, name)
    if not isinstance(data, dict):
        raise InputError(f"{name} is not a diagnosis: expected a JSON object")
    try:
        return from_json(Diagnosis, data)
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{name} is not a diagnosis: {one_line(first, 200)}") from None


def run(args: argparse.Namespace) -> int:
    """Report the diagnosis; exit 0 when done, 75 when GitLab was unavailable, 78 on permissions."""
    from preflight.artifacts.annotations import write_annotations
    from preflight.artifacts.junit import write_junit
    from preflight.gitlab.client import settings_from_env
    from preflight.gitlab.issue_text import short_summary
    from preflight.gitlab.outcome import render_plan, summary_lines
    from preflight.gitlab.reporter import report_diagnosis, should_pause
    from preflight.jsonable import to_json
    from preflight.redaction import redact

    diagnosis = load_diagnosis(args.diagnosis)
    settings = settings_from_env(
        os.environ,
        gitlab_url=args.gitlab_url,
        token_file=args.token_file,
        runner_id=args.runner_id,
        job_id=args.job_id,
        job_url=args.job_url,
        report_project=args.report_project,
        timeout_s=args.timeout,
        budget_s=args.budget,
        settle_s=args.settle,
        note_interval_s=args.note_interval,
        max_notes=args.max_notes,
        leader_grace_s=args.leader_grace,
        dry_run=args.dry_run or None,
    )
    pause = {"auto": should_pause(diagnosis), "always": True, "never": False}[args.pause]
    if args.junit:
        write_junit(args.junit, diagnosis)
    outcome = report_diagnosis(diagnosis, settings, pause_runner=pause)
    if args.annotations:
        write_annotations(args.annotations, outcome, settings)

    if args.json:
        print(redact(json.dumps(to_json(outcome), indent=2, ensure_ascii=False)))
    elif outcome.dry_run:
        print(render_plan(outcome.planned, settings))
    else:
        for line in summary_lines(outcome):
            print(redact(line))
    for error in outcome.errors:
        print(f"dind-preflight: error: {redact(error)}", file=sys.stderr)
    if outcome.gitlab_unavailable:
        print(
            redact(
                f"dind-preflight: GitLab was not reachable; diagnosis: {short_summary(diagnosis)}"
            ),
            file=sys.stderr,
        )
        if diagnosis.remedy is not None:
            from preflight.node.fix_steps import fix_lines

            fix = "\n".join(["dind-preflight: the fix:", *fix_lines(diagnosis.remedy, "  ")])
            print(redact(fix), file=sys.stderr)
    sys.stdout.flush()
    return int(outcome.exit_code)
