"""The incident's issue as text (pure): identity, labels, title, body, notes, safe Markdown.

**Markdown: untrusted text into GitLab Markdown with no broken layout, no mentions, no references.**

Node names, log lines, summaries and paths come from the node and the job, so they are treated as
untrusted. Three ways in, by how the text is shown:

- :func:`code_span` / :func:`fenced_block`: verbatim text in code. GitLab never turns ``@user``,
  ``#12``, ``!3`` or ``~label`` inside code into mentions or references, and the fence is always
  longer than any backtick run in the text, so the text cannot close it.
- :func:`escape_prose`: text in running prose; Markdown's inline characters and GitLab's reference
  characters (``@``, ``#``, ``!``, ``~``, ``%``, ``$``, ``&``) are backslash escaped (CommonMark;
  GitLab 14.0+ honours the escape for references), newlines are folded and a block marker at the
  start is escaped, so no heading, list, quote, table or HTML can start.
- :func:`safe_token`: a bare identifier for titles, labels and hidden markers (``[A-Za-z0-9._-]``).

Every function also drops control characters, ANSI colour sequences and bidirectional overrides.

**Incident: the (node, cause) key, its labels, and the hidden issue marker.**

One open issue per incident. GitLab has no create-if-absent, so issues are found again by the
key label ``dind-preflight::key::<key>``; the marker (an HTML comment GitLab does not render)
records which runner and which reporter opened the issue, for the election in
:mod:`preflight.gitlab.incident_issue`.

**Issue text: the incident issue's title, labels, body and notes.**

Untrusted text (node names, log lines, paths, summaries) goes through the Markdown functions
above: verbatim in code spans and fenced blocks, escaped in prose, so it cannot break the layout
or mention or reference anyone.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import quote, urlsplit, urlunsplit

from preflight import __version__
from preflight.diagnosis.log_excerpt import log_excerpt
from preflight.diagnosis.model import Diagnosis, FaultClass, ServiceEvidence
from preflight.diagnosis.render import probe_lines
from preflight.node.fix_steps import fix_steps
from preflight.node.model import NodeReport, Remedy

ELLIPSIS = "…"
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
# C0/C1 controls except TAB and LF, zero-width and bidirectional formatting characters.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ud800-\udfff]"
)
# Inline Markdown and GitLab reference characters; escaped wherever they appear in prose.
_PUNCTUATION = re.compile(r"([\\`*_{}\[\]()<>!|~@#$%&])")
# Characters that start a block (list, quote, heading, setext, table) at the start of a line.
_LEADING = re.compile(r"^([-+=>]|\d+(?=[.)]))")
_BACKTICK_RUN = re.compile(r"`+")
_UNSAFE_TOKEN = re.compile(r"[^A-Za-z0-9._-]+")


def clean(text: str, max_len: int | None = None) -> str:
    """Drop ANSI sequences and invisible/control characters (TAB becomes a space); truncate."""
    text = _ANSI.sub("", text).replace("\t", " ").replace("\r\n", "\n").replace("\r", "\n")
    text = _INVISIBLE.sub("", text)
    if max_len is not None and len(text) > max_len:
        text = text[: max(0, max_len - 1)] + ELLIPSIS
    return text


def one_line(text: str, max_len: int | None = None) -> str:
    """:func:`clean`, with every run of whitespace (newlines too) folded into one space."""
    return clean(" ".join(clean(text).split()), max_len)


def _escape(text: str) -> str:
    return _PUNCTUATION.sub(r"\\\1", text)


def escape_prose(text: str, max_len: int = 2000) -> str:
    """Untrusted text for running prose: one line, Markdown and reference characters escaped."""
    body = _escape(one_line(text, max_len))
    return _LEADING.sub(_escape_leading, body)


def _escape_leading(match: re.Match[str]) -> str:
    token = match.group(1)
    return f"\\{token}" if not token.isdigit() else token + "\\"


_CODE_IN_PROSE = re.compile(r"`([^`\n]+)`")


def prose_with_code(text: str, max_len: int = 2000) -> str:
    """Like :func:`escape_prose`, but backtick-quoted parts of the text stay code (safe spans)."""
    body = one_line(text, max_len)
    parts: list[str] = []
    last = 0
    for match in _CODE_IN_PROSE.finditer(body):
        parts.append(_escape(body[last : match.start()]))
        parts.append(code_span(match.group(1)))
        last = match.end()
    parts.append(_escape(body[last:]))
    return _LEADING.sub(_escape_leading, "".join(parts))


def code_span(text: str, max_len: int = 300) -> str:
    """Untrusted text as inline code; backticks inside cannot close the span."""
    body = one_line(text, max_len)
    if not body:
        return "` `"
    longest = max((len(run) for run in _BACKTICK_RUN.findall(body)), default=0)
    fence = "`" * (longest + 1)
    if body.startswith("`") or body.endswith("`"):
        body = f" {body} "
    return f"{fence}{body}{fence}"


def fenced_block(
    lines: list[str] | tuple[str, ...], info: str = "text", max_line: int = 500
) -> str:
    """Untrusted lines as a fenced code block whose fence no line can match."""
    body = [clean(line, max_line).replace("\n", " ") for line in lines]
    longest = max((len(r) for line in body for r in _BACKTICK_RUN.findall(line)), default=0)
    fence = "`" * max(3, longest + 1)
    return "\n".join([f"{fence}{safe_token(info)}", *body, fence])


def safe_token(text: str | None, max_len: int = 63, empty: str = "unknown") -> str:
    """A bare identifier: runs of characters outside ``[A-Za-z0-9._-]`` become ``-``."""
    token = _UNSAFE_TOKEN.sub("-", clean(text or "")).strip("-")[:max_len].strip("-")
    return token or empty


def safe_url(url: str | None) -> str | None:
    """An http(s) URL fit for a Markdown link target (``()<>`` and spaces encoded), or None."""
    if not url:
        return None
    try:
        parts = urlsplit(clean(url).strip())
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        return None
    if not re.fullmatch(r"[A-Za-z0-9.\-\[\]:]+", parts.netloc):
        return None
    keep = "/:%-._~!$&*+,;=@"
    return urlunsplit(
        (
            parts.scheme,
            parts.netloc,
            quote(parts.path, safe=keep),
            quote(parts.query, safe=keep + "?/="),
            quote(parts.fragment, safe=keep),
        )
    )


def link(text: str, url: str | None) -> str:
    """A Markdown link with escaped text; plain escaped text when the URL is not usable."""
    target = safe_url(url)
    label = escape_prose(text, 200)
    return f"[{label}]({target})" if target else label


BASE_LABEL = "dind-preflight"
_MARKER = re.compile(r"<!-- dind-preflight v1 ([^<>]*?) -->")
_FIELD = re.compile(r"(\w+)=([A-Za-z0-9._-]+)")


@dataclass(frozen=True)
class Incident:
    """What is broken where: the node and the cause code, and the key derived from them."""

    node: str  # safe token (unknown when the node is not known)
    cause: str  # safe token, e.g. iptable_nat-missing
    key: str  # 12 hex digits of sha256(node, cause)
    module: str | None = None
    fault: str = "unknown"

    @property
    def key_label(self) -> str:
        """The label that finds this incident's issue."""
        return f"{BASE_LABEL}::key::{self.key}"

    @property
    def labels(self) -> tuple[str, ...]:
        """Every label of the issue: filter by all incidents, cause, node, fault or key."""
        return (
            BASE_LABEL,
            f"{BASE_LABEL}::cause::{self.cause}",
            f"{BASE_LABEL}::node::{self.node}",
            f"{BASE_LABEL}::fault::{self.fault}",
            self.key_label,
        )


