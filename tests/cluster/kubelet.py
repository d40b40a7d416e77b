"""A test kubelet: it plays Nodes of the real control plane and runs their pods' containers as
local processes, so that pods, logs, volumes and security contexts behave as a kubelet makes them.

What it does, as the kubelet does it (pkg/kubelet; the numbers are the kubelet's own):
- registers each Node (InternalIP 127.0.0.1, its own kubelet port, ``registerWithTaints``) and
  renews its Lease in ``kube-node-lease`` every 10 s, so the node lifecycle controller keeps it
  Ready and removes the ``not-ready`` taint the admission chain put on it;
- gives each pod a sandbox: its own network namespace with loopback (containers of one pod share
  ``localhost``; a pod's ports do not collide with another pod's), and the API server at
  ``KUBERNETES_SERVICE_HOST:KUBERNETES_SERVICE_PORT`` (127.0.0.1:443 inside the pod, relayed to
  the real server);
- runs each container in its own mount namespace on a root made of the machine's ``/usr``, ``/etc``
  and the Python that runs the project (read-only), with the pod's volumes at their mount paths:
  hostPath (``/`` is the node's fixture root, ``/proc`` its kernel view), emptyDir, Secret,
  ConfigMap, downwardAPI and projected volumes (service-account token from the TokenRequest API,
  bound to the pod), with ``defaultMode``/``mode`` and the ownership the kubelet sets
  (pkg/volume/volume_linux.go: with ``fsGroup`` group-owned, ``|0440`` read-only, ``|0660``
  writable; a projected token owned by the pod's single ``runAsUser`` with mode 0600);
  ``runAsUser``/``runAsGroup``/``fsGroup``/``supplementalGroups``, ``readOnlyRootFilesystem``,
  ``workingDir``, env (``value``, ``fieldRef``, ``secretKeyRef``, ``configMapKeyRef``, ``envFrom``);
- reports status (phase, conditions, container states with exit codes and reasons, ``imageID``
  from a fixed digest table, restart counts, CrashLoopBackOff) and serves ``/containerLogs`` on
  its port, so ``pods/log`` works through the API server;
- honours deletion: SIGTERM, the grace period, SIGKILL, then removes the pod object.
No container runtime and no registry: an image is an entry of ``ImageTable`` (a reference, a
digest, an entrypoint); an image not in it fails to pull (``ErrImagePull``), as on a node.
Not played: probes (a running container is ready), resource limits, OOM kills.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime
import hashlib
import http.server
import json
import os
import pwd
import selectors
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import trustme

from tests.cluster.controlplane import ControlPlane, die_with_parent, utc_now

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
LEASE_RENEW_S = 10.0
SYNC_S = 0.2
BACKOFF_START_S = 10.0  # the kubelet's initial crash-loop back-off
BACKOFF_MAX_S = 300.0
CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


@dataclass(frozen=True)
class Image:
    """What a pull of ``reference`` gives: its digest and its config (entrypoint, cmd, env)."""

    reference: str
    digest: str
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    dirs: tuple[tuple[str, int, int, int], ...] = ()  # (path, uid, gid, mode) the image has

    @property
    def image_id(self) -> str:
        # containerd's form: the repository (without tag), '@', the digest.
        name = self.reference.split("@", 1)[0]
        last = name.rsplit("/", 1)[-1]
        if ":" in last:
            name = name[: name.rindex(":")]
        if "/" not in name:
            name = f"docker.io/library/{name}"
        return f"{name}@{self.digest}"


def digest_of(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def dockerfile_env(path: Path) -> tuple[tuple[str, str], ...]:
    """The ``ENV`` of the final stage of a Dockerfile, as the built image carries it."""
    import dockerfile

    env: dict[str, str] = {}
    for instruction in dockerfile.parse_file(str(path)):
        if instruction.cmd.upper() == "FROM":
            env = {}
        elif instruction.cmd.upper() == "ENV":
            values = instruction.value
            env.update(zip(values[::2], values[1::2], strict=True))
    return tuple(env.items())


def product_image(reference: str) -> Image:
    """The project's image (deploy/image/Dockerfile): ``dind-preflight`` on PATH, the image's
    ENV, its CMD, and its home directory (10001:0, 0775)."""
    env = dict(dockerfile_env(REPO / "deploy" / "image" / "Dockerfile"))
    env["PATH"] = f"{VENV_BIN}:{BASE_PATH}"
    digest = reference.split("@", 1)[1] if "@sha256:" in reference else digest_of(reference)
    return Image(
        reference,
        digest,
        cmd=("dind-preflight", "--help"),
        env=tuple(env.items()),
        dirs=((env.get("HOME", "/home/preflight"), 10001, 0, 0o775),),
    )


def dind_standin_image(reference: str) -> Image:
    """A docker:dind stand-in: tests/cluster/dind_standin.py plays the daemon's start."""
    return Image(
        reference,
        digest_of(reference),
        entrypoint=(str(VENV_BIN / "python"), str(REPO / "tests" / "cluster" / "dind_standin.py")),
        env=(("PATH", f"{VENV_BIN}:{BASE_PATH}"), ("DOCKER_TLS_CERTDIR", "/certs")),
    )


class ImageTable(dict[str, Image]):
    def add(self, image: Image) -> Image:
        self[image.reference] = image
        return image


@dataclass(frozen=True)
class NodeSpec:
    name: str
    root: Path | None = None  # the node's fixture root: hostPath "/" (its proc/ is /proc)
    labels: Mapping[str, str] = field(default_factory=dict)
    register_with_taints: tuple[Mapping[str, str], ...] = ()


