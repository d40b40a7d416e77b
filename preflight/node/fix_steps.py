"""The fix as numbered steps: the one wording of a :class:`Remedy` for every medium (pure).

The job log, ``node-report``, the diagnosis text and the JUnit report print :func:`fix_lines`; the
GitLab issue renders the same :func:`fix_steps` as Markdown. The remedy's prose is shown only when
it is the whole fix (no file to write, no command to run), so the fix is printed once.
"""

from __future__ import annotations

from dataclasses import dataclass

from preflight.node.model import NodeReport, Remedy, Severity


@dataclass(frozen=True)
class FixStep:
    """One step: what to do, and the file content or command it quotes (if any)."""

    title: str
    block: tuple[str, ...] = ()
    subject: str = ""  # a path the title names (quoted as code where the medium can)
    language: str = "text"  # "sh" for a command, "text" for a file's content
    inline: bool = False  # a one-line command: ``title: command`` in plain text


def fix_steps(remedy: Remedy) -> list[FixStep]:
    """Write the file, run the command, verify; or the prose when it is all the remedy says."""
    steps: list[FixStep] = []
    if not remedy.file and not remedy.load_now and remedy.text:
        steps.append(FixStep(remedy.text))
    if remedy.file:
        content = tuple((remedy.content or "").splitlines()) or ("(empty)",)
        steps.append(FixStep("Write", content, subject=remedy.file))
    if remedy.load_now:
        commands = tuple(remedy.load_now.splitlines())
        steps.append(FixStep("Run now", commands, language="sh", inline=len(commands) == 1))
    if remedy.verify:
        commands = tuple(remedy.verify.splitlines())
        title = "Verify, now and after the next reboot"
        steps.append(FixStep(title, commands, language="sh", inline=len(commands) == 1))
    return steps


def fix_lines(remedy: Remedy, indent: str = "") -> list[str]:
    """The steps as plain numbered lines (file content and multi-line commands indented)."""
    steps = fix_steps(remedy)
    lines: list[str] = []
    for number, step in enumerate(steps, start=1):
        label = f"{number}. " if len(steps) > 1 else ""
        title = f"{step.title} {step.subject}" if step.subject else step.title
        if step.inline:
            lines.append(f"{indent}{label}{title}: {step.block[0]}")
            continue
        lines.append(f"{indent}{label}{title}" + (":" if step.block else ""))
        lines += [f"{indent}     {line}" for line in step.block]
    return lines


def module_remedy(report: NodeReport, module: str) -> Remedy | None:
    """The node report's fix for ``module``: its first error's, else its first warning's."""
    for severity in (Severity.ERROR, Severity.WARNING):
        for finding in report.findings:
            if finding.module == module and finding.severity is severity and finding.remedy:
                return finding.remedy
    return None
