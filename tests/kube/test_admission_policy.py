"""deploy/admission/helper-pod-policy.yaml, evaluated by a real CEL implementation (cel-python).

No API server runs here, so the policy's CEL (match condition, variables, validations) is
evaluated the way the API server's ValidatingAdmissionPolicy plugin does: variables in order,
each validation must be true, an evaluation error denies (``failurePolicy: Fail``). The input is
an admission request around the pod that preflight/kube/helper_pod_manifest.py really builds,
then each forbidden variant of it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import celpy
import pytest
import yaml

from preflight.kube.discovery import JobPod, ServiceContainer
from preflight.kube.helper_pod_manifest import helper_pod_manifest
from tests.kube.validation import validate_strict

POLICY_FILE = (
    Path(__file__).resolve().parents[2] / "deploy" / "admission" / "helper-pod-policy.yaml"
)
NAMESPACE = "gitlab-runner"
# The policy's placeholder digest; the same as helper_images in deploy/admin/configmap.yaml.
IMAGE = "registry.gitlab.com/dind-preflight/dind-preflight@sha256:" + "0" * 64
JOB = JobPod(
    name="runner-abc-project-1-concurrent-0-xyz",
    namespace=NAMESPACE,
    uid="0b6f2a52-3c1d-4a8e-9f00-1c2d3e4f5a6b",
    node_name="worker-3",
    build_image=IMAGE,
    service=ServiceContainer("svc-0", "docker:27-dind"),
    service_choice="test",
)
SERVICE_ACCOUNT = f"system:serviceaccount:{NAMESPACE}:dind-preflight"


def _documents() -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(POLICY_FILE.read_text()) if isinstance(d, dict)]


class Policy:
    """The policy's CEL programs, compiled once."""

    def __init__(self, spec: dict[str, Any]) -> None:
        env = celpy.Environment()

        def compile_(text: str) -> Any:
            return env.program(env.compile(text))

        self.match = [compile_(c["expression"]) for c in spec["matchConditions"]]
        self.variables = [(v["name"], compile_(v["expression"])) for v in spec["variables"]]
        self.validations = [(compile_(v["expression"]), v["message"]) for v in spec["validations"]]

    def review(self, request: dict[str, Any]) -> list[str] | None:
        """None: the policy does not apply; else the messages of the failed validations."""
        activation: dict[str, Any] = {
            "request": celpy.json_to_cel(request),
            "object": celpy.json_to_cel(request.get("object")),
            "oldObject": celpy.json_to_cel(request.get("oldObject")),
        }
        if not all(bool(program.evaluate(activation)) for program in self.match):
            return None
        variables: dict[str, Any] = {}
        for name, program in self.variables:
            activation["variables"] = _with(variables)
            variables[name] = program.evaluate(activation)
        activation["variables"] = _with(variables)
        failed = []
        for program, message in self.validations:
            try:
                result = program.evaluate(activation)
            except celpy.CELEvalError as exc:  # failurePolicy: Fail
                failed.append(f"{message} (error: {exc})")
                continue
            if isinstance(result, celpy.CELEvalError):
                failed.append(f"{message} (error: {result})")
            elif not bool(result):
                failed.append(message)
        return failed


def _with(values: dict[str, Any]) -> Any:
    return celpy.celtypes.MapType({celpy.celtypes.StringType(k): v for k, v in values.items()})


@pytest.fixture(scope="module")
def policy() -> Policy:
    (spec,) = [d["spec"] for d in _documents() if d["kind"] == "ValidatingAdmissionPolicy"]
    return Policy(spec)


def helper_pod() -> dict[str, Any]:
    return helper_pod_manifest(
        name="dind-preflight-node-7001-a1b2c3", job=JOB, image=IMAGE, deadline_s=60, job_id="7001"
    )


TOKEN_EXTRA = {
    "authentication.kubernetes.io/pod-name": [JOB.name],
    "authentication.kubernetes.io/pod-uid": [JOB.uid or ""],
    "authentication.kubernetes.io/node-name": ["worker-3"],
}


