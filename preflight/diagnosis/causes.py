"""The catalog of causes: every cause code a diagnosis can name, whose fault it is, and the fix
(worded here; :mod:`preflight.diagnosis.remedies` turns a module cause into load-at-boot steps).

Cause codes are stable strings: GitLab issues are deduplicated on them and node taints carry them.
Log signatures (:mod:`preflight.diagnosis.signatures`) and the decision
(:mod:`preflight.diagnosis.decide`) only refer to the codes defined here.
"""

from __future__ import annotations

from dataclasses import dataclass

from preflight.diagnosis.model import HEALTHY_CAUSE, Cause, FaultClass

IPTABLE_NAT_MISSING = "iptable_nat-missing"
IPTABLE_FILTER_MISSING = "iptable_filter-missing"
IP_TABLES_MISSING = "ip_tables-missing"
NFT_CHAIN_NAT_MISSING = "nft_chain_nat-missing"
NF_TABLES_MISSING = "nf_tables-missing"
NAT_UNAVAILABLE = "nat-unavailable"
NETFILTER_MODULE_MISSING = "netfilter-module-missing"
SERVICE_CONFIG_ERROR = "service-config-error"
IP6TABLE_NAT_MISSING = "ip6table_nat-missing"
IPTABLES_BACKEND_MISMATCH = "iptables-backend-mismatch"
NOT_PRIVILEGED = "not-privileged"
STORAGE_DRIVER_UNSUPPORTED = "storage-driver-unsupported"
STORAGE_BACKING_FS_UNSUPPORTED = "storage-backing-fs-unsupported"
OVERLAY_FS_MISSING = "overlay-fs-missing"
BACKING_FS_NO_D_TYPE = "backing-fs-no-d-type"
CGROUP_V2_UNSUPPORTED = "cgroup-v2-unsupported"
TLS_PORT_MISMATCH = "tls-port-mismatch"
PORT_IN_USE = "port-in-use"
PORT_ALREADY_ALLOCATED = "port-already-allocated"
STALE_PID_FILE = "stale-pid-file"
SERVICE_OOM_KILLED = "service-oom-killed"
SERVICE_IMAGE_UNAVAILABLE = "service-image-unavailable"
NO_DIND_SERVICE = "no-dind-service"
DIND_EXITED = "dind-exited"
DIND_NOT_READY = "dind-not-ready"
HEALTHY = HEALTHY_CAUSE
NOT_ESTABLISHED = "not-established"


@dataclass(frozen=True)
class CauseInfo:
    """What a cause code means: whose fault, the kernel module involved, and the fix."""

    code: str
    fault: FaultClass
    summary: str
    module: str | None = None
    fix: str = ""


