"""The diagnosis object (the JSON contract of ``diagnose --json`` and the input of ``report``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from preflight.exitcodes import ExitCode
from preflight.node.model import NodeReport, Remedy
from preflight.probe.model import ProbeResult

HEALTHY_CAUSE = "healthy"  # the cause code when the daemon answered: nothing to diagnose


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
    fatal: bool = True
    backend: str = ""


@dataclass(frozen=True)
class ServiceEvidence:
    """The dind service container as Kubernetes sees it."""

    container: str
    image: str | None = None
    state: str = "unknown"  # running | waiting | terminated | unknown | absent (no dind service)
    exit_code: int | None = None  # of the current termination, or of the last one while waiting
    reason: str | None = None  # e.g. Error, OOMKilled, CrashLoopBackOff, ImagePullBackOff
    restart_count: int = 0
    log_tail: list[str] = field(default_factory=list)
    matches: list[SignatureMatch] = field(default_factory=list)
    message: str | None = None  # Kubernetes' own message for the state, when it gives one
    finished_at: str | None = None  # RFC 3339 time the container terminated, when it did
    last_reason: str | None = None  # while waiting: why the previous instance ended (OOMKilled)
    # From the pod spec (Kubernetes' record, not the job's words): None when not seen.
    privileged: bool | None = None
    # DOCKER_IPTABLES_LEGACY in the service container's spec: None when not set there.
    iptables_legacy_env: str | None = None

    @property
    def dead(self) -> bool:
        """The daemon is not running and will not come back by itself (terminated or crash-looping)."""
        return self.state == "terminated" or (
            self.state == "waiting" and self.exit_code is not None
        )


@dataclass(frozen=True)
class BackendEvidence:
    """Which iptables backend the dind service used, and the evidence that says so."""

    backend: str = "unknown"  # legacy | nf_tables | unknown
    source: str = "none"  # entrypoint-line | iptables-message | service-env | legacy-tables
    # | image-version | none
    detail: str = ""  # what was seen (one sentence)


@dataclass(frozen=True)
class QuarantineDecision:
    """Whether the cause may take the runner or node out of rotation, and on which evidence.

    Only evidence the job cannot forge counts: the node's own report (a helper pod whose image
    the admin chose, or the node's root mounted by the runner's configuration) and Kubernetes'
    own status of the service. Log lines, the job's variables and its own ``/proc`` never do.
    """

    allowed: bool = False
    reason: str = "no evidence was weighed"  # one sentence: why allowed or not
    trusted: list[str] = field(default_factory=list)  # the evidence that backs the cause
    untrusted: list[str] = field(default_factory=list)  # evidence seen but not counted, and why


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
    other_causes: list[Cause] = field(default_factory=list)  # further problems seen, not the first
    helper_pod: str | None = None  # name of the helper pod that produced ``node_report``, if any
    backend: BackendEvidence = field(default_factory=BackendEvidence)
    quarantine: QuarantineDecision = field(default_factory=QuarantineDecision)
    # Node facts that could explain a failure whose cause was not established (rule e).
    possible_causes: list[Cause] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # e.g. a warning line that did not decide
    # How far the node report is trusted: "node-side" (helper pod with an admin-chosen image,
    # or the node's root) or "job-side" (the job's own image or /proc), with why.
    node_trust: str = ""

    @property
    def exit_code(self) -> ExitCode:
        """The documented exit code for this diagnosis (0, 69, 75 or 78)."""
        if self.cause.code == HEALTHY_CAUSE:
            return ExitCode.OK
        if self.fault in (FaultClass.NODE, FaultClass.RUNNER):
            return ExitCode.TEMPFAIL
        if self.fault is FaultClass.JOB:
            return ExitCode.CONFIG
        return ExitCode.UNAVAILABLE
