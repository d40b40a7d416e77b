"""``dind-preflight agent --once`` as a process: one check, one publish, no promise of a retry."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_once_without_an_api_says_not_retried_and_exits_unknown(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KUBE", "DIND_"))}
    env["KUBECONFIG"] = str(tmp_path / "missing-kubeconfig")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "preflight",
            "agent",
            "--once",
            "--node",
            "n1",
            "--root",
            str(ROOT / "demo" / "roots" / "centos8-fixed"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("dind-preflight agent: check: DindReady=")
    assert lines[1].startswith("dind-preflight agent: publish: not done (KUBECONFIG ")
    assert lines[1].endswith("; not retried")
    assert "retrying" not in result.stdout + result.stderr
