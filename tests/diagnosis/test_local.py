"""Diagnosis without Kubernetes: a host root given by the user, and the dind log as a file."""

from __future__ import annotations

from pathlib import Path

import pytest

from preflight.diagnosis.local import host_name, log_shows_death, service_from_log_file
from preflight.diagnosis.model import Diagnosis, FaultClass, ServiceEvidence
from preflight.diagnosis.signatures import match_lines
from preflight.errors import InputError
from preflight.kube.diagnose import diagnose_in_cluster
from preflight.kube.settings import KubeSettings
from preflight.probe.model import ProbeResult, Verdict
from tests.admin.support import trusted_anchors
from tests.kube.failing_daemons import saved_log

REPO = Path(__file__).resolve().parents[2]
NAT_LINE = (
    "failed to start daemon: Error initializing network controller: error obtaining controller "
    "instance: failed to create NAT chain DOCKER: iptables failed: iptables --wait -t nat -N "
    "DOCKER: iptables v1.8.4 (legacy): can't initialize iptables table `nat': Table does not "
    "exist (do you need to insmod?)"
)
REFUSED = ProbeResult(Verdict.REFUSED, "tcp://docker:2375", 0.1, "connection refused")


def diagnose_local(
    probe: ProbeResult,
    host_root: str | None,
    *,
    proc: str = "/proc",
    service: ServiceEvidence | None = None,
) -> Diagnosis:
    """The diagnosis of ``run`` and ``diagnose`` without any Kubernetes configured."""
    return diagnose_in_cluster(
        probe, KubeSettings(host_root=host_root, proc=proc), service_hint=service
    )


def test_the_bundled_field_report_root_is_a_node_fault_named_after_its_host() -> None:
    root = REPO / "demo/roots/centos8-field-report"
    log = ServiceEvidence(
        container="dind.log", log_tail=[NAT_LINE], matches=match_lines([NAT_LINE])
    )
    diagnosis = diagnose_local(REFUSED, str(root), service=log)
    assert diagnosis.cause.code == "iptable_nat-missing"
    assert diagnosis.fault is FaultClass.NODE
    assert diagnosis.node == "runner-node-3.example.internal"
    assert diagnosis.evidence_source == "host-root"
    assert diagnosis.remedy is not None
    assert diagnosis.remedy.file == "/etc/modules-load.d/iptable_nat.conf"
    # The root agrees with the log line, but it is a directory, not the admin's read-only
    # mount: job-side evidence, no quarantine (tests/admin proves the admin's mount counts).
    assert not diagnosis.quarantine.allowed, diagnosis.quarantine
    assert diagnosis.node_trust.startswith("job-side: ")
    named = diagnose_in_cluster(
        REFUSED,
        KubeSettings(
            host_root=str(root), proc="/proc", anchors=trusted_anchors(node_root=str(root))
        ),
        service_hint=log,
    )
    assert not named.quarantine.allowed  # named by the admin, but not a read-only mount point
    assert "not a read-only mount point" in named.node_trust
    assert diagnosis.backend.backend == "legacy"


def test_a_root_where_nat_is_merely_not_loaded_establishes_nothing_by_itself() -> None:
    root = REPO / "demo/roots/centos8-field-report"
    diagnosis = diagnose_local(REFUSED, str(root))
    assert diagnosis.cause.code == "not-established"
    assert diagnosis.exit_code == 69
    assert "iptable_nat" in [c.module for c in diagnosis.possible_causes]
    assert not diagnosis.quarantine.allowed


def test_the_fixed_root_does_not_blame_the_node() -> None:
    diagnosis = diagnose_local(REFUSED, str(REPO / "demo/roots/centos8-fixed"))
    assert diagnosis.fault is not FaultClass.NODE


@pytest.mark.parametrize(
    ("content", "expected"),
    [("node-a\n", "node-a"), ("  node-b  \nrest\n", "node-b"), ("", None), ("\n\n", None)],
)
def test_host_name(tmp_path: Path, content: str, expected: str | None) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/hostname").write_text(content)
    assert host_name(str(tmp_path)) == expected


def test_host_name_missing(tmp_path: Path) -> None:
    assert host_name(str(tmp_path)) is None


def test_the_service_log_file_is_evidence_and_shows_death(tmp_path: Path) -> None:
    log = tmp_path / "dind.log"
    log.write_text('level=info msg="Starting up"\n')
    assert not log_shows_death(str(log))
    log.write_text(saved_log("legacy-nat-missing"))
    assert log_shows_death(str(log))
    evidence = service_from_log_file(str(log))
    assert evidence.matches and evidence.matches[0].cause == "iptable_nat-missing"
    diagnosis = diagnose_local(REFUSED, None, proc=str(tmp_path / "no-proc"), service=evidence)
    assert diagnosis.cause.code == "iptable_nat-missing"


def test_an_unreadable_service_log_is_one_clear_error(tmp_path: Path) -> None:
    assert not log_shows_death(str(tmp_path / "missing.log"))
    with pytest.raises(InputError, match="cannot read the dind service log"):
        service_from_log_file(str(tmp_path / "missing.log"))
