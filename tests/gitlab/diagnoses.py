"""Diagnoses for the GitLab tests, built from the dataclasses (the field report first)."""

from __future__ import annotations

from dataclasses import replace

from preflight.diagnosis.model import (
    Cause,
    Confidence,
    Diagnosis,
    FaultClass,
    QuarantineDecision,
    ServiceEvidence,
    SignatureMatch,
)
from preflight.node.model import (
    BootSource,
    Finding,
    IgnoredSource,
    IptablesState,
    KernelModules,
    ModuleState,
    NodeReport,
    Remedy,
    Severity,
)
from preflight.probe.model import ProbeResult, Verdict

DOCKERD_NAT_LINE = (
    "failed to start daemon: Error initializing network controller: error obtaining controller "
    "instance: failed to create NAT chain DOCKER: iptables failed: iptables --wait -t nat -N "
    "DOCKER: iptables v1.8.9 (legacy): can't initialize iptables table `nat': Table does not "
    "exist (do you need to insmod?)"
)

FIELD_REMEDY = Remedy(
    file="/etc/modules-load.d/iptable_nat.conf",
    content="iptable_nat\niptable_filter\n",
    load_now="modprobe -a iptable_nat iptable_filter",
    verify="lsmod | grep -E 'iptable_nat|iptable_filter'",
    text=(
        "Load iptable_nat, iptable_filter now and at every boot: systemd-modules-load reads "
        "/etc/modules-load.d/*.conf (a bare /etc/modules is not read on CentOS 8)."
    ),
)


def field_report_diagnosis(node: str = "worker-3") -> Diagnosis:
    """The field report: CentOS 8 node, modules only in /etc/modules, dind dead on nat."""
    ignored = IgnoredSource(
        path="/etc/modules",
        line=3,
        text="iptable_nat",
        reason="systemd-modules-load does not read /etc/modules on this node",
        code="etc-modules-not-read",
    )
    modules = {
        "iptable_nat": ModuleState(
            name="iptable_nat",
            loaded=False,
            builtin=False,
            available=True,
            loads_at_boot=False,
            ignored=[ignored],
            autoload_on_use=True,
        ),
        "iptable_filter": ModuleState(
            name="iptable_filter",
            loaded=False,
            builtin=False,
            available=True,
            loads_at_boot=False,
            ignored=[replace(ignored, line=4, text="iptable_filter")],
        ),
        "ip_tables": ModuleState(
            name="ip_tables",
            loaded=True,
            builtin=False,
            available=True,
            loads_at_boot=True,
            listed_in=[BootSource("/usr/lib/modules-load.d/ip_tables.conf", 1, "ip_tables")],
        ),
    }
    report = NodeReport(
        root="/host",
        kernel="4.18.0-553.el8_10.x86_64",
        modules=modules,
        kernels=[KernelModules("4.18.0-553.el8_10.x86_64", running=True)],
        iptables=IptablesState(legacy_tables=["filter"], backend_hint="legacy"),
        findings=[
            Finding(
                code="etc-modules-not-read",
                severity=Severity.ERROR,
                module="iptable_nat",
                message="iptable_nat is listed only in /etc/modules, which is not read here",
                remedy=FIELD_REMEDY,
            )
        ],
    )
    service = ServiceEvidence(
        container="svc-0",
        image="docker:27-dind",
        state="terminated",
        exit_code=1,
        reason="Error",
        restart_count=3,
        log_tail=[
            'time="2025-01-02T03:04:05Z" level=info msg="Starting up"',
            DOCKERD_NAT_LINE,
        ],
        matches=[SignatureMatch("dockerd-nat-chain", "iptable_nat-missing", DOCKERD_NAT_LINE)],
    )
    probe = ProbeResult(
        verdict=Verdict.REFUSED,
        docker_host="tcp://localhost:2375",
        elapsed_s=30.0,
        detail="Cannot connect to the Docker daemon at tcp://localhost:2375",
        attempts=30,
    )
    return Diagnosis(
        cause=Cause(
            "iptable_nat-missing",
            "The node's kernel module iptable_nat is not loaded: dockerd in the dind service "
            "cannot create its NAT chain and exits.",
            module="iptable_nat",
        ),
        fault=FaultClass.NODE,
        confidence=Confidence.HIGH,
        node=node,
        pod="runner-abc-project-1-concurrent-0",
        namespace="gitlab-runner",
        probe=probe,
        service=service,
        node_report=report,
        remedy=FIELD_REMEDY,
        evidence_source="helper-pod",
        limitations=[],
        quarantine=QuarantineDecision(
            True,
            "backed by evidence the job cannot forge: node report: iptable_nat is not loaded",
            ["node report: iptable_nat is not loaded (pinned helper image)"],
        ),
    )


def job_fault_diagnosis() -> Diagnosis:
    """A TLS/port mismatch: the job's own configuration, no issue and no pause."""
    return Diagnosis(
        cause=Cause("tls-port-mismatch", "DOCKER_HOST uses 2375 but dind listens with TLS on 2376"),
        fault=FaultClass.JOB,
        confidence=Confidence.HIGH,
        node="worker-1",
    )
