"""The diagnosis decision, case by case (probe x service x node report)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from preflight.diagnosis.decide import decide
from preflight.diagnosis.model import Confidence, Diagnosis, FaultClass, ServiceEvidence
from preflight.exitcodes import ExitCode
from preflight.node.model import NodeReport
from preflight.probe.model import ProbeResult, Verdict
from tests.diagnosis.evidence import NAT_LINE, NAT_REMEDY, NOT_PRIVILEGED_LINE, node, probe, service

NFT_LINE = (
    "failed to start daemon: ... iptables --wait -t nat -N DOCKER: iptables v1.8.9 (nf_tables): "
    "CHAIN_ADD failed (No such file or directory): chain PREROUTING"
)


@dataclass(frozen=True)
class Case:
    name: str
    probe: ProbeResult | None
    service: ServiceEvidence | None
    node: NodeReport | None
    cause: str
    fault: FaultClass
    confidence: Confidence
    exit_code: ExitCode
    others: tuple[str, ...] = ()
    quarantine: bool = False


CASES = [
    Case(
        "healthy",
        probe(Verdict.HEALTHY),
        service("running", exit_code=None, reason=None),
        None,
        "healthy",
        FaultClass.UNKNOWN,
        Confidence.HIGH,
        ExitCode.OK,
    ),
    Case(
        "healthy daemon, node lacks nat: nothing to report yet",
        probe(Verdict.HEALTHY),
        service("running", exit_code=None, reason=None),
        node(nat=False),
        "healthy",
        FaultClass.UNKNOWN,
        Confidence.HIGH,
        ExitCode.OK,
    ),
    Case(
        "field report, the log alone: issue and retry, reduced confidence",
        probe(Verdict.REFUSED),
        service(log=NAT_LINE),
        None,
        "iptable_nat-missing",
        FaultClass.NODE,
        Confidence.MEDIUM,
        ExitCode.TEMPFAIL,
    ),
    Case(
        "field report, the node's own report agrees",
        probe(Verdict.REFUSED),
        service(log=NAT_LINE),
        node(nat=False),
        "iptable_nat-missing",
        FaultClass.NODE,
        Confidence.HIGH,
        ExitCode.TEMPFAIL,
        quarantine=True,
    ),
    Case(
        "nat log but the module is loaded by now: contradicted",
        probe(Verdict.REFUSED),
        service(log=NAT_LINE),
        node(nat=True),
        "iptable_nat-missing",
        FaultClass.NODE,
        Confidence.LOW,
        ExitCode.TEMPFAIL,
    ),
    Case(
        "a healthy-looking probe does not excuse a dead service",
        probe(Verdict.HEALTHY),
        service(log=NAT_LINE),
        node(nat=False),
        "iptable_nat-missing",
        FaultClass.NODE,
        Confidence.HIGH,
        ExitCode.TEMPFAIL,
        quarantine=True,
    ),
    Case(
        "crash loop with the nat log",
        probe(Verdict.REFUSED),
        service("waiting", log=NAT_LINE, exit_code=1, reason="CrashLoopBackOff"),
        node(nat=False),
        "iptable_nat-missing",
        FaultClass.NODE,
        Confidence.HIGH,
        ExitCode.TEMPFAIL,
        quarantine=True,
    ),
    Case(
        "not privileged (log only); the missing module is reported too",
        probe(Verdict.REFUSED),
        service(log=NOT_PRIVILEGED_LINE),
        node(nat=False, available=False),
        "not-privileged",
        FaultClass.RUNNER,
        Confidence.MEDIUM,
        ExitCode.TEMPFAIL,
        others=(),
    ),
    Case(
        "nf_tables nat chain missing, the log alone",
        probe(Verdict.REFUSED),
        service(log=NFT_LINE),
        None,
        "nft_chain_nat-missing",
        FaultClass.NODE,
        Confidence.MEDIUM,
        ExitCode.TEMPFAIL,
    ),
    Case(
        "dead, no log, nat merely not loaded: not a fault (old image: legacy)",
        probe(Verdict.REFUSED),
        service(log=""),
        node(nat=False, selinux=False),
        "dind-exited",
        FaultClass.UNKNOWN,
        Confidence.MEDIUM,
        ExitCode.UNAVAILABLE,
    ),
    Case(
        "dead, no log, nat not loaded where SELinux denies its load (old image: legacy)",
        probe(Verdict.REFUSED),
        service(log=""),
        node(nat=False),
        "iptable_nat-missing",
        FaultClass.NODE,
        Confidence.HIGH,
        ExitCode.TEMPFAIL,
        quarantine=True,
    ),
    Case(
        "forged nat log, nat not loaded and nothing blocks it: no agreement, no quarantine",
        probe(Verdict.REFUSED),
        service(log=NAT_LINE),
        node(nat=False, selinux=False),
        "iptable_nat-missing",
        FaultClass.NODE,
        Confidence.MEDIUM,
        ExitCode.TEMPFAIL,
        quarantine=False,
    ),
    Case(
        "dead, no log, nat absent from the kernel (old image: legacy)",
        probe(Verdict.REFUSED),
        service(log=""),
        node(nat=False, available=False),
        "iptable_nat-missing",
        FaultClass.NODE,
        Confidence.HIGH,
        ExitCode.TEMPFAIL,
        quarantine=True,
    ),
    Case(
        "refused, no API, only the job's /proc: backend unknown, not established",
        probe(Verdict.REFUSED),
        None,
        node(nat=False, source="job-proc"),
        "not-established",
        FaultClass.UNKNOWN,
        Confidence.LOW,
        ExitCode.UNAVAILABLE,
    ),
    Case(
        "loaded state unknown: no accusation",
        probe(Verdict.REFUSED),
        None,
        node(nat=False, known=False),
        "not-established",
        FaultClass.UNKNOWN,
        Confidence.LOW,
        ExitCode.UNAVAILABLE,
    ),
    Case(
        "TLS mismatch from the probe",
        probe(Verdict.TLS_MISMATCH, detail="plain HTTP to a TLS port"),
        service("running", exit_code=None, reason=None),
        None,
        "tls-port-mismatch",
        FaultClass.JOB,
        Confidence.HIGH,
        ExitCode.CONFIG,
    ),
    Case(
        "dind listens on 2376, DOCKER_HOST says 2375",
        probe(Verdict.REFUSED, "tcp://docker:2375"),
        service(
            "running", log='level=info msg="API listen on [::]:2376"', exit_code=None, reason=None
        ),
        None,
        "tls-port-mismatch",
        FaultClass.JOB,
        Confidence.HIGH,
        ExitCode.CONFIG,
    ),
    Case(
        "same port: not ready yet",
        probe(Verdict.REFUSED, "tcp://docker:2376"),
        service(
            "running", log='level=info msg="API listen on [::]:2376"', exit_code=None, reason=None
        ),
        None,
        "dind-not-ready",
        FaultClass.UNKNOWN,
        Confidence.LOW,
        ExitCode.UNAVAILABLE,
    ),
    Case(
        "OOM-killed",
        probe(Verdict.REFUSED),
        service(log="", exit_code=137, reason="OOMKilled"),
        None,
        "service-oom-killed",
        FaultClass.RUNNER,
        Confidence.HIGH,
        ExitCode.TEMPFAIL,
        quarantine=True,
    ),
    Case(
        "service image not pullable",
        probe(Verdict.REFUSED),
        service(
            "waiting", exit_code=None, reason="ImagePullBackOff", message="Back-off pulling image"
        ),
        None,
        "service-image-unavailable",
        FaultClass.UNKNOWN,
        Confidence.HIGH,
        ExitCode.UNAVAILABLE,
    ),
    Case(
        "no dind service",
        probe(Verdict.REFUSED),
        ServiceEvidence(container="", state="absent"),
        None,
        "no-dind-service",
        FaultClass.JOB,
        Confidence.MEDIUM,
        ExitCode.CONFIG,
    ),
    Case(
        "exited, unknown log",
        probe(Verdict.REFUSED),
        service(log="something else\nbye", exit_code=2),
        node(),
        "dind-exited",
        FaultClass.UNKNOWN,
        Confidence.MEDIUM,
        ExitCode.UNAVAILABLE,
    ),
    Case(
        "nothing seen at all",
        probe(Verdict.TIMEOUT),
        None,
        None,
        "not-established",
        FaultClass.UNKNOWN,
        Confidence.LOW,
        ExitCode.UNAVAILABLE,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_decide(case: Case) -> None:
    diagnosis = decide(case.probe, case.service, case.node, ["a limitation"])
    assert (diagnosis.cause.code, diagnosis.fault, diagnosis.confidence) == (
        case.cause,
        case.fault,
        case.confidence,
    )
    assert diagnosis.exit_code == case.exit_code
    assert tuple(c.code for c in diagnosis.other_causes) == case.others
    assert diagnosis.quarantine.allowed is case.quarantine, diagnosis.quarantine
    assert diagnosis.limitations == ["a limitation"]
    assert diagnosis.probe is case.probe and diagnosis.service is case.service
    assert diagnosis.node_report is case.node


def test_the_remedy_comes_from_the_catalog_never_from_the_node_report() -> None:
    with_report = decide(probe(Verdict.REFUSED), service(log=NAT_LINE), node(nat=False))
    without = decide(probe(Verdict.REFUSED), service(log=NAT_LINE), None)
    assert with_report.remedy == without.remedy
    assert with_report.remedy != NAT_REMEDY
    # The catalog's fix is the one that worked in the field report.
    assert without.remedy is not None
    assert without.remedy.file == "/etc/modules-load.d/iptable_nat.conf"
    assert without.remedy.content == "iptable_nat\niptable_filter\n"
    assert without.remedy.load_now == "modprobe -a iptable_nat iptable_filter"


def test_details_name_what_was_seen() -> None:
    exited = decide(probe(Verdict.REFUSED), service(log="first\nlast words", exit_code=2), None)
    assert "Exit code 2" in exited.cause.summary and "last words" in exited.cause.summary
    absent = decide(probe(Verdict.REFUSED), service(log=""), node(nat=False, available=False))
    assert "iptable_nat does not exist for the running kernel" in absent.cause.summary
    assert absent.backend.source == "image-version"
    mismatch = decide(
        probe(Verdict.REFUSED, "tcp://docker:2375"),
        service("running", log="API listen on [::]:2376", exit_code=None, reason=None),
        None,
    )
    assert "port 2375" in mismatch.cause.summary and "2376" in mismatch.cause.summary


def test_the_docs_rule_table_is_the_code_s() -> None:
    from pathlib import Path

    from preflight.diagnosis.decide import rule_table_markdown

    docs = (Path(__file__).parents[2] / "docs" / "kubernetes.md").read_text()
    assert rule_table_markdown() in docs


def test_every_diagnosis_round_trips_through_json() -> None:
    from preflight.jsonable import from_json, to_json

    for case in CASES:
        diagnosis = decide(case.probe, case.service, case.node, ["x"])
        assert from_json(Diagnosis, to_json(diagnosis)) == diagnosis, case.name
