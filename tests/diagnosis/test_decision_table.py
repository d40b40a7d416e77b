"""The decision table: backend x service x node -> cause, fault, confidence, exit, quarantine.

``expected`` is written from the rule in issue 10 / ``linux-modules.md`` (not from the code):
(a) a fatal signature names the cause, in the backend's terms, and quarantines only when the
node's own report agrees; (b) Kubernetes' own record next; (d) without a signature, a node
module cause only with a known backend and a module of its set absent or blocked; (e) else not
established (exit 69), no action.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from preflight.diagnosis.decide import decide
from preflight.diagnosis.model import Confidence, FaultClass
from preflight.diagnosis.trust import NodeTrust
from preflight.exitcodes import ExitCode
from tests.diagnosis.table_evidence import (
    BACKENDS,
    NAT_OF,
    NODES,
    SERVICES,
    node_for,
    probe_for,
    service_for,
)

H, M, L = Confidence.HIGH, Confidence.MEDIUM, Confidence.LOW
NODE, RUNNER, JOB, UNKNOWN = FaultClass.NODE, FaultClass.RUNNER, FaultClass.JOB, FaultClass.UNKNOWN


@dataclass(frozen=True)
class Expect:
    cause: str
    fault: FaultClass
    confidence: Confidence
    exit_code: ExitCode
    quarantine: bool
    module: str | None = None


_EXIT = {NODE: ExitCode.TEMPFAIL, RUNNER: ExitCode.TEMPFAIL, JOB: ExitCode.CONFIG}


def _e(
    cause: str, fault: FaultClass, conf: Confidence, q: bool, module: str | None = None
) -> Expect:
    return Expect(cause, fault, conf, _EXIT.get(fault, ExitCode.UNAVAILABLE), q, module)


def expected(backend: str, service: str, node: str) -> Expect:
    known = backend in NAT_OF
    nat = NAT_OF.get(backend)
    node_fault = known and node in ("absent", "blocked", "denied")
    if service == "nat-signature":
        if not known:  # the line does not say which backend: no module to check
            return _e("nat-unavailable", NODE, M, False)
        code = {"legacy": "iptable_nat-missing", "nf_tables": "nft_chain_nat-missing"}[backend]
        if node in ("absent", "blocked", "denied"):
            return _e(code, NODE, H, True, nat)
        if node in ("fine", "contradicting"):  # the node says the module is there
            return _e(code, NODE, L, False, nat)
        # unreadable, or not loaded where nothing blocks it (a forged line, or a cause the node
        # report cannot see): the log alone, never a quarantine
        return _e(code, NODE, M, False, nat)
    if service == "not-privileged-signature":
        return _e("not-privileged", RUNNER, M, False)
    if service == "storage-signature":
        return _e("storage-driver-unsupported", RUNNER, M, False)
    if service == "port-in-use-signature":
        return _e("port-in-use", JOB, H, False)
    if service == "image-pull":
        return _e("service-image-unavailable", UNKNOWN, H, False)
    if service == "oom-killed":
        return _e("service-oom-killed", RUNNER, H, True)
    if service == "absent":
        return _e("no-dind-service", JOB, M, False)
    if service == "running-but-slow":
        if node_fault:
            code = {"legacy": "iptable_nat-missing", "nf_tables": "nft_chain_nat-missing"}[backend]
            return _e(code, NODE, M, True, nat)
        return _e("dind-not-ready", UNKNOWN, L, False)
    # unknown-fatal, warning-only: a dead service without a deciding signature
    if node_fault:
        code = {"legacy": "iptable_nat-missing", "nf_tables": "nft_chain_nat-missing"}[backend]
        return _e(code, NODE, H, True, nat)
    return _e("dind-exited", UNKNOWN, M, False)


ROWS = list(itertools.product(BACKENDS, SERVICES, NODES))


@pytest.mark.parametrize(("backend", "service", "node"), ROWS, ids=["-".join(r) for r in ROWS])
def test_decision_table(backend: str, service: str, node: str) -> None:
    want = expected(backend, service, node)
    diagnosis = decide(
        probe_for(service), service_for(service, backend), node_for(node, backend), ["limit"]
    )
    got = Expect(
        diagnosis.cause.code,
        diagnosis.fault,
        diagnosis.confidence,
        diagnosis.exit_code,
        diagnosis.quarantine.allowed,
        diagnosis.cause.module if want.module else None,
    )
    assert got == want, diagnosis.quarantine
    if backend == "nf_tables":
        assert not diagnosis.cause.code.startswith("iptable_")
        assert not any(c.code.startswith("iptable_") for c in diagnosis.other_causes)
    if service == "warning-only":
        assert any("ip6tables" in note for note in diagnosis.notes)
    if want.quarantine:
        assert diagnosis.quarantine.trusted, "an allowed quarantine names what it trusted"
    if want.cause == "dind-exited" and node in ("absent", "blocked") and backend == "unknown":
        # rule (e): the node facts are listed as possible causes, not acted upon
        assert [c.module for c in diagnosis.possible_causes] == ["iptable_nat"]


def test_the_table_is_big_enough() -> None:
    assert len(ROWS) >= 60


def test_kubernetes_says_not_privileged_backs_the_signature() -> None:
    service = service_for("not-privileged-signature", "legacy", privileged=False)
    diagnosis = decide(probe_for("x"), service, None)
    assert (diagnosis.cause.code, diagnosis.quarantine.allowed) == ("not-privileged", True)
    assert diagnosis.confidence is H
    assert any(t.startswith("kubernetes:") for t in diagnosis.quarantine.trusted)
    privileged = service_for("not-privileged-signature", "legacy", privileged=True)
    assert decide(probe_for("x"), privileged, None).quarantine.allowed is False


@pytest.mark.parametrize("backend", ["legacy", "nf_tables"])
def test_a_job_side_node_report_never_quarantines(backend: str) -> None:
    service = service_for("nat-signature", backend)
    job_proc = node_for("absent", backend, source="job-proc")
    diagnosis = decide(probe_for("x"), service, job_proc)
    assert diagnosis.exit_code == ExitCode.TEMPFAIL
    assert diagnosis.quarantine.allowed is False
    assert diagnosis.confidence is M
    assert diagnosis.node_trust.startswith("job-side")


def test_a_helper_report_counts_only_with_an_admin_chosen_image() -> None:
    service = service_for("nat-signature", "legacy")
    report = node_for("absent", "legacy", source="host-root")
    untrusted = NodeTrust(False, "the helper pod ran the job's own build image")
    trusted = NodeTrust(True, "pinned by digest")
    assert (
        decide(probe_for("x"), service, report, helper_trust=untrusted).quarantine.allowed is False
    )
    assert decide(probe_for("x"), service, report, helper_trust=trusted).quarantine.allowed is True


# --- properties --------------------------------------------------------------------------------

_SOURCES = ("host-root", "job-proc", "helper-untrusted", "helper-trusted", "none")


@settings(max_examples=300, deadline=None)
@given(
    backend=st.sampled_from(BACKENDS),
    service=st.sampled_from(SERVICES),
    node=st.sampled_from(NODES),
    source=st.sampled_from(_SOURCES),
    privileged=st.sampled_from([None, True, False]),
    kube=st.booleans(),
)
def test_no_quarantine_without_unforgeable_evidence(
    backend: str, service: str, node: str, source: str, privileged: bool | None, kube: bool
) -> None:
    evidence = service_for(service, backend, privileged=privileged)
    if not kube and evidence.state != "absent":
        # the same log as a file the job handed over: Kubernetes' record is gone
        from dataclasses import replace

        evidence = replace(
            evidence,
            state="unknown",
            exit_code=None,
            reason=None,
            last_reason=None,
            privileged=None,
        )
    report = None
    helper = None
    if source != "none":
        real = "job-proc" if source == "job-proc" else "host-root"
        report = node_for(node, backend, source=real)
        if source.startswith("helper"):
            helper = NodeTrust(source == "helper-trusted", source)
    diagnosis = decide(probe_for(service), evidence, report, helper_trust=helper)
    node_side = source in ("host-root", "helper-trusted")
    kubernetes_record = kube and evidence.state != "unknown"
    if diagnosis.quarantine.allowed:
        assert node_side or kubernetes_record, diagnosis.quarantine
        assert diagnosis.fault in (NODE, RUNNER)
    if backend == "nf_tables":
        assert not diagnosis.cause.code.startswith("iptable_"), diagnosis.cause


@settings(max_examples=100, deadline=None)
@given(
    backend=st.sampled_from(["legacy", "nf_tables"]),
    source=st.sampled_from(["host-root", "helper-trusted"]),
    kube=st.booleans(),
)
def test_forged_log_on_a_node_where_the_module_would_load_never_quarantines(
    backend: str, source: str, kube: bool
) -> None:
    """A nat-table line in the log (job-controlled) and a trusted node report that says the
    module is not loaded but nothing blocks or denies its load: no agreement, no quarantine."""
    evidence = service_for("nat-signature", backend)
    if not kube:
        from dataclasses import replace

        evidence = replace(evidence, state="unknown", exit_code=None, reason=None)
    report = node_for("not-loaded", backend)
    helper = NodeTrust(True, "pinned") if source == "helper-trusted" else None
    diagnosis = decide(probe_for("nat-signature"), evidence, report, helper_trust=helper)
    assert diagnosis.quarantine.allowed is False, diagnosis.quarantine
    assert "is loaded now" not in diagnosis.cause.summary


@pytest.mark.parametrize(
    ("log", "backend", "cause"),
    [
        ("legacy-nat-missing", "legacy", "iptable_nat-missing"),
        ("nft-nat-missing", "nf_tables", "nft_chain_nat-missing"),
        ("no-nf-tables", "nf_tables", "nf_tables-missing"),
    ],
)
def test_logs_of_real_dockerd_failures_name_the_backend_and_its_module(
    log: str, backend: str, cause: str
) -> None:
    # tests/kube/logs: real dockerd processes whose iptables (a wrapper printing iptables'
    # own messages, tests/harness/dockerd.py) failed the way each backend fails.
    from tests.kube.failing_daemons import saved_log

    lines = saved_log(log).splitlines()
    evidence = service_for("unknown-fatal", "unknown")
    from dataclasses import replace

    from preflight.diagnosis.signatures import match_lines

    evidence = replace(evidence, log_tail=lines, matches=match_lines(lines))
    diagnosis = decide(probe_for("x"), evidence, None)
    assert (diagnosis.backend.backend, diagnosis.backend.source) == (backend, "iptables-message")
    assert diagnosis.cause.code == cause
    assert diagnosis.quarantine.allowed is False  # a log line alone never quarantines


def test_a_degraded_deep_probe_goes_through_the_same_signatures() -> None:
    from preflight.probe.model import DeepStep, ProbeResult, Verdict

    # moby's answer to a bridge network create when the nat table is gone (the daemon's words)
    error = (
        "Failed to Setup IP tables: Unable to enable NAT rule:  (iptables failed: iptables "
        "--wait -t nat -I POSTROUTING -s 172.18.0.0/16 ! -o br-1 -j MASQUERADE: iptables "
        "v1.8.9 (legacy): can't initialize iptables table `nat': Table does not exist (do you "
        "need to insmod?)"
    )
    degraded = ProbeResult(
        verdict=Verdict.DEGRADED,
        docker_host="tcp://docker:2375",
        elapsed_s=0.2,
        detail="deep step failed",
        deep=[DeepStep("create-network", False, 0.05, error)],
    )
    running = service_for("running-but-slow", "unknown")
    diagnosis = decide(degraded, running, node_for("absent", "legacy"))
    assert (diagnosis.cause.code, diagnosis.backend.backend) == ("iptable_nat-missing", "legacy")
    assert diagnosis.quarantine.allowed  # the node's own report agrees


def test_docker_iptables_legacy_in_the_service_spec_is_backend_evidence() -> None:
    from dataclasses import replace

    from preflight.kube.discovery import find_service_container

    container = {
        "name": "svc-0",
        "image": "docker:27-dind",
        "securityContext": {"privileged": False},
        "env": [{"name": "DOCKER_IPTABLES_LEGACY", "value": "1"}],
    }
    found, _ = find_service_container([container], None)
    assert found is not None
    assert (found.privileged, found.iptables_legacy_env) == (False, "1")
    evidence = replace(service_for("unknown-fatal", "unknown"), iptables_legacy_env="")
    diagnosis = decide(probe_for("x"), evidence, None)
    assert (diagnosis.backend.backend, diagnosis.backend.source) == ("nf_tables", "service-env")
