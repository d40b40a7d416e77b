"""Job mode deployed as docs/runner-wide.md says, on the real control plane: the field report.

The admin follows the doc's steps with the built kubectl (the job's service account and RBAC,
the taint grant, the helper admission policy, the token Secret, the admin's ConfigMap), then a
job runs on the field report's node as gitlab-runner's Kubernetes executor builds its pod from
deploy/helm/values-runner-wide.yaml: the runner's ``pre_build_script`` runs ``dind-preflight
run`` in the build container while the dind service (``svc-0``) dies with the field report's
legacy nat line. ``run`` learns who it is from a SelfSubjectReview with its pod-bound token,
creates the helper pod (admitted by the shipped policy, as the API server defaults it), trusts
its report by the pod's ``imageID``, names the runner from GitLab's ``GET /job``, opens the
issue, taints the node and exits 75. Then the admin fixes the node and runs the resolve CronJob
as a Job: the taint goes, the issue closes.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trustme

from tests.cluster.controlplane import ControlPlane
from tests.cluster.kubelet import ImageTable, Kubelet, NodeSpec, kubelet, product_image
from tests.cluster.runner import job_pod, runner_config
from tests.cluster.support import (
    REPO,
    cluster_state,
    get_json,
    kubectl_commands,
    node,
    pods,
    taint_keys,
    wait_for,
)
from tests.gitlab.fake_gitlab import FakeGitLab

ROOTS = REPO / "demo" / "roots"
NODE = "job-field-report"
JOB_NS = "gitlab-runner"
ADMIN_NS = "dind-preflight"
TOKEN = "glpat-job-mode-runner-manager-0123"
ISSUES_TOKEN = "glpat-job-mode-issues-reporter-4567"
JOB_TOKEN = "glcbt-64_jobmode-5150"
RUNNER, JOB_ID = 42, 5150
INCIDENTS = "infra/runner-incidents"
HELPER_IMAGE = (
    "registry.example.com/ci/dind-preflight@sha256:" + hashlib.sha256(b"helper").hexdigest()
)
TAINT = "dind-preflight.io/broken"
NAT_LOG = REPO / "tests" / "kube" / "logs" / "legacy-nat-missing.log"


@dataclass
class JobMode:
    cluster: ControlPlane
    kubelet: Kubelet
    gitlab: FakeGitLab
    project: int
    root: Path
    ca_file: Path
    work: Path


def _edited_admin_config(gitlab_url: str) -> str:
    """deploy/admin/configmap.yaml as the admin edits it: their GitLab, its private CA (mounted
    with the token Secret), the helper image's digest."""
    manifest = (REPO / "deploy" / "admin" / "configmap.yaml").read_text()
    start = manifest.index("  config.json: |")
    body = json.loads("\n".join(line[4:] for line in manifest[start:].splitlines()[1:]))
    body.update(
        gitlab_url=gitlab_url,
        gitlab_ca_file="/var/run/secrets/dind-preflight/gitlab-ca.crt",
        helper_images=[HELPER_IMAGE],
    )
    indented = "\n".join("    " + line for line in json.dumps(body, indent=2).splitlines())
    return manifest[:start] + "  config.json: |\n" + indented + "\n"


def _edited_policy() -> str:
    text = (REPO / "deploy" / "admission" / "helper-pod-policy.yaml").read_text()
    placeholder = "registry.gitlab.com/dind-preflight/dind-preflight@sha256:" + "0" * 64
    assert placeholder in text, "the policy's allowedImages placeholder changed: update this test"
    return text.replace(placeholder, HELPER_IMAGE)