def incident_key(node: str, cause: str) -> str:
    """12 hex digits that identify (node, cause) across jobs and runners."""
    return hashlib.sha256(f"{node}\n{cause}".encode()).hexdigest()[:12]


def incident_of(diagnosis: Diagnosis) -> Incident:
    """The incident a diagnosis describes."""
    node = safe_token(diagnosis.node, empty="unknown-node")
    cause = safe_token(diagnosis.cause.code, empty="unknown-cause")
    module = safe_token(diagnosis.cause.module, empty="") or None
    return Incident(
        node=node,
        cause=cause,
        key=incident_key(node, cause),
        module=module,
        fault=safe_token(diagnosis.fault.value),
    )


@dataclass(frozen=True)
class IssueMarker:
    """The hidden line in an issue body: which incident, runner, job and reporter opened it."""

    key: str
    runner_id: int | None = None
    job_id: int | None = None
    reporter: str | None = None  # random per report: finds one's own duplicates


def format_marker(marker: IssueMarker) -> str:
    """``<!-- dind-preflight v1 key=... runner=... job=... reporter=... -->``."""
    fields = [f"key={safe_token(marker.key)}"]
    if marker.runner_id is not None:
        fields.append(f"runner={marker.runner_id}")
    if marker.job_id is not None:
        fields.append(f"job={marker.job_id}")
    if marker.reporter:
        fields.append(f"reporter={safe_token(marker.reporter)}")
    return f"<!-- dind-preflight v1 {' '.join(fields)} -->"


