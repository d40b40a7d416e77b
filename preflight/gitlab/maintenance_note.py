"""The runner's maintenance note (pure): our block, a human's note kept beside it, <= 1024 chars.

Our part is one block between ``[dind-preflight] paused key=...`` and ``[/dind-preflight]``; it says
who paused the runner, why, on which node, when, from which job, the issue and how to resume.
Whatever else the note holds is a human's and is kept after our block. An older block of ours (an
earlier incident) is replaced. When a human's note is too long to keep whole, it is shortened only
if the full text can be kept elsewhere (the issue); otherwise the note is left untouched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone

from preflight.gitlab.markdown import clean, safe_token

MAX_NOTE_CHARS = 1024  # GitLab's limit for maintenance_note
_URL_MAX = 240
_BLOCK = re.compile(
    r"\[dind-preflight\] paused key=(?P<key>[0-9a-f]{12})(?: issue=#(?P<issue>\d+))?"
    r"(?P<before> \(was paused before\))?.*?\[/dind-preflight\]",
    re.DOTALL,
)
_TRUNCATED_SUFFIX = " [...] (shortened by dind-preflight; the full note is in the issue)"


@dataclass(frozen=True)
class PauseNote:
    """What our block says."""

    key: str
    cause: str
    node: str
    runner_id: int | None  # None only in a dry run without CI_RUNNER_ID
    when: datetime
    module: str | None = None
    job_id: int | None = None
    job_url: str | None = None
    issue_iid: int | None = None
    issue_url: str | None = None
    paused_before: bool = False  # someone else had paused the runner: our block only annotates
    actor: str | None = None  # who paused, when not a job (e.g. "the fleet reporter")


@dataclass(frozen=True)
class ParsedNote:
    """A maintenance note split into our block (key, issue) and the human's text."""

    key: str | None
    issue_iid: int | None
    human: str
    paused_before: bool = False  # our block annotates a pause someone else made

    @property
    def paused_by_us(self) -> bool:
        """Our block is there and says that dind-preflight made the pause."""
        return self.key is not None and not self.paused_before


@dataclass(frozen=True)
class FittedNote:
    """The note to write (None: leave the runner's note as it is) and whether the human's part
    was shortened (then its full text must be kept elsewhere)."""

    text: str | None
    human_shortened: bool = False


def _stamp(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _url(value: str | None) -> str | None:
    if not value:
        return None
    text = clean(value).strip()
    return text if len(text) <= _URL_MAX and " " not in text else None


def our_block(note: PauseNote, *, compact: bool = False) -> str:
    """Our block of the maintenance note (plain text, safe tokens and validated URLs only)."""
    head = f"[dind-preflight] paused key={safe_token(note.key)}"
    if note.issue_iid is not None:
        head += f" issue=#{note.issue_iid}"
    if note.paused_before:
        head += " (was paused before)"
    why = safe_token(note.cause)
    if note.module:
        why += f" (kernel module {safe_token(note.module)})"
    node = safe_token(note.node)
    job = f"job {note.job_id}" if note.job_id is not None else (note.actor or "a job")
    job_url = _url(note.job_url)
    issue_url = _url(note.issue_url)
    runner = str(note.runner_id) if note.runner_id is not None else "<id>"
    if compact:
        lines = [
            head,
            f"{why} on node {node}, {_stamp(note.when)}, {job}.",
            f"Issue: {issue_url}" if issue_url else "",
            f"Resume runner {runner} after fixing the node.",
            "[/dind-preflight]",
        ]
    else:
        lines = [
            head,
            f"Paused by dind-preflight: {why} on node {node}.",
            f"When: {_stamp(note.when)}, by {job}" + (f": {job_url}" if job_url else "."),
            f"Issue: {issue_url}" if issue_url else "Issue: none (no report project configured)",
            "Resume after fixing the node: Resume this runner in GitLab, or "
            f"PUT /api/v4/runners/{runner} with paused=false.",
            "[/dind-preflight]",
        ]
    return "\n".join(line for line in lines if line)


def parse_note(text: str | None) -> ParsedNote:
    """Split a maintenance note into our block's key/issue and the human's text."""
    body = text or ""
    match = _BLOCK.search(body)
    if not match:
        return ParsedNote(key=None, issue_iid=None, human=body.strip())
    human = (body[: match.start()] + body[match.end() :]).strip()
    issue = match.group("issue")
    return ParsedNote(
        key=match.group("key"),
        issue_iid=int(issue) if issue else None,
        human=human,
        paused_before=bool(match.group("before")),
    )


def _join(block: str, human: str) -> str:
    return f"{block}\n\n{human}" if human else block


def fit_note(note: PauseNote, human: str, *, can_keep_elsewhere: bool) -> FittedNote:
    """Our block plus the human's text within :data:`MAX_NOTE_CHARS`, keeping the human's text."""
    for compact in (False, True):
        text = _join(our_block(note, compact=compact), human)
        if len(text) <= MAX_NOTE_CHARS:
            return FittedNote(text)
    if not can_keep_elsewhere:
        return FittedNote(None)
    block = our_block(note, compact=True)
    room = MAX_NOTE_CHARS - len(block) - 2 - len(_TRUNCATED_SUFFIX)
    if room <= 0:
        return FittedNote(None)
    return FittedNote(_join(block, human[:room].rstrip() + _TRUNCATED_SUFFIX), human_shortened=True)
