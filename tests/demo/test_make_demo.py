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
    assert "PUT https://gitlab.example.com/api/v4/runners/42" in broken
    assert "write /etc/modules-load.d/iptable_nat.conf" in broken
    assert "dind-preflight: OK: dind at tcp://127.0.0.1:" in fixed
    # Every daemon the demo started is gone.
    leftovers = subprocess.run(
        ["pgrep", "-f", "dind-preflight-demo"], capture_output=True, text=True, check=False
    )
    assert leftovers.stdout.strip() == ""