def parse_marker(description: str | None) -> IssueMarker | None:
    """The first marker in an issue body, or None (edited away, or not ours)."""
    match = _MARKER.search(description or "")
    if not match:
        return None
    fields = dict(_FIELD.findall(match.group(1)))
    if "key" not in fields:
        return None

    def number(name: str) -> int | None:
        value = fields.get(name, "")
        return int(value) if value.isdigit() else None

    return IssueMarker(
        key=fields["key"],
        runner_id=number("runner"),
        job_id=number("job"),
        reporter=fields.get("reporter"),
    )


MAX_TITLE = 255


@dataclass(frozen=True)
class ReportContext:
    """Who reports, from where, and when: the job side of the issue."""

    when: datetime
    reporter: str  # random id of this report (marker)
    runner_id: int | None = None
    runner_description: str | None = None
    job_id: int | None = None
    job_url: str | None = None
    project_path: str | None = None
    api_url: str | None = None
    pause_runner: bool = True
    note_interval_s: float = 900.0
    max_notes: int = 20
    node_conditions: tuple[str, ...] = ()  # fleet mode: the node's own report, one line each
    runner_text: str | None = None  # fleet mode: how runners are quarantined (replaces Runner)
    source: str | None = None  # fleet mode: who reports, instead of a job


@dataclass(frozen=True)
class IssueDraft:
    """What ``POST /projects/:id/issues`` sends."""

    title: str
    description: str
    labels: tuple[str, ...]


def stamp(when: datetime) -> str:
    """UTC, to the second: ``2025-01-02T03:04:05Z``."""
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def issue_title(incident: Incident) -> str:
    """``dind-preflight: <cause> on node <node>`` (safe tokens only: no references in titles)."""
    return f"dind-preflight: {incident.cause} on node {incident.node}"[:MAX_TITLE]


def remedy_markdown(remedy: Remedy | None) -> str:
    """The Fix section: the same numbered steps as the job log (:mod:`preflight.node.fix_steps`),
    each command or file content fenced, then resuming the runner."""
    if remedy is None:
        return "No automatic remedy is known for this cause; see the evidence below."
    parts: list[str] = []
    steps = fix_steps(remedy)
    for number, step in enumerate(steps, start=1):
        title = prose_with_code(step.title)
        if step.subject:
            title += f" {code_span(step.subject)}"
        parts.append(f"**{number}. {title}**" + (":" if step.block else ""))
        if step.block:
            parts.append(fenced_block(list(step.block), step.language))
    parts.append(
        f"**{len(steps) + 1}. Resume the runner** (see *Runner* below) and close this issue."
    )
    return "\n\n".join(parts)


