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


def test_a_both_backends_report_judged_for_nft_only() -> None:
    """What audit and resolve do with a helper pod's report (it checks both backends) when the
    admin narrowed the backends: RHEL 9 serves current images now, not legacy-only ones."""
    from preflight.node.analysis import for_backends

    facts = gather(str(REPO / "demo/roots/rhel9"), None, union("legacy", "nf_tables"))
    both = analyze_backends(facts)
    assert readiness_of(both).now.status.value == "False"
    narrowed = for_backends(both, ["nf_tables"])
    assert narrowed.checked == ["nft_chain_nat"] and narrowed.backends == ["nf_tables"]
    assert readiness_of(narrowed).now.status.value == "True"
    assert for_backends(both, ["legacy", "nf_tables"]) is both


def test_the_readme_audit_example_says_what_the_analysis_says(tmp_path: Path) -> None:
    """README's worker-2: CentOS 8 after an admin's modprobe (nf_tables in use too), SELinux
    enforcing, iptable_nat only in /etc/modules: its real DindReadyAfterReboot sentence."""
    from tests.fleet.readme_example import example
    from tests.node import profiles

    root = profiles.centos8_field_report(tmp_path, "manual")
    tables = ["ip_tables", "nf_nat", "iptable_nat", "iptable_filter"]
    nft = ["nfnetlink", "nf_tables", "nft_chain_nat"]
    root.proc(profiles.CENTOS8_NEW, [*profiles.BASE_LOADED, *tables, *nft], ip_tables=["nat"])
    readiness = readiness_of(analyze_backends(gather(str(root.path), None, union(*BOTH))))
    assert readiness.now.status.value == "True"
    line = f"worker-2: DindReadyAfterReboot False: {without_facts(readiness.after_reboot.message)}"
    assert line in example().splitlines()


BOTH = ("legacy", "nf_tables")


@pytest.mark.parametrize("code", [0, 1, 2])
def test_every_node_report_verdict_is_a_finished_helper(code: int) -> None:
    """node-report exits 0 OK, 1 NOT OK, 2 UNKNOWN: each printed a report to read."""
    from preflight.kube.helper_pod_manifest import HELPER_CONTAINER
    from preflight.kube.helper_pod_state import HelperPhase, helper_state

    pod = {
        "status": {
            "phase": "Failed" if code else "Succeeded",
            "containerStatuses": [
                {
                    "name": HELPER_CONTAINER,
                    "state": {"terminated": {"exitCode": code, "reason": "Completed"}},
                }
            ],
        }
    }
    state = helper_state(pod)
    assert (state.phase, state.exit_code) == (HelperPhase.FINISHED, code)
