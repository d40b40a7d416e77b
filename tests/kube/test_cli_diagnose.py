"""`dind-preflight diagnose` as a process: output, exit codes, signals, errors, local mode."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.admin.support import in_admin_namespace, namespaces_work, needs_mount_namespace
from tests.kube.conftest import HELPER_IMAGE, JOB_ID, JOB_POD, TERMINATED_NAT, job_pod_manifest
from tests.kube.failing_daemons import LOG_DIR, saved_log
from tests.kube.fake_cluster import (
    TOKEN,
    FakeCluster,
    FakeKubelet,
    finishes,
    running_cluster,
    stays_pending,
)
from tests.kube.node_roots import centos8_node, node_report_output

CLI = Path(sys.executable).parent / "dind-preflight"
AddPod = Callable[..., dict[str, Any]]


def job_env(cluster: FakeCluster | None, **extra: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("KUBE", "DIND_PREFLIGHT", "CI_"))
    }
    env.update({"HOSTNAME": JOB_POD, "CI_JOB_ID": JOB_ID, "DIND_PREFLIGHT_DIAGNOSE_TIMEOUT": "10"})
    env["DIND_PREFLIGHT_HELPER_IMAGE"] = HELPER_IMAGE  # pinned by the admin: node-side evidence
    if cluster is not None:
        env["KUBECONFIG"] = str(cluster.kubeconfig())
    env.update(extra)
    return env


ADMIN = {"gitlab_url": "https://gitlab.example.com", "helper_images": [HELPER_IMAGE]}


def admin_wrapped(command: list[str], **mounts: Any) -> list[str]:
    """``command`` with the admin's file (pinning HELPER_IMAGE) at its fixed path, in the
    process's own mount namespace; without mount namespaces, as it is (no admin file)."""
    if not namespaces_work():
        return command
    import tempfile

    workdir = Path(tempfile.mkdtemp(prefix="admin-ns-"))
    config = dict(ADMIN)
    read_only = mounts.get("read_only", ())
    if read_only:
        config["node_root"] = read_only[0][1]
    return in_admin_namespace(command, workdir, config=config, read_only=read_only)


def diagnose(
    *args: str, env: dict[str, str], timeout: float = 30, read_only: Any = ()
) -> subprocess.CompletedProcess[str]:
    assert CLI.exists(), f"{CLI} missing: `make test` installs the package into .venv"
    return subprocess.run(
        admin_wrapped([str(CLI), "diagnose", "--proc", "/nonexistent", *args], read_only=read_only),
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def node_output(tmp_path: Path) -> str:
    return node_report_output(centos8_node(tmp_path / "node"))[1]


def test_json_for_the_field_report(
    cluster: FakeCluster, add_job_pod: AddPod, node_output: str
) -> None:
    add_job_pod(service_state=TERMINATED_NAT)
    cluster.set_log(JOB_POD, "svc-0", saved_log("legacy-nat-missing"))
    with FakeKubelet(cluster, finishes(node_output, exit_code=1)):
        result = diagnose("--json", env=job_env(cluster))
    assert result.returncode == 75, result.stderr
    assert result.stderr == ""
    data = json.loads(result.stdout)
    assert data["cause"]["code"] == "iptable_nat-missing"
    assert data["cause"]["module"] == "iptable_nat"
    assert (data["fault"], data["confidence"]) == ("node", "high")
    assert data["node"] == "worker-3" and data["pod"] == JOB_POD and data["namespace"] == "ci"
    assert data["service"]["state"] == "terminated" and data["service"]["exit_code"] == 1
    assert data["service"]["matches"][0]["signature"] == "iptables-legacy-nat-table-missing"
    assert data["node_report"]["modules"]["iptable_nat"]["loaded"] is False
    assert data["evidence_source"] == "helper-pod"
    assert data["remedy"]["file"] == "/etc/modules-load.d/iptable_nat.conf"
    assert TOKEN not in result.stdout + result.stderr


def test_human_output(cluster: FakeCluster, add_job_pod: AddPod, node_output: str) -> None:
    add_job_pod(service_state=TERMINATED_NAT)
    cluster.set_log(JOB_POD, "svc-0", saved_log("legacy-nat-missing"))
    with FakeKubelet(cluster, finishes(node_output, exit_code=1)):
        result = diagnose(env=job_env(cluster))
    assert result.returncode == 75
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "dind-preflight diagnosis: iptable_nat-missing on node worker-3 "
        "(node fault, high confidence)"
    )
    assert f"  job pod {JOB_POD} (namespace ci)" in lines
    assert (
        "  dind service svc-0 [docker:24.0-dind]: terminated, exit code 1 (Error), restarts 0, "
        "its log:" in lines
    )
    assert "  1. Write /etc/modules-load.d/iptable_nat.conf:" in lines
    assert "  2. Run now: modprobe -a iptable_nat iptable_filter" in lines
    assert "  exit 75: node or runner fault: retry the job on another runner" in lines


