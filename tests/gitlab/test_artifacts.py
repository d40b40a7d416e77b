"""Job artifacts: annotations JSON and JUnit XML, parsed back as GitLab would read them."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import pytest

from preflight.artifacts.annotations import SECTION, build_annotations, write_annotations
from preflight.artifacts.junit import build_junit, write_junit
from preflight.diagnosis.model import ServiceEvidence
from preflight.errors import UsageError
from preflight.gitlab.outcome import IssueAction, ReportOutcome, RunnerAction
from preflight.probe.model import ProbeResult, Verdict
from tests.gitlab.diagnoses import DOCKERD_NAT_LINE, field_report_diagnosis
from tests.gitlab.support import TOKEN, settings

OUTCOME = ReportOutcome(
    key="0123456789ab",
    node="worker-3",
    cause="iptable_nat-missing",
    issue_action=IssueAction.OPENED,
    issue_iid=7,
    issue_url="https://gitlab.example.com/ops/node-health/-/issues/7",
    runner_id=42,
    runner_action=RunnerAction.PAUSED,
    runner_url="https://gitlab.example.com/admin/runners/42",
)


def test_annotations_link_the_issue_and_the_runner(tmp_path: Path) -> None:
    path = write_annotations(tmp_path / "out" / "annotations.json", OUTCOME, settings(None))
    document = json.loads(path.read_text())
    assert list(document) == [SECTION]
    assert document[SECTION] == [
        {
            "external_link": {
                "label": "dind-preflight issue #7 (opened): iptable_nat-missing on node worker-3",
                "url": "https://gitlab.example.com/ops/node-health/-/issues/7",
            }
        },
        {
            "external_link": {
                "label": "Runner 42 (paused by this job)",
                "url": "https://gitlab.example.com/admin/runners/42",
            }
        },
    ]


def test_annotations_without_urls() -> None:
    outcome = replace(OUTCOME, issue_url=None, runner_url=None, runner_id=None)
    assert build_annotations(outcome, replace(settings(None), runner_id=None)) == {}
    fallback = build_annotations(replace(outcome, runner_id=42), settings(None))
    assert fallback[SECTION][0]["external_link"]["url"] == "http://127.0.0.1:9/admin/runners/42"
    hostile = build_annotations(replace(OUTCOME, issue_url="javascript:alert(1)"), settings(None))
    assert [a["external_link"]["label"][:6] for a in hostile[SECTION]] == ["Runner"]


def _cases(xml_text: str) -> dict[str, ET.Element]:
    root = ET.fromstring(xml_text)
    return {case.attrib["name"]: case for case in root.iter("testcase")}


def test_junit_of_the_field_report(tmp_path: Path) -> None:
    path = write_junit(tmp_path / "junit.xml", field_report_diagnosis())
    text = path.read_text()
    root = ET.fromstring(text)
    suite = root.find("testsuite")
    assert suite is not None
    cases = _cases(text)
    assert list(cases) == [
        "probe",
        "service",
        "module ip_tables loaded now",
        "module ip_tables loads at boot",
        "module iptable_filter loaded now",
        "module iptable_filter loads at boot",
        "module iptable_nat loaded now",
        "module iptable_nat loads at boot",
    ]
    failed = {name for name, case in cases.items() if case.find("failure") is not None}
    assert failed == {
        "probe",
        "service",
        "module iptable_filter loaded now",
        "module iptable_filter loads at boot",
        "module iptable_nat loaded now",
        "module iptable_nat loads at boot",
    }
    assert (suite.attrib["tests"], suite.attrib["failures"]) == ("8", "6")
    service = cases["service"].find("failure")
    assert service is not None and DOCKERD_NAT_LINE in service.attrib["message"]
    boot = cases["module iptable_nat loads at boot"].find("failure")
    assert boot is not None
    assert "/etc/modules: systemd-modules-load does not read /etc/modules" in boot.attrib["message"]
    assert "Write /etc/modules-load.d/iptable_nat.conf" in (boot.text or "")
    now = cases["module iptable_nat loaded now"].find("failure")
    assert now is not None and "not loaded in the running kernel 4.18.0" in now.attrib["message"]
    probe = cases["probe"].find("failure")
    assert probe is not None and "tcp://localhost:2375: refused" in probe.attrib["message"]


def test_junit_healthy_and_missing_parts() -> None:
    diagnosis = replace(
        field_report_diagnosis(),
        probe=ProbeResult(Verdict.HEALTHY, "tcp://docker:2375", 0.1, "ok"),
        service=ServiceEvidence(container="svc-0", state="running"),
        node_report=None,
        limitations=["no permission to create the helper pod"],
    )
    cases = _cases(build_junit(diagnosis))
    assert cases["probe"].find("failure") is None and cases["service"].find("failure") is None
    skipped = cases["node modules"].find("skipped")
    assert skipped is not None and "helper pod" in skipped.attrib["message"]


def test_junit_survives_hostile_log_lines_and_redacts_the_token(tmp_path: Path) -> None:
    settings(None)  # registers the token for redaction
    lines = ["\x00\x1b[31mbell\x07</failure>]]>", f"token {TOKEN}", "\ud800 lone surrogate"]
    diagnosis = replace(
        field_report_diagnosis(),
        # No signature matched: the dead service's last lines are quoted.
        service=replace(field_report_diagnosis().service, log_tail=lines, matches=[]),  # type: ignore[type-var]
    )
    text = write_junit(tmp_path / "j.xml", diagnosis).read_text()
    cases = _cases(text)  # parses: no character XML cannot carry
    failure = cases["service"].find("failure")
    assert failure is not None and "bell</failure>]]>" in (failure.text or "")
    assert TOKEN not in text and "token [MASKED]" in text


def test_unwritable_artifact_path_is_a_usage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(UsageError) as caught:
        write_junit(blocker / "junit.xml", field_report_diagnosis())
    assert "cannot write" in str(caught.value)
