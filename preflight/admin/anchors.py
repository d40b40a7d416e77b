"""Which anchors of job mode's evidence hold, from the job's environment and the admin's file.
Pure.

Quarantine follows only evidence a job cannot forge. Each check below names a variable a job
could set to bend that evidence; when one is set (or no admin file exists) quarantine is off for
the run, with one line that says why. Retrying (exit 75) is cheap; quarantine is not.

Where each anchor comes from in job mode:

- the GitLab URL, its CA, the token file, the reporter, the actions, the helper digests, the
  node root, the API server: the admin's file (:mod:`preflight.admin.config`);
- the pod and the node: a SelfSubjectReview with the pod's bound token
  (:mod:`preflight.admin.identity`), never ``HOSTNAME``;
- the API server's identity: the service-account CA at its standard path, never a directory a
  variable names;
- the runner to pause, the job's project and pipeline: ``GET /api/v4/job`` with ``JOB-TOKEN`` at
  the admin's GitLab, never ``CI_RUNNER_ID`` or ``CI_PROJECT_*``;
- a helper pod's report: its ``status.containerStatuses[].imageID``, one of the admin's digests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from preflight.admin.config import AdminConfig, absent_reason
from preflight.kube.settings import ENV_SERVICE_ACCOUNT_DIR, SERVICE_ACCOUNT_DIR

DEFAULT_SERVICE = "kubernetes.default.svc"


@dataclass(frozen=True)
class Anchors:
    """The admin's file (None: absent) and why quarantine is off for this run (empty: on)."""

    admin: AdminConfig | None
    blockers: tuple[str, ...] = ()
    # KUBERNETES_SERVICE_HOST:PORT as the job set them, checked against the default Service's
    # address only when a diagnosis needs it (a DNS lookup: not on the healthy path).
    service_host: str = ""
    service_port: str = ""

    @property
    def quarantine_possible(self) -> bool:
        return self.admin is not None and not self.blockers

    def late_blockers(self) -> tuple[str, ...]:
        """:attr:`blockers`, plus the check of KUBERNETES_SERVICE_HOST against the addresses of
        ``kubernetes.default.svc`` when the admin's API server is that default."""
        if self.admin is None or not self.service_host:
            return self.blockers
        want_host, want_port = self.admin.api_host_port
        if want_host.lower() != DEFAULT_SERVICE or (
            self.service_port and self.service_port != want_port
        ):
            return self.blockers  # compared in anchors_from
        if self.service_host.strip("[]").lower() == DEFAULT_SERVICE or kubelet_injected(
            self.service_host
        ):
            return self.blockers
        return (*self.blockers, _elsewhere(self.service_host, self.service_port, self.admin))


def in_pod() -> bool:
    """Whether this process has a pod's service-account token at the standard path."""
    import os

    return os.path.isfile(os.path.join(SERVICE_ACCOUNT_DIR, "token"))


def anchors_from(env: Mapping[str, str], admin: AdminConfig | None) -> Anchors:
    """Check the variables a job could set to bend the evidence (see the module doc)."""
    if admin is None:
        return Anchors(None, (absent_reason(),))
    blockers: list[str] = []
    sa_dir = env.get(ENV_SERVICE_ACCOUNT_DIR, "").strip()
    if sa_dir and sa_dir.rstrip("/") != SERVICE_ACCOUNT_DIR:
        blockers.append(
            f"{ENV_SERVICE_ACCOUNT_DIR} names another service-account directory (token and CA): "
            "the API server's answers are not trusted"
        )
    if env.get("KUBECONFIG", "").strip():
        blockers.append(
            "KUBECONFIG is set: an API server and credentials of the job's choosing are not trusted"
        )
    host = env.get("KUBERNETES_SERVICE_HOST", "").strip()
    port = env.get("KUBERNETES_SERVICE_PORT", "").strip()
    want_host, want_port = admin.api_host_port
    # The default names the Service, whose ClusterIP the kubelet injects: that comparison needs
    # a lookup and is left to Anchors.late_blockers (the unhealthy path).
    if host and (
        (port and port != want_port)
        or (want_host.lower() != DEFAULT_SERVICE and host.strip("[]").lower() != want_host.lower())
    ):
        blockers.append(_elsewhere(host, port, admin))
    return Anchors(admin, tuple(blockers), service_host=host, service_port=port)


def _elsewhere(host: str, port: str, admin: AdminConfig) -> str:
    return (
        f"KUBERNETES_SERVICE_HOST={host}:{port or '?'} is not the API server "
        f"{admin.api_server} of {admin.path}"
    )


def kubelet_injected(host: str) -> bool:
    """Whether ``host`` is an address ``kubernetes.default.svc`` resolves to (the Service's
    ClusterIP, which the kubelet injects as KUBERNETES_SERVICE_HOST)."""
    import socket

    try:
        infos = socket.getaddrinfo("kubernetes.default.svc", 443, proto=socket.IPPROTO_TCP)
    except OSError:
        return False
    return host.strip("[]") in {str(info[4][0]) for info in infos}
