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
import re
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
    can_i,
    cluster_state,
    fix_node,
    get_json,
    kubectl_commands,
    node,
    node_root,
    pods,
    taint_keys,
    wait_for,
)
from tests.gitlab.fake_gitlab import FakeGitLab

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
    root = node_root("centos8-field-report", work / "node")
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
        healthy = node_root("centos8-fixed", work / "healthy-node")
        nodes = [NodeSpec(NODE, root=root), NodeSpec("job-healthy", root=healthy)]
        with kubelet(cluster, nodes, images, forwards={port: port}) as k:
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
    assert [e.code for e in created] == [201], calls  # admitted by the helper policy
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


def test_the_log_says_the_node_report_was_trusted(
    job_mode: JobMode, field_report_job: dict[str, Any]
) -> None:
    log = job_mode.cluster.kubectl("logs", "-n", JOB_NS, "runner-job-5150", "-c", "build").stdout
    assert "quarantine allowed" in log, log
    assert "helper pod" in log or "node report" in log, log


RESOLVE_TOKEN = "glpat-resolve-runner-and-issues-89ab"


def _edited_resolve(job_mode: JobMode) -> str:
    """deploy/reporter/cronjob-resolve.yaml with the args docs/reporter.md says to edit."""
    text = (REPO / "deploy" / "reporter" / "cronjob-resolve.yaml").read_text()
    text = text.replace("https://gitlab.example.com", job_mode.gitlab.url.rstrip("/"))
    text = re.sub(r"--helper-image=\S+", f"--helper-image={HELPER_IMAGE}", text)
    text = re.sub(
        r"(\n(\s+)- --token-file=[^\n]*)",
        r"\1\n\2- --gitlab-ca-file=/var/run/secrets/dind-preflight/gitlab/gitlab-ca.crt",
        text,
    )
    return text


def test_resolve_cronjob_undoes_the_quarantine_once_the_node_is_fixed(
    job_mode: JobMode, field_report_job: dict[str, Any]
) -> None:
    assert TAINT in taint_keys(node(job_mode.cluster, NODE))
    fix_node(job_mode.root)
    job_mode.gitlab.add_token(
        RESOLVE_TOKEN, scopes=("api",), runners=(RUNNER,), projects=(job_mode.project,)
    )
    (job_mode.work / "resolve-token.txt").write_text(RESOLVE_TOKEN)
    cronjob = job_mode.work / "cronjob-resolve.yaml"
    cronjob.write_text(_edited_resolve(job_mode))
    edits = {
        "./token.txt": str(job_mode.work / "resolve-token.txt"),
        "deploy/reporter/cronjob-resolve.yaml": str(cronjob),
    }
    commands = kubectl_commands(REPO / "docs" / "reporter.md", "## Job mode's undo", "## Metrics")
    for argv in commands[:-2]:  # up to the Secret and the CronJob; the run comes below
        for old, new in edits.items():
            argv = [a.replace(old, new) for a in argv]
        done = job_mode.cluster.kubectl(*argv, check=False)
        assert done.returncode == 0, f"docs/reporter.md: `kubectl {' '.join(argv)}`:\n{done.stderr}"
        if "secret" in argv:  # the GitLab's private CA beside the token (--gitlab-ca-file)
            job_mode.cluster.kubectl(
                "-n",
                ADMIN_NS,
                "patch",
                "secret",
                "dind-preflight-gitlab",
                "--type=merge",
                "-p",
                json.dumps({"stringData": {"gitlab-ca.crt": job_mode.ca_file.read_text()}}),
            )
    job_mode.cluster.kubectl(*commands[-2])  # kubectl create job --from=cronjob/... resolve-now
    wait_for(
        "the resolve Job to finish",
        lambda: (
            (s := get_json(job_mode.cluster, "job", "resolve-now", "-n", ADMIN_NS)["status"])
            and (s.get("succeeded") or s.get("failed"))
        ),
        timeout=180,
        explain=lambda: cluster_state(job_mode.cluster, ADMIN_NS),
    )
    log = job_mode.cluster.kubectl(*commands[-1]).stdout
    assert (
        get_json(job_mode.cluster, "job", "resolve-now", "-n", ADMIN_NS)["status"].get("succeeded")
        == 1
    ), log
    assert "1 fixed" in log, log
    assert TAINT not in taint_keys(node(job_mode.cluster, NODE)), log
    assert job_mode.gitlab.project_issues(job_mode.project, "opened") == [], log
    resolve_account = f"system:serviceaccount:{ADMIN_NS}:dind-preflight-resolve"
    assert [e for e in job_mode.cluster.audit(resolve_account) if e.code == 403] == []


