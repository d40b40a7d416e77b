"""The reporter's views and planned actions (plain, frozen data; JSON-able).

A :class:`ClusterView` is what Kubernetes says about the nodes; a :class:`GitLabView` is what GitLab
says about open incidents and runners. :func:`preflight.reporter.converge.plan` turns both into a
tuple of actions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum


class Readiness(str, Enum):
    """A NodeCondition's status; ``ABSENT`` when the node does not carry the condition."""

    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"
    ABSENT = "absent"


@dataclass(frozen=True)
class Condition:
    """One of the node agent's conditions, reduced to what the reporter reads."""

    status: Readiness = Readiness.ABSENT
    cause: str = ""  # the cause code (from the condition's reason); "" when ready or unknown
    message: str = ""  # one line
    since: datetime | None = None  # lastTransitionTime
    heartbeat: datetime | None = None  # lastHeartbeatTime


@dataclass(frozen=True)
class NodeState:
    """A node as the reporter sees it."""

    name: str
    ready: Condition = Condition()  # DindReady
    after_reboot: Condition = Condition()  # DindReadyAfterReboot
    unschedulable: bool = False  # cordoned
    blocking_taints: tuple[
        str, ...
    ] = ()  # NoSchedule/NoExecute taints the job pods do not tolerate
    our_taint: str | None = None  # the cause in dind-preflight.io/broken, when the node has it
    matches_jobs: bool = True  # the runner's job pods could be scheduled here (labels)

    @property
    def broken(self) -> bool:
        """The node's own report says dind cannot work there now."""
        return self.ready.status is Readiness.FALSE

    @property
    def takes_jobs(self) -> bool:
        """New job pods can land here and dind works (or nobody says it does not)."""
        return (
            self.matches_jobs
            and not self.unschedulable
            and not self.blocking_taints
            and self.our_taint is None
            and not self.broken
        )


@dataclass(frozen=True)
class ClusterView:
    nodes: tuple[NodeState, ...] = ()
    complete: bool = True  # False when the node list could not be read in full


@dataclass(frozen=True)
class OpenIncident:
    """An open incident issue in the report project (ours or a job's: same labels and key)."""

    iid: int
    key: str
    node: str
    cause: str
    web_url: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None
    user_notes_count: int = 0
    fault: str = "node"  # the issue's fault label: only node faults are closed by node health


class RunnerPauseState(str, Enum):
    ACTIVE = "active"
    PAUSED_BY_US = "paused-by-us"  # the fleet reporter's block in the note, and it paused it
    PAUSED_BY_OTHERS = "paused-by-others"  # a human, or a job-mode pause: never resumed here


@dataclass(frozen=True)
class RunnerView:
    runner_id: int
    pause: RunnerPauseState
    maintenance_note: str | None = None
    readable: bool = True  # False: GET /runners/:id failed this cycle (nothing is decided)


@dataclass(frozen=True)
class GitLabView:
    incidents: tuple[OpenIncident, ...] = ()
    runners: tuple[RunnerView, ...] = ()
    complete: bool = True  # False when the open issues could not be listed


class Policy(str, Enum):
    AUTO = "auto"  # taint is the quarantine; pause only when jobs cannot route around
    REPORT_ONLY = "report-only"  # issues only, never pause


class Executor(str, Enum):
    KUBERNETES = "kubernetes"
    SHELL = "shell"
    DOCKER = "docker"


@dataclass(frozen=True)
class RunnerTarget:
    """A runner the reporter manages; ``node`` only for shell/docker executors (the host)."""

    runner_id: int
    node: str | None = None


@dataclass(frozen=True)
class ReporterPolicy:
    policy: Policy = Policy.AUTO
    executor: Executor = Executor.KUBERNETES
    runners: tuple[RunnerTarget, ...] = ()
    min_healthy_nodes: int = 2
    max_broken_share: float = 0.5
    heal_after_s: float = 300.0  # ready this long before the issue is closed (no flapping)
    note_interval_s: float = 900.0
    max_notes: int = 20
    taint_nodes: bool = False  # the agent taints by default; the reporter only when asked


# --- actions -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenIssue:
    node: str
    cause: str
    now: bool  # DindReady is False (else: only after the next reboot)
    message: str
    since: datetime | None = None
    after_reboot_message: str = ""


@dataclass(frozen=True)
class NoteRecurrence:
    iid: int
    node: str
    cause: str
    message: str
    since: datetime | None = None


@dataclass(frozen=True)
class CloseIssue:
    iid: int
    node: str
    cause: str
    evidence: str  # the healthy report, one line
    ready_since: datetime | None = None


@dataclass(frozen=True)
class PauseRunner:
    runner_id: int
    reason: str
    broken_nodes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ResumeRunner:
    runner_id: int
    reason: str


@dataclass(frozen=True)
class TaintNode:
    node: str
    cause: str


@dataclass(frozen=True)
class UntaintNode:
    node: str


PlannedAction = (
    OpenIssue | NoteRecurrence | CloseIssue | PauseRunner | ResumeRunner | TaintNode | UntaintNode
)


@dataclass(frozen=True)
class Plan:
    actions: tuple[PlannedAction, ...] = ()
    reasons: tuple[str, ...] = field(default_factory=tuple)  # why runners are (not) paused
