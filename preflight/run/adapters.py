"""The real edges of ``run``: the probe, the diagnosis (Kubernetes or local), GitLab, taints,
artifacts. Heavy libraries are imported only on the unhealthy path."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

from preflight.progress import Progress, waiting_line
from preflight.run.settings import RunSettings

TYPE_CHECKING = False  # typing's constant without importing typing: the healthy path
if TYPE_CHECKING:
    from typing import Any

    from preflight.diagnosis.model import Diagnosis, ServiceEvidence
    from preflight.gitlab.client import GitLabSettings
    from preflight.kube.client import KubeContext
    from preflight.kube.service import ServiceDeathWatch
    from preflight.kube.settings import KubeSettings
    from preflight.probe.model import ProbeResult
    from preflight.run.flow import RunOutcome, RunState

ANNOTATIONS_FILE = "annotations.json"
ENDING_MARGIN_S = 3.0  # of the run's deadline, kept for printing, artifacts and cleanup
JUNIT_FILE = "junit.xml"
DRY_RUN_FILE = "gitlab-dry-run.txt"  # the requests a report without a token would have sent


class JobAdapters:
    """The adapters for a job: environment-driven, one instance per run."""

    def __init__(
        self, settings: RunSettings, env: Mapping[str, str], state: RunState | None = None
    ) -> None:
        self.settings = settings
        self.env = env
        self.state = state  # the run's stage and latest outcome (read when it is stopped)
        self.service_log = env.get("DIND_PREFLIGHT_SERVICE_LOG", "").strip() or None
        self._watch: ServiceDeathWatch | None = None
        self._service_hint: ServiceEvidence | None = None
        self._kube: KubeSettings | None = settings.kube
        self._gitlab: GitLabSettings | None = settings.gitlab
        self.progress = Progress()

    # -- probe ---------------------------------------------------------------------------------

    def probe(self, timeout_s: float) -> ProbeResult:
        """Wait for the daemon; stop early when its death is already known."""
        from preflight.probe.api import endpoint_from_environment, probe

        endpoint = endpoint_from_environment(env=self.env)
        check = self._give_up_check()
        waiting = waiting_line(endpoint.docker_host, timeout_s)

        def give_up() -> str | None:
            self.progress.phase(waiting)
            return check() if check is not None else None

        return probe(endpoint, timeout_s, daemon_log=self.service_log, give_up=give_up)

    def _give_up_check(self) -> Callable[[], str | None] | None:
        if self.settings.in_cluster:
            return self._service_died_in_cluster
        if self.service_log:
            return self._service_died_in_log
        return None

    def _service_died_in_cluster(self) -> str | None:
        from preflight.kube.service import ServiceDeathWatch

        if self._watch is None:
            self._watch = ServiceDeathWatch(self.kube_settings)
        evidence = self._watch.poll()
        if evidence is None:
            return None
        self._service_hint = evidence
        how = evidence.reason or evidence.state
        return f"Kubernetes reports the dind service container {evidence.container} {how}"

    def _service_died_in_log(self) -> str | None:
        from preflight.diagnosis.local import log_shows_death

        assert self.service_log is not None
        if log_shows_death(self.service_log):
            return f"the dind service log {self.service_log} shows a fatal start-up error"
        return None

    # -- diagnosis -----------------------------------------------------------------------------

    @property
    def kube_settings(self) -> KubeSettings:
        if self._kube is None:
            from preflight.kube.settings import settings_from

            self._kube = settings_from(
                self.env, host_root=self.settings.node_root, anchors=self.settings.anchors
            )
        return self._kube

    def _left_s(self) -> float | None:
        """Seconds of the run's deadline left, minus a margin to print and clean up."""
        from preflight.time_limit import earliest_remaining

        left = earliest_remaining()
        return None if left is None else max(0.5, left - ENDING_MARGIN_S)

    @property
    def _kube_context(self) -> KubeContext | None:
        """The API connection the death watch made while the probe waited, for reuse."""
        return self._watch.context if self._watch is not None else None

    def diagnose(self, probe: ProbeResult) -> Diagnosis:
        """The one diagnosis of ``run`` and ``diagnose``: Kubernetes, a host root, or /proc."""
        self.progress.phase(f"dind is {probe.verdict.value}: diagnosing...")
        self._say_overruled()
        from preflight.kube.diagnose import diagnose_in_cluster

        service = self._service_hint
        limits: tuple[str, ...] = ()
        if service is None and self.service_log:
            from preflight.diagnosis.local import service_from_log_file
            from preflight.errors import InputError

            try:
                service = service_from_log_file(self.service_log, self.kube_settings.log_tail_lines)
            except InputError as exc:
                limits = (str(exc),)
        kube = self.kube_settings
        left = self._left_s()
        if left is not None and left < kube.timeout:
            from dataclasses import replace

            kube = replace(kube, timeout=left)  # the diagnosis ends before the run's deadline
        return diagnose_in_cluster(
            probe,
            kube,
            service_hint=service,
            context=self._kube_context,
            limitations=limits,
        )

    # -- actions and report --------------------------------------------------------------------

    def _say_overruled(self) -> None:
        """One line for each variable the admin's file overrules, and for a missing file."""
        import sys

        from preflight.redaction import redact

        lines = list(self.settings.notes)
        if self.settings.anchors.admin is None:
            lines[:0] = self.settings.anchors.blockers[:1]
        for line in lines:
            print(redact(f"dind-preflight: {line}"), file=sys.stderr, flush=True)

    @property
    def gitlab_settings(self) -> GitLabSettings:
        if self._gitlab is None:
            self._gitlab = job_gitlab_settings(self.env, self.settings)
        return self._gitlab

    def taint_node(self, diagnosis: Diagnosis) -> str:
        from preflight.kube.taint_node import taint_diagnosed_node

        self.progress.phase(f"tainting node {diagnosis.node}...")

        return taint_diagnosed_node(diagnosis, self.kube_settings, context=self._kube_context)

    def report(self, diagnosis: Diagnosis, *, pause_runner: bool) -> Any:
        if self.settings.reporter_url:
            return self._report_to_fleet_reporter(diagnosis)
        from dataclasses import replace

        from preflight.gitlab.reporter import report_diagnosis

        gitlab = self.gitlab_settings
        if not gitlab.dry_run:
            self.progress.phase(f"reporting to GitLab at {gitlab.server_url}...")
        left = self._left_s()
        if left is not None and left < gitlab.budget_s:
            gitlab = replace(gitlab, budget_s=left)  # the report ends before the run's deadline
        return report_diagnosis(diagnosis, gitlab, pause_runner=pause_runner)

    def announce(self, outcome: RunOutcome) -> None:
        """Print the summary and the evidence (text mode) before anything is acted on."""
        if self.settings.json_output:
            return  # one JSON document at the end
        import sys
        from dataclasses import replace

        from preflight.ci_log import in_gitlab_job
        from preflight.redaction import redact
        from preflight.run.render import summary_line, write_details

        try:
            print(redact(summary_line(outcome)), file=sys.stdout)
            # What was done comes once, after acting (the summary says what comes next).
            write_details(
                replace(outcome, plan=None, errors=[]),
                sys.stdout,
                gitlab_job=in_gitlab_job(self.env),
            )
            sys.stdout.flush()
        except BrokenPipeError:
            # The job log reader went away: carry on, the exit code still tells GitLab.
            from preflight.cli import silence_stdout

            silence_stdout()

    def write_artifacts_quietly(self, outcome: RunOutcome) -> list[str]:
        """Write the artifacts of ``outcome``; a failure is only noted (the run is ending)."""
        from preflight.errors import PreflightError

        try:
            return self.write_artifacts(outcome.probe, outcome.diagnosis, outcome.report)
        except (PreflightError, OSError):
            return []

    def _report_to_fleet_reporter(self, diagnosis: Diagnosis) -> None:
        """Fleet mode: the diagnosis goes to the reporter as context, with CI_JOB_TOKEN only."""
        import sys

        from preflight.reporter.submit import report_body, send

        assert self.settings.reporter_url is not None
        body = report_body(diagnosis.probe, diagnosis, int(diagnosis.exit_code))
        line = send(self.settings.reporter_url, self.env.get("CI_JOB_TOKEN"), body)
        print(f"dind-preflight: fleet reporter: {line}", file=sys.stderr)

    def write_artifacts(
        self, probe: ProbeResult, diagnosis: Diagnosis | None, report: Any
    ) -> list[str]:
        """``junit.xml`` always; ``annotations.json`` with links once there is a report."""
        from preflight.artifacts.write import write_text

        directory = self.settings.artifacts_dir
        junit = directory / JUNIT_FILE
        annotations = directory / ANNOTATIONS_FILE
        if diagnosis is None and probe.healthy:
            from preflight.artifacts.healthy import write_healthy_junit

            write_healthy_junit(junit, probe.elapsed_s)
        elif diagnosis is None:
            from preflight.artifacts.junit import write_probe_junit

            write_probe_junit(junit, probe)
        else:
            from preflight.artifacts.junit import write_junit

            write_junit(junit, diagnosis)
        written = [os.fspath(junit), os.fspath(annotations)]
        if report is not None:
            from preflight.artifacts.annotations import write_annotations

            write_annotations(annotations, report, self.gitlab_settings)
            if report.dry_run and report.planned:
                from preflight.gitlab.outcome import render_plan

                plan = directory / DRY_RUN_FILE
                write_text(plan, render_plan(report.planned, self.gitlab_settings) + "\n")
                written.append(os.fspath(plan))
        else:
            write_text(annotations, "{}\n")
        return written


