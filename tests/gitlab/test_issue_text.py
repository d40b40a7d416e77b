"""The issue's title, body and notes, read back through a CommonMark parser."""

from __future__ import annotations

from dataclasses import replace

from preflight.diagnosis.model import Cause, ServiceEvidence, SignatureMatch
from preflight.gitlab.issue_text import (
    ReportContext,
    draft_issue,
    duplicate_note,
    incident_of,
    kept_note,
    parse_marker,
    recurrence_note,
)
from tests.gitlab.diagnoses import DOCKERD_NAT_LINE, field_report_diagnosis
from tests.gitlab.markdown_oracle import (
    block_types,
    fences,
    headings,
    link_targets,
    unescaped_references,
)
from tests.gitlab.support import NOW

CTX = ReportContext(
    when=NOW,
    reporter="00112233aabbccdd",
    runner_id=42,
    runner_description="k8s-runner-a",
    job_id=1001,
    job_url="https://gitlab.example.com/group/app/-/jobs/1001",
    project_path="group/app",
    api_url="https://gitlab.example.com/api/v4",
)
SECTIONS = ["Summary", "Fix", "Evidence", "Runner"]


def test_field_report_issue() -> None:
    diagnosis = field_report_diagnosis()
    draft = draft_issue(diagnosis, incident_of(diagnosis), CTX)
    assert draft.title == "dind-preflight: iptable_nat-missing on node worker-3"
    assert "dind-preflight::node::worker-3" in draft.labels
    body = draft.description
    assert headings(body) == SECTIONS
    blocks = fences(body)
    # The exact remedy: file content, load now, verify; then the evidence, then how to resume.
    assert "iptable_nat\niptable_filter\n" in blocks
    assert "modprobe -a iptable_nat iptable_filter\n" in blocks
    assert "lsmod | grep -E 'iptable_nat|iptable_filter'\n" in blocks
    assert any(DOCKERD_NAT_LINE in block for block in blocks)
    assert any("ignored /etc/modules:3: iptable_nat" in block for block in blocks)
    assert any('--data "paused=false"' in b and "/api/v4/runners/42" in b for b in blocks)
    assert "/etc/modules-load.d/iptable_nat.conf" in body
    assert "after the next reboot" in body
    assert link_targets(body) == ["https://gitlab.example.com/group/app/-/jobs/1001"]
    assert unescaped_references(body) == []
    marker = parse_marker(body)
    assert marker is not None
    assert (marker.key, marker.runner_id, marker.job_id, marker.reporter) == (
        incident_of(diagnosis).key,
        42,
        1001,
        "00112233aabbccdd",
    )


INJECTED_NODE = "@all ](javascript:alert(1)) #1 <img src=x onerror=alert(1)> ```"
INJECTED_LINES = [
    "```",
    "# Owned! @channel please rotate !5 ~urgent",
    "<script>alert(1)</script>",
    "[phish](https://evil.example/login)",
    "\x1b[31m@eve\x1b[0m \u202e#7",
]


