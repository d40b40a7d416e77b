"""The runner's maintenance note: our block, the human's note kept, never over 1024 chars."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from preflight.gitlab.runner_pause import (
    MAX_NOTE_CHARS,
    fit_note,
    our_block,
    parse_note,
)
from tests.gitlab.support import NOTE


def test_block_says_who_why_where_when_job_issue_and_how_to_resume() -> None:
    block = our_block(NOTE)
    for part in (
        "Paused by dind-preflight",
        "iptable_nat-missing (kernel module iptable_nat)",
        "node worker-3",
        "2025-01-02T03:04:05Z",
        "job 1001: https://gitlab.example.com/g/app/-/jobs/1001",
        "Issue: https://gitlab.example.com/ops/nodes/-/issues/7",
        "PUT /api/v4/runners/42 with paused=false",
    ):
        assert part in block


@pytest.mark.parametrize(
    ("note", "key", "issue", "human"),
    [
        (None, None, None, ""),
        ("Owned by infra, call Bob", None, None, "Owned by infra, call Bob"),
        (our_block(NOTE), "0123456789ab", 7, ""),
        (our_block(NOTE) + "\n\nOwned by infra", "0123456789ab", 7, "Owned by infra"),
        ("Before\n" + our_block(NOTE) + "\nAfter", "0123456789ab", 7, "Before\n\nAfter"),
        (our_block(replace(NOTE, issue_iid=None)), "0123456789ab", None, ""),
        (our_block(NOTE, compact=True), "0123456789ab", 7, ""),
    ],
)
def test_parse_note(note: str | None, key: str | None, issue: int | None, human: str) -> None:
    parsed = parse_note(note)
    assert (parsed.key, parsed.issue_iid, parsed.human) == (key, issue, human)


def test_human_note_is_kept_after_our_block() -> None:
    fitted = fit_note(NOTE, "Owned by infra; maintenance window Sundays", can_keep_elsewhere=False)
    assert fitted.text is not None
    assert fitted.text.startswith("[dind-preflight] paused key=0123456789ab issue=#7")
    assert fitted.text.endswith("Owned by infra; maintenance window Sundays")
    assert not fitted.human_shortened


def test_long_human_note_uses_the_compact_block_first() -> None:
    human = "h" * (MAX_NOTE_CHARS - len(our_block(NOTE, compact=True)) - 2)
    fitted = fit_note(NOTE, human, can_keep_elsewhere=False)
    assert fitted.text is not None and len(fitted.text) == MAX_NOTE_CHARS
    assert fitted.text.endswith(human)


def test_too_long_human_note_is_shortened_only_when_kept_elsewhere() -> None:
    human = "x" * 1000
    assert fit_note(NOTE, human, can_keep_elsewhere=False).text is None
    fitted = fit_note(NOTE, human, can_keep_elsewhere=True)
    assert fitted.human_shortened
    assert fitted.text is not None and len(fitted.text) <= MAX_NOTE_CHARS
    assert "the full note is in the issue" in fitted.text


@given(
    human=st.text(max_size=1500),
    node=st.text(max_size=300),
    keep=st.booleans(),
)
@settings(max_examples=200, deadline=None)
def test_note_never_exceeds_the_limit_and_round_trips(human: str, node: str, keep: bool) -> None:
    human = human.strip()
    note = replace(NOTE, node=node)
    fitted = fit_note(note, human, can_keep_elsewhere=keep)
    if fitted.text is None:  # only when the human's note cannot be kept whole, nor elsewhere
        assert not keep
        assert len(our_block(note, compact=True)) + 2 + len(human) > MAX_NOTE_CHARS
        return
    assert len(fitted.text) <= MAX_NOTE_CHARS
    parsed = parse_note(fitted.text)
    assert parsed.key == NOTE.key
    assert parsed.issue_iid == NOTE.issue_iid
    if not fitted.human_shortened:
        assert parsed.human == human