def request(
    operation: str = "CREATE",
    obj: dict[str, Any] | None = None,
    old: dict[str, Any] | None = None,
    user: str = SERVICE_ACCOUNT,
    extra: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    if extra is None and user == SERVICE_ACCOUNT:
        extra = TOKEN_EXTRA  # the job pod's bound token
    user_info: dict[str, Any] = {"username": user, "groups": ["system:serviceaccounts"]}
    if extra is not None:
        user_info["extra"] = extra
    return {
        "operation": operation,
        "namespace": NAMESPACE,
        "userInfo": user_info,
        "object": obj,
        "oldObject": old,
    }


def test_the_policy_and_binding_are_strictly_valid() -> None:
    kinds = []
    for document in _documents():
        validate_strict(document)
        kinds.append(document["kind"])
    assert kinds == ["ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"]


def defaulted(pod: dict[str, Any]) -> dict[str, Any]:
    """The pod as the API server stores it (what a validating policy sees): the fields its
    defaulting and admission plugins fill in (ServiceAccount, Priority, DefaultTolerationSeconds
    leaves a pod that tolerates every NoExecute taint alone). The real-control-plane suite
    checks this against kube-apiserver."""
    stored = copy.deepcopy(pod)
    spec = stored["spec"]
    spec.update(
        dnsPolicy="ClusterFirst",
        schedulerName="default-scheduler",
        serviceAccountName="default",
        serviceAccount="default",
        priority=0,
        preemptionPolicy="PreemptLowerPriority",
    )
    for container in spec["containers"]:
        container.setdefault("terminationMessagePath", "/dev/termination-log")
    return stored


def test_the_helper_pod_the_code_builds_is_admitted(policy: Policy) -> None:
    assert policy.review(request(obj=helper_pod())) == []
    assert policy.review(request(obj=defaulted(helper_pod()))) == []
    with_defaults = defaulted(helper_pod())
    with_defaults["spec"]["tolerations"] += [
        {
            "key": f"node.kubernetes.io/{key}",
            "operator": "Exists",
            "effect": "NoExecute",
            "tolerationSeconds": 300,
        }
        for key in ("not-ready", "unreachable")
    ]
    assert policy.review(request(obj=with_defaults)) == []


@pytest.mark.parametrize(
    "account", ["dind-preflight:dind-preflight-resolve", "dind-preflight:dind-preflight-audit"]
)
def test_resolve_and_audit_create_the_same_pod_on_any_node(policy: Policy, account: str) -> None:
    pod = helper_pod()
    del pod["metadata"]["ownerReferences"]  # no job pod owns an audit's or resolve's helper
    pod["spec"]["nodeName"] = "worker-9"
    user = f"system:serviceaccount:{account}"
    assert policy.review(request(obj=defaulted(pod), user=user, extra={})) == []
    pod["spec"]["containers"][0]["image"] = "alpine:3"
    assert policy.review(request(obj=pod, user=user, extra={}))


def test_the_allow_listed_image_is_the_project_image() -> None:
    (spec,) = [d["spec"] for d in _documents() if d["kind"] == "ValidatingAdmissionPolicy"]
    (images,) = [v["expression"] for v in spec["variables"] if v["name"] == "allowedImages"]
    assert IMAGE in images


def test_other_users_are_not_matched(policy: Policy) -> None:
    assert policy.review(request(obj=helper_pod(), user="system:serviceaccount:x:other")) is None
    runner = f"system:serviceaccount:{NAMESPACE}:gitlab-runner"
    assert policy.review(request(obj={"metadata": {}, "spec": {}}, user=runner)) is None


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(pod: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = pod
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        if value is _DELETE:
            del node[last]
        elif last.isdigit():
            node[int(last)] = value
        else:
            node[last] = value

    return change


_DELETE = object()
C = "spec.containers.0"
FORBIDDEN: dict[str, Callable[[dict[str, Any]], None]] = {
    "privileged": _set(f"{C}.securityContext.privileged", True),
    "privilege-escalation": _set(f"{C}.securityContext.allowPrivilegeEscalation", True),
    "capability-added": _set(f"{C}.securityContext.capabilities", {"add": ["SYS_ADMIN"]}),
    "writable-root-fs": _set(f"{C}.securityContext.readOnlyRootFilesystem", False),
    "host-network": _set("spec.hostNetwork", True),
    "host-pid": _set("spec.hostPID", True),
    "host-ipc": _set("spec.hostIPC", True),
    "service-account": _set("spec.serviceAccountName", "gitlab-runner"),
    "token-mounted": _set("spec.automountServiceAccountToken", True),
    "token-unset": _set("spec.automountServiceAccountToken", _DELETE),
    "other-image": _set(f"{C}.image", "alpine:3"),
    "other-command": _set(f"{C}.command", ["sh", "-c", "cat /host/etc/shadow"]),
    "args": _set(f"{C}.args", ["--evil"]),
    "env-from-secret": _set(f"{C}.envFrom", [{"secretRef": {"name": "runner-token"}}]),
    "second-container": lambda pod: pod["spec"]["containers"].append(
        copy.deepcopy(pod["spec"]["containers"][0]) | {"name": "two"}
    ),
    "init-container": _set("spec.initContainers", [{"name": "i", "image": IMAGE}]),
    "host-path-etc": _set("spec.volumes.0.hostPath.path", "/etc"),
    "writable-mount": _set(f"{C}.volumeMounts.0.readOnly", False),
    "not-recursive": _set(f"{C}.volumeMounts.0.recursiveReadOnly", "Disabled"),
    "propagation": _set(f"{C}.volumeMounts.0.mountPropagation", "Bidirectional"),
    "secret-volume": lambda pod: pod["spec"]["volumes"].append(
        {"name": "s", "secret": {"secretName": "dind-preflight-gitlab-token"}}
    ),
    "projected-token": _set(
        "spec.volumes",
        [{"name": "host-root", "projected": {"sources": [{"serviceAccountToken": {"path": "t"}}]}}],
    ),
    "no-deadline": _set("spec.activeDeadlineSeconds", _DELETE),
    "long-deadline": _set("spec.activeDeadlineSeconds", 86400),
    "restarts": _set("spec.restartPolicy", "Always"),
    "root": _set("spec.securityContext.runAsUser", 0),
    "root-allowed": _set("spec.securityContext.runAsNonRoot", False),
    "tolerates-everything": _set("spec.tolerations", [{"operator": "Exists"}]),
    "run-as-other-group": _set("spec.securityContext.runAsGroup", 0),
    "run-as-other-user": _set("spec.securityContext.runAsUser", 1000),
    "tty": _set(f"{C}.tty", True),
    "stdin": _set(f"{C}.stdin", True),
    "working-dir": _set(f"{C}.workingDir", "/host/etc"),
    "lifecycle-hook": _set(f"{C}.lifecycle", {"postStart": {"exec": {"command": ["sh"]}}}),
    "probe": _set(f"{C}.livenessProbe", {"exec": {"command": ["sh", "-c", "id"]}}),
    "other-dns-policy": _set("spec.dnsPolicy", "None"),
    "other-scheduler": _set("spec.schedulerName", "evil-scheduler"),
    "priority": _set("spec.priority", 1000000000),
    "priority-class": _set("spec.priorityClassName", "system-node-critical"),
    "other-service-account-name": _set("spec.serviceAccount", "gitlab-runner"),
    "hostname": _set("spec.hostname", "kubernetes"),
    "other-termination-message-path": _set(f"{C}.terminationMessagePath", "/host/etc/passwd"),
    "tag-not-digest": _set(f"{C}.image", "registry.gitlab.com/dind-preflight/dind-preflight:0.1.0"),
    "node-selector": _set("spec.nodeSelector", {"kubernetes.io/hostname": "control-plane"}),
    "unlabelled": _set("metadata.labels", {"app": "x"}),
    "no-owner": _set("metadata.ownerReferences", _DELETE),
    "owned-by-another-pod": _set("metadata.ownerReferences.0.name", "someone-else"),
    "another-node": _set("spec.nodeName", "control-plane-1"),
}


@pytest.mark.parametrize("variant", sorted(FORBIDDEN))
def test_each_forbidden_variant_is_denied(policy: Policy, variant: str) -> None:
    pod = helper_pod()
    FORBIDDEN[variant](pod)
    failed = policy.review(request(obj=pod, extra=TOKEN_EXTRA))
    assert failed, f"{variant} was admitted"


def test_without_pod_and_node_claims_in_the_token_a_job_creates_nothing(policy: Policy) -> None:
    """Fail closed: a token without the pod/node claims (before 1.30) cannot be checked."""
    assert policy.review(request(obj=helper_pod(), extra={}))
    no_node = {k: v for k, v in TOKEN_EXTRA.items() if not k.endswith("node-name")}
    assert policy.review(request(obj=helper_pod(), extra=no_node))


def test_delete_only_helper_pods(policy: Policy) -> None:
    assert policy.review(request("DELETE", old=helper_pod())) == []
    others = helper_pod()  # another job's helper pod
    others["metadata"]["ownerReferences"][0].update(name="runner-other", uid="1" * 8)
    assert policy.review(request("DELETE", old=others))
    job_pod = {"metadata": {"name": JOB.name, "labels": {"pod": "runner"}}, "spec": {}}
    assert policy.review(request("DELETE", old=job_pod))
    unlabelled = {"metadata": {"name": "x"}, "spec": {}}
    assert policy.review(request("DELETE", old=unlabelled))