def test_injection_in_node_names_and_log_lines_stays_inert() -> None:
    diagnosis = replace(
        field_report_diagnosis(INJECTED_NODE),
        pod="pod-@here",
        namespace="ns `x`",
        cause=Cause(
            "iptable_nat-missing", "Summary mentions @admin and #3 and [x](y)", "iptable_nat"
        ),
        limitations=["cannot read /proc @ops", "- not a list"],
        service=ServiceEvidence(
            container="svc-0 @team",
            state="terminated",
            exit_code=1,
            log_tail=INJECTED_LINES,
            matches=[SignatureMatch("x", "iptable_nat-missing", "```\n# heading @all")],
        ),
    )
    ctx = replace(CTX, runner_description="@all runner", job_url="https://gl.example/j/1)[x](y")
    draft = draft_issue(diagnosis, incident_of(diagnosis), ctx)
    body = draft.description
    # Nobody is mentioned, nothing is referenced, the layout is ours.
    assert unescaped_references(body) == []
    assert headings(body) == [*SECTIONS, "Limitations"]
    assert set(block_types(body)) <= {
        "html_block",
        "heading_open",
        "paragraph_open",
        "fence",
        "bullet_list_open",
    }
    assert block_types(body).count("html_block") == 1  # the hidden marker, nothing else
    assert link_targets(body) == ["https://gl.example/j/1%29%5Bx%5D%28y"]
    assert any("# heading @all" in block for block in fences(body))
    # A dead service whose log matched nothing: its last lines, verbatim (minus control
    # characters), inside a code block.
    unmatched = replace(diagnosis, service=replace(diagnosis.service, matches=[]))  # type: ignore[type-var]
    body = draft_issue(unmatched, incident_of(unmatched), ctx).description
    assert unescaped_references(body) == []
    tail = next(b for b in fences(body) if "<script>" in b)
    assert tail.splitlines() == [*INJECTED_LINES[:4], "@eve #7"]
    assert "@" not in draft.title and "<" not in draft.title and "#" not in draft.title
    for label in draft.labels:
        assert all(ch.isalnum() or ch in ":-._" for ch in label)


def test_recurrence_note_and_duplicate_note() -> None:
    diagnosis = field_report_diagnosis("worker-@all")
    note = recurrence_note(diagnosis, incident_of(diagnosis), replace(CTX, job_id=1002))
    assert "job 1002" in note and "runner 42" in note and "2025-01-02T03:04:05Z" in note
    assert unescaped_references(note) == []
    assert len(note) < 800
    assert duplicate_note(7).startswith("Duplicate of #7")


def test_kept_note_holds_the_previous_note_verbatim() -> None:
    previous = "Owned by @infra\n```\nsecond line"
    note = kept_note(42, previous)
    assert fences(note) == [previous + "\n"]
    assert unescaped_references(note) == []


def test_the_fix_reads_the_same_in_the_issue_and_the_job_log() -> None:
    """One wording of the fix: the issue's numbered steps are the log's, fenced."""
    from preflight.node.fix_steps import fix_lines

    diagnosis = field_report_diagnosis()
    assert diagnosis.remedy is not None
    body = draft_issue(diagnosis, incident_of(diagnosis), CTX).description
    fix = body.split("## Fix", 1)[1].split("## Evidence", 1)[0]
    log = fix_lines(diagnosis.remedy)
    assert log == [
        "1. Write /etc/modules-load.d/iptable_nat.conf:",
        "     iptable_nat",
        "     iptable_filter",
        "2. Run now: modprobe -a iptable_nat iptable_filter",
        "3. Verify, now and after the next reboot: lsmod | grep -E 'iptable_nat|iptable_filter'",
    ]
    assert [line for line in fix.splitlines() if line.startswith("**")] == [
        "**1. Write `/etc/modules-load.d/iptable_nat.conf`**:",
        "**2. Run now**:",
        "**3. Verify, now and after the next reboot**:",
        "**4. Resume the runner** (see *Runner* below) and close this issue.",
    ]
    assert fences(fix) == [
        "iptable_nat\niptable_filter\n",
        "modprobe -a iptable_nat iptable_filter\n",
        "lsmod | grep -E 'iptable_nat|iptable_filter'\n",
    ]
    assert diagnosis.remedy.text not in body  # the prose repeats the steps: not printed twice


def test_body_without_remedy_or_evidence_still_renders() -> None:
    diagnosis = replace(
        field_report_diagnosis(),
        remedy=None,
        node_report=None,
        service=None,
        probe=None,
        cause=Cause("dind-exited", "dind exited", None),
    )
    body = draft_issue(diagnosis, incident_of(diagnosis), replace(CTX, runner_id=None)).description
    assert "No automatic remedy is known" in body
    assert "No evidence was collected" in body
    assert "CI_RUNNER_ID is not set" in body
    assert headings(body) == SECTIONS
