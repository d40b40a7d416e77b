"""`dind-preflight run`: the whole preflight before a job's script.

Probe the dind daemon; when it is not healthy, diagnose (Kubernetes, a host root, or the job's own
/proc), act against a broken node or runner, report to GitLab, write the job's artifacts, and exit
with a documented code. The healthy path imports nothing heavy.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from preflight.run.adapters import JobAdapters
    from preflight.run.flow import RunOutcome

NAME = "run"
HELP = (
    "The whole preflight before a job's script: probe, diagnose, act, report, exit with a "
    "documented code (0 healthy/skipped, 75 node/runner fault, 78 job config, 69 unknown)."
)


def configure(parser: argparse.ArgumentParser) -> None:
    """Add this command's arguments (each overrides its DIND_PREFLIGHT_* variable)."""
    parser.add_argument(
        "--timeout",
        metavar="SECONDS",
        help="how long to wait for dind to answer (env DIND_PREFLIGHT_TIMEOUT, default 30)",
    )
    parser.add_argument(
        "--action",
        metavar="ACTION",
        help="against a node/runner fault: auto (default: taint the node if allowed, else "
        "pause the runner), pause-runner, taint-node or none "
        "(env DIND_PREFLIGHT_ACTION)",
    )
    parser.add_argument(
        "--artifacts-dir",
        metavar="DIR",
        help="where to write annotations.json and junit.xml "
        "(env DIND_PREFLIGHT_ARTIFACTS_DIR, default .dind-preflight)",
    )
    parser.add_argument(
        "--node-root",
        metavar="DIR",
        help="the node's / mounted into the job, for shell/docker executors "
        "(env DIND_PREFLIGHT_NODE_ROOT)",
    )
    parser.add_argument("--json", action="store_true", help="print the outcome as JSON")


def run(args: argparse.Namespace) -> int:
    """Run the preflight and return its exit code."""
    # Every CI job pays for this process: no garbage collection while it imports and at exit
    # (as `probe` does; measured in bench/run.py).
    import gc

    collecting = gc.isenabled()
    gc.disable()
    try:
        return _run(args)
    finally:
        gc.freeze()
        if collecting:
            gc.enable()


def _run(args: argparse.Namespace) -> int:
    from preflight.run.settings import settings_from_env, skip_reason

    env = os.environ
    reason = skip_reason(env)
    disabled = bool(env.get("DIND_PREFLIGHT_DISABLE", "").strip())  # the emergency switch
    if not disabled:
        # Checked also when the job does not use dind: a wrong value fails every job alike.
        settings = settings_from_env(
            env,
            timeout=args.timeout,
            action=args.action,
            artifacts_dir=args.artifacts_dir,
            node_root=args.node_root,
            json_output=args.json,
        )
    if reason is not None:
        print(f"dind-preflight: skipped: {reason}")
        return 0
    from preflight.redaction import register_secret
    from preflight.run.adapters import JobAdapters
    from preflight.run.flow import execute

    register_secret(env.get("DIND_PREFLIGHT_GITLAB_TOKEN"))
    adapters = JobAdapters(settings, env)
    outcome = execute(settings, adapters)
    try:
        _print_outcome(outcome, adapters, settings.json_output)
    except BrokenPipeError:
        # The job log reader went away: the exit code still tells GitLab what to do.
        from preflight.cli import silence_stdout

        silence_stdout()
    return int(outcome.exit_code)


def _print_outcome(outcome: RunOutcome, adapters: JobAdapters, json_output: bool) -> None:
    from preflight.redaction import redact
    from preflight.run.render import summary_line, write_details

    out = sys.stdout
    if json_output:
        import json

        from preflight.jsonable import to_json

        document = {
            "exit_code": int(outcome.exit_code),
            "summary": summary_line(outcome),
            "probe": to_json(outcome.probe),
            "diagnosis": to_json(outcome.diagnosis),
            "plan": to_json(outcome.plan),
            "report": to_json(outcome.report),
            "actions": outcome.actions_done,
            "errors": outcome.errors,
            "artifacts": outcome.artifacts,
            "elapsed_s": outcome.elapsed_s,
        }
        print(redact(json.dumps(document, indent=2, ensure_ascii=False)), file=out)
    else:
        print(redact(summary_line(outcome)), file=out)
        if outcome.exit_code != 0:
            from preflight.ci_log import in_gitlab_job
            from preflight.run.adapters import DRY_RUN_FILE

            plan = next((p for p in outcome.artifacts if p.endswith(DRY_RUN_FILE)), None)
            write_details(outcome, out, gitlab_job=in_gitlab_job(adapters.env), dry_run_file=plan)
    out.flush()
