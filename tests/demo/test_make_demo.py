"""`make demo` is one of the two sacred set-up commands: its script must keep telling the story."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.dockerd


def test_the_demo_replays_the_field_report_and_the_fix() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "CI_", "DIND_"))}
    result = subprocess.run(
        ["bash", "scripts/demo.sh"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    codes = re.findall(r"^\(exit code (\d+)\)$", out, flags=re.MULTILINE)
    # node-report on the broken root, run on the broken node, node-report fixed, run healthy.
    assert codes == ["1", "75", "0", "0"], out
    broken, fixed = out.split("== 2. after the fix", 1)
    assert "Table does not exist (do you need to insmod?)" in broken
    assert "etc-modules-not-read" in broken
    assert "dind-preflight: FAILED:" in broken and "iptable_nat-missing" in broken
    assert "dry run (DIND_PREFLIGHT_GITLAB_TOKEN is not set): nothing was sent" in broken
    assert "PUT /api/v4/runners/42 HTTP/1.1\nHost: gitlab.example.com\n" in broken
    assert "1. Write /etc/modules-load.d/iptable_nat.conf:" in broken
    # The field report's run log: one summary line and three short sections, in 60 lines.
    run_log = broken.split("dind-preflight run\n", 1)[1].split("\n(exit code 75)\n", 1)[0]
    assert run_log.startswith("dind-preflight: FAILED: ")
    assert len(run_log.splitlines()) <= 60, run_log
    assert "section_start" not in run_log  # a terminal, not a GitLab job: plain headings
    measured = re.search(r"^\(the job log of run: (\d+) lines\)$", out, flags=re.MULTILINE)
    assert measured is not None and int(measured.group(1)) == len(run_log.splitlines())
    assert "dind-preflight: OK: dind at tcp://127.0.0.1:" in fixed
    # Every daemon the demo started is gone.
    leftovers = subprocess.run(
        ["pgrep", "-f", "dind-preflight-demo"], capture_output=True, text=True, check=False
    )
    assert leftovers.stdout.strip() == ""
