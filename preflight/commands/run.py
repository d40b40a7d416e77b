"""`dind-preflight run`: the whole preflight before a job's script.

Probe the dind daemon; when it is not healthy, diagnose (Kubernetes, a host root, or the job's own
/proc), act against a broken node or runner, report to GitLab, write the job's artifacts, and exit
with a documented code. The healthy path imports nothing heavy.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import replace
from types import SimpleNamespace

TYPE_CHECKING = False  # typing's constant without importing typing: the healthy path
if TYPE_CHECKING:
    import argparse

    from preflight.run.adapters import JobAdapters
    from preflight.run.flow import RunOutcome, RunState

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
    parser.add_argument(
        "--deadline",
        metavar="SECONDS",
        help="the whole run ends by then: probe, diagnosis, report (env DIND_PREFLIGHT_DEADLINE, "
        "default the probe timeout + diagnosis timeout + GitLab budget, at most 120)",
    )
    parser.add_argument(
        "--token-file",
        metavar="FILE",
        help="read the pause token (a GitLab access token with manage_runner, not the runner's "
        "glrt- token) from FILE (env DIND_PREFLIGHT_GITLAB_TOKEN_FILE, e.g. "
        "a GitLab File variable); a gitlab-url file beside it pins the GitLab URL",
    )
    parser.add_argument("--json", action="store_true", help="print the outcome as JSON")


def defaults() -> SimpleNamespace:
    """The arguments of a bare ``dind-preflight run``: every flag unset (the variables decide).

    Built without a parser; tests/run/test_run_cli.py checks it equals what the parser gives.
    """
    return SimpleNamespace(
        timeout=None,
        action=None,
        artifacts_dir=None,
        node_root=None,
        deadline=None,
        token_file=None,
        json=False,
    )


def run(args: argparse.Namespace | SimpleNamespace) -> int:
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


def _run(args: argparse.Namespace | SimpleNamespace) -> int:
    from preflight.run.settings import disabled, settings_from_env, skip_reason

    env = os.environ
    if not disabled(env):  # the emergency switch: nothing else is read
        from preflight.admin.config import load_admin_config

        # Checked before the probe, and also when the job does not use dind: a wrong value
        # fails every job alike, not only the jobs that meet a broken dind.
        # The admin's file is at a fixed path (no variable names it).
        admin = load_admin_config()
        settings = settings_from_env(
            env,
            timeout=args.timeout,
            action=args.action,
            artifacts_dir=args.artifacts_dir,
            node_root=args.node_root,
            json_output=args.json,
            deadline=args.deadline,
            token_file=args.token_file,
            admin=admin,
        )
    reason = skip_reason(env)
    if reason is not None:
        print(f"dind-preflight: skipped: {reason}")
        return 0
    from preflight.redaction import register_secret
    from preflight.run.adapters import JobAdapters
    from preflight.run.flow import RunState, execute
    from preflight.run.watchdog import watchdog

    for name in ("DIND_PREFLIGHT_GITLAB_TOKEN", "DIND_PREFLIGHT_ISSUES_TOKEN", "CI_JOB_TOKEN"):
        register_secret(env.get(name))
    state = RunState()
    adapters = JobAdapters(settings, env, state=state)
    with watchdog(settings.deadline_s, lambda: _last_words(state, settings.deadline_s)) as watch:
        try:
            outcome = execute(settings, adapters, state)
        except BaseException as exc:
            if not watch.is_stop(exc):
                raise
            watch.begin_ending()
            return _stopped(exc, state, adapters, settings.deadline_s)
        _safely(lambda: _print_final(outcome, adapters, settings.json_output, state.announced))
    return int(outcome.exit_code)


def _safely(write: Callable[[], None]) -> None:
    try:
        write()
    except BrokenPipeError:
        # The job log reader went away: the exit code still tells GitLab what to do.
        from preflight.cli import silence_stdout

        silence_stdout()


def _last_words(state: RunState, deadline_s: float) -> tuple[str, int]:
    """The backstop's line and exit code: the run did not end by itself after its deadline."""
    outcome = state.outcome
    code = int(outcome.exit_code) if outcome is not None else 69
    return (
        f"dind-preflight: error: still running {deadline_s:g} s + grace after the start, during "
        f"{state.stage.value}: forced exit {code} (output and artifacts as last written)",
        code,
    )


