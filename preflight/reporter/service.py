"""The reporter's loop: lead, read both sides, plan, apply; wake early on a job report.

One :meth:`Reporter.cycle` is one convergence: it runs only while this replica holds the lease,
opens one GitLab client (one time budget) and ends by its deadline. State is never kept between
cycles beyond what GitLab and the cluster hold, so a restart or a new leader picks up where the
last one stopped: one issue, one pause, one resume.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

from preflight.gitlab.client import GitLabActionError, GitLabClient, GitLabSettings, RetryPolicy
from preflight.kube.client import KubeContext, KubeError
from preflight.reporter.apply import Applied, Applier
from preflight.reporter.cluster import ClusterSource, node_of_job, read_cluster
from preflight.reporter.converge import plan
from preflight.reporter.gitlab_view import read_gitlab
from preflight.reporter.job_report import (
    Context,
    JobReport,
    RateLimit,
    ReportRejected,
    forged_fields,
    verify_job,
)
from preflight.reporter.lease import LeaseKeeper
from preflight.reporter.metrics import Metrics
from preflight.reporter.model import ClusterView, GitLabView, Plan, ReporterPolicy, RunnerPauseState

log = logging.getLogger("dind-preflight.reporter")


@dataclass(frozen=True)
class CycleResult:
    led: bool
    plan: Plan = field(default_factory=Plan)
    applied: Applied | None = None
    errors: tuple[str, ...] = ()
    gitlab_requests: int = 0
    cluster: ClusterView = field(default_factory=ClusterView)
    gitlab: GitLabView = field(default_factory=GitLabView)


@dataclass
class Reporter:
    gitlab: GitLabSettings
    policy: ReporterPolicy
    source: ClusterSource
    kube: KubeContext
    lease: LeaseKeeper
    reporter_id: str
    interval_s: float = 15.0
    settle_s: float = 0.5
    metrics: Metrics = field(default_factory=Metrics)
    now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)
    wake: threading.Event = field(default_factory=threading.Event)
    limits: RateLimit = field(default_factory=RateLimit)
    contexts: deque[Context] = field(default_factory=lambda: deque(maxlen=200))
    retry_policy: RetryPolicy | None = None
    last_cycle_at: float | None = None

    def cycle(self) -> CycleResult:
        """One convergence, if this replica leads."""
        from preflight.gitlab.client import open_client

        now = self.now()
        led = self.lease.try_lead(now)
        self.metrics.leader.set(1 if led else 0)
        self.last_cycle_at = time.monotonic()
        if not led:
            return CycleResult(False, errors=(self.lease.problem,) if self.lease.problem else ())
        errors: list[str] = []
        cluster = read_cluster(self.kube, self.source, errors)
        if not cluster.complete:
            self.metrics.api_errors.labels("kubernetes").inc()
        try:
            client = open_client(self.gitlab, policy=self.retry_policy)
        except GitLabActionError as exc:
            self.metrics.api_errors.labels("gitlab").inc()
            return CycleResult(True, errors=(*errors, str(exc)), cluster=cluster)
        gitlab_errors: list[str] = []
        view = read_gitlab(client, self.policy.runners, gitlab_errors)
        errors.extend(gitlab_errors)
        if gitlab_errors:
            self.metrics.api_errors.labels("gitlab").inc(len(gitlab_errors))
        decided = plan(cluster, view, self.policy, now)
        applier = Applier(client, self.kube, self.reporter_id, now)
        applied = applier.apply(decided.actions)
        self._attach_contexts(client, view, applied)
        for kind, count in applied.done.items():
            self.metrics.actions.labels(kind, "done").inc(count)
        for kind, count in applied.failed.items():
            self.metrics.actions.labels(kind, "failed").inc(count)
            self.metrics.api_errors.labels("gitlab").inc(count)
        self._gauges(cluster, view, decided)
        self.metrics.cycles.inc()
        self.metrics.last_cycle.set(time.time())
        for reason in decided.reasons:
            log.info("%s", reason)
        result = CycleResult(
            True,
            decided,
            applied,
            tuple(errors + applied.errors),
            client.requests_made,
            cluster,
            view,
        )
        return result

    def _gauges(self, cluster: ClusterView, view: GitLabView, decided: Plan) -> None:
        from preflight.reporter.model import CloseIssue, OpenIssue, PauseRunner, ResumeRunner

        opened = sum(isinstance(a, OpenIssue) for a in decided.actions)
        closed = sum(isinstance(a, CloseIssue) for a in decided.actions)
        self.metrics.open_incidents.set(len(view.incidents) + opened - closed)
        self.metrics.broken_nodes.set(sum(node.broken for node in cluster.nodes))
        ours = sum(r.pause is RunnerPauseState.PAUSED_BY_US for r in view.runners)
        ours += sum(isinstance(a, PauseRunner) for a in decided.actions)
        ours -= sum(isinstance(a, ResumeRunner) for a in decided.actions)
        others = sum(r.pause is RunnerPauseState.PAUSED_BY_OTHERS for r in view.runners)
        self.metrics.runners_paused.labels("reporter").set(ours)
        self.metrics.runners_paused.labels("others").set(others)

    def _attach_contexts(self, client: GitLabClient, view: GitLabView, applied: Applied) -> None:
        """Job reports' unverified words, as a note on their node's open issue (one per report)."""
        from preflight.gitlab.incident_issue import add_note

        while self.contexts:
            context = self.contexts.popleft()
            issue = next((i for i in view.incidents if i.node == context.node), None)
            if issue is None:
                continue
            try:
                add_note(client, client.report_project(), issue.iid, context.note())
                applied.done["JobContext"] += 1
            except GitLabActionError as exc:
                applied.failed["JobContext"] += 1
                applied.errors.append(f"JobContext: {exc}")

    def run(self, stop: threading.Event, *, watch_nodes: bool = True) -> None:
        """Cycle every ``interval_s``, and ``settle_s`` after a node change or a job report,
        until ``stop`` is set."""
        if watch_nodes:
            from preflight.reporter.watch import NodeWatcher

            NodeWatcher(self.kube, self.wake, stop).start()
        while not stop.is_set():
            try:
                result = self.cycle()
                for error in result.errors:
                    log.warning("%s", error)
            except Exception:  # one bad cycle must not end the reporter
                log.exception("cycle failed")
            if self.wake.wait(self.interval_s) and not stop.is_set():
                stop.wait(self.settle_s)  # a burst of node changes becomes one cycle
            self.wake.clear()
        self.lease.release()

    # -- job reports ------------------------------------------------------------------------

    def receive(self, job_token: str | None, report: JobReport) -> tuple[int, str]:
        """Verify a job report and queue it as context; the answer's status and one line."""
        if not job_token:
            self.metrics.job_reports.labels("no-token").inc()
            raise ReportRejected(401, "no JOB-TOKEN header")
        if not self.limits.admit():
            self.metrics.job_reports.labels("rate-limited").inc()
            raise ReportRejected(429, "too many job reports; the reporter rechecks on its own")
        try:
            job = verify_job(self.gitlab, job_token, policy=self.retry_policy)
        except GitLabActionError as exc:
            self.metrics.job_reports.labels("unverified").inc()
            log.warning("job report rejected: GET /job failed: %s", exc)
            raise ReportRejected(403, "the job token was not accepted by GitLab") from None
        forged = forged_fields(report, job, self.gitlab)
        if forged:
            self.metrics.job_reports.labels("forged-fields").inc()
            log.warning("job %s report claims %s: ignored", job.job_id, "; ".join(forged))
        managed = {target.runner_id for target in self.policy.runners}
        if managed and job.runner_id not in managed:
            self.metrics.job_reports.labels("other-runner").inc()
            return (
                202,
                f"job {job.job_id} runs on runner {job.runner_id}, not one this reporter manages",
            )
        if not self.limits.first_time(str(job.job_id)):
            self.metrics.job_reports.labels("duplicate").inc()
            return 200, f"job {job.job_id} reported already"
        try:
            node = node_of_job(self.kube, self.source.job_namespace, job.job_id)
        except KubeError as exc:
            node = None
            log.warning("job %s: its node is not known: %s", job.job_id, exc.limitation)
        if node is None:
            self.metrics.job_reports.labels("no-node").inc()
            return 202, f"job {job.job_id}: its pod was not found; the reporter rechecks on its own"
        if report.claimed_node and report.claimed_node != node:
            log.warning(
                "job %s claims node %s, Kubernetes says %s: ignored",
                job.job_id,
                report.claimed_node,
                node,
            )
        self.contexts.append(Context(node, job, report))
        self.metrics.job_reports.labels("accepted").inc()
        self.wake.set()
        return 202, f"job {job.job_id} on node {node}: recheck scheduled"
