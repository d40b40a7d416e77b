"""A real Kubernetes control plane on loopback: etcd, kube-apiserver, kube-controller-manager and
kube-scheduler, built from their Go modules by scripts/build-control-plane.sh.

The flags follow controller-runtime's envtest (pkg/internal/testing/controlplane): RBAC, service
account tokens signed by a key of ours (so TokenRequest-bound tokens and SelfSubjectReview are
the server's own), the default admission chain (ValidatingAdmissionPolicy is GA and on), and an
admin client certificate in ``system:masters``. The controllers are the real ones (DaemonSet,
Deployment, Job, CronJob, garbage collector, node lifecycle, root CA publisher), so a manifest
applied with kubectl turns into pods the way it does on a cluster; tests/cluster/kubelet.py
plays the nodes.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import trustme
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

REPO = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO / "scripts" / "build-control-plane.sh"
START_TIMEOUT_S = 90.0


def control_plane_binaries() -> Path:
    """The directory of the pinned binaries, built on first use (the script prints it)."""
    done = subprocess.run(
        ["bash", str(BUILD_SCRIPT)], check=False, capture_output=True, text=True, timeout=3600
    )
    if done.returncode != 0:
        raise RuntimeError(f"scripts/build-control-plane.sh failed:\n{done.stderr[-4000:]}")
    return Path(done.stdout.strip().splitlines()[-1])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Credentials:
    """Files a client needs: the cluster CA and one client certificate."""

    ca: Path
    cert: Path
    key: Path


@dataclass(frozen=True)
class AuditEntry:
    user: str
    verb: str
    resource: str
    subresource: str
    namespace: str
    name: str
    code: int
    uri: str


@dataclass
class ControlPlane:
    """A running control plane; ``kubeconfig`` is the admin's."""

    bin_dir: Path
    work: Path
    url: str
    port: int
    kubeconfig: Path
    ca_file: Path
    kubelet_client: Credentials
    processes: dict[str, subprocess.Popen[bytes]]

    def kubectl(
        self,
        *args: str,
        check: bool = True,
        input_text: str | None = None,
        timeout: float = 60,
        kubeconfig: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run the built kubectl, as the admin unless ``kubeconfig`` names another user (the
        docs' commands go through here)."""
        done = subprocess.run(
            [str(self.bin_dir / "kubectl"), *args],
            input=input_text,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env={**os.environ, "KUBECONFIG": str(kubeconfig or self.kubeconfig)},
        )
        if check and done.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} -> {done.returncode}\n{done.stderr}")
        return done

    def audit(self, username_prefix: str = "system:serviceaccount:") -> list[AuditEntry]:
        """The API server's audit log: one entry per request of a service account."""
        path = self.work / "audit.log"
        if not path.exists():
            return []
        entries = []
        for line in path.read_text().splitlines():
            event = json.loads(line)
            user = event.get("user", {}).get("username", "")
            if not user.startswith(username_prefix):
                continue
            ref = event.get("objectRef", {})
            entries.append(
                AuditEntry(
                    user=user,
                    verb=event.get("verb", ""),
                    resource=ref.get("resource", ""),
                    subresource=ref.get("subresource", ""),
                    namespace=ref.get("namespace", ""),
                    name=ref.get("name", ""),
                    code=int(event.get("responseStatus", {}).get("code", 0)),
                    uri=event.get("requestURI", ""),
                )
            )
        return entries

    def token_kubeconfig(self, token: str, path: Path) -> Path:
        """A kubeconfig that authenticates with ``token`` (a service account's, say)."""
        write_kubeconfig(path, self.url, self.ca_file, {"token": token})
        return path

    def log_of(self, name: str) -> str:
        path = self.work / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def alive(self) -> list[str]:
        return [name for name, proc in self.processes.items() if proc.poll() is None]


def _write_certs(work: Path) -> tuple[Path, Path, Path, Path, Credentials, Credentials]:
    ca = trustme.CA(organization_name="dind-preflight test cluster")
    ca_file = work / "ca.crt"
    ca.cert_pem.write_to_path(str(ca_file))

    def pair(name: str, cert: trustme.LeafCert) -> Credentials:
        cert_path, key_path = work / f"{name}.crt", work / f"{name}.key"
        cert.cert_chain_pems[0].write_to_path(str(cert_path))
        cert.private_key_pem.write_to_path(str(key_path))
        return Credentials(ca_file, cert_path, key_path)

    serving = pair(
        "apiserver",
        ca.issue_cert(
            "127.0.0.1",
            "localhost",
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
        ),
    )
    admin = pair(
        "admin", ca.issue_cert("admin", common_name="admin", organization_name="system:masters")
    )
    kubelet_client = pair(
        "apiserver-kubelet-client",
        ca.issue_cert(
            "kube-apiserver-kubelet-client",
            common_name="kube-apiserver-kubelet-client",
            organization_name="system:masters",
        ),
    )
    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    sa_private, sa_public = work / "sa.key", work / "sa.pub"
    sa_private.write_bytes(
        sa_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    sa_public.write_bytes(
        sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return ca_file, serving.cert, serving.key, sa_private, admin, kubelet_client


def write_kubeconfig(path: Path, url: str, ca: Path, user: dict[str, str]) -> None:
    """A kubeconfig of one cluster (``url``, trusting ``ca``) and one user (its credential keys:
    ``client-certificate``/``client-key`` or ``token``)."""
    credentials = "".join(f"    {key}: {value}\n" for key, value in user.items())
    path.write_text(
        "apiVersion: v1\nkind: Config\n"
        f"clusters:\n- name: test\n  cluster:\n    server: {url}\n"
        f"    certificate-authority: {ca}\n"
        f"users:\n- name: user\n  user:\n{credentials}"
        "contexts:\n- name: test\n  context:\n    cluster: test\n    user: user\n"
        "current-context: test\n"
    )


def die_with_parent() -> None:
    """In the child before exec: SIGKILL when the thread that started it ends, so that nothing
    outlives a test session that is itself killed (prctl PR_SET_PDEATHSIG)."""
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1


def _start(name: str, argv: list[str], work: Path) -> subprocess.Popen[bytes]:
    log = (work / f"{name}.log").open("wb")
    return subprocess.Popen(
        argv,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=die_with_parent,
    )


def _wait_ready(url: str, creds: Credentials, proc: subprocess.Popen[bytes], log: Path) -> None:
    context = ssl.create_default_context(cafile=str(creds.ca))
    context.load_cert_chain(str(creds.cert), str(creds.key))
    deadline = time.monotonic() + START_TIMEOUT_S
    last = ""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"kube-apiserver exited {proc.returncode}:\n{log.read_text()[-4000:]}"
            )
        try:
            with urllib.request.urlopen(f"{url}/readyz", context=context, timeout=5) as answer:
                if answer.status == 200:
                    return
        except OSError as exc:
            last = str(exc)
        time.sleep(0.25)
    raise RuntimeError(
        f"kube-apiserver not ready in {START_TIMEOUT_S:.0f} s ({last}):\n{log.read_text()[-4000:]}"
    )


def _stop(processes: dict[str, subprocess.Popen[bytes]]) -> None:
    # Controllers first, etcd last: the order a cluster is taken down in.
    for name in reversed(list(processes)):
        proc = processes[name]
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


@contextlib.contextmanager
def control_plane() -> Iterator[ControlPlane]:
    """Start etcd and the Kubernetes control plane on loopback; stop them and remove their files."""
    bin_dir = control_plane_binaries()
    work = Path(tempfile.mkdtemp(prefix="dind-preflight-cluster."))
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        ca_file, serving_cert, serving_key, sa_key, admin, kubelet_client = _write_certs(work)
        etcd_port, peer_port, api_port = free_port(), free_port(), free_port()
        etcd_url = f"http://127.0.0.1:{etcd_port}"
        processes["etcd"] = _start(
            "etcd",
            [
                str(bin_dir / "etcd"),
                "--name=test",
                f"--data-dir={work / 'etcd'}",
                f"--listen-client-urls={etcd_url}",
                f"--advertise-client-urls={etcd_url}",
                f"--listen-peer-urls=http://127.0.0.1:{peer_port}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}",
                f"--initial-cluster=test=http://127.0.0.1:{peer_port}",
                "--unsafe-no-fsync",
                "--log-level=warn",
            ],
            work,
        )
        url = f"https://127.0.0.1:{api_port}"
        audit_policy = work / "audit-policy.yaml"
        # Every request of a service account, with its verb, resource and answer: the tests read
        # it to prove that each component's calls were allowed (no 403) on the real RBAC.
        audit_policy.write_text(
            "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\n"
            "rules:\n- level: Metadata\n  userGroups: [system:serviceaccounts]\n- level: None\n"
        )
        processes["kube-apiserver"] = _start(
            "kube-apiserver",
            [
                str(bin_dir / "kube-apiserver"),
                f"--etcd-servers={etcd_url}",
                "--bind-address=127.0.0.1",
                f"--secure-port={api_port}",
                "--advertise-address=127.0.0.1",
                f"--tls-cert-file={serving_cert}",
                f"--tls-private-key-file={serving_key}",
                f"--client-ca-file={ca_file}",
                "--authorization-mode=Node,RBAC",
                "--service-cluster-ip-range=10.0.0.0/24",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={work / 'sa.pub'}",
                f"--service-account-signing-key-file={sa_key}",
                f"--kubelet-client-certificate={kubelet_client.cert}",
                f"--kubelet-client-key={kubelet_client.key}",
                "--kubelet-preferred-address-types=InternalIP",
                "--allow-privileged=true",
                f"--cert-dir={work / 'apiserver-certs'}",
                f"--audit-policy-file={audit_policy}",
                f"--audit-log-path={work / 'audit.log'}",
                "--audit-log-mode=blocking",
                "--v=1",
            ],
            work,
        )
        _wait_ready(url, admin, processes["kube-apiserver"], work / "kube-apiserver.log")
        kubeconfig = work / "admin.kubeconfig"
        write_kubeconfig(
            kubeconfig,
            url,
            admin.ca,
            {"client-certificate": str(admin.cert), "client-key": str(admin.key)},
        )
        processes["kube-controller-manager"] = _start(
            "kube-controller-manager",
            [
                str(bin_dir / "kube-controller-manager"),
                f"--kubeconfig={kubeconfig}",
                "--leader-elect=false",
                "--bind-address=127.0.0.1",
                f"--secure-port={free_port()}",
                f"--service-account-private-key-file={sa_key}",
                f"--root-ca-file={ca_file}",
                "--use-service-account-credentials=false",
                "--controllers=*",
                "--concurrent-daemonset-syncs=2",
                "--v=1",
            ],
            work,
        )
        processes["kube-scheduler"] = _start(
            "kube-scheduler",
            [
                str(bin_dir / "kube-scheduler"),
                f"--kubeconfig={kubeconfig}",
                f"--authentication-kubeconfig={kubeconfig}",
                f"--authorization-kubeconfig={kubeconfig}",
                "--leader-elect=false",
                "--bind-address=127.0.0.1",
                f"--secure-port={free_port()}",
                "--v=1",
            ],
            work,
        )
        yield ControlPlane(
            bin_dir=bin_dir,
            work=work,
            url=url,
            port=api_port,
            kubeconfig=kubeconfig,
            ca_file=ca_file,
            kubelet_client=kubelet_client,
            processes=processes,
        )
    finally:
        _stop(processes)
        shutil.rmtree(work, ignore_errors=True)


def utc_now() -> str:
    """RFC 3339 with seconds, as the API's metav1.Time serialises."""
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
