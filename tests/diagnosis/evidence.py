"""Small builders for evidence in the diagnosis tests (plain dataclasses, no I/O)."""

from __future__ import annotations

from preflight.diagnosis.model import ServiceEvidence
from preflight.diagnosis.signatures import match_lines
from preflight.node.model import (
    Finding,
    KernelModules,
    ModuleRequests,
    ModuleState,
    NodeReport,
    Remedy,
    Severity,
)
from preflight.probe.model import ProbeResult, Verdict

NAT_LINE = (
    "failed to start daemon: Error initializing network controller: error obtaining controller "
    "instance: failed to create NAT chain DOCKER: iptables failed: iptables --wait -t nat -N "
    "DOCKER: iptables v1.8.9 (legacy): can't initialize iptables table `nat': Table does not "
    "exist (do you need to insmod?)"
)
NOT_PRIVILEGED_LINE = (
    "failed to start daemon: Error initializing network controller: error obtaining controller "
    "instance: failed to create NAT chain DOCKER: iptables failed: iptables -t nat -N DOCKER: "
    "iptables v1.8.9 (nf_tables): Could not fetch rule set generation id: Permission denied "
    "(you must be root)"
)


def probe(verdict: Verdict, host: str = "tcp://docker:2375", detail: str = "") -> ProbeResult:
    return ProbeResult(
        verdict=verdict, docker_host=host, elapsed_s=0.1, detail=detail or verdict.value
    )


def service(
    state: str = "terminated",
    log: str = "",
    exit_code: int | None = 1,
    reason: str | None = "Error",
    message: str | None = None,
) -> ServiceEvidence:
    lines = log.splitlines()
    return ServiceEvidence(
        container="svc-0",
        image="docker:24.0-dind",
        state=state,
        exit_code=exit_code if state in ("terminated", "waiting") else None,
        reason=reason,
        message=message,
        log_tail=lines,
        matches=match_lines(lines),
    )


def module(
    name: str, loaded: bool, boot: bool = False, known: bool = True, available: bool = True
) -> ModuleState:
    return ModuleState(
        name=name,
        loaded=loaded,
        builtin=False,
        available=available,
        loads_at_boot=boot,
        loaded_known=known,
        loads_at_boot_known=known,
    )


NAT_REMEDY = Remedy(
    file="/etc/modules-load.d/iptable_nat.conf",
    content="iptable_nat\niptable_filter\n",
    load_now="modprobe -a iptable_nat iptable_filter",
    verify="lsmod | grep iptable",
    text="node report remedy",
)


def node(
    nat: bool = True,
    filt: bool = True,
    source: str = "host-root",
    known: bool = True,
    findings: bool = True,
    available: bool = True,
    selinux: bool = True,
) -> NodeReport:
    """The field report's node (CentOS 8): by default SELinux is enforcing, so a module that is
    not loaded is denied to a container; ``selinux=False`` for a node where it loads on first
    use."""
    report_findings = []
    if findings and not nat:
        report_findings.append(
            Finding(
                code="etc-modules-not-read",
                severity=Severity.ERROR,
                module="iptable_nat",
                message="iptable_nat will not load at boot",
                remedy=NAT_REMEDY,
            )
        )
    return NodeReport(
        root="/host",
        kernel="4.18.0-348.7.1.el8_5.x86_64",
        modules={
            "iptable_nat": module("iptable_nat", nat, nat, known, available or nat),
            "iptable_filter": module("iptable_filter", filt, filt, known),
        },
        findings=report_findings,
        kernels=[KernelModules(release="4.18.0-348.7.1.el8_5.x86_64", running=True)],
        evidence_source=source,
        module_requests=ModuleRequests(
            selinux, selinux, "SELinux is enforcing (CentOS Linux 8, /etc/selinux/config)"
        )
        if source == "host-root"
        else ModuleRequests(None, None, "only /proc"),
    )
