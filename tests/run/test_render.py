"""How a run reads in the job log: the first line, the sections, the fix."""

from __future__ import annotations

import io

from preflight.diagnosis.model import Cause, Confidence, Diagnosis, FaultClass
from preflight.exitcodes import ExitCode
from preflight.node.model import Remedy
from preflight.probe.model import ProbeResult, Verdict
from preflight.run.flow import RunOutcome
from preflight.run.render import summary_line, write_details

REFUSED = ProbeResult(Verdict.REFUSED, "tcp://docker:2375", 0.4, "connection refused")
HEALTHY = ProbeResult(Verdict.HEALTHY, "tcp://docker:2376", 0.05, "ok", server_version="27.3.1")
NAT = Diagnosis(
    cause=Cause(
        "iptable_nat-missing",
        "The node's kernel module iptable_nat is not loaded: dockerd cannot create its NAT chain.",
        "iptable_nat",
    ),
    fault=FaultClass.NODE,
    confidence=Confidence.HIGH,
    node="worker-3",
    probe=REFUSED,
    remedy=Remedy(
        file="/etc/modules-load.d/iptable_nat.conf",
        content="iptable_nat\niptable_filter\n",
        load_now="modprobe -a iptable_nat iptable_filter",
        verify="lsmod | grep iptable",
    ),
)


def test_healthy_is_one_line() -> None:
    line = summary_line(RunOutcome(ExitCode.OK, HEALTHY))
    assert line == (
        "dind-preflight: OK: dind at tcp://docker:2376 is healthy (Docker 27.3.1, ready in 0.05 s)"
    )


def test_node_fault_first_line_names_cause_node_and_what_happens_next() -> None:
    line = summary_line(
        RunOutcome(ExitCode.TEMPFAIL, REFUSED, NAT, actions_done=["tainted node worker-3"])
    )
    assert line.startswith("dind-preflight: FAILED: dind at tcp://docker:2375 is refused; ")
    assert "iptable_nat-missing on node worker-3 (node fault, high confidence): " in line
    assert "The node's kernel module iptable_nat is not loaded;" in line
    assert "tainted node worker-3" in line
    assert line.endswith("retry on another runner (exit 75)")
    assert "\n" not in line


def test_a_terminal_gets_plain_headings_and_the_fix_once() -> None:
    out = io.StringIO()
    write_details(RunOutcome(ExitCode.TEMPFAIL, REFUSED, NAT), out)
    text = out.getvalue()
    assert "\x1b" not in text and "section_start" not in text
    headings = [line for line in text.splitlines() if not line.startswith(" ")]
    assert headings == ["What was seen:", "Why:", "The fix, on node worker-3:"]
    assert "\n  1. Write /etc/modules-load.d/iptable_nat.conf:\n       iptable_nat\n" in text
    assert text.count("modprobe -a iptable_nat iptable_filter") == 1
    assert "exit code 69" not in text  # the probe's own code would contradict run's 75


def test_a_gitlab_job_gets_collapsible_sections_with_the_evidence_collapsed() -> None:
    out = io.StringIO()
    write_details(RunOutcome(ExitCode.TEMPFAIL, REFUSED, NAT), out, gitlab_job=True)
    text = out.getvalue()
    assert ":dind_preflight_seen[collapsed=true]\r" in text
    for name in ("dind_preflight_why", "dind_preflight_fix"):
        assert f":{name}\r\x1b[0K" in text and f"{name}[collapsed" not in text
        assert text.count("section_end:") == 3