CAUSES: dict[str, CauseInfo] = {
    info.code: info
    for info in (
        CauseInfo(
            IPTABLE_NAT_MISSING,
            FaultClass.NODE,
            "The node's kernel module iptable_nat is not loaded: dockerd in the dind service "
            "cannot create its NAT chain and exits.",
            module="iptable_nat",
            fix="Load iptable_nat (and iptable_filter) on the node and list them in "
            "/etc/modules-load.d/ so that they load at every boot.",
        ),
        CauseInfo(
            IPTABLE_FILTER_MISSING,
            FaultClass.NODE,
            "The node's kernel module iptable_filter is not loaded: dockerd in the dind service "
            "cannot create its filter chains and exits.",
            module="iptable_filter",
            fix="Load iptable_filter (and iptable_nat) on the node and list them in "
            "/etc/modules-load.d/.",
        ),
        CauseInfo(
            IP_TABLES_MISSING,
            FaultClass.NODE,
            "The node's kernel has no legacy iptables support loaded (ip_tables): dockerd in the "
            "dind service cannot use iptables at all.",
            module="ip_tables",
            fix="Load ip_tables, iptable_nat and iptable_filter on the node and list them in "
            "/etc/modules-load.d/.",
        ),
        CauseInfo(
            NFT_CHAIN_NAT_MISSING,
            FaultClass.NODE,
            "The dind service's iptables uses nf_tables and the node cannot create nat chains "
            "(kernel module nft_chain_nat not available).",
            module="nft_chain_nat",
            fix="Load nft_chain_nat on the node (or iptable_nat and run dind with "
            "DOCKER_IPTABLES_LEGACY=1) and list it in /etc/modules-load.d/.",
        ),
        CauseInfo(
            NF_TABLES_MISSING,
            FaultClass.NODE,
            "The dind service's iptables uses nf_tables and the node's kernel has no nf_tables "
            "support loaded.",
            module="nf_tables",
            fix="Load nf_tables and nft_chain_nat on the node, or load iptable_nat and run dind "
            "with DOCKER_IPTABLES_LEGACY=1.",
        ),
        CauseInfo(
            NAT_UNAVAILABLE,
            FaultClass.NODE,
            "dockerd in the dind service could not create its NAT chain, and the log does not "
            "say which iptables backend failed.",
            fix="Check which backend dind uses (the `iptables v1.8.x (legacy)` or `(nf_tables)` "
            "line of its log): legacy needs iptable_nat on the node, nf_tables needs "
            "nft_chain_nat; load it and list it in /etc/modules-load.d/.",
        ),
        CauseInfo(
            IP6TABLE_NAT_MISSING,
            FaultClass.NODE,
            "The node's kernel module ip6table_nat is not loaded: dockerd in the dind service "
            "cannot set up IPv6 NAT (moby 26.1-27.0.0 stop on it; later versions only warn).",
            module="ip6table_nat",
            fix="Load ip6_tables and ip6table_nat on the node and list them in "
            "/etc/modules-load.d/, or use docker:27.0.1-dind or later (IPv6 NAT then only "
            "warns), or pass --ip6tables=false to dind.",
        ),
        CauseInfo(
            IPTABLES_BACKEND_MISMATCH,
            FaultClass.JOB,
            "The dind image drives nf_tables while the node's netfilter is run by legacy "
            "iptables: dockerd's first rule append fails (docker:dind images of December 2023 "
            "on GKE Container-Optimized OS, for example).",
            fix="Use a current docker:dind (its entrypoint picks the backend the node uses), or "
            "set DOCKER_IPTABLES_LEGACY=1 in the dind service's variables.",
        ),
        CauseInfo(
            NETFILTER_MODULE_MISSING,
            FaultClass.NODE,
            "A kernel module that dind's iptables backend needs is missing or blocked on the "
            "node (a match, target or nat helper module).",
            fix="Make the module named in the diagnosis available and loadable on the node, and "
            "list it in /etc/modules-load.d/.",
        ),
        CauseInfo(
            NOT_PRIVILEGED,
            FaultClass.RUNNER,
            "The dind service container is not privileged: dockerd cannot mount or change "
            "iptables.",
            fix="Set `privileged = true` under [runners.kubernetes] in the runner's config.toml.",
        ),
        CauseInfo(
            STORAGE_DRIVER_UNSUPPORTED,
            FaultClass.RUNNER,
            "dockerd in the dind service cannot initialise its storage driver, and the log does "
            "not say why.",
            fix="Mount an emptyDir volume at /var/lib/docker in the dind service (runner "
            "[[runners.kubernetes.volumes.empty_dir]]), and do not force DOCKER_DRIVER.",
        ),
        CauseInfo(
            STORAGE_BACKING_FS_UNSUPPORTED,
            FaultClass.RUNNER,
            "overlay2 cannot stack on the filesystem under the dind service's /var/lib/docker: "
            "without a volume there it is the container's own overlay root (overlay on overlay).",
            fix="Mount an emptyDir volume at /var/lib/docker in the dind service (runner "
            '[[runners.kubernetes.volumes.empty_dir]] with mount_path = "/var/lib/docker").',
        ),
        CauseInfo(
            OVERLAY_FS_MISSING,
            FaultClass.NODE,
            "The node's kernel offers no overlay filesystem (module overlay not loaded, or a "
            "kernel too old or built without it): dockerd's overlay2 driver cannot work.",
            module="overlay",
            fix="Load the overlay module on the node and list it in /etc/modules-load.d/ (or "
            "move the node to a kernel with CONFIG_OVERLAY_FS).",
        ),
        CauseInfo(
            BACKING_FS_NO_D_TYPE,
            FaultClass.NODE,
            "The node's filesystem under the dind data root has no d_type support (e.g. xfs "
            "formatted with ftype=0): overlay2 cannot work.",
            fix="Give /var/lib/docker of the dind service a volume on a filesystem with d_type "
            "(xfs ftype=1 or ext4).",
        ),
        CauseInfo(
            CGROUP_V2_UNSUPPORTED,
            FaultClass.JOB,
            "The dind entrypoint could not set up cgroup v2 nesting (an image older than "
            "docker:20.10.16-dind, or the start-up race fixed in later images).",
            fix="Use a current docker:dind image in the job's `services:` (20.10.16 or later).",
        ),
        CauseInfo(
            TLS_PORT_MISMATCH,
            FaultClass.JOB,
            "The job and the dind service disagree about TLS: DOCKER_HOST and DOCKER_TLS_CERTDIR "
            "do not match the port and protocol dind listens on (2376 with TLS, 2375 without).",
            fix='Either DOCKER_HOST=tcp://docker:2376 with DOCKER_TLS_CERTDIR="/certs", '
            'DOCKER_TLS_VERIFY=1, DOCKER_CERT_PATH="$DOCKER_TLS_CERTDIR/client", or '
            'DOCKER_HOST=tcp://docker:2375 with DOCKER_TLS_CERTDIR="".',
        ),
        CauseInfo(
            PORT_IN_USE,
            FaultClass.JOB,
            "dockerd in the dind service could not listen: another container of the job pod "
            "already uses its port.",
            fix="Do not run two services on the same port (all containers of a job pod share "
            "localhost).",
        ),
        CauseInfo(
            PORT_ALREADY_ALLOCATED,
            FaultClass.JOB,
            "dockerd in the dind service was told to listen on the same port twice (an extra "
            "--host for the port its entrypoint already serves, or DOCKER_HOST in the service's "
            "own environment).",
            fix="Drop the extra --host (docker:dind listens on 2376 with TLS, 2375 without) and "
            "do not pass DOCKER_HOST to the dind service itself.",
        ),
        CauseInfo(
            STALE_PID_FILE,
            FaultClass.RUNNER,
            "dockerd in the dind service found a pid file from an earlier daemon (the container "
            "restarted, or /var/run outlived it) and refused to start.",
            fix="Start dind with a fresh /var/run: current docker:dind entrypoints delete "
            "/var/run/docker.pid first; a custom image must do the same, and /var/run must not "
            "be a volume shared across restarts.",
        ),
        CauseInfo(
            SERVICE_OOM_KILLED,
            FaultClass.RUNNER,
            "The dind service container was killed for exceeding its memory limit.",
            fix="Raise service_memory_limit under [runners.kubernetes] (or "
            "KUBERNETES_SERVICE_MEMORY_LIMIT where overwrites are allowed).",
        ),
        CauseInfo(
            SERVICE_IMAGE_UNAVAILABLE,
            FaultClass.UNKNOWN,
            "The dind service image could not be pulled.",
            fix="Check the image name in `services:` and that the node can reach the registry.",
        ),
        CauseInfo(
            SERVICE_CONFIG_ERROR,
            FaultClass.RUNNER,
            "Kubernetes cannot create or start the dind service container (its configuration "
            "refers to something missing, e.g. a secret or config map, or the runtime refused it).",
            fix="Read the Kubernetes message in the diagnosis and fix the service's settings in "
            "the runner's config.toml ([runners.kubernetes] and its services).",
        ),
        CauseInfo(
            NO_DIND_SERVICE,
            FaultClass.JOB,
            "The job pod has no dind service container, yet the job expects a Docker daemon.",
            fix="Add `services: [docker:dind]` (with an alias `docker`) to the job, or set "
            "--service-container if the service has an unusual name.",
        ),
        CauseInfo(
            DIND_EXITED,
            FaultClass.UNKNOWN,
            "The dind service exited and its log shows no known failure signature.",
            fix="Read the service log (CI_DEBUG_SERVICES=true shows it in the job log).",
        ),
        CauseInfo(
            DIND_NOT_READY,
            FaultClass.UNKNOWN,
            "The dind service is running but the Docker daemon does not answer at DOCKER_HOST.",
            fix="Check DOCKER_HOST against the service alias and port; give dind more time.",
        ),
        CauseInfo(HEALTHY, FaultClass.UNKNOWN, "The Docker daemon answered: nothing to diagnose."),
        CauseInfo(
            NOT_ESTABLISHED,
            FaultClass.UNKNOWN,
            "The cause could not be established from what was visible.",
            fix="Read the dind service's own log, which says why dockerd is not answering: "
            "set the CI/CD variable CI_DEBUG_SERVICES=true and retry the job (GitLab prints "
            "the service's output in the job log), or, while a job runs, `kubectl logs <job "
            "pod> -c svc-0` in the runner's namespace (services are svc-0, svc-1, ...). Then "
            "run `dind-preflight node-report` on the node (docs/node-report.md).",
        ),
    )
}


def info(code: str) -> CauseInfo:
    """The catalog entry for ``code`` (KeyError for a code that is not in the catalog)."""
    return CAUSES[code]


def cause(code: str, detail: str = "") -> Cause:
    """A :class:`Cause` for ``code``; ``detail`` (one sentence) is appended to the summary."""
    entry = CAUSES[code]
    summary = f"{entry.summary} {detail}".strip() if detail else entry.summary
    return Cause(code=code, summary=summary, module=entry.module)