def service_lines(service: ServiceEvidence) -> list[str]:
    """The dind container's state as plain lines."""
    facts = [f"container: {service.container}", f"state: {service.state}"]
    if service.image:
        facts.append(f"image: {service.image}")
    if service.exit_code is not None:
        facts.append(f"exit code: {service.exit_code}")
    if service.reason:
        facts.append(f"reason: {service.reason}")
    facts.append(f"restarts: {service.restart_count}")
    lines = ["  ".join(facts)]
    if service.message:
        lines.append(f"message: {service.message}")
    return lines


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def node_fact_lines(report: NodeReport) -> list[str]:
    """The node report as plain lines: modules now and at boot, kernels, iptables, findings."""
    from preflight.shown import Explained

    explained = Explained()  # the reason shared by several modules is written once
    lines = [f"kernel (running): {report.kernel or 'unknown'}"]
    for name in sorted(report.modules):
        m = report.modules[name]
        loaded = _yes(m.loaded) if m.loaded_known else f"{_yes(m.loaded)} (not certain)"
        at_boot = _yes(m.loads_at_boot) if m.loads_at_boot_known else "unknown"
        lines.append(
            f"module {name}: loaded now: {loaded} | built in: {_yes(m.builtin)} | "
            f"available: {_yes(m.available)} | loads at boot: {at_boot}"
        )
        for src in m.listed_in:
            where = f"{src.path}:{src.line}" if src.line is not None else src.path
            via = f" (via {src.via})" if src.via else ""
            lines.append(f"  listed in {where}{via}: {src.text}")
        for ign in m.ignored:
            where = f"{ign.path}:{ign.line}" if ign.line is not None else ign.path
            lines.append(f"  ignored {where}: {ign.text} ({explained.once(ign.reason)})")
        for blocker in m.blockers:
            where = f"{blocker.path}:{blocker.line}" if blocker.line is not None else blocker.path
            lines.append(f"  blocked by {blocker.code} in {where}: {blocker.text}")
        if not m.blockers:
            lines.extend(f"  blocked by: {block}" for block in m.blocked_by)
    for kernel in report.kernels:
        tags = [t for t, on in (("running", kernel.running), ("newest", kernel.newest)) if on]
        facts = [f"missing: {', '.join(kernel.missing)}" if kernel.missing else "none missing"]
        if kernel.not_at_boot:
            facts.append(f"not loaded at boot: {', '.join(kernel.not_at_boot)}")
        if kernel.problem:
            facts.append(kernel.problem)
        tag = f" ({', '.join(tags)})" if tags else ""
        lines.append(f"installed kernel {kernel.release}{tag}: {'; '.join(facts)}")
    ipt = report.iptables
    tables = ", ".join(ipt.legacy_tables) or "none"
    lines.append(
        f"iptables: legacy tables: {tables} | nf_tables loaded: {_yes(ipt.nft_loaded)} | "
        f"backend: {ipt.backend_hint}" + (f" | {ipt.detail}" if ipt.detail else "")
    )
    for finding in report.findings:
        module = f" ({finding.module})" if finding.module else ""
        message = explained.once(finding.message)
        lines.append(f"{finding.severity.value} {finding.code}{module}: {message}")
    lines.extend(f"note: {note}" for note in report.notes)
    return lines


def evidence_markdown(diagnosis: Diagnosis) -> str:
    """The Evidence section: probe, service log (matched lines and their context), node facts."""
    parts: list[str] = []
    service = diagnosis.service
    if diagnosis.probe is not None:
        parts.append("**Probe**")
        # The job log's wording (preflight.diagnosis.render), the hint only while guessing.
        guessing = diagnosis.fault in (FaultClass.UNKNOWN, FaultClass.JOB)
        lines = probe_lines(diagnosis.probe, quote_log=service is None, hint=guessing)
        parts.append(fenced_block(lines))
    if service is not None:
        parts.append(f"**dind service** {code_span(service.container)}")
        parts.append(fenced_block(service_lines(service)))
        excerpt = log_excerpt(service)
        if excerpt:
            what = "that say why" if service.matches else "(the last ones)"
            parts.append(f"Log lines {what}:")
            parts.append(fenced_block(excerpt))
    if diagnosis.node_report is not None:
        source = code_span(diagnosis.evidence_source)
        parts.append(
            f"**Node facts** (from {source}, root {code_span(diagnosis.node_report.root)})"
        )
        parts.append(fenced_block(node_fact_lines(diagnosis.node_report)))
    return "\n\n".join(parts) if parts else "No evidence was collected."


def _evidence(diagnosis: Diagnosis, ctx: ReportContext) -> str:
    if not ctx.node_conditions:
        return evidence_markdown(diagnosis)
    parts = [
        "**Node conditions** (published by the node agent)",
        fenced_block(list(ctx.node_conditions)),
    ]
    if diagnosis.probe is not None or diagnosis.service is not None or diagnosis.node_report:
        parts.append(evidence_markdown(diagnosis))
    return "\n\n".join(parts)


def runner_markdown(ctx: ReportContext) -> str:
    """The Runner section: which runner was paused and how to resume it."""
    if ctx.runner_text is not None:
        return prose_with_code(ctx.runner_text)
    if ctx.runner_id is None:
        return "The job's runner is not known (CI_RUNNER_ID is not set), so no runner was paused."
    name = f"runner {ctx.runner_id}"
    if ctx.runner_description:
        name += f" ({code_span(ctx.runner_description, 100)})"
    if not ctx.pause_runner:
        return f"dind-preflight did not pause {name}: pausing was off for this report."
    api = ctx.api_url or "https://gitlab.example.com/api/v4"
    resume = (
        'curl --request PUT --header "PRIVATE-TOKEN: <your token>" --data "paused=false" '
        f'"{api}/runners/{ctx.runner_id}"'
    )
    return "\n\n".join(
        [
            f"dind-preflight pauses {name} so that it takes no more jobs until the node is fixed; "
            "the runner's maintenance note points to this issue.",
            "To resume it after the fix, open the runner's page (Admin area > CI/CD > Runners "
            "for an instance runner, or Settings > CI/CD > Runners of its group or project) and "
            "select **Resume**, or:",
            fenced_block([resume], "sh"),
        ]
    )


