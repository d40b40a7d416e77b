"""Node evidence without a helper pod: a host root, or the job's own /proc (real node analysis)."""

from __future__ import annotations

from pathlib import Path

from preflight.diagnosis.local import local_node_evidence
from tests.kube.node_roots import KERNEL, centos8_node


def test_host_root(tmp_path: Path) -> None:
    evidence = local_node_evidence(str(centos8_node(tmp_path / "node")))
    assert evidence.source == "host-root" and evidence.limitations == ()
    assert evidence.report is not None
    nat = evidence.report.modules["iptable_nat"]
    assert (nat.loaded, nat.loads_at_boot) == (False, False)


def test_missing_host_root_is_a_limitation(tmp_path: Path) -> None:
    evidence = local_node_evidence(str(tmp_path / "nope"))
    assert evidence.report is None and evidence.source == "none"
    (limitation,) = evidence.limitations
    assert limitation.startswith(f"host root {tmp_path / 'nope'}: ")


def test_job_proc_sees_what_is_loaded(tmp_path: Path) -> None:
    root = centos8_node(tmp_path / "node", fixed=True)
    evidence = local_node_evidence(None, str(root / "proc"))
    assert evidence.source == "job-proc" and evidence.limitations == ()
    assert evidence.report is not None
    assert evidence.report.kernel == KERNEL
    nat = evidence.report.modules["iptable_nat"]
    assert nat.loaded and nat.loaded_known and not nat.loads_at_boot_known
    assert evidence.report.evidence_source == "job-proc"


def test_job_proc_without_modules_file(tmp_path: Path) -> None:
    evidence = local_node_evidence(None, str(tmp_path))
    assert evidence.source == "job-proc"
    (limitation,) = evidence.limitations
    assert (
        limitation
        == f"cannot read the loaded modules ({tmp_path}/modules: No such file or directory)"
    )
    assert evidence.report is not None
    assert not evidence.report.modules["iptable_nat"].loaded_known
