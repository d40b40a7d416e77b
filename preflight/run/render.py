"""How a run reads in the job log: one summary line first, then details in collapsible sections."""

from __future__ import annotations

from typing import Any, TextIO

from preflight.exitcodes import ExitCode
from preflight.run.flow import RunOutcome

PREFIX = "dind-preflight"

_ENDING = {
    ExitCode.TEMPFAIL: "retry on another runner (exit 75)",
    ExitCode.CONFIG: "fix the job's dind configuration (exit 78)",
    ExitCode.UNAVAILABLE: "cause not established, no action taken (exit 69)",
}


def summary_line(outcome: RunOutcome) -> str:
    """The one line a reader of the job log needs first."""
    probe = outcome.probe
    if outcome.exit_code is ExitCode.OK:
        version = f"Docker {probe.server_version}, " if probe.server_version else ""
        return (
            f"{PREFIX}: OK: dind at {probe.docker_host} is healthy "
            f"({version}ready in {probe.elapsed_s:.2f} s)"
        )
    parts = [f"{PREFIX}: FAILED: dind at {probe.docker_host} is {probe.verdict.value}"]
    d = outcome.diagnosis
    if d is not None:
        where = f" on node {d.node}" if d.node else ""
        parts.append(
            f"{d.cause.code}{where} ({d.fault.value} fault, {d.confidence.value} confidence): "
            f"{_first_clause(d.cause.summary)}"
        )
    parts += _report_words(outcome.report)
    parts += outcome.actions_done
    parts += [f"next: {step}" for step in outcome.pending]
    parts.append(_ENDING.get(outcome.exit_code, f"exit {int(outcome.exit_code)}"))
    return "; ".join(p for p in parts if p)


def _first_clause(text: str) -> str:
    """The summary up to its first colon or full stop: short enough for the first line."""
    for end in (": ", ". "):
        if end in text:
            text = text.split(end, 1)[0]
    return text.rstrip(".")


def _report_words(report: Any) -> list[str]:
    if report is None:
        return []
    words = []
    if getattr(report, "dry_run", False):
        return ["GitLab: dry run (no token), nothing sent"] if report.planned else []
    action = getattr(report, "runner_action", None)
    if action is not None and action.value in ("paused", "annotated"):
        words.append(f"runner {report.runner_id} paused")
    elif action is not None and action.value == "skipped":
        words.append(f"runner {report.runner_id} already paused")
    if getattr(report, "issue_url", None):
        words.append(f"issue {report.issue_url}")
    return words


def write_details(outcome: RunOutcome, out: TextIO, gitlab_settings: Any = None) -> None:
    """The evidence and what was done, each in a GitLab collapsible section; the fix expanded."""
    from preflight.ci_log import section
    from preflight.probe.render import human_summary
    from preflight.redaction import redact

    with section(out, "dind_preflight_probe", "dind-preflight: probe"):
        print(redact(human_summary(outcome.probe, exit_line=False)), file=out)
    d = outcome.diagnosis
    if d is not None:
        from preflight.diagnosis.render import render_text

        with section(out, "dind_preflight_diagnosis", "dind-preflight: diagnosis"):
            print(redact(render_text(d)), file=out, end="")
    write_actions(outcome, out, gitlab_settings)
    if d is not None and d.remedy is not None and outcome.exit_code is ExitCode.TEMPFAIL:
        with section(
            out, "dind_preflight_fix", "dind-preflight: how to fix the node", collapsed=False
        ):
            from preflight.diagnosis.render import remedy_lines

            print(redact("\n".join(remedy_lines(d.remedy))), file=out)


def write_actions(outcome: RunOutcome, out: TextIO, gitlab_settings: Any = None) -> None:
    """The decision, what was done and the GitLab report, in one collapsible section."""
    from preflight.ci_log import section
    from preflight.redaction import redact

    if outcome.plan is not None or outcome.report is not None or outcome.errors:
        with section(out, "dind_preflight_actions", "dind-preflight: actions and GitLab report"):
            if outcome.plan is not None:
                print(f"{PREFIX}: decision: {outcome.plan.reason}", file=out)
            for line in outcome.actions_done:
                print(f"{PREFIX}: {redact(line)}", file=out)
            _write_report(outcome.report, gitlab_settings, out)
            for error in outcome.errors:
                print(f"{PREFIX}: error: {redact(error)}", file=out)


def _write_report(report: Any, gitlab_settings: Any, out: TextIO) -> None:
    if report is None:
        return
    from preflight.gitlab.outcome import summary_lines
    from preflight.redaction import redact

    if report.dry_run and gitlab_settings is not None:
        from preflight.gitlab.dry_run import render_plan

        print(render_plan(report.planned, gitlab_settings), file=out)
    for line in summary_lines(report):
        print(redact(line), file=out)
    for error in report.errors:
        print(f"{PREFIX}: GitLab: {redact(error)}", file=out)