# -- the helper admission policy, decided by the API server itself ----------------------------


def _as_job(job_mode: JobMode, field_report_job: dict[str, Any]) -> Path:
    """A kubeconfig with a token bound to the job's pod, as its service account gets it (the
    token names the pod and its node: the claims the policy reads)."""
    meta = field_report_job["metadata"]
    token = job_mode.cluster.kubectl(
        "-n",
        JOB_NS,
        "create",
        "token",
        "dind-preflight",
        "--bound-object-kind=Pod",
        f"--bound-object-name={meta['name']}",
        f"--bound-object-uid={meta['uid']}",
    ).stdout.strip()
    return job_mode.cluster.token_kubeconfig(token, job_mode.work / "job.kubeconfig")


def _helper(field_report_job: dict[str, Any], **changes: Any) -> dict[str, Any]:
    from preflight.kube.discovery import JobPod
    from preflight.kube.helper_pod_manifest import helper_pod_manifest

    meta = field_report_job["metadata"]
    job = JobPod(meta["name"], JOB_NS, meta["uid"], NODE, None, None, "test")
    manifest = helper_pod_manifest(
        name="dind-preflight-node-policy-check", job=job, image=HELPER_IMAGE, job_id=str(JOB_ID)
    )
    for path, value in changes.items():
        *parents, last = path.split(".")
        target: Any = manifest
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[last] = value
    return manifest


def _create(job_mode: JobMode, kubeconfig: Path, manifest: dict[str, Any]) -> Any:
    return job_mode.cluster.kubectl(
        "create",
        "--dry-run=server",
        "-o",
        "name",
        "-f",
        "-",
        input_text=json.dumps(manifest),
        kubeconfig=kubeconfig,
        check=False,
    )


FORBIDDEN = {
    "another image": {"spec.containers.0.image": "registry.example.com/ci/dind-preflight:0.1.0"},
    "the job's own image by digest": {
        "spec.containers.0.image": "registry.gitlab.com/dind-preflight/dind-preflight@sha256:"
        + "1" * 64
    },
    "a lifecycle hook": {
        "spec.containers.0.lifecycle": {"postStart": {"exec": {"command": ["sh", "-c", "id"]}}}
    },
    "a probe": {"spec.containers.0.livenessProbe": {"exec": {"command": ["true"]}}},
    "tty and stdin": {"spec.containers.0.tty": True},
    "a working directory": {"spec.containers.0.workingDir": "/host"},
    "runAsGroup 0": {"spec.securityContext.runAsGroup": 0},
    "privileged": {
        "spec.containers.0.securityContext": {"privileged": True, "allowPrivilegeEscalation": True}
    },
    "another node": {"spec.nodeName": "job-healthy"},
    "an extra volume": {
        "spec.volumes": [
            {"name": "host-root", "hostPath": {"path": "/", "type": "Directory"}},
            {"name": "etc", "hostPath": {"path": "/etc"}},
        ]
    },
    "a writable host mount": {
        "spec.containers.0.volumeMounts": [
            {"name": "host-root", "mountPath": "/host", "readOnly": False}
        ]
    },
    "a service account token": {"spec.automountServiceAccountToken": True},
    "host PID": {"spec.hostPID": True},
}


def test_the_policy_admits_the_helper_pod_as_the_code_builds_it(
    job_mode: JobMode, field_report_job: dict[str, Any]
) -> None:
    answer = _create(job_mode, _as_job(job_mode, field_report_job), _helper(field_report_job))
    assert answer.returncode == 0, answer.stderr


@pytest.mark.parametrize("variant", sorted(FORBIDDEN))
def test_the_policy_denies_every_other_pod(
    job_mode: JobMode, field_report_job: dict[str, Any], variant: str
) -> None:
    answer = _create(
        job_mode,
        _as_job(job_mode, field_report_job),
        _helper(field_report_job, **FORBIDDEN[variant]),
    )
    assert answer.returncode != 0, f"{variant} was admitted"
    assert "dind-preflight-helper-pod" in answer.stderr and "denied" in answer.stderr, answer.stderr


@pytest.mark.parametrize(
    "verb,resource",
    [
        ("create", "pods/exec"),
        ("patch", "pods/ephemeralcontainers"),
        ("update", "pods/ephemeralcontainers"),
        ("get", "secrets"),
        ("patch", "nodes/status"),
    ],
)
def test_the_job_account_cannot_exec_or_add_containers(
    job_mode: JobMode, verb: str, resource: str
) -> None:
    user = f"system:serviceaccount:{JOB_NS}:dind-preflight"
    assert not can_i(job_mode.cluster, user, verb, resource, JOB_NS)