# Variables a job could set to send a token elsewhere or to name another runner or project: job
# mode takes these from the admin's file and from GitLab's own GET /job instead.
_JOB_SET = (
    "DIND_PREFLIGHT_GITLAB_URL",
    "DIND_PREFLIGHT_ALLOW_HTTP",
    "CI_API_V4_URL",
    "CI_SERVER_URL",
    "CI_SERVER_HOST",
    "CI_SERVER_PORT",
    "CI_RUNNER_ID",
    "CI_PROJECT_PATH",
)


def job_gitlab_settings(env: Mapping[str, str], settings: RunSettings) -> GitLabSettings:
    """Job mode's GitLab: the admin's URL, CA and token file; the runner from ``GET /job``.

    Without the admin's file nothing is sent (a dry run that says why). No variable names the
    URL a token goes to, the runner that is paused or the project the job belongs to.
    """
    from dataclasses import replace

    from preflight.gitlab.settings import settings_from_env  # no HTTP library: checked early

    admin = settings.anchors.admin
    if admin is None:
        from preflight.admin.config import ADMIN_CONFIG_PATH

        # Read the tokens only to check them; nothing is sent without the admin's URL.
        kept = {k: v for k, v in env.items() if k not in _JOB_SET}
        dry = settings_from_env(kept, token_file=settings.token_file, dry_run=True)
        why = f"no admin configuration at {ADMIN_CONFIG_PATH}"
        return replace(dry, dry_run_reason=why, runner_id=None, project_path=None)
    kept = {k: v for k, v in env.items() if k not in _JOB_SET}
    gitlab = settings_from_env(
        kept,
        token_file=admin.token_file or settings.token_file,
        gitlab_url=admin.gitlab_url,
    )
    return replace(gitlab, runner_id=None, project_path=None, ca_file=admin.gitlab_ca_file)
