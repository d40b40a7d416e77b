"""The helper pod that runs ``dind-preflight node-report`` on the job's node. Pure.

It is pinned to the node (``nodeName``, so no scheduler and no affinity is involved, and
``NoSchedule`` taints do not apply: a node we are about to taint, or already tainted, stays
inspectable), tolerates only ``NoExecute`` taints (the kubelet checks those), mounts the host's
``/`` read-only at ``/host`` (recursively where the runtime can), has no service-account token, runs as nobody
without privileges or capabilities, asks for little CPU and memory, never restarts, ends by
itself after ``activeDeadlineSeconds`` (at most :data:`MAX_DEADLINE_S`), and is owned by the job pod, so Kubernetes deletes it
with the job even if we cannot. ``docs/kubernetes.md`` gives the reason for each field.
"""

from __future__ import annotations

import secrets
from typing import Any

from preflight.kube.discovery import JobPod
from preflight.kube.labels import dns_label, label_value

HELPER_CONTAINER = "node-report"
HOST_MOUNT = "/host"
NOBODY = 65534
NAME_LABEL = "app.kubernetes.io/name"
COMPONENT_LABEL = "app.kubernetes.io/component"
JOB_ID_LABEL = "dind-preflight.io/job-id"
JOB_POD_LABEL = "dind-preflight.io/job-pod"
APP_NAME = "dind-preflight"
COMPONENT = "node-probe"
MAX_DEADLINE_S = 300  # deploy/admission/helper-pod-policy.yaml refuses a longer one
COMMAND = ("dind-preflight", "node-report", "--root", HOST_MOUNT, "--proc", "/proc", "--json")
RESOURCES = {
    "requests": {"cpu": "10m", "memory": "32Mi"},
    "limits": {"cpu": "200m", "memory": "128Mi"},
}


def helper_pod_name(job_id: str | None, job_pod: str, suffix: str | None = None) -> str:
    """A DNS-1123 name that says what it is and whose it is, unique per attempt."""
    tail = suffix if suffix is not None else secrets.token_hex(3)
    stem = dns_label(f"dind-preflight-node-{job_id or job_pod}", 63 - len(tail) - 1)
    return f"{stem}-{tail}"


def helper_labels(job: JobPod, job_id: str | None) -> dict[str, str]:
    """Labels that identify helper pods (``kubectl get pods -l app.kubernetes.io/name=...``)."""
    labels = {
        NAME_LABEL: APP_NAME,
        COMPONENT_LABEL: COMPONENT,
        "app.kubernetes.io/managed-by": APP_NAME,
    }
    if job_id and label_value(job_id):
        labels[JOB_ID_LABEL] = label_value(job_id)
    if label_value(job.name):
        labels[JOB_POD_LABEL] = label_value(job.name)
    return labels


def helper_pod_manifest(
    *,
    name: str,
    job: JobPod,
    image: str,
    pull_policy: str = "IfNotPresent",
    pull_secrets: tuple[str, ...] = (),
    deadline_s: int = 60,
    job_id: str | None = None,
) -> dict[str, Any]:
    """The Pod manifest, exactly as it is sent to the API."""
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": job.namespace,
        "labels": helper_labels(job, job_id),
        "annotations": {"dind-preflight.io/purpose": "inspect the node's kernel modules for dind"},
    }
    if job.uid:
        metadata["ownerReferences"] = [
            {"apiVersion": "v1", "kind": "Pod", "name": job.name, "uid": job.uid}
        ]
    spec: dict[str, Any] = {
        "nodeName": job.node_name,
        "restartPolicy": "Never",
        "activeDeadlineSeconds": max(1, min(deadline_s, MAX_DEADLINE_S)),
        "terminationGracePeriodSeconds": 0,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "tolerations": [{"operator": "Exists", "effect": "NoExecute"}],
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": NOBODY,
            "runAsGroup": NOBODY,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [
            {
                "name": HELPER_CONTAINER,
                "image": image,
                "imagePullPolicy": pull_policy,
                "command": list(COMMAND),
                "resources": RESOURCES,
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "privileged": False,
                    "readOnlyRootFilesystem": True,
                    "capabilities": {"drop": ["ALL"]},
                },
                "volumeMounts": [
                    {
                        "name": "host-root",
                        "mountPath": HOST_MOUNT,
                        "readOnly": True,
                        # Submounts of / (e.g. /var/lib/kubelet) read-only too (Kubernetes 1.30+;
                        # an older API server drops the field, an older runtime ignores it).
                        "recursiveReadOnly": "IfPossible",
                    }
                ],
                "terminationMessagePolicy": "FallbackToLogsOnError",
            }
        ],
        "volumes": [{"name": "host-root", "hostPath": {"path": "/", "type": "Directory"}}],
    }
    if pull_secrets:
        spec["imagePullSecrets"] = [{"name": secret} for secret in pull_secrets]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}