def _reported_by(diagnosis: Diagnosis, ctx: ReportContext) -> str:
    if ctx.source is not None:
        return f"Reported by dind-preflight {__version__} {escape_prose(ctx.source)} at {stamp(ctx.when)}."
    job = link(f"job {ctx.job_id}" if ctx.job_id else "a job", ctx.job_url)
    where = f" of {code_span(ctx.project_path)}" if ctx.project_path else ""
    pod = ""
    if diagnosis.pod:
        pod = f" (pod {code_span(diagnosis.pod)}"
        pod += f" in namespace {code_span(diagnosis.namespace)})" if diagnosis.namespace else ")"
    return f"Reported by dind-preflight {__version__} from {job}{where}{pod} at {stamp(ctx.when)}."


def issue_body(diagnosis: Diagnosis, incident: Incident, ctx: ReportContext) -> str:
    """The issue description: marker, summary, fix, evidence, runner, limitations."""
    marker = format_marker(
        IssueMarker(
            key=incident.key, runner_id=ctx.runner_id, job_id=ctx.job_id, reporter=ctx.reporter
        )
    )
    module = f" (kernel module {code_span(incident.module)})" if incident.module else ""
    summary = prose_with_code(diagnosis.cause.summary) if diagnosis.cause.summary else ""
    sections = [
        marker,
        "## Summary",
        f"dind could not work on node {code_span(incident.node)}: cause "
        f"{code_span(incident.cause)}{module}. {summary}".rstrip(),
        f"Fault: **{escape_prose(diagnosis.fault.value)}**, confidence: "
        f"**{escape_prose(diagnosis.confidence.value)}**. {_reported_by(diagnosis, ctx)}",
        "## Fix",
        remedy_markdown(diagnosis.remedy),
        "## Evidence",
        _evidence(diagnosis, ctx),
        "## Runner",
        runner_markdown(ctx),
    ]
    if diagnosis.limitations:
        sections.append("## Limitations")
        sections.append("\n".join(f"- {prose_with_code(item)}" for item in diagnosis.limitations))
    minutes = max(1, round(ctx.note_interval_s / 60))
    sections.append(
        f"_Later failures of this node and cause add a note here (at most one every {minutes} "
        f"min, none after {ctx.max_notes} notes). Close this issue once the node is fixed; a new "
        "failure then opens a new one._"
    )
    return "\n\n".join(sections) + "\n"


def draft_issue(diagnosis: Diagnosis, incident: Incident, ctx: ReportContext) -> IssueDraft:
    """Title, body and labels of a new incident issue."""
    return IssueDraft(issue_title(incident), issue_body(diagnosis, incident, ctx), incident.labels)


def recurrence_note(diagnosis: Diagnosis, incident: Incident, ctx: ReportContext) -> str:
    """A short note for a recurrence: which job, which runner, when, the first matching line."""
    job = link(f"job {ctx.job_id}" if ctx.job_id else "a job", ctx.job_url)
    runner = f" on runner {ctx.runner_id}" if ctx.runner_id is not None else ""
    text = (
        f"Recurred in {job}{runner} at {stamp(ctx.when)}: cause {code_span(incident.cause)} on "
        f"node {code_span(incident.node)}."
    )
    matches = diagnosis.service.matches if diagnosis.service else []
    if matches:
        text += f"\n\n{code_span(matches[0].line, 300)}"
    return text


def duplicate_note(winner_iid: int) -> str:
    """The note on a losing duplicate before it is closed."""
    return (
        f"Duplicate of #{winner_iid}: another job opened it at the same moment for the same node "
        "and cause. Closed automatically by dind-preflight."
    )


def kept_note(runner_id: int, previous_note: str) -> str:
    """Keeps a human's maintenance note that had to be shortened on the runner."""
    return "\n\n".join(
        [
            f"Runner {runner_id}'s maintenance note was shortened to make room for "
            "dind-preflight's note. Its full previous text:",
            fenced_block(previous_note.splitlines() or [""], max_line=1024),
        ]
    )


def short_summary(diagnosis: Diagnosis) -> str:
    """One line for logs: cause, node, summary."""
    node = safe_token(diagnosis.node, empty="unknown-node")
    return one_line(f"{diagnosis.cause.code} on node {node}: {diagnosis.cause.summary}", 300)
