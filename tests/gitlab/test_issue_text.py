"""The issue's title, body and notes, read back through a CommonMark parser."""

from __future__ import annotations

from dataclasses import replace

import pytest

from preflight.diagnosis.model import Cause, ServiceEvidence, SignatureMatch
from preflight.gitlab.incident import incident_of, parse_marker
from preflight.gitlab.issue_text import (
    ReportContext,
    choose_remedy,
    draft_issue,
    duplicate_note,
    kept_note,
    recurrence_note,
)
from preflight.node.model import Finding, Remedy, Severity
from tests.gitlab.diagnoses import DOCKERD_NAT_LINE, FIELD_REMEDY, field_report_diagnosis
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
    assert "/etc/modules-load.d/dind-iptables.conf" in body
    assert "reboot the node" in body
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
    # The log lines are all there, verbatim (minus control characters), inside code blocks.
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


def _finding(module: str, severity: Severity, remedy: Remedy) -> Finding:
    return Finding(code="c", severity=severity, module=module, message="m", remedy=remedy)


WARN = Remedy(text="warning fix")
ERR = Remedy(file="/etc/modules-load.d/x.conf", content="iptable_nat\n", text="error fix")


@pytest.mark.parametrize(
    ("diagnosis", "expected"),
    [
        (field_report_diagnosis(), FIELD_REMEDY),
        (
            replace(
                field_report_diagnosis(),
                remedy=None,
                node_report=replace(
                    field_report_diagnosis().node_report,  # type: ignore[type-var]
                    findings=[
                        _finding("iptable_nat", Severity.WARNING, WARN),
                        _finding("iptable_nat", Severity.ERROR, ERR),
                    ],
                ),
            ),
            ERR,
        ),
        (
            replace(field_report_diagnosis(), remedy=None, node_report=None),
            Remedy(
                file="/etc/modules-load.d/iptable_nat.conf",
                content="iptable_nat\n",
                load_now="modprobe iptable_nat",
                verify="lsmod | grep -w iptable_nat",
                text="Load the kernel module iptable_nat now and at every boot.",
            ),
        ),
        (
            replace(
                field_report_diagnosis(),
                remedy=None,
                node_report=None,
                cause=Cause("x", "y", module="bad name; rm -rf /"),
            ),
            None,
        ),
    ],
)
def test_choose_remedy(diagnosis: object, expected: Remedy | None) -> None:
    assert choose_remedy(diagnosis) == expected  # type: ignore[arg-type]


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
