"""The run flow driven through its Adapters protocol with test adapters, one failing edge each.

The decisions between the steps (act only on node/runner faults, a failing action or report never
hides the diagnosis or changes the exit code) are tested here without a daemon, a cluster or a
GitLab; the real adapters are tested end to end in test_run_cli.py and test_run_kubernetes.py.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from preflight.actions.action import Action
from preflight.diagnosis.decide import decide
from preflight.diagnosis.local import service_from_log_file
from preflight.diagnosis.model import Diagnosis, QuarantineDecision
from preflight.errors import PreflightError, UsageError
from preflight.exitcodes import ExitCode
from preflight.gitlab.client import settings_from_env as gitlab_settings
from preflight.gitlab.reporter import report_diagnosis
from preflight.kube.diagnose import diagnose_in_cluster
from preflight.kube.settings import KubeSettings
from preflight.probe.model import ProbeResult, Verdict
from preflight.run.flow import RunOutcome, execute
from preflight.run.render import summary_line, write_details
from preflight.run.settings import RunSettings
from tests.diagnosis.evidence import NAT_LINE, node, service
from tests.kube.failing_daemons import saved_log

if TYPE_CHECKING:
    from preflight.run.flow import Adapters  # a protocol for the type checker only

REPO = Path(__file__).resolve().parents[2]
FIELD_ROOT = REPO / "demo" / "roots" / "centos8-field-report"
REFUSED = ProbeResult(
    Verdict.REFUSED,
    "tcp://docker:2375",
    0.2,
    "connection refused at tcp://docker:2375: nothing listens (daemon not running or crashed)",
    timeout_s=30.0,
)
HEALTHY = ProbeResult(Verdict.HEALTHY, "tcp://docker:2376", 0.01, "ok", server_version="27.3.1")


def nat_diagnosis(probe: ProbeResult = REFUSED) -> Diagnosis:
    return decide(probe, service(log=NAT_LINE), node(nat=False))


@dataclass
class RecordingAdapters:
    """Adapters that answer from fixed evidence, record every call, and fail where told."""

    probe_result: ProbeResult = REFUSED
    diagnosis: Diagnosis | None = None
    fail: set[str] = field(default_factory=set)  # taint | report | artifacts | diagnose
    calls: list[tuple[str, Any]] = field(default_factory=list)

    def probe(self, timeout_s: float) -> ProbeResult:
        self.calls.append(("probe", timeout_s))
        return self.probe_result

    def diagnose(self, probe: ProbeResult) -> Diagnosis:
        self.calls.append(("diagnose", probe.verdict.value))
        if "diagnose" in self.fail:
            raise UsageError("cannot reach the Kubernetes API: 401")
        return self.diagnosis or nat_diagnosis(probe)

    def taint_node(self, diagnosis: Diagnosis) -> str:
        self.calls.append(("taint", diagnosis.node))
        if "taint" in self.fail:
            raise PreflightError("nodes/patch forbidden")
        return f"tainted node {diagnosis.node}"

    def report(self, diagnosis: Diagnosis, *, pause_runner: bool) -> Any:
        self.calls.append(("report", pause_runner))
        if "report" in self.fail:
            raise PreflightError("GitLab did not answer")
        return report_diagnosis(diagnosis, gitlab_settings({}), pause_runner=pause_runner)

    def write_artifacts(
        self, probe: ProbeResult, diagnosis: Diagnosis | None, report: Any
    ) -> list[str]:
        self.calls.append(("artifacts", diagnosis is not None))
        if "artifacts" in self.fail:
            raise OSError(28, "No space left on device")
        return ["junit.xml", "annotations.json"]

    def announce(self, outcome: RunOutcome) -> None:
        self.calls.append(("announce", outcome.pending))

    def steps(self) -> list[str]:
        return [name for name, _ in self.calls]


def settings(action: Action = Action.PAUSE_RUNNER, *, kubernetes_api: bool = False) -> RunSettings:
    return RunSettings(
        timeout_s=30.0,
        action=action,
        artifacts_dir=Path(".dind-preflight"),
        kubernetes_api=kubernetes_api,
    )


def test_the_test_adapters_satisfy_the_protocol() -> None:
    adapters: Adapters = RecordingAdapters()  # mypy checks the protocol here
    assert execute(settings(), adapters).exit_code is ExitCode.TEMPFAIL


def test_healthy_probe_writes_the_probe_report_and_does_nothing_else() -> None:
    adapters = RecordingAdapters(probe_result=HEALTHY)
    outcome = execute(settings(), adapters)
    assert outcome.exit_code is ExitCode.OK and outcome.diagnosis is None
    assert adapters.calls == [("probe", 30.0), ("artifacts", False)]


def test_node_fault_pauses_through_the_report_and_exits_75() -> None:
    adapters = RecordingAdapters()
    outcome = execute(settings(), adapters)
    assert outcome.exit_code is ExitCode.TEMPFAIL
    # What was found is written and announced before GitLab is told, and written again after.
    assert adapters.calls == [
        ("probe", 30.0),
        ("diagnose", "refused"),
        ("artifacts", True),
        ("announce", ("pause the runner",)),
        ("report", True),
        ("artifacts", True),
    ]
    assert outcome.errors == [] and outcome.report.dry_run


def test_taint_node_taints_and_reports_without_pausing() -> None:
    diagnosis = nat_diagnosis()
    adapters = RecordingAdapters(diagnosis=Diagnosis(**{**diagnosis.__dict__, "node": "worker-3"}))
    outcome = execute(settings(Action.TAINT_NODE), adapters)
    assert adapters.steps() == [
        "probe",
        "diagnose",
        "artifacts",
        "announce",
        "taint",
        "report",
        "artifacts",
    ]
    assert ("report", False) in adapters.calls
    assert outcome.actions_done == ["tainted node worker-3"]


@pytest.mark.parametrize(
    ("kubernetes_api", "steps", "paused"),
    [
        (
            True,
            ["probe", "diagnose", "artifacts", "announce", "taint", "report", "artifacts"],
            False,
        ),
        # No Kubernetes API: no taint is tried (nor logged as not applied); the pause at once.
        (False, ["probe", "diagnose", "artifacts", "announce", "report", "artifacts"], True),
    ],
)
def test_auto_taints_only_where_there_is_a_kubernetes_api(
    kubernetes_api: bool, steps: list[str], paused: bool
) -> None:
    diagnosis = nat_diagnosis()
    assert diagnosis.quarantine.allowed
    adapters = RecordingAdapters(diagnosis=Diagnosis(**{**diagnosis.__dict__, "node": "worker-3"}))
    outcome = execute(settings(Action.AUTO, kubernetes_api=kubernetes_api), adapters)
    assert adapters.steps() == steps
    assert ("report", paused) in adapters.calls
    assert outcome.exit_code is ExitCode.TEMPFAIL
    assert outcome.plan is not None and "(auto)" in outcome.plan.reason


def test_auto_without_quarantine_evidence_neither_taints_nor_pauses() -> None:
    diagnosis = nat_diagnosis()
    unbacked = QuarantineDecision(False, "only a log line supports the cause", [], ["log line"])
    adapters = RecordingAdapters(
        diagnosis=Diagnosis(**{**diagnosis.__dict__, "node": "worker-3", "quarantine": unbacked})
    )
    outcome = execute(settings(Action.AUTO, kubernetes_api=False), adapters)
    assert adapters.steps() == ["probe", "diagnose", "artifacts", "announce", "report", "artifacts"]
    assert ("report", False) in adapters.calls
    assert outcome.exit_code is ExitCode.TEMPFAIL


@pytest.mark.parametrize(
    ("failing", "error"),
    [
        ("taint", "taint-node: nodes/patch forbidden"),
        ("report", "report: GitLab did not answer"),
        ("artifacts", "artifacts: [Errno 28] No space left on device"),
    ],
)
def test_a_failing_step_is_an_error_line_and_the_exit_code_stands(failing: str, error: str) -> None:
    diagnosis = nat_diagnosis()
    adapters = RecordingAdapters(
        diagnosis=Diagnosis(**{**diagnosis.__dict__, "node": "worker-3"}), fail={failing}
    )
    outcome = execute(settings(Action.TAINT_NODE), adapters)
    assert outcome.exit_code is ExitCode.TEMPFAIL
    assert outcome.errors == [error]
    assert adapters.steps()[-1] == "artifacts"  # the job's reports are attempted whatever failed
    out = io.StringIO()
    write_details(outcome, out)
    assert f"dind-preflight: error: {error}" in out.getvalue()


def test_a_diagnosis_that_cannot_be_made_is_the_run_s_one_line_error() -> None:
    adapters = RecordingAdapters(fail={"diagnose"})
    with pytest.raises(UsageError, match="cannot reach the Kubernetes API"):
        execute(settings(), adapters)
    assert adapters.steps() == ["probe", "diagnose"]


@pytest.mark.parametrize(
    ("probe", "code"),
    [
        (ProbeResult(Verdict.TLS_MISMATCH, "tcp://docker:2375", 0.1, "TLS port"), ExitCode.CONFIG),
        (
            ProbeResult(Verdict.TIMEOUT, "tcp://docker:2375", 30.0, "no answer"),
            ExitCode.UNAVAILABLE,
        ),
    ],
)
def test_job_faults_and_unknown_causes_never_pause(probe: ProbeResult, code: ExitCode) -> None:
    adapters = RecordingAdapters(probe_result=probe, diagnosis=decide(probe, None, None))
    outcome = execute(settings(Action.TAINT_NODE), adapters)
    assert outcome.exit_code is code
    assert ("report", False) in adapters.calls and "taint" not in adapters.steps()


def test_the_field_report_run_log_fits_in_60_lines(tmp_path: Path) -> None:
    """The field report (real dockerd log, the CentOS 8 root) as a terminal shows it."""
    log = tmp_path / "dockerd.log"
    log.write_text(saved_log("legacy-nat-missing"))
    diagnosis = diagnose_in_cluster(
        REFUSED,
        KubeSettings(host_root=str(FIELD_ROOT)),
        service_hint=service_from_log_file(str(log)),
    )
    outcome: RunOutcome = execute(settings(), RecordingAdapters(diagnosis=diagnosis))
    out = io.StringIO()
    print(summary_line(outcome), file=out)
    write_details(outcome, out, dry_run_file=".dind-preflight/gitlab-dry-run.txt")
    lines = out.getvalue().splitlines()
    print(f"[measure] field-report run log: {len(lines)} lines")
    assert len(lines) <= 60, "\n".join(lines)
    assert lines[0].startswith("dind-preflight: FAILED: dind at tcp://docker:2375 is refused; ")
    assert "iptable_nat-missing" in lines[0] and lines[0].endswith("(exit 75)")
    headings = [line for line in lines[1:] if not line.startswith((" ", "dind-preflight: "))]
    assert headings == [
        "What was seen:",
        "Why:",
        "The fix, on node runner-node-3.example.internal:",
    ]
    text = "\n".join(lines)
    assert text.count("modprobe -a iptable_nat iptable_filter") == 1  # the fix, once
    assert "Table does not exist (do you need to insmod?)" in text
    assert "level=info" not in text  # the matched lines and their context, not the log's noise