def _stopped(exc: BaseException, state: RunState, adapters: JobAdapters, deadline_s: float) -> int:
    """End a run cut short: flush what is known, say in one line what was and was not done."""
    from preflight.exitcodes import ExitCode
    from preflight.redaction import redact
    from preflight.run.flow import Stage
    from preflight.run.watchdog import ending

    how, signal_code = ending(exc)
    if how == "stopped by its deadline":
        how = f"stopped by its deadline ({deadline_s:g} s)"
    stage = state.stage
    outcome = state.outcome
    notes = [note for note in getattr(exc, "__notes__", []) if isinstance(note, str)]
    if outcome is not None and (not state.announced or adapters.settings.json_output):
        outcome = replace(outcome, errors=[*outcome.errors, f"{how} during {stage.value}"])
        paths = adapters.write_artifacts_quietly(outcome)
        outcome = replace(outcome, artifacts=paths)
        shown = outcome
        if adapters.settings.json_output:
            _safely(lambda: _print_final(shown, adapters, True, False))
        else:
            _safely(lambda: adapters.announce(shown))
    elif outcome is not None and stage in (Stage.TAINT, Stage.REPORT, Stage.FINISH):
        adapters.write_artifacts_quietly(outcome)
    done = _what_was_done(state, outcome)
    line = f"dind-preflight: {how} during {stage.value}; {done}"
    if notes:
        line += "; " + "; ".join(notes)
    if signal_code is not None:
        code = signal_code
    elif outcome is not None and outcome.diagnosis is not None:
        code = int(outcome.exit_code)
    else:
        code = int(ExitCode.UNAVAILABLE)
    _safely(lambda: print(redact(line), file=sys.stderr, flush=True))
    _safely(sys.stdout.flush)
    return code


def _what_was_done(state: RunState, outcome: RunOutcome | None) -> str:
    from preflight.run.flow import Stage

    if outcome is None:
        return "nothing was found yet, nothing was changed"
    said = "diagnosis printed and artifacts written" if outcome.diagnosis else "probe result kept"
    stage = state.stage
    if stage is Stage.TAINT:
        return f"{said}; the node may or may not be tainted; GitLab was not told"
    if stage is Stage.REPORT:
        return f"{said}; the GitLab report is incomplete (the runner may not be paused)"
    if stage is Stage.FINISH:
        return f"{said}; the GitLab report was done"
    return f"{said}; nothing was changed in GitLab or Kubernetes"


def _print_final(
    outcome: RunOutcome, adapters: JobAdapters, json_output: bool, announced: bool
) -> None:
    from preflight.redaction import redact
    from preflight.run.render import done_lines, summary_line, write_details

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
    elif announced:
        # The summary and the evidence were printed before acting: now what was done, and the
        # summary again as the last line.
        from preflight.run.adapters import DRY_RUN_FILE

        plan = next((p for p in outcome.artifacts if p.endswith(DRY_RUN_FILE)), None)
        for line in done_lines(outcome, plan):
            print(f"dind-preflight: {redact(line)}", file=out)
        print(redact(summary_line(outcome)), file=out)
    else:
        print(redact(summary_line(outcome)), file=out)
        if outcome.exit_code != 0:
            from preflight.ci_log import in_gitlab_job
            from preflight.run.adapters import DRY_RUN_FILE

            plan = next((p for p in outcome.artifacts if p.endswith(DRY_RUN_FILE)), None)
            write_details(outcome, out, gitlab_job=in_gitlab_job(adapters.env), dry_run_file=plan)
    out.flush()