@pytest.fixture(scope="module")
def job_mode(
    cluster: ControlPlane, images: ImageTable, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[JobMode]:
    work = tmp_path_factory.mktemp("job-mode")
    root = work / "node"
    shutil.copytree(ROOTS / "centos8-field-report", root, symlinks=True)
    ca = trustme.CA()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    ca_file = work / "gitlab-ca.crt"
    ca.cert_pem.write_to_path(str(ca_file))
    images.add(product_image(HELPER_IMAGE))
    gitlab = FakeGitLab(ssl_context=context).start()
    try:
        gitlab.add_token(TOKEN, scopes=("manage_runner",), runners=(RUNNER,))
        project = gitlab.add_project(INCIDENTS)
        gitlab.add_token(ISSUES_TOKEN, scopes=("api",), projects=(project,))
        gitlab.add_runner(RUNNER, description="k8s-runner-a")
        gitlab.add_job(JOB_TOKEN, JOB_ID, RUNNER, project_id=project)
        port = int(gitlab.url.rsplit(":", 1)[1].rstrip("/"))
        with kubelet(cluster, [NodeSpec(NODE, root=root)], images, forwards={port: port}) as k:
            (work / "token.txt").write_text(TOKEN)
            (work / "issues-token.txt").write_text(ISSUES_TOKEN)
            admin = work / "configmap.yaml"
            admin.write_text(_edited_admin_config(gitlab.url.rstrip("/")))
            policy = work / "helper-pod-policy.yaml"
            policy.write_text(_edited_policy())
            edits = {
                "./token.txt": str(work / "token.txt"),
                "./issues-token.txt": str(work / "issues-token.txt"),
                "https://gitlab.example.com": gitlab.url.rstrip("/"),
                "deploy/admin/configmap.yaml": str(admin),
                "deploy/admission/helper-pod-policy.yaml": str(policy),
            }
            cluster.kubectl("create", "namespace", JOB_NS)  # the runner is installed there
            try:
                doc = REPO / "docs" / "runner-wide.md"
                for argv in kubectl_commands(doc, "## Step 1", "## Step 3"):
                    for old, new in edits.items():
                        argv = [a.replace(old, new) for a in argv]
                    done = cluster.kubectl(*argv, check=False)
                    assert done.returncode == 0, (
                        f"docs/runner-wide.md: `kubectl {' '.join(argv)}`:\n{done.stderr}"
                    )
                # The private CA of this GitLab, beside the token (the admin's gitlab_ca_file).
                cluster.kubectl(
                    "-n",
                    JOB_NS,
                    "patch",
                    "secret",
                    "dind-preflight-gitlab-token",
                    "--type=merge",
                    "-p",
                    json.dumps({"stringData": {"gitlab-ca.crt": ca_file.read_text()}}),
                )
                yield JobMode(cluster, k, gitlab, project, root, ca_file, work)
            finally:
                cluster.kubectl(
                    "delete", "namespace", JOB_NS, ADMIN_NS, "--wait=false", check=False
                )
                cluster.kubectl(
                    "delete",
                    "clusterrole,clusterrolebinding,validatingadmissionpolicy,validatingadmissionpolicybinding",
                    "-l",
                    "app.kubernetes.io/name=dind-preflight",
                    check=False,
                )
    finally:
        gitlab.stop()


def _run_job(job_mode: JobMode, name: str, variables: dict[str, str]) -> dict[str, Any]:
    pod = job_pod(
        name=name,
        namespace=JOB_NS,
        node=NODE,
        job_image="registry.gitlab.com/dind-preflight/dind-preflight:0.1.0",
        variables=variables,
        services=[
            {
                "image": "docker:20.10-dind",
                "alias": "docker",
                "variables": {"DIND_STANDIN_LOG": str(NAT_LOG), "DIND_STANDIN_BACKEND": "legacy"},
            }
        ],
        config=runner_config(JOB_NS),
    )
    job_mode.cluster.kubectl("apply", "-f", "-", input_text=json.dumps(pod))
    return dict(
        wait_for(
            f"job pod {name} to finish",
            lambda: (
                (p := get_json(job_mode.cluster, "pod", name, "-n", JOB_NS))["status"].get("phase")
                in ("Succeeded", "Failed")
                and p
            ),
            timeout=180,
            explain=lambda: cluster_state(job_mode.cluster, JOB_NS),
        )
    )


JOB_VARIABLES = {
    # GitLab's predefined variables, and what a job may set to mislead: none of these decides.
    "CI_JOB_TOKEN": JOB_TOKEN,
    "CI_JOB_ID": str(JOB_ID),
    "CI_RUNNER_ID": "77",  # another team's runner: GET /job names the real one
    "CI_API_V4_URL": "https://attacker.invalid/api/v4",
    "CI_SERVER_URL": "https://attacker.invalid",
    "CI_PROJECT_PATH": "team/app",
    "DOCKER_HOST": "tcp://docker:2375",
    "DOCKER_TLS_CERTDIR": "",
    "DIND_PREFLIGHT_REPORT_PROJECT": INCIDENTS,
    "DIND_PREFLIGHT_TIMEOUT": "20",
}


@pytest.fixture(scope="module")
def field_report_job(job_mode: JobMode) -> dict[str, Any]:
    return _run_job(job_mode, "runner-job-5150", JOB_VARIABLES)


def test_the_job_exits_75_and_says_why(job_mode: JobMode, field_report_job: dict[str, Any]) -> None:
    build = next(c for c in field_report_job["status"]["containerStatuses"] if c["name"] == "build")
    log = job_mode.cluster.kubectl("logs", "-n", JOB_NS, "runner-job-5150", "-c", "build").stdout
    assert build["state"]["terminated"]["exitCode"] == 75, log
    assert "iptable_nat" in log and "exit 75" in log, log


def test_helper_pod_was_admitted_trusted_and_removed(
    job_mode: JobMode, field_report_job: dict[str, Any]
) -> None:
    job_account = f"system:serviceaccount:{JOB_NS}:dind-preflight"
    calls = job_mode.cluster.audit(job_account)
    created = [
        e for e in calls if e.verb == "create" and e.resource == "pods" and not e.subresource
    ]
    assert [e.code for e in created] == [201], calls
    assert [e.code for e in calls if e.verb == "delete" and e.resource == "pods"] == [200]
    assert [
        p for p in pods(job_mode.cluster, JOB_NS, "app.kubernetes.io/component=node-probe")
    ] == []
    assert [e for e in calls if e.code == 403] == []  # every call of the job's account allowed


def test_issue_names_the_cause_and_the_real_runner(
    job_mode: JobMode, field_report_job: dict[str, Any]
) -> None:
    issues = job_mode.gitlab.project_issues(job_mode.project, "opened")
    assert len(issues) == 1, issues
    assert (
        "iptable_nat" in issues[0]["title"]
        and NODE in issues[0]["title"] + issues[0]["description"]
    )
    assert not [
        r for r in job_mode.gitlab.requests() if "/runners/77" in r.path
    ]  # CI_RUNNER_ID=77 ignored


def test_the_node_is_tainted(job_mode: JobMode, field_report_job: dict[str, Any]) -> None:
    assert TAINT in taint_keys(node(job_mode.cluster, NODE))
