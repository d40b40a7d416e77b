"""The diagnosis object (the JSON contract of ``diagnose --json`` and the input of ``report``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from preflight.node.model import NodeReport, Remedy
from preflight.probe.model import ProbeResult


class FaultClass(str, Enum):
    """Whose fault: decides whether the runner is taken out of rotation."""

    NODE = "node"  # the host is broken (module missing): pause runner / taint node, retry elsewhere
    RUNNER = "runner"  # the runner's configuration (e.g. dind not privileged): same
    JOB = "job"  # the job's own configuration (e.g. TLS/port mismatch): fix the job
    UNKNOWN = "unknown"  # not established: no action


class Confidence(str, Enum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


@dataclass(frozen=True)
class Cause:
    """What is wrong, as a stable code (e.g. ``iptable_nat-missing``) and human text."""

    code: str
    summary: str
    module: str | None = None


@dataclass(frozen=True)
class SignatureMatch:
    """A log line that matched a known dind failure signature."""

    signature: str  # catalog id
    cause: str  # cause code it implies
    line: str


@dataclass(frozen=True)
class ServiceEvidence:
    """The dind service container as Kubernetes sees it."""

    container: str
    image: str | None = None
    state: str = "unknown"  # running | waiting | terminated | unknown
    exit_code: int | None = None
    reason: str | None = None
    restart_count: int = 0
    log_tail: list[str] = field(default_factory=list)
    matches: list[SignatureMatch] = field(default_factory=list)


@dataclass(frozen=True)
class Diagnosis:
    """One diagnosis: the cause, whose fault, how sure, and the evidence behind it."""

    cause: Cause
    fault: FaultClass
    confidence: Confidence
    node: str | None = None
    pod: str | None = None
    namespace: str | None = None
    probe: ProbeResult | None = None
    service: ServiceEvidence | None = None
    node_report: NodeReport | None = None
    remedy: Remedy | None = None
    evidence_source: str = "none"  # helper-pod | host-root | job-proc | none
    limitations: list[str] = field(
        default_factory=list
    )  # what could not be seen, and what to grant
    elapsed_s: float = 0.0
