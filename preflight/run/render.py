"""How a run reads in the job log: one summary line first, then details in collapsible sections."""

from __future__ import annotations

from preflight.exitcodes import ExitCode
from preflight.run.flow import RunOutcome

TYPE_CHECKING = False  # typing's constant without importing typing: the healthy path
if TYPE_CHECKING:
    from typing import Any, TextIO


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
        why = getattr(report, "dry_run_reason", "") or "no token"
        short = "no admin configuration" if why.startswith("no admin configuration") else why
        return [f"GitLab: dry run ({short}), nothing sent"] if report.planned else []
    action = getattr(report, "runner_action", None)
    if action is not None and action.value in ("paused", "annotated"):
        words.append(f"runner {report.runner_id} paused")
    elif action is not None and action.value == "skipped":
        words.append(f"runner {report.runner_id} already paused")
    if getattr(report, "issue_url", None):
        words.append(f"issue {report.issue_url}")
    return words


def write_details(
    outcome: RunOutcome, out: TextIO, *, gitlab_job: bool = False, dry_run_file: str | None = None
) -> None:
    """At most three sections (what was seen, why, the fix), then what was done, one line each.

    ``gitlab_job`` writes GitLab's collapsible-section markers (a terminal gets plain headings);
    ``dry_run_file`` is where the requests a dry run would have sent were written.
    """
    from preflight.ci_log import write_section
    from preflight.redaction import redact

    d = outcome.diagnosis
    if d is None:
        from preflight.diagnosis.render import Section, probe_lines

        sections = [
            Section("dind_preflight_seen", "What was seen", tuple(probe_lines(outcome.probe)))
        ]
    else:
        from preflight.diagnosis.render import sections as diagnosis_sections

        sections = diagnosis_sections(d)
    for section in sections:
        write_section(
            out,
            section.name,
            section.title,
            [redact(line) for line in section.lines],
            gitlab=gitlab_job,
            collapsed=section.collapsed,
        )
    for line in done_lines(outcome, dry_run_file):
        print(f"{PREFIX}: {redact(line)}", file=out)


def done_lines(outcome: RunOutcome, dry_run_file: str | None = None) -> list[str]:
    """What the run did about it: the decision, the actions, GitLab's answers, the errors."""
    lines: list[str] = []
    if outcome.plan is not None:
        lines.append(f"decision: {outcome.plan.reason}")
    lines += outcome.actions_done
    report = outcome.report
    if report is not None:
        if report.dry_run and report.planned:
            from preflight.gitlab.client import ENV_TOKEN

            planned = f"{len(report.planned)} planned requests"
            where = f" are in {dry_run_file}" if dry_run_file else " were not written"
            why = report.dry_run_reason or f"{ENV_TOKEN} is not set"
            lines.append(f"GitLab: dry run ({why}): nothing sent; the {planned}{where}")
        from preflight.gitlab.outcome import summary_lines

        lines += [line.removeprefix(f"{PREFIX}: ") for line in summary_lines(report)]
        lines += [f"GitLab: {error}" for error in report.errors]
    lines += [f"error: {error}" for error in outcome.errors]
    return lines