class Api:
    """The kubelet's own client: plain REST with the admin certificate."""

    def __init__(self, cluster: ControlPlane) -> None:
        self.base = cluster.url
        self.session = requests.Session()
        self.session.trust_env = False  # REQUESTS_CA_BUNDLE would override verify below
        self.session.verify = str(cluster.ca_file)
        admin = cluster.work
        self.session.cert = (str(admin / "admin.crt"), str(admin / "admin.key"))

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        content_type: str = "application/json",
        ok: tuple[int, ...] = (200, 201),
        params: Mapping[str, str] | None = None,
    ) -> Any:
        answer = self.session.request(
            method,
            self.base + path,
            data=None if body is None else json.dumps(body),
            headers={"Content-Type": content_type},
            params=params,
            timeout=30,
        )
        if answer.status_code not in ok:
            raise ApiError(
                answer.status_code, f"{method} {path}: {answer.status_code} {answer.text[:500]}"
            )
        return answer.json() if answer.content else None


class ApiError(Exception):
    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status


def setns_listener(netns: str, port: int) -> socket.socket:
    """A listening socket on 127.0.0.1:``port`` inside the network namespace at ``netns``."""
    made: dict[str, Any] = {}

    def inside() -> None:  # setns(2) moves only the calling thread; this one then ends
        fd = os.open(netns, os.O_RDONLY)
        try:
            if _libc.setns(fd, CLONE_NEWNET) != 0:
                err = ctypes.get_errno()
                raise OSError(err, os.strerror(err))
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", port))
            sock.listen(64)
            made["socket"] = sock
        except OSError as exc:
            made["error"] = exc
        finally:
            os.close(fd)

    thread = threading.Thread(target=inside)
    thread.start()
    thread.join()
    if "error" in made:
        raise made["error"]
    return made["socket"]  # type: ignore[no-any-return]


def _pump(a: socket.socket, b: socket.socket) -> None:
    sel = selectors.DefaultSelector()
    sel.register(a, selectors.EVENT_READ, b)
    sel.register(b, selectors.EVENT_READ, a)
    try:
        while True:
            for key, _ in sel.select(timeout=60):
                data = key.fileobj.recv(65536)  # type: ignore[union-attr]
                if not data:
                    return
                key.data.sendall(data)
    except OSError:
        return
    finally:
        a.close()
        b.close()


class Relay:
    """127.0.0.1:443 inside a pod's network namespace -> the API server on the machine's loopback
    (the kubernetes Service's role)."""

    def __init__(self, listener: socket.socket, target_port: int) -> None:
        self.listener = listener
        self.target_port = target_port
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=10)
            except OSError:
                conn.close()
                continue
            threading.Thread(target=_pump, args=(conn, upstream), daemon=True).start()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()


@dataclass
class ContainerRun:
    name: str
    image: Image | None
    log_dir: Path
    proc: subprocess.Popen[bytes] | None = None
    started_at: str | None = None
    restarts: int = 0
    last_terminated: dict[str, Any] | None = None
    terminated: dict[str, Any] | None = None
    waiting: dict[str, str] | None = None
    next_start: float = 0.0
    container_id: str = ""

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"{self.name}.{self.restarts}.log"


