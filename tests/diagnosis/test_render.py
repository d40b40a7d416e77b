"""The human text of a diagnosis: what was seen, why, the fix."""

from __future__ import annotations

import dataclasses
import re

from preflight.diagnosis.decide import decide
from preflight.diagnosis.model import ServiceEvidence
from preflight.diagnosis.render import render_text, sections
from preflight.probe.model import Verdict
from tests.diagnosis.evidence import NAT_LINE, NOT_PRIVILEGED_LINE, node, probe, service


def _section(text: str, title: str) -> list[str]:
    """The body lines under the heading ``title:`` (up to the next heading)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{title}"))
    body = []
    for line in lines[start + 1 :]:
        if not line.startswith("  "):
            break
        body.append(line[2:])
    return body


def test_field_report_text() -> None:
    diagnosis = dataclasses.replace(
        decide(probe(Verdict.REFUSED), service(log=NAT_LINE + "\n" + NAT_LINE), node(nat=False)),
        node="worker-3",
        pod="runner-1",
        namespace="ci",
        evidence_source="helper-pod",
        helper_pod="dind-preflight-node-1-abc",
        limitations=["cannot get pods/log in namespace ci: forbidden (403)"],
    )
    text = render_text(diagnosis)
    lines = text.splitlines()
    assert lines[0] == (
        "dind-preflight diagnosis: iptable_nat-missing on node worker-3 "
        "(node fault, high confidence)"
    )
    assert [line for line in lines if not line.startswith(" ")][1:] == [
        "What was seen:",
        "Why:",
        "The fix, on node worker-3:",
    ]
    seen = _section(text, "What was seen")
    assert seen[0].startswith("probe: refused after 1 attempt")
    assert "job pod runner-1 (namespace ci)" in seen
    assert (
        "dind service svc-0 [docker:24.0-dind]: terminated, exit code 1 (Error), restarts 0, "
        "its log:" in seen
    )
    assert [line.strip() for line in seen].count(NAT_LINE) == 1  # matched twice, quoted once
    assert (
        "node worker-3 (helper pod dind-preflight-node-1-abc, kernel 4.18.0-348.7.1.el8_5.x86_64):"
        in seen
    )
    assert any(re.match(r" +iptable_nat +no +no ", line) for line in seen), seen
    why = _section(text, "Why")
    assert why[0].startswith("The node's kernel module iptable_nat is not loaded")
    assert any(line.startswith("iptable_nat will not load at boot") for line in why)
    assert "could not see: cannot get pods/log in namespace ci: forbidden (403)" in why
    assert why[-1] == "exit 75: node or runner fault: retry the job on another runner"
    fix = _section(text, "The fix, on node worker-3")
    assert fix[0].startswith("1. Write /etc/modules-load.d/")
    assert "2. Run now: modprobe -a iptable_nat iptable_filter" in fix
    assert fix[-1].startswith("3. Verify, now and after the next reboot: lsmod | grep")
    assert text.endswith("\n")


def test_other_causes_unknown_states_and_exit_lines() -> None:
    runner = render_text(
        decide(
            probe(Verdict.REFUSED), service(log=NOT_PRIVILEGED_LINE), node(nat=False, known=False)
        )
    )
    assert "(runner fault, medium confidence)" in runner.splitlines()[0]
    assert any(line.startswith("quarantine NOT allowed: ") for line in _section(runner, "Why"))
    # dind used nf_tables (its iptables said so): no iptable_* rows, even where they were checked
    assert not any(re.match(r" +iptable_nat ", line) for line in runner.splitlines())
    assert "  (no module of the nf_tables set dind used was checked)" in _section(
        runner, "What was seen"
    )
    assert _section(runner, "The fix")  # the catalog's fix, as prose: it is all there is
    healthy = render_text(decide(probe(Verdict.HEALTHY), None, None))
    assert _section(healthy, "Why")[-1] == "exit 0: healthy"
    assert "The fix" not in healthy
    job = render_text(
        decide(probe(Verdict.TLS_MISMATCH, detail="plain HTTP to a TLS port"), None, None)
    )
    assert _section(job, "Why")[-1] == "exit 78: the job's own configuration is wrong"
    absent = render_text(
        decide(probe(Verdict.REFUSED), ServiceEvidence(container="", state="absent"), None)
    )
    assert "dind service: none found in the job pod" in _section(absent, "What was seen")
    unknown = render_text(decide(probe(Verdict.TIMEOUT), None, None))
    assert _section(unknown, "Why")[-1] == "exit 69: cause not established: no action taken"
    noted = render_text(
        decide(
            None,
            service("running", exit_code=None, reason=None),
            node(nat=False, available=False),
        )
    )
    assert any(
        line.startswith("possible cause (not established): iptable_nat-missing: ")
        for line in _section(noted, "Why")
    )
    exited = render_text(decide(probe(Verdict.REFUSED), service(log="a\nb\nc\nd"), None))
    seen = _section(exited, "What was seen")
    after = seen[seen.index(next(x for x in seen if x.startswith("dind service"))) + 1 :]
    assert after[:4] == ["  a", "  b", "  c", "  d"]
    assert after[4:] == [
        "iptables backend: legacy (the dind image docker:24.0-dind (24.0.0) predates 24.0.7 and "
        "has only legacy iptables)"
    ]


def test_at_most_three_sections_and_the_fix_once() -> None:
    diagnosis = decide(probe(Verdict.REFUSED), service(log=NAT_LINE), node(nat=False))
    parts = sections(diagnosis)
    assert [p.title for p in parts] == ["What was seen", "Why", "The fix"]
    text = render_text(diagnosis)
    assert diagnosis.remedy is not None and diagnosis.remedy.load_now is not None
    assert text.count(diagnosis.remedy.load_now) == 1
