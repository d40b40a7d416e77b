"""`dind-preflight run` (and the program alone) as a process: skip, usage and input errors, and a
job log reader that goes away."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness.dockerd import free_port
from tests.kube.failing_daemons import saved_log

REPO = Path(__file__).resolve().parents[2]


def preflight_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "DIND_", "CI_"))}
    env.pop("KUBERNETES_SERVICE_HOST", None)
    env["DIND_PREFLIGHT_ARTIFACTS_DIR"] = str(tmp_path / "reports")
    env.update(extra)
    return env


def run(env: dict[str, str], *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "preflight", "run", *flags],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_job_without_dind_is_skipped_at_once(tmp_path: Path) -> None:
    result = run(preflight_env(tmp_path))
    assert result.returncode == 0
    assert result.stdout == (
        "dind-preflight: skipped: DOCKER_HOST is not set: this job does not use a dind service\n"
    )
    assert not (tmp_path / "reports").exists()


def test_invalid_docker_host_is_one_line_and_64(tmp_path: Path) -> None:
    result = run(preflight_env(tmp_path, DOCKER_HOST="htp://x"))
    assert result.returncode == 64
    assert result.stderr.count("\n") == 1 and "invalid DOCKER_HOST 'htp://x'" in result.stderr


def test_invalid_action_is_one_line_and_64(tmp_path: Path) -> None:
    env = preflight_env(tmp_path, DOCKER_HOST="tcp://127.0.0.1:2375", DIND_PREFLIGHT_ACTION="x")
    result = run(env)
    assert result.returncode == 64
    assert result.stderr.strip() == (
        "dind-preflight: error: DIND_PREFLIGHT_ACTION='x' must be one of auto, pause-runner, taint-node, none"
    )


def test_bad_flags_are_rejected_even_when_the_run_would_skip(tmp_path: Path) -> None:
    env = preflight_env(tmp_path)  # no DOCKER_HOST: the run would skip
    pause = run(env, "--action", "pause")
    assert (pause.returncode, pause.stdout) == (64, "")
    assert pause.stderr == (
        "dind-preflight: error: --action='pause' must be one of auto, pause-runner, taint-node, none\n"
    )
    zero = run(env, "--timeout", "0")
    assert zero.returncode == 64
    assert (
        zero.stderr == "dind-preflight: error: --timeout='0' must be more than 0 to 3600 seconds\n"
    )
    root = run(env, "--node-root", str(tmp_path / "missing"))
    assert root.returncode == 66
    assert (
        root.stderr
        == f"dind-preflight: error: --node-root='{tmp_path / 'missing'}' does not exist\n"
    )


def test_the_disable_switch_skips_even_a_wrong_configuration(tmp_path: Path) -> None:
    env = preflight_env(tmp_path, DIND_PREFLIGHT_DISABLE="1", DIND_PREFLIGHT_TIMEOUT="soon")
    result = run(env, "--action", "pause")
    assert (result.returncode, result.stdout) == (
        0,
        "dind-preflight: skipped: DIND_PREFLIGHT_DISABLE is on\n",
    )


def test_the_program_alone_prints_its_usage(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "preflight"],
        env=preflight_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 64 and result.stdout == ""
    assert result.stderr.startswith("usage: dind-preflight [-h] [--version] COMMAND ...\n")
    for command in ("probe", "node-report", "diagnose", "report", "run"):
        assert f"\n    {command}" in result.stderr


def test_an_empty_diagnosis_is_a_one_line_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "preflight", "report", "--diagnosis", "-"],
        input="{}",
        env=preflight_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 66
    assert result.stderr == (
        "dind-preflight: error: stdin is not a diagnosis: "
        "Diagnosis lacks the field(s) cause, fault, confidence\n"
    )


def test_a_reader_that_goes_away_does_not_change_the_exit_code(tmp_path: Path) -> None:
    env = preflight_env(
        tmp_path, DOCKER_HOST=f"tcp://127.0.0.1:{free_port()}", DIND_PREFLIGHT_TIMEOUT="0.5"
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "preflight", "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # like `| head -0`: every write to stdout now fails with EPIPE
    stderr = process.stderr.read()
    assert process.wait(timeout=60) == 69
    assert "Traceback" not in stderr and "internal error" not in stderr
    assert (tmp_path / "reports" / "junit.xml").is_file()


@pytest.mark.parametrize("with_log", [True, False], ids=["service-log", "no-log"])
def test_run_and_diagnose_share_one_local_diagnosis(tmp_path: Path, with_log: bool) -> None:
    """`run` with DIND_PREFLIGHT_NODE_ROOT and `diagnose --host-root` take the same path: the
    same diagnosis, the node named by the root's etc/hostname."""
    root = REPO / "demo/roots/centos8-field-report"
    log = tmp_path / "dind.log"
    log.write_text(saved_log("legacy-nat-missing"))
    extra = {"DIND_PREFLIGHT_SERVICE_LOG": str(log)} if with_log else {}
    env = preflight_env(tmp_path, **extra)
    env.pop("KUBECONFIG", None)
    job = dict(
        env,
        DOCKER_HOST=f"tcp://127.0.0.1:{free_port()}",
        DIND_PREFLIGHT_TIMEOUT="1",
        DIND_PREFLIGHT_NODE_ROOT=str(root),
        DIND_PREFLIGHT_ACTION="none",
    )
    ran = run(job, "--json")
    assert ran.returncode in (69, 75), ran.stderr
    document = json.loads(ran.stdout)
    (tmp_path / "probe.json").write_text(json.dumps(document["probe"]))
    flags = ["--json", "--host-root", str(root), "--probe-result", str(tmp_path / "probe.json")]
    if with_log:
        flags += ["--service-log", str(log)]
    diagnosed = subprocess.run(
        [sys.executable, "-m", "preflight", "diagnose", *flags],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert diagnosed.returncode == ran.returncode, diagnosed.stderr
    from_run, from_diagnose = document["diagnosis"], json.loads(diagnosed.stdout)
    for diagnosis in (from_run, from_diagnose):
        diagnosis.pop("elapsed_s")
    assert from_run == from_diagnose
    assert from_run["node"] == "runner-node-3.example.internal"
    assert from_run["evidence_source"] == "host-root"
    expected = "iptable_nat-missing" if with_log else "not-established"
    assert from_run["cause"]["code"] == expected