@pytest.mark.parametrize(
    ("signum", "code", "stderr"),
    [
        (
            signal.SIGTERM,
            143,
            "dind-preflight: error: terminated by SIGTERM; cleaned up before exiting\n",
        ),
        (signal.SIGINT, 130, "dind-preflight: interrupted\n"),
    ],
    ids=["SIGTERM", "SIGINT"],
)
def test_signal_deletes_the_helper_pod(
    cluster: FakeCluster, add_job_pod: AddPod, signum: signal.Signals, code: int, stderr: str
) -> None:
    add_job_pod(service_state=TERMINATED_NAT)
    cluster.set_log(JOB_POD, "svc-0", "nothing known\n")
    with FakeKubelet(cluster, stays_pending()):
        process = subprocess.Popen(
            admin_wrapped([str(CLI), "diagnose", "--proc", "/nonexistent"]),
            env=job_env(cluster),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 15
            while not cluster.helper_pods() and time.monotonic() < deadline:
                time.sleep(0.02)
            assert cluster.helper_pods(), "the helper pod was never created"
            time.sleep(0.2)  # waiting on the watch now
            process.send_signal(signum)
            out, err = process.communicate(timeout=15)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert process.returncode == code
    assert err == stderr
    assert out == ""
    assert cluster.helper_pods() == []


def test_usage_and_input_errors_are_one_line(tmp_path: Path) -> None:
    bad_timeout = diagnose("--timeout", "soon", env=job_env(None))
    assert bad_timeout.returncode == 64
    assert (
        bad_timeout.stderr == "dind-preflight: error: --timeout='soon' is not a number of seconds\n"
    )
    bad_policy = diagnose("--helper-pull-policy", "Sometimes", env=job_env(None))
    assert bad_policy.returncode == 64 and bad_policy.stderr.count("\n") == 1
    missing = diagnose("--service-log", str(tmp_path / "nope.log"), env=job_env(None))
    assert missing.returncode == 66
    assert missing.stderr.startswith("dind-preflight: error: cannot read the dind service log ")
    assert missing.stderr.endswith("nope.log': it does not exist\n")
    assert missing.stderr.count("\n") == 1
    (tmp_path / "probe.json").write_text("[1, 2]")
    bad_probe = diagnose("--probe-result", str(tmp_path / "probe.json"), env=job_env(None))
    assert bad_probe.returncode == 66 and "is not a probe result" in bad_probe.stderr


def test_local_mode_with_a_saved_log_and_probe_result(tmp_path: Path) -> None:
    probe = {
        "verdict": "refused",
        "docker_host": "tcp://docker:2375",
        "elapsed_s": 0.1,
        "detail": "refused",
    }
    (tmp_path / "probe.json").write_text(json.dumps(probe))
    result = diagnose(
        "--json",
        "--service-log",
        str(LOG_DIR / "not-privileged.log"),
        "--probe-result",
        str(tmp_path / "probe.json"),
        env=job_env(None),
    )
    assert result.returncode == 75, result.stderr
    data = json.loads(result.stdout)
    assert (data["cause"]["code"], data["fault"]) == ("not-privileged", "runner")
    assert data["probe"]["verdict"] == "refused"
    assert data["limitations"][0].startswith("no Kubernetes API")


def test_local_mode_with_a_host_root(tmp_path: Path) -> None:
    root = centos8_node(tmp_path / "node")
    log = tmp_path / "dind.log"
    log.write_text(saved_log("legacy-nat-missing"))
    host = str(tmp_path / "host")  # the admin's node root: a read-only mount
    result = diagnose(
        "--json",
        "--host-root",
        host,
        "--service-log",
        str(log),
        env=job_env(None),
        read_only=((root, host),),
    )
    assert result.returncode == 75, result.stderr
    data = json.loads(result.stdout)
    assert data["cause"]["code"] == "iptable_nat-missing"
    assert data["evidence_source"] == "host-root"
    assert data["remedy"]["content"] == "iptable_nat\niptable_filter\n"
    assert data["quarantine"]["allowed"] is namespaces_work()
    # The same root where the job made it (not the admin's mount) is job-side evidence.
    made = diagnose(
        "--json", "--host-root", str(root), "--service-log", str(log), env=job_env(None)
    )
    assert json.loads(made.stdout)["quarantine"]["allowed"] is False
    assert data["backend"]["backend"] == "legacy"


def test_local_mode_without_a_log_establishes_nothing_from_not_loaded(tmp_path: Path) -> None:
    root = centos8_node(tmp_path / "node")
    result = diagnose("--json", "--host-root", str(root), env=job_env(None))
    assert result.returncode == 69, result.stderr
    data = json.loads(result.stdout)
    assert data["cause"]["code"] == "not-established"
    assert "iptable_nat" in [c["module"] for c in data["possible_causes"]]
    assert data["quarantine"]["allowed"] is False


@needs_mount_namespace
def test_taint_node_flag(tmp_path: Path, node_output: str) -> None:
    """In a job pod: the service account at its standard path, the admin's file naming the API
    server and the helper digest; the node is tainted. The same run with a KUBECONFIG (an API
    server of the job's choosing) diagnoses alike but taints nothing."""
    import ssl

    import trustme

    ca = trustme.CA()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    sa = tmp_path / "serviceaccount"
    sa.mkdir()
    (sa / "token").write_text(TOKEN)
    (sa / "namespace").write_text("ci")
    ca.cert_pem.write_to_path(str(sa / "ca.crt"))
    (tmp_path / "cluster").mkdir()
    with running_cluster(tmp_path / "cluster", tls=context) as cluster:
        cluster.identity = (JOB_POD, "worker-3")
        cluster.add("v1/pods", "ci", job_pod_manifest(service_state=TERMINATED_NAT))
        cluster.set_log(JOB_POD, "svc-0", saved_log("legacy-nat-missing"))
        cluster.add(
            "v1/nodes",
            None,
            {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "worker-3"}, "spec": {}},
        )
        port = cluster.url.rsplit(":", 1)[1]
        admin = {**ADMIN, "api_server": f"127.0.0.1:{port}"}
        env = job_env(None, KUBERNETES_SERVICE_HOST="127.0.0.1", KUBERNETES_SERVICE_PORT=port)

        def run(extra_env: dict[str, str]) -> subprocess.CompletedProcess[str]:
            command = in_admin_namespace(
                [str(CLI), "diagnose", "--proc", "/nonexistent", "--taint-node"],
                Path(tempfile.mkdtemp(dir=tmp_path)),
                config=admin,
                service_account=sa,
            )
            with FakeKubelet(cluster, finishes(node_output, exit_code=1)):
                return subprocess.run(
                    command,
                    env={**env, **extra_env},
                    capture_output=True,
                    text=True,
                    timeout=60,
                    check=False,
                )

        bent = run({"KUBECONFIG": str(cluster.kubeconfig())})
        assert bent.returncode == 75, bent.stdout + bent.stderr
        assert bent.stdout.splitlines()[-1].startswith("taint: not applied"), bent.stdout
        assert "KUBECONFIG is set" in bent.stdout
        node = cluster.get("v1/nodes", None, "worker-3")
        assert node is not None and not node["spec"].get("taints")

        result = run({})
        assert result.returncode == 75, result.stdout + result.stderr
        assert result.stdout.splitlines()[-1] == (
            "taint: dind-preflight.io/broken=iptable_nat-missing:NoSchedule added on node "
            "worker-3 (remove after the fix: kubectl taint nodes worker-3 "
            "dind-preflight.io/broken:NoSchedule-)"
        )
        node = cluster.get("v1/nodes", None, "worker-3")
        assert node is not None
        assert node["spec"]["taints"] == [
            {
                "key": "dind-preflight.io/broken",
                "value": "iptable_nat-missing",
                "effect": "NoSchedule",
            }
        ]
        assert cluster.helper_pods() == []
