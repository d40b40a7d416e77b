"""The catalog is pinned to reality: re-capture every failure mode from real processes and check
that the signatures matched in the fresh log are those matched in the saved one."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from preflight.diagnosis.signatures import match_lines, strongest
from tests.harness.dockerd import Dockerd
from tests.kube.failing_daemons import MODES, FailureMode, capture, saved_log

pytestmark = pytest.mark.dockerd


def _shape(line: str) -> str:
    """A line with what changes between runs (temporary paths, numbers) made generic."""
    line = re.sub(r"/tmp/[^\s\"']+", "/tmp/PATH", line)
    return re.sub(r"\d+", "N", line)


def _summary(text: str) -> list[tuple[str, str, str]]:
    return [(m.signature, m.cause, _shape(m.line)) for m in match_lines(text.splitlines())]


@pytest.fixture(scope="module")
def fresh_logs() -> dict[str, str]:
    """Every failure mode captured again, concurrently (each has its own dirs and netns)."""
    with ThreadPoolExecutor(max_workers=len(MODES)) as pool:
        texts = list(pool.map(capture, MODES))
    return {mode.name: text for mode, text in zip(MODES, texts, strict=True)}


@pytest.mark.parametrize("mode", MODES, ids=[m.name for m in MODES])
def test_recaptured_log_matches_like_the_saved_one(
    mode: FailureMode, fresh_logs: dict[str, str]
) -> None:
    fresh = fresh_logs[mode.name]
    assert _summary(fresh) == _summary(saved_log(mode.name))
    best = strongest(match_lines(fresh.splitlines()))
    assert (best.cause if best else None) == mode.cause


def test_probe_harness_field_report_daemon(field_report_dockerd: Dockerd) -> None:
    """The probe's own field-report daemon says exactly what the saved capture says."""
    text = field_report_dockerd.log_text()
    assert _summary(text) == _summary(saved_log("legacy-nat-missing"))
    best = strongest(match_lines(text.splitlines()))
    assert best is not None and best.cause == "iptable_nat-missing"
