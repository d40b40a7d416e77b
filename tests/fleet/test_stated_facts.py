"""A condition states its module facts; a job reads exactly those (readiness.stated, evidence),
and the module-fact rule reads unreadable evidence as unknown, never as absence."""

from __future__ import annotations

import dataclasses
import datetime
from pathlib import Path

import pytest

from preflight.diagnosis.decide import decide
from preflight.node.analysis import analyze_backends
from preflight.node.facts import FileStatus
from preflight.node.gather import gather
from preflight.node.loadability import LOADED, NOT_LOADED, UNCHECKED, module_fact
from preflight.node.module_sets import union
from preflight.probe.model import Verdict
from preflight.readiness.conditions import observe, to_conditions
from preflight.readiness.evidence import report_from
from preflight.readiness.stated import stated, with_facts, without_facts
from preflight.readiness.verdict import readiness_of
from tests.diagnosis.evidence import NAT_LINE, probe, service

REPO = Path(__file__).resolve().parents[2]
NOW = datetime.datetime(2026, 12, 7, 12, 0, tzinfo=datetime.UTC)


def node_with(root: str) -> dict[str, object]:
    facts = gather(str(REPO / "demo/roots" / root), None, union("legacy", "nf_tables"))
    readiness = readiness_of(analyze_backends(facts))
    return {"metadata": {"name": "n"}, "status": {"conditions": to_conditions(readiness, {}, NOW)}}


def test_round_trip_and_a_message_that_states_nothing() -> None:
    text = with_facts("all good", ["legacy", "nf_tables"], {"iptable_nat": "loaded"})
    found = stated(text)
    assert found is not None
    assert found.backends == ("legacy", "nf_tables") and found.facts == {"iptable_nat": "loaded"}
    assert without_facts(text) == "all good"
    assert stated("iptable_nat, iptable_filter loaded (legacy iptables backend)") is None
    # Text a forger could put there is dropped: unknown modules and unknown facts.
    forged = stated("x [checked legacy: evil=loaded iptable_nat=owned iptable_filter=absent]")
    assert forged is not None and forged.facts == {"iptable_filter": "absent"}


def test_a_long_message_keeps_its_facts() -> None:
    text = with_facts("word " * 400, ["legacy"], {"iptable_nat": "denied"})
    assert len(text) <= 1000 and stated(text) is not None


def test_true_on_debian_is_never_read_as_loaded() -> None:
    """DindReady=True on Debian 12 states iptable_nat=not-loaded (it loads on first use): a job
    whose dind log blames the legacy nat table finds neither agreement nor the false sentence
    "the node report says iptable_nat is loaded now"."""
    observed = observe(node_with("debian12"), NOW + datetime.timedelta(seconds=30))
    assert observed.readiness.now.status.value == "True"
    report = report_from(observed, "n")
    assert report is not None
    assert module_fact(report, "iptable_nat") == NOT_LOADED
    assert module_fact(report, "nft_chain_nat") == LOADED
    assert module_fact(report, "xt_nat") == UNCHECKED  # not stated: not checked
    diagnosis = decide(probe(Verdict.REFUSED), service(log=NAT_LINE), report)
    assert diagnosis.cause.code == "iptable_nat-missing"
    assert "is loaded now" not in diagnosis.cause.summary
    assert not diagnosis.quarantine.allowed


def test_false_on_the_field_report_agrees_and_allows_quarantine() -> None:
    observed = observe(node_with("centos8-field-report"), NOW + datetime.timedelta(seconds=30))
    report = report_from(observed, "n")
    assert report is not None and module_fact(report, "iptable_nat") == "denied"
    diagnosis = decide(probe(Verdict.REFUSED), service(log=NAT_LINE), report)
    assert diagnosis.quarantine.allowed, diagnosis.quarantine.reason


@pytest.mark.parametrize("status", [FileStatus.UNREADABLE])
def test_unreadable_ip_tables_names_is_unknown_not_absence(status: FileStatus) -> None:
    """/proc/net/ip_tables_names is 0440 root (and per network namespace): an agent that cannot
    read it does not say "no legacy iptables table is registered"."""
    facts = gather(str(REPO / "demo/roots/ubuntu2204"), None, union("legacy", "nf_tables"))
    denied = dataclasses.replace(
        facts,
        ip_tables_names=dataclasses.replace(
            facts.ip_tables_names, status=status, data=b"", error="Permission denied"
        ),
    )
    report = analyze_backends(denied)
    assert "no legacy iptables table is registered" not in report.iptables.detail
    assert "unknown" in report.iptables.detail and "Permission denied" in report.iptables.detail
    assert report.iptables.backend_hint == "unknown"
    assert "unknown" in report.backend_reason