class PodWorker:
    """One pod on one node, from sandbox to deletion, in its own thread."""

    def __init__(self, kubelet: Kubelet, node: NodeSpec, pod: dict[str, Any]) -> None:
        self.kubelet = kubelet
        self.node = node
        self.pod = pod
        meta = pod["metadata"]
        self.namespace, self.name, self.uid = meta["namespace"], meta["name"], meta["uid"]
        self.dir = kubelet.work / "pods" / self.uid
        self.dir.mkdir(parents=True, exist_ok=True)
        self.sandbox: subprocess.Popen[bytes] | None = None
        self.relays: list[Relay] = []
        self.init_runs: list[ContainerRun] = []
        self.runs: list[ContainerRun] = []
        self.volumes: dict[str, Path] = {}
        self.volume_error = ""
        self.deleting = threading.Event()
        self.done = threading.Event()
        self.start_time = utc_now()
        self.thread = threading.Thread(target=self._run, name=f"pod-{self.name}", daemon=True)

    # -- the pod's life ------------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._live()
        except Exception as exc:  # a test kubelet bug must show, not hang a test
            self.kubelet.errors.append(exc)
        finally:
            self._teardown()
            self.done.set()

    def _live(self) -> None:
        spec = self.pod["spec"]
        self.init_runs = [self._container_run(c) for c in spec.get("initContainers", [])]
        self.runs = [self._container_run(c) for c in spec["containers"]]
        self._report()
        if any(run.image is None for run in self.init_runs + self.runs):
            self._wait_deleted()  # ErrImagePull until deleted, as a node with no such image
            return
        self._make_sandbox()
        while not self.deleting.is_set():
            try:
                self._mount_volumes()
                break
            except (ApiError, KeyError) as exc:
                self.volume_error = str(exc)
                self._report()
                if self.deleting.wait(1.0):
                    return
        self.volume_error = ""
        restart_policy = spec.get("restartPolicy", "Always")
        for run, container in zip(self.init_runs, spec.get("initContainers", []), strict=True):
            while not self.deleting.is_set():
                self._start(run, container)
                self._report()
                code = self._wait_exit(run)
                self._report()
                if code == 0 or code is None:
                    break
                if restart_policy == "Never":
                    self._wait_deleted()
                    return
                if self.deleting.wait(self._backoff(run)):
                    return
        containers = spec["containers"]
        for run, container in zip(self.runs, containers, strict=True):
            self._start(run, container)
        self._report()
        while not self.deleting.is_set():
            changed = False
            for run, container in zip(self.runs, containers, strict=True):
                if run.proc is not None and run.proc.poll() is not None and run.terminated is None:
                    self._terminated(run)
                    changed = True
                if run.terminated is not None and self._restarts(restart_policy, run):
                    if run.waiting is None:
                        run.waiting = {
                            "reason": "CrashLoopBackOff",
                            "message": "back-off restarting failed container",
                        }
                        run.next_start = time.monotonic() + self._backoff(run)
                        changed = True
                    elif time.monotonic() >= run.next_start:
                        run.last_terminated = run.terminated
                        run.terminated = None
                        run.restarts += 1
                        self._start(run, container)
                        changed = True
            if changed:
                self._report()
            if all(
                run.terminated is not None and not self._restarts(restart_policy, run)
                for run in self.runs
            ):
                self._wait_deleted()
                return
            self.deleting.wait(SYNC_S)

    @staticmethod
    def _restarts(policy: str, run: ContainerRun) -> bool:
        if policy == "Always":
            return True
        return policy == "OnFailure" and bool(run.terminated and run.terminated["exitCode"] != 0)

    @staticmethod
    def _backoff(run: ContainerRun) -> float:
        return min(BACKOFF_START_S * (2**run.restarts), BACKOFF_MAX_S)

    def _wait_deleted(self) -> None:
        self.deleting.wait()

    def _wait_exit(self, run: ContainerRun) -> int | None:
        assert run.proc is not None
        while run.proc.poll() is None:
            if self.deleting.wait(SYNC_S):
                return None
        self._terminated(run)
        return run.proc.returncode

    def _terminated(self, run: ContainerRun) -> None:
        assert run.proc is not None
        code = run.proc.returncode
        exit_code = code if code >= 0 else 128 - code
        run.terminated = {
            "exitCode": exit_code,
            "reason": "Completed" if exit_code == 0 else "Error",
            "startedAt": run.started_at,
            "finishedAt": utc_now(),
            "containerID": run.container_id,
        }
        if exit_code:
            run.terminated["signal"] = -code if code < 0 else None
            if run.terminated["signal"] is None:
                del run.terminated["signal"]

    # -- sandbox, volumes, processes -----------------------------------------------------
    def _container_run(self, container: dict[str, Any]) -> ContainerRun:
        image = self.kubelet.images.get(container["image"])
        run = ContainerRun(container["name"], image, self.dir / "logs")
        run.log_dir.mkdir(parents=True, exist_ok=True)
        if image is None:
            run.waiting = {
                "reason": "ErrImagePull",
                "message": f'failed to pull image "{container["image"]}": not found',
            }
        else:
            run.waiting = {"reason": "ContainerCreating"}
        return run

    def _make_sandbox(self) -> None:
        # The pause container's part: hold a network namespace with loopback up. It says
        # "ready" only once it is inside the new namespace, so nothing below binds in ours.
        self.sandbox = subprocess.Popen(
            [
                "unshare",
                "--net",
                "sh",
                "-c",
                "ip link set lo up && echo ready && exec sleep infinity",
            ],
            start_new_session=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            preexec_fn=die_with_parent,  # the pod's thread lives as long as the pod
        )
        assert self.sandbox.stdout is not None
        if self.sandbox.stdout.readline().strip() != b"ready":
            raise RuntimeError(f"pod sandbox of {self.name} did not start")
        self.sandbox.stdout.close()
        netns = f"/proc/{self.sandbox.pid}/ns/net"
        if os.stat(netns).st_ino == os.stat("/proc/self/ns/net").st_ino:
            raise RuntimeError(f"pod sandbox of {self.name} shares the machine's network namespace")
        forwards = {443: self.kubelet.cluster.port, **self.kubelet.forwards}
        for pod_port, host_port in forwards.items():
            self.relays.append(Relay(setns_listener(netns, pod_port), host_port))

    @property
    def netns(self) -> str:
        assert self.sandbox is not None
        return f"/proc/{self.sandbox.pid}/ns/net"

    def _fs_user(self) -> int | None:
        """The user the kubelet gives a projected token to: the one runAsUser of all containers."""
        spec = self.pod["spec"]
        pod_sc = spec.get("securityContext", {})
        users = {
            c.get("securityContext", {}).get("runAsUser", pod_sc.get("runAsUser"))
            for c in spec.get("initContainers", []) + spec["containers"]
        }
        if len(users) == 1:
            (user,) = users
            return int(user) if user is not None else None
        return None

    def _mount_volumes(self) -> None:
        spec = self.pod["spec"]
        fs_group = spec.get("securityContext", {}).get("fsGroup")
        for volume in spec.get("volumes", []):
            name = volume["name"]
            if name in self.volumes:
                continue
            target = self.dir / "volumes" / name
            if "hostPath" in volume:
                self.volumes[name] = self._host_path(volume["hostPath"])
                continue
            if target.exists():
                shutil.rmtree(target)
            target.mkdir(parents=True)
            if "emptyDir" in volume:
                target.chmod(0o777)
                if fs_group is not None:
                    os.chown(target, 0, int(fs_group))
                    target.chmod(0o777 | 0o2000)
            elif "secret" in volume:
                self._write_files(
                    target, self._secret_files(volume["secret"]), volume["secret"], fs_group, False
                )
            elif "configMap" in volume:
                self._write_files(
                    target,
                    self._configmap_files(volume["configMap"]),
                    volume["configMap"],
                    fs_group,
                    False,
                )
            elif "downwardAPI" in volume:
                files = {
                    item["path"]: (
                        self._field(item["fieldRef"]["fieldPath"]).encode(),
                        item.get("mode"),
                    )
                    for item in volume["downwardAPI"]["items"]
                }
                self._write_files(target, files, volume["downwardAPI"], fs_group, False)
            elif "projected" in volume:
                self._projected(target, volume["projected"], fs_group)
            else:
                raise KeyError(
                    f"volume {name}: kind not played by the test kubelet: {sorted(volume)}"
                )
            self.volumes[name] = target

    def _host_path(self, host_path: dict[str, Any]) -> Path:
        path = host_path["path"]
        if self.node.root is None:
            raise KeyError(f"hostPath {path}: node {self.node.name} has no fixture root")
        mapped = self.node.root / path.lstrip("/")
        if not mapped.exists() and host_path.get("type") in ("Directory", "File"):
            raise KeyError(f"hostPath type check failed: {path} is not a {host_path['type']}")
        return mapped

    def _secret_data(self, name: str) -> dict[str, bytes]:
        """A Secret of the pod's namespace, decoded: what volumes and env take from it."""
        import base64

        secret = self.kubelet.api.request(
            "GET", f"/api/v1/namespaces/{self.namespace}/secrets/{name}"
        )
        return {k: base64.b64decode(v) for k, v in (secret.get("data") or {}).items()}

    def _configmap_data(self, name: str) -> dict[str, bytes]:
        cm = self.kubelet.api.request(
            "GET", f"/api/v1/namespaces/{self.namespace}/configmaps/{name}"
        )
        return {k: v.encode() for k, v in (cm.get("data") or {}).items()}

    def _secret_files(self, source: dict[str, Any]) -> dict[str, tuple[bytes, int | None]]:
        return self._items(self._secret_data(source["secretName"]), source.get("items"))

    def _configmap_files(self, source: dict[str, Any]) -> dict[str, tuple[bytes, int | None]]:
        return self._items(self._configmap_data(source["name"]), source.get("items"))

    @staticmethod
    def _items(
        data: dict[str, bytes], items: list[dict[str, Any]] | None
    ) -> dict[str, tuple[bytes, int | None]]:
        if not items:
            return {key: (value, None) for key, value in data.items()}
        return {item["path"]: (data[item["key"]], item.get("mode")) for item in items}

    def _write_files(
        self,
        target: Path,
        files: dict[str, tuple[bytes, int | None]],
        source: dict[str, Any],
        fs_group: int | None,
        writable: bool,
        owner: int | None = None,
    ) -> None:
        default_mode = source.get("defaultMode", 0o644)
        for rel, (content, mode) in files.items():
            path = target / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
            file_mode = mode if mode is not None else default_mode
            if owner is not None:
                os.chown(path, owner, -1)
                file_mode = 0o600
            if fs_group is not None:
                os.chown(path, -1, int(fs_group))
                file_mode |= 0o660 if writable else 0o440
            path.chmod(file_mode)
        target.chmod(0o755 if fs_group is None else 0o2755)
        if fs_group is not None:
            os.chown(target, 0, int(fs_group))

    def _projected(self, target: Path, projected: dict[str, Any], fs_group: int | None) -> None:
        plain: dict[str, tuple[bytes, int | None]] = {}
        tokens: dict[str, tuple[bytes, int | None]] = {}
        for source in projected.get("sources", []):
            if "serviceAccountToken" in source:
                sat = source["serviceAccountToken"]
                tokens[sat["path"]] = (self._token(sat).encode(), None)
            elif "configMap" in source:
                plain.update(self._configmap_files(source["configMap"]))
            elif "secret" in source:
                plain.update(
                    self._secret_files(
                        {
                            "secretName": source["secret"]["name"],
                            "items": source["secret"].get("items"),
                        }
                    )
                )
            elif "downwardAPI" in source:
                for item in source["downwardAPI"]["items"]:
                    plain[item["path"]] = (
                        self._field(item["fieldRef"]["fieldPath"]).encode(),
                        item.get("mode"),
                    )
        self._write_files(target, plain, projected, fs_group, False)
        fs_user = self._fs_user()
        if tokens:
            self._write_files(
                target,
                tokens,
                projected,
                fs_group if fs_user is None else None,
                False,
                owner=fs_user,
            )

    def _token(self, source: dict[str, Any]) -> str:
        sa = self.pod["spec"].get("serviceAccountName", "default")
        spec: dict[str, Any] = {
            "expirationSeconds": source.get("expirationSeconds", 3600),
            "boundObjectRef": {
                "kind": "Pod",
                "apiVersion": "v1",
                "name": self.name,
                "uid": self.uid,
            },
        }
        if source.get("audience"):
            spec["audiences"] = [source["audience"]]
        answer = self.kubelet.api.request(
            "POST",
            f"/api/v1/namespaces/{self.namespace}/serviceaccounts/{sa}/token",
            {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec},
        )
        return str(answer["status"]["token"])

    def _field(self, path: str) -> str:
        meta, spec = self.pod["metadata"], self.pod["spec"]
        values = {
            "metadata.name": self.name,
            "metadata.namespace": self.namespace,
            "metadata.uid": self.uid,
            "spec.nodeName": spec.get("nodeName", ""),
            "spec.serviceAccountName": spec.get("serviceAccountName", ""),
            "status.podIP": "127.0.0.1",
            "status.hostIP": "127.0.0.1",
        }
        if path in values:
            return values[path]
        for prefix, source in (
            ("metadata.labels", "labels"),
            ("metadata.annotations", "annotations"),
        ):
            if path.startswith(prefix + "['"):
                return str(meta.get(source, {}).get(path[len(prefix) + 2 : -2], ""))
        raise KeyError(f"fieldRef {path}: not played by the test kubelet")

    def _env(self, container: dict[str, Any], image: Image) -> dict[str, str]:
        env = dict(image.env)
        env.update(
            {
                "HOSTNAME": self.name,
                "KUBERNETES_SERVICE_HOST": "127.0.0.1",
                "KUBERNETES_SERVICE_PORT": "443",
                "KUBERNETES_SERVICE_PORT_HTTPS": "443",
                "KUBERNETES_PORT": "tcp://127.0.0.1:443",
                "KUBERNETES_PORT_443_TCP": "tcp://127.0.0.1:443",
                "KUBERNETES_PORT_443_TCP_PROTO": "tcp",
                "KUBERNETES_PORT_443_TCP_PORT": "443",
                "KUBERNETES_PORT_443_TCP_ADDR": "127.0.0.1",
            }
        )
        for source in container.get("envFrom", []):
            prefix = source.get("prefix", "")
            if "configMapRef" in source:
                data = self._configmap_data(source["configMapRef"]["name"])
                env.update({prefix + k: v.decode() for k, v in data.items()})
            if "secretRef" in source:
                data = self._secret_data(source["secretRef"]["name"])
                env.update({prefix + k: v.decode() for k, v in data.items()})
        for item in container.get("env", []):
            if "value" in item:
                env[item["name"]] = _expand(item["value"], env)
            elif "valueFrom" in item:
                ref = item["valueFrom"]
                if "fieldRef" in ref:
                    env[item["name"]] = self._field(ref["fieldRef"]["fieldPath"])
                elif "secretKeyRef" in ref:
                    key = ref["secretKeyRef"]
                    env[item["name"]] = self._secret_data(key["name"])[key["key"]].decode()
                elif "configMapKeyRef" in ref:
                    key = ref["configMapKeyRef"]
                    env[item["name"]] = self._configmap_data(key["name"])[key["key"]].decode()
            else:
                env[item["name"]] = ""
        return env

    def _argv(self, container: dict[str, Any], image: Image, env: dict[str, str]) -> list[str]:
        # The runtime's rule: command replaces the entrypoint and drops cmd; args replace cmd.
        if "command" in container:
            argv = list(container["command"]) + list(container.get("args", []))
        else:
            argv = list(image.entrypoint) + list(container.get("args", image.cmd))
        return [_expand(arg, env) for arg in argv]

    def _start(self, run: ContainerRun, container: dict[str, Any]) -> None:
        assert run.image is not None
        spec = self.pod["spec"]
        pod_sc, sc = spec.get("securityContext", {}), container.get("securityContext", {})
        uid = int(sc.get("runAsUser", pod_sc.get("runAsUser", 0)))
        gid = int(sc.get("runAsGroup", pod_sc.get("runAsGroup", 0)))
        groups = [int(g) for g in pod_sc.get("supplementalGroups", [])]
        if pod_sc.get("fsGroup") is not None:
            groups.append(int(pod_sc["fsGroup"]))
        env = self._env(container, run.image)
        if "HOME" not in env:  # runc's rule: the user's home in the image's /etc/passwd, else /
            try:
                env["HOME"] = pwd.getpwuid(uid).pw_dir
            except KeyError:
                env["HOME"] = "/"
        argv = self._argv(container, run.image, env)
        root = self.dir / "rootfs" / run.name
        root.mkdir(parents=True, exist_ok=True)
        script = self._mount_script(root, container, sc.get("readOnlyRootFilesystem", False))
        userspec = f"--userspec={uid}:{gid}"
        group_arg = [f"--groups={','.join(str(g) for g in groups)}"] if groups else []
        workdir = container.get("workingDir", "/")
        launcher = [
            "nsenter",
            f"--net={self.netns}",
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            script
            + f'\nexec chroot {userspec} {" ".join(group_arg)} "$R" /usr/bin/env --chdir={shlex.quote(workdir)} -- "$@"',
            "container",
            *argv,
        ]
        run.container_id = "containerd://" + uuid.uuid4().hex
        log = run.log_path.open("wb")
        run.proc = subprocess.Popen(
            launcher,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        log.close()
        run.started_at = utc_now()
        run.waiting = None

    def _image_of(self, container: dict[str, Any]) -> Image | None:
        return self.kubelet.images.get(container["image"])

    def _mount_script(self, root: Path, container: dict[str, Any], read_only: bool) -> str:
        lines = [
            "set -e",
            f"R={shlex.quote(str(root))}",
            'mount -t tmpfs -o mode=755 rootfs "$R"',
        ]
        for top in ("bin", "sbin", "lib", "lib32", "lib64", "libx32", "usr"):
            host = Path("/") / top
            if host.is_symlink():
                lines.append(f'ln -s {shlex.quote(os.readlink(host))} "$R/{top}"')
            elif host.is_dir():
                lines += [f'mkdir "$R/{top}"', f'mount --rbind -o ro /{top} "$R/{top}"']
        # /etc as an image layer: the machine's, copy-on-write, so that the runtime can make
        # mount points in it (/etc/dind-preflight) without touching the machine's.
        layer = root.parent / f"{root.name}.etc"
        lines += [
            f'mkdir -p "$R/etc" {shlex.quote(str(layer))}/upper {shlex.quote(str(layer))}/work',
            f"mount -t overlay overlay -o lowerdir=/etc,upperdir={shlex.quote(str(layer))}/upper,"
            f'workdir={shlex.quote(str(layer))}/work "$R/etc"',
        ]
        # The kernel's views and a private /tmp first: what is bound below may live under /tmp.
        proc = self.node.root / "proc" if self.node.root is not None else None
        lines += ['mkdir "$R/dev" "$R/proc" "$R/tmp" "$R/sys"', 'mount --rbind /dev "$R/dev"']
        if proc is not None and proc.is_dir():
            lines.append(f'mount --bind -o ro {shlex.quote(str(proc))} "$R/proc"')
        else:
            lines.append('mount --rbind /proc "$R/proc"')
        lines += ['mount -t tmpfs -o mode=1777 tmp "$R/tmp"', 'mount --rbind -o ro /sys "$R/sys"']
        # The Python that runs the project and the project itself (the image's content).
        for host_dir in sorted({Path(sys.base_prefix).resolve(), REPO}):
            lines += [
                f'mkdir -p "$R{host_dir}"',
                f'mount --bind {shlex.quote(str(host_dir))} "$R{host_dir}"',
                f'mount -o remount,bind,ro "$R{host_dir}"',
            ]
        assert self._image_of(container) is not None
        for path, owner, group, mode in self._image_of(container).dirs:  # type: ignore[union-attr]
            target = '"$R"' + shlex.quote(path)
            lines += [
                f"mkdir -p {target}",
                f"chown {owner}:{group} {target}",
                f"chmod {mode:o} {target}",
            ]
        # The kubelet's /etc/hosts of a pod: itself, the pod's hostAliases (the Kubernetes
        # executor names its services there: docker -> 127.0.0.1), and, standing in for the
        # cluster DNS, the kubernetes Service's names (relayed to the API server).
        hosts = self.dir / "etc-hosts"
        if not hosts.exists():
            lines_of_hosts = ["127.0.0.1\tlocalhost", f"127.0.0.1\t{self.name}"]
            for alias in self.pod["spec"].get("hostAliases", []):
                lines_of_hosts.append(f"{alias['ip']}\t{' '.join(alias.get('hostnames', []))}")
            lines_of_hosts.append(
                "127.0.0.1\tkubernetes kubernetes.default kubernetes.default.svc "
                "kubernetes.default.svc.cluster.local"
            )
            hosts.write_text("\n".join(lines_of_hosts) + "\n")
        lines.append(f'mount --bind -o ro {shlex.quote(str(hosts))} "$R/etc/hosts"')
        for mount in container.get("volumeMounts", []):
            source = self.volumes[mount["name"]]
            if mount.get("subPath"):
                source = source / mount["subPath"]
            target = '"$R"' + shlex.quote(mount["mountPath"])
            make = (
                f"mkdir -p {target}"
                if source.is_dir()
                else f"mkdir -p $(dirname {target}) && touch {target}"
            )
            lines += [make, f"mount --bind {shlex.quote(str(source))} {target}"]
            if mount.get("readOnly"):
                lines.append(f"mount -o remount,bind,ro {target}")
        if read_only:
            lines.append('mount -o remount,bind,ro "$R"')
        return "\n".join(lines)

    def kill(self, grace: float) -> None:
        runs = [
            r for r in self.init_runs + self.runs if r.proc is not None and r.proc.poll() is None
        ]
        for run in runs:
            assert run.proc is not None
            with contextlib.suppress(ProcessLookupError):
                os.killpg(run.proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for run in runs:
            assert run.proc is not None
            try:
                run.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(run.proc.pid, signal.SIGKILL)
                run.proc.wait(timeout=10)

    def _teardown(self) -> None:
        grace = float(
            self.pod["metadata"].get("deletionGracePeriodSeconds")
            or self.pod["spec"].get("terminationGracePeriodSeconds", 30)
        )
        self.kill(min(grace, 30.0))
        for relay in self.relays:
            relay.close()
        if self.sandbox is not None and self.sandbox.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.sandbox.pid, signal.SIGKILL)
            self.sandbox.wait(timeout=10)

    # -- status --------------------------------------------------------------------------
    def _container_status(self, run: ContainerRun, container: dict[str, Any]) -> dict[str, Any]:
        status: dict[str, Any] = {
            "name": run.name,
            "image": container["image"],
            "imageID": run.image.image_id if run.image and run.started_at else "",
            "restartCount": run.restarts,
            "ready": False,
            "started": False,
        }
        if run.container_id and run.started_at:
            status["containerID"] = run.container_id
        if run.waiting is not None:
            waiting = dict(run.waiting)
            if self.volume_error and waiting.get("reason") == "ContainerCreating":
                waiting["message"] = self.volume_error
            status["state"] = {"waiting": waiting}
        elif run.terminated is not None:
            status["state"] = {"terminated": run.terminated}
        elif run.proc is not None:
            status["state"] = {"running": {"startedAt": run.started_at}}
            status["ready"] = status["started"] = True
        if run.last_terminated is not None:
            status["lastState"] = {"terminated": run.last_terminated}
        elif run.terminated is not None and run.waiting is not None:
            status["lastState"] = {"terminated": run.terminated}
        return status

    def _report(self) -> None:
        spec = self.pod["spec"]
        containers = [
            self._container_status(r, c) for r, c in zip(self.runs, spec["containers"], strict=True)
        ]
        inits = [
            self._container_status(r, c)
            for r, c in zip(self.init_runs, spec.get("initContainers", []), strict=True)
        ]
        policy = spec.get("restartPolicy", "Always")
        done = [r.terminated for r in self.runs]
        init_failed = (
            any(r.terminated and r.terminated["exitCode"] != 0 for r in self.init_runs)
            and policy == "Never"
        )
        if init_failed or (
            all(done)
            and policy != "Always"
            and any(t and t["exitCode"] != 0 for t in done)
            and policy == "Never"
        ):
            phase = "Failed"
        elif all(done) and all(t and t["exitCode"] == 0 for t in done) and policy != "Always":
            phase = "Succeeded"
        elif all(r.started_at for r in self.runs):
            phase = "Running"
        else:
            phase = "Pending"
        if policy == "OnFailure" and all(done) and all(t and t["exitCode"] == 0 for t in done):
            phase = "Succeeded"
        ready = all(c["ready"] for c in containers)
        now = utc_now()
        conditions = [
            {
                "type": "PodReadyToStartContainers",
                "status": "True" if self.sandbox else "False",
                "lastTransitionTime": now,
            },
            {
                "type": "Initialized",
                "status": "True" if all(r.terminated for r in self.init_runs) else "False",
                "lastTransitionTime": now,
            },
            {
                "type": "ContainersReady",
                "status": "True" if ready else "False",
                "lastTransitionTime": now,
            },
            {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": now},
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": now},
        ]
        status = {
            "phase": phase,
            "conditions": conditions,
            "hostIP": "127.0.0.1",
            "hostIPs": [{"ip": "127.0.0.1"}],
            "podIP": "127.0.0.1",
            "podIPs": [{"ip": "127.0.0.1"}],
            "startTime": self.start_time,
            "containerStatuses": containers,
        }
        if inits:
            status["initContainerStatuses"] = inits
        try:
            self.kubelet.api.request(
                "PATCH",
                f"/api/v1/namespaces/{self.namespace}/pods/{self.name}/status",
                {"status": status},
                content_type="application/merge-patch+json",
            )
        except ApiError as exc:
            if exc.status != 404:  # 404: the pod was deleted meanwhile
                self.kubelet.errors.append(exc)

    def log_file(self, container: str, previous: bool) -> Path | None:
        for run in self.init_runs + self.runs:
            if run.name == container:
                restarts = run.restarts - 1 if previous else run.restarts
                if restarts < 0:
                    return None
                path = run.log_dir / f"{run.name}.{restarts}.log"
                return path if path.exists() else None
        return None

    def running(self, container: str) -> bool:
        for run in self.init_runs + self.runs:
            if run.name == container:
                return run.proc is not None and run.proc.poll() is None
        return False


def _expand(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes' $(VAR) expansion (third_party/forked/golang/expansion): $$ escapes."""
    out, i = [], 0
    while i < len(text):
        if text.startswith("$$", i):
            out.append("$")
            i += 2
        elif text.startswith("$(", i) and ")" in text[i:]:
            end = text.index(")", i)
            name = text[i + 2 : end]
            out.append(env.get(name, text[i : end + 1]))
            i = end + 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


class _LogHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # chunked transfer, as the kubelet streams logs
    kubelet: Kubelet

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        parts = url.path.strip("/").split("/")
        query = urllib.parse.parse_qs(url.query)
        if len(parts) != 4 or parts[0] != "containerLogs":
            self.send_error(404)
            return
        _, namespace, pod, container = parts
        worker = self.kubelet.worker(namespace, pod)
        previous = query.get("previous", ["false"])[0] == "true"
        path = worker.log_file(container, previous) if worker else None
        if worker is None or path is None:
            self.send_error(404, f"container {container} in pod {namespace}/{pod} not found")
            return
        follow = query.get("follow", ["false"])[0] == "true"
        tail = query.get("tailLines", [None])[0]
        limit = query.get("limitBytes", [None])[0]
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        self.end_headers()
        data = path.read_bytes()
        if tail is not None:
            lines = data.splitlines(keepends=True)
            data = b"".join(lines[-int(tail) :]) if int(tail) > 0 else b""
        if limit is not None:
            data = data[: int(limit)]
        sent = len(path.read_bytes()) if tail is None else None
        self._chunk(data)
        while follow and worker.running(container):
            time.sleep(0.2)
            now = path.read_bytes()
            start = sent if sent is not None else len(data)
            self._chunk(now[start:])
            sent = len(now)
        if follow:
            now = path.read_bytes()
            self._chunk(now[(sent if sent is not None else len(data)) :])
        self.wfile.write(b"0\r\n\r\n")

    def _chunk(self, data: bytes) -> None:
        if data:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()


class Kubelet:
    """Plays the given nodes on the control plane until closed."""

    def __init__(
        self,
        cluster: ControlPlane,
        nodes: list[NodeSpec],
        images: ImageTable,
        forwards: Mapping[int, int] | None = None,
    ) -> None:
        """``forwards``: pod port -> machine loopback port, relayed in every pod (a test's
        GitLab stand-in, reached from a pod as http://127.0.0.1:PORT)."""
        self.cluster = cluster
        self.forwards = dict(forwards or {})
        self.api = Api(cluster)
        self.nodes = {node.name: node for node in nodes}
        self.images = images
        self.work = Path(tempfile.mkdtemp(prefix="dind-preflight-kubelet."))
        self.errors: list[BaseException] = []
        self.workers: dict[str, PodWorker] = {}  # by pod uid
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._servers: list[http.server.ThreadingHTTPServer] = []
        self._threads: list[threading.Thread] = []
        self.ports: dict[str, int] = {}

    # -- lifecycle -----------------------------------------------------------------------
    def __enter__(self) -> Kubelet:
        ca = trustme.CA()
        for name in self.nodes:
            self.ports[name] = self._serve_logs(ca)
        for node in self.nodes.values():
            self.register(node)
        for target in (self._sync_loop, self._lease_loop):
            thread = threading.Thread(target=target, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        with self._lock:
            workers = list(self.workers.values())
        for worker in workers:
            worker.deleting.set()
        for worker in workers:
            worker.done.wait(timeout=40)
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for name in self.nodes:
            with contextlib.suppress(ApiError):
                self.api.request("DELETE", f"/api/v1/nodes/{name}", ok=(200, 202, 404))
        _unmount_all(self.work)
        shutil.rmtree(self.work, ignore_errors=True)

    def _serve_logs(self, ca: trustme.CA) -> int:
        handler = type("Handler", (_LogHandler,), {"kubelet": self})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ca.issue_cert("127.0.0.1").configure_cert(context)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        self._servers.append(server)
        return int(server.server_address[1])

    # -- nodes ---------------------------------------------------------------------------
    def register(self, node: NodeSpec) -> None:
        body = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": node.name,
                "labels": {
                    "kubernetes.io/hostname": node.name,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                    **node.labels,
                },
            },
            "spec": {"taints": [dict(t) for t in node.register_with_taints]}
            if node.register_with_taints
            else {},
        }
        self.api.request("POST", "/api/v1/nodes", body, ok=(201, 409))
        self._node_status(node)

    def _node_status(self, node: NodeSpec) -> None:
        now = utc_now()
        kernel, os_image = "6.1.0-test", "Debian GNU/Linux 12 (bookworm)"
        if node.root is not None:
            release = node.root / "proc/sys/kernel/osrelease"
            if release.exists():
                kernel = release.read_text().strip()
            os_release = node.root / "etc/os-release"
            if os_release.exists():
                for line in os_release.read_text().splitlines():
                    if line.startswith("PRETTY_NAME="):
                        os_image = line.split("=", 1)[1].strip('"')
        conditions = [
            {
                "type": kind,
                "status": "False",
                "reason": f"KubeletHas{reason}",
                "lastHeartbeatTime": now,
                "lastTransitionTime": now,
            }
            for kind, reason in (
                ("MemoryPressure", "SufficientMemory"),
                ("DiskPressure", "NoDiskPressure"),
                ("PIDPressure", "SufficientPID"),
            )
        ]
        conditions.append(
            {
                "type": "Ready",
                "status": "True",
                "reason": "KubeletReady",
                "message": "kubelet is posting ready status",
                "lastHeartbeatTime": now,
                "lastTransitionTime": now,
            }
        )
        capacity = {"cpu": "4", "memory": "8Gi", "pods": "110", "ephemeral-storage": "50Gi"}
        status = {
            "capacity": capacity,
            "allocatable": capacity,
            "conditions": conditions,
            "addresses": [
                {"type": "InternalIP", "address": "127.0.0.1"},
                {"type": "Hostname", "address": node.name},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": self.ports[node.name]}},
            "nodeInfo": {
                "machineID": hashlib.md5(node.name.encode()).hexdigest(),
                "systemUUID": str(uuid.uuid5(uuid.NAMESPACE_DNS, node.name)),
                "bootID": str(uuid.uuid4()),
                "kernelVersion": kernel,
                "osImage": os_image,
                "containerRuntimeVersion": "containerd://1.7.0-test",
                "kubeletVersion": "v1.36.3",
                "kubeProxyVersion": "",
                "operatingSystem": "linux",
                "architecture": "amd64",
            },
        }
        self.api.request(
            "PATCH",
            f"/api/v1/nodes/{node.name}/status",
            {"status": status},
            content_type="application/strategic-merge-patch+json",
        )

    def _lease_loop(self) -> None:
        while not self._stop.is_set():
            for name in self.nodes:
                try:
                    self._renew(name)
                except Exception as exc:
                    if not self._stop.is_set():
                        self.errors.append(exc)
            self._stop.wait(LEASE_RENEW_S)

    def _renew(self, name: str) -> None:
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        path = f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{name}"
        body = {"spec": {"holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": now}}
        try:
            self.api.request("PATCH", path, body, content_type="application/merge-patch+json")
        except ApiError as exc:
            if exc.status != 404:
                raise
            lease = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": name, "namespace": "kube-node-lease"},
                **body,
            }
            self.api.request(
                "POST",
                "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases",
                lease,
                ok=(201, 409),
            )

    # -- pods ----------------------------------------------------------------------------
    def _sync_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._sync()
            except Exception as exc:
                if not self._stop.is_set():
                    self.errors.append(exc)
            self._stop.wait(SYNC_S)

    def _sync(self) -> None:
        pods = self.api.request("GET", "/api/v1/pods")["items"]
        seen: set[str] = set()
        for pod in pods:
            node = self.nodes.get(pod["spec"].get("nodeName", ""))
            if node is None:
                continue
            uid = pod["metadata"]["uid"]
            seen.add(uid)
            with self._lock:
                worker = self.workers.get(uid)
                if worker is None and not pod["metadata"].get("deletionTimestamp"):
                    if pod.get("status", {}).get("phase") in ("Succeeded", "Failed"):
                        continue  # finished before this kubelet (re)started: nothing to run
                    worker = self.workers[uid] = PodWorker(self, node, pod)
                    worker.thread.start()
            if (
                worker is not None
                and pod["metadata"].get("deletionTimestamp")
                and not worker.deleting.is_set()
            ):
                worker.pod = pod
                worker.deleting.set()
                threading.Thread(target=self._finish_deletion, args=(worker,), daemon=True).start()
            elif pod["metadata"].get("deletionTimestamp") and worker is None:
                self._remove(pod)
        with self._lock:
            gone = [uid for uid, w in self.workers.items() if uid not in seen]
        for uid in gone:  # deleted with grace 0 (force): stop what runs
            worker = self.workers[uid]
            worker.deleting.set()
            if worker.done.wait(timeout=40):
                with self._lock:
                    self.workers.pop(uid, None)

    def _finish_deletion(self, worker: PodWorker) -> None:
        worker.done.wait(timeout=60)
        self._remove(worker.pod)
        with self._lock:
            self.workers.pop(worker.uid, None)

    def _remove(self, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        body = {
            "apiVersion": "v1",
            "kind": "DeleteOptions",
            "gracePeriodSeconds": 0,
            "preconditions": {"uid": meta["uid"]},
        }
        with contextlib.suppress(ApiError):
            self.api.request(
                "DELETE",
                f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}",
                body,
                ok=(200, 202, 404, 409),
            )

    def worker(self, namespace: str, name: str) -> PodWorker | None:
        with self._lock:
            for worker in self.workers.values():
                if worker.namespace == namespace and worker.name == name:
                    return worker
        return None


def _unmount_all(work: Path) -> None:
    """Nothing is mounted in the machine's namespace (each container had its own); kept as a
    guard: anything still mounted below ``work`` is unmounted before removal."""
    mounts = Path("/proc/self/mounts").read_text().splitlines()
    for line in reversed(mounts):
        target = line.split()[1]
        if target.startswith(str(work)):
            subprocess.run(["umount", "-l", target], check=False)


@contextlib.contextmanager
def kubelet(
    cluster: ControlPlane,
    nodes: list[NodeSpec],
    images: ImageTable,
    forwards: Mapping[int, int] | None = None,
) -> Iterator[Kubelet]:
    with Kubelet(cluster, nodes, images, forwards) as k:
        if k.errors:
            raise k.errors[0]
        yield k
        if k.errors:
            raise AssertionError(f"test kubelet errors: {k.errors!r}")
