"""The human text of a diagnosis."""

from __future__ import annotations

import dataclasses

from preflight.diagnosis.decide import decide
from preflight.diagnosis.model import ServiceEvidence
from preflight.diagnosis.render import render_text
from preflight.probe.model import Verdict
from tests.diagnosis.evidence import NAT_LINE, NOT_PRIVILEGED_LINE, node, probe, service


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
    assert lines[0] == "dind-preflight diagnosis: iptable_nat-missing (node fault, high confidence)"
    assert lines[1].startswith("  The node's kernel module iptable_nat is not loaded")
    assert lines[2] == "  node worker-3, pod runner-1 (namespace ci)"
    assert (
        lines[3]
        == "  dind service svc-0 [docker:24.0-dind]: terminated, exit code 1 (Error), restarts 0"
    )
    assert lines.count(f"    log: {NAT_LINE}") == 1  # the same line matched twice is quoted once
    assert (
        "  node report (helper pod on the node dind-preflight-node-1-abc): kernel 4.18.0-348.7.1.el8_5.x86_64"
        in lines
    )
    assert "    iptable_nat: NOT loaded, does NOT load at boot" in lines
    assert "    iptable_filter: loaded, loads at boot" in lines
    assert "    ! iptable_nat will not load at boot" in lines
    assert "    write /etc/modules-load.d/iptable_nat.conf:" in lines
    assert "      iptable_nat" in lines and "      iptable_filter" in lines
    assert "    load now: modprobe -a iptable_nat iptable_filter" in lines
    assert (
        "    verify (now, and again after the next reboot): lsmod | grep -E '^(iptable_nat|iptable_filter) '"
        in lines
    )
    assert "    - cannot get pods/log in namespace ci: forbidden (403)" in lines
    assert lines[-1] == "  exit 75: node or runner fault: retry the job on another runner"
    assert text.endswith("\n")


def test_other_causes_unknown_states_and_exit_lines() -> None:
    runner = render_text(
        decide(
            probe(Verdict.REFUSED), service(log=NOT_PRIVILEGED_LINE), node(nat=False, known=False)
        )
    )
    assert "(runner fault, medium confidence)" in runner.splitlines()[0]
    assert any(line.startswith("  quarantine NOT allowed: ") for line in runner.splitlines())
    assert "    iptable_nat: unknown, boot unknown" in runner.splitlines()
    healthy = render_text(decide(probe(Verdict.HEALTHY), None, None))
    assert healthy.splitlines()[-1] == "  exit 0: healthy"
    job = render_text(
        decide(probe(Verdict.TLS_MISMATCH, detail="plain HTTP to a TLS port"), None, None)
    )
    assert job.splitlines()[-1] == "  exit 78: the job's own configuration is wrong"
    absent = render_text(
        decide(probe(Verdict.REFUSED), ServiceEvidence(container="", state="absent"), None)
    )
    assert "  dind service: none found in the job pod" in absent.splitlines()
    unknown = render_text(decide(probe(Verdict.TIMEOUT), None, None))
    assert unknown.splitlines()[-1] == "  exit 69: cause not established: no action taken"
    noted = render_text(
        decide(
            None,
            service("running", exit_code=None, reason=None),
            node(nat=False, available=False),
        )
    )
    assert any(
        line.startswith("  possible cause (not established): iptable_nat-missing: ")
        for line in noted.splitlines()
    )
    exited = render_text(decide(probe(Verdict.REFUSED), service(log="a\nb\nc\nd"), None))
    assert [line for line in exited.splitlines() if line.startswith("    log:")] == [
        "    log: b",
        "    log: c",
        "    log: d",
    ]
