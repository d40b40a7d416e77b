"""A Kubernetes API fake for the tests: kmock's stateful emulator, served over real HTTP(S) from
its own thread, with what the diagnosis needs on top.

- RBAC: ``allow_only(rules)`` and ``deny(verb, resource)`` make the API answer 403 with the API server's own message
  shape (``User "system:serviceaccount:ci:job" cannot get resource "pods/log" ...``), before any
  state changes (kmock alone would store a pod even when a reaction answers 403).
- Object metadata the API server fills in: ``uid``, ``resourceVersion``, ``creationTimestamp``;
  optimistic concurrency: a patch carrying a stale ``resourceVersion`` gets 409.
- ``pods/{name}/log`` as text/plain, honouring ``container``, ``previous``, ``tailLines`` and
  ``limitBytes``; 404 for pods that do not exist.
- Every request is recorded (method, path, query, JSON body) for assertions.
- :class:`FakeKubelet` plays the node's kubelet for helper pods: a scenario per pod.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime
import json
import ssl
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp.test_utils
import aiohttp.web
import attrs
import kmock
import yaml

PODS = kmock.resource("", "v1", "pods")
TOKEN = "fake-sa-token-5f1c0e2d9a"  # never printed: tests assert it does not leak
SERVICE_ACCOUNT = "system:serviceaccount:ci:dind-preflight"

_VERBS = {
    kmock.action.FETCH: "get",
    kmock.action.LIST: "list",
    kmock.action.WATCH: "watch",
    kmock.action.CREATE: "create",
    kmock.action.UPDATE: "patch",
    kmock.action.DELETE: "delete",
}


@attrs.define(kw_only=True)
class RbacEmulator(kmock.KubernetesEmulator):
    """kmock's emulator plus RBAC denials, server-side metadata and resourceVersion checks."""

    denied: set[tuple[str, str]] = attrs.field(factory=set)
    allowed: set[tuple[str, str]] | None = None  # RBAC allow-list; None: everything allowed
    concurrent_writes: int = 0  # that many next patches find the object changed by someone else
    outage: bool = False  # every authenticated request gets 503 (the API server is away)
    failures: dict[tuple[str, str], int] = attrs.field(factory=dict)  # (verb, resource) -> 500s
    archive: list[kmock.Request] = attrs.field(factory=list)  # older requests (see _trim)
    # What a SelfSubjectReview answers: (pod, node) of a pod-bound token; None: a token without
    # pod claims (before Kubernetes 1.30, or a kubeconfig user).
    identity: tuple[str, str] | None = None
    _rv: int = 100

    def _trim(self) -> None:
        """kmock matches each request against its whole request log (quadratic in the number of
        requests); keep the log short and the older requests in ``archive`` for assertions."""
        log: list[kmock.Request] = self._requests
        if len(log) > 32:
            self.archive.extend(log[:-8])
            del log[:-8]

    def _verb_resource(self, request: kmock.Request) -> tuple[str, str]:
        verb = _VERBS.get(request.action, str(request.method).lower()) if request.action else ""
        plural = request.resource.plural if request.resource is not None else ""
        resource = f"{plural}/{request.subresource}" if request.subresource else str(plural)
        if request.subresource == "status" and verb == "patch":
            resource = f"{plural}/status"
        return verb, resource

    async def _handle(self, request: kmock.Request) -> Any:
        self._trim()
        # RBAC applies to the job's service account (requests with a token); the fake kubelet
        # talks to the API without one.
        authenticated = "authorization" in {key.lower() for key in request.headers}
        if authenticated and self.outage:
            raise kmock.KubernetesError(
                status=503,
                reason="ServiceUnavailable",
                message="the server is currently unable to handle the request",
                details={},
            )
        if "selfsubjectreviews" in str(request.url):  # every authenticated user may; not stored
            return _review(self.identity)
        if request.resource is not None and authenticated:
            verb, resource = self._verb_resource(request)
            if self.failures.get((verb, resource), 0) > 0:
                self.failures[verb, resource] -= 1
                raise kmock.KubernetesError(
                    status=500,
                    reason="InternalError",
                    message="etcdserver: request timed out",
                    details={},
                )
            granted = self.allowed is None or (verb, resource) in self.allowed
            if (verb, resource) in self.denied or not granted:
                raise kmock.KubernetesError(
                    status=403,
                    reason="Forbidden",
                    message=(
                        f'{resource} "{request.name or ""}" is forbidden: User "{SERVICE_ACCOUNT}" '
                        f'cannot {verb} resource "{resource}" in API group "" in the namespace '
                        f'"{request.namespace}"'
                    ),
                    details={},
                )
            data = request.data if isinstance(request.data, dict) else None
            if request.action == kmock.action.CREATE and data is not None:
                meta = data.setdefault("metadata", {})
                if not meta.get("name") and meta.get("generateName"):
                    meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]  # as the API does
                meta.setdefault("uid", str(uuid.uuid4()))
                meta["resourceVersion"] = self._next_rv()
                meta.setdefault(
                    "creationTimestamp",
                    datetime.datetime.now(tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                )
            if request.action == kmock.action.UPDATE and data is not None:
                key = (request.resource, request.namespace, request.name)
                stored = None
                with contextlib.suppress(KeyError):
                    stored = self.objects[key]
                sent = (data.get("metadata") or {}).get("resourceVersion")
                if stored is not None and not stored.deleted:
                    if self.concurrent_writes > 0:
                        self.concurrent_writes -= 1
                        stored.patch({"metadata": {"resourceVersion": self._next_rv()}})
                    current = (stored.get("metadata") or {}).get("resourceVersion")
                    if sent is not None and current is not None and sent != current:
                        raise kmock.KubernetesError(
                            status=409,
                            reason="Conflict",
                            message="the object has been modified; please apply your changes "
                            "to the latest version and try again",
                            details={},
                        )
                    data.setdefault("metadata", {})["resourceVersion"] = self._next_rv()
                if stored is not None and _is_strategic(request):
                    _merge_conditions_by_type(data, stored.raw)
        return await super()._handle(request)

    async def _serve_list(self, request: kmock.Request) -> Any:
        """kmock's list, filtered by an equality-based ``labelSelector`` as the API server does."""
        payload = await super()._serve_list(request)
        selector = request.params.get("labelSelector", "")
        if selector and isinstance(payload, dict):
            payload["items"] = [i for i in payload["items"] if _selected(i, selector)]
        return payload

    def _next_rv(self) -> str:
        self._rv += 1
        return str(self._rv)


def _review(identity: tuple[str, str] | None) -> Any:
    """``POST /apis/authentication.k8s.io/v1/selfsubjectreviews`` as the API server answers it
    for a pod-bound service-account token (userInfo.extra carries the pod and node)."""
    user: dict[str, Any] = {"username": SERVICE_ACCOUNT, "groups": ["system:authenticated"]}
    if identity is not None:
        pod, node = identity
        user["extra"] = {
            "authentication.kubernetes.io/pod-name": [pod],
            "authentication.kubernetes.io/pod-uid": [str(uuid.uuid4())],
            "authentication.kubernetes.io/node-name": [node],
            "authentication.kubernetes.io/node-uid": [str(uuid.uuid4())],
        }
    body = {
        "kind": "SelfSubjectReview",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"creationTimestamp": None},
        "status": {"userInfo": user},
    }
    return aiohttp.web.json_response(body, status=201)


def _is_strategic(request: kmock.Request) -> bool:
    headers = {key.lower(): value for key, value in request.headers.items()}
    return "strategic-merge-patch" in headers.get("content-type", "")


def _merge_conditions_by_type(data: dict[str, Any], stored: dict[str, Any]) -> None:
    """A strategic merge patch merges ``status.conditions`` by ``type`` (patchMergeKey): turn
    the patch's list into the merged list, since kmock replaces lists."""
    sent = (data.get("status") or {}).get("conditions")
    if not isinstance(sent, list):
        return
    merged = [dict(c) for c in (stored.get("status") or {}).get("conditions") or []]
    for condition in sent:
        for index, existing in enumerate(merged):
            if existing.get("type") == condition.get("type"):
                merged[index] = {**existing, **condition}
                break
        else:
            merged.append(condition)
    data["status"]["conditions"] = merged


def _selected(obj: dict[str, Any], selector: str) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    for term in (t.strip() for t in selector.split(",") if t.strip()):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key.strip()) == value.strip():
                return False
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            if labels.get(key.strip()) != value.strip():
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


@dataclasses.dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    params: dict[str, str]
    data: Any  # the body as sent, before the fake added server-side fields
    headers: dict[str, str] = dataclasses.field(default_factory=dict)


def _sent_body(body: bytes) -> Any:
    """The request body exactly as the client sent it (JSON decoded when it is JSON)."""
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return body


def _tls_server_class(context: ssl.SSLContext) -> type[aiohttp.test_utils.RawTestServer]:
    class TLSServer(aiohttp.test_utils.RawTestServer):
        async def start_server(self, loop: Any = None, **kwargs: Any) -> None:
            kwargs["ssl"] = context
            await super().start_server(loop=loop, **kwargs)

    return TLSServer


class FakeCluster:
    """The fake API server in a background thread; every method is safe from the test thread."""

    def __init__(
        self, workdir: Path, namespace: str = "ci", tls: ssl.SSLContext | None = None
    ) -> None:
        self.workdir = workdir
        self.namespace = namespace
        self.tls = tls
        self.url = ""
        self.logs: dict[tuple[str, str, str, bool], str] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.emulator: RbacEmulator | None = None

    # --- life cycle ---------------------------------------------------------------------------
    def start(self) -> FakeCluster:
        self._thread = threading.Thread(target=self._run, name="fake-kube-api", daemon=True)
        self._thread.start()
        if not self._ready.wait(10) or self._error is not None:
            raise RuntimeError(f"fake API server did not start: {self._error!r}")
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # surfaced by start()
            self._error = exc
            self._ready.set()
        finally:
            loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        server_kwargs: dict[str, Any] = {}
        if self.tls is not None:
            server_kwargs["server_cls"] = _tls_server_class(self.tls)
        async with RbacEmulator() as emulator, kmock.Server(emulator, **server_kwargs) as server:
            self.emulator = emulator
            emulator[lambda request: request.subresource == "log"] << self._serve_log
            self.url = str(server.url).rstrip("/")
            self._ready.set()
            await self._stop.wait()

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(10)

    def __enter__(self) -> FakeCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _in_loop(self, fn: Callable[[], Any]) -> Any:
        assert self._loop is not None

        async def call() -> Any:
            return fn()

        return asyncio.run_coroutine_threadsafe(call(), self._loop).result(10)

    # --- client configuration -----------------------------------------------------------------
    def kubeconfig(self, namespace: str | None = None) -> Path:
        path = self.workdir / "kubeconfig.yaml"
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": "job", "user": {"token": TOKEN}}],
            "contexts": [
                {
                    "name": "fake",
                    "context": {
                        "cluster": "fake",
                        "user": "job",
                        "namespace": namespace or self.namespace,
                    },
                }
            ],
            "current-context": "fake",
        }
        path.write_text(yaml.safe_dump(config))
        return path

    # --- state --------------------------------------------------------------------------------
    def add(self, resource: str, namespace: str | None, obj: dict[str, Any]) -> None:
        name = obj["metadata"]["name"]
        obj["metadata"].setdefault("uid", str(uuid.uuid4()))
        obj["metadata"].setdefault("resourceVersion", "1")

        def put() -> None:
            assert self.emulator is not None
            self.emulator.objects[resource, namespace, name] = obj

        self._in_loop(put)

    def get(self, resource: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        def read() -> dict[str, Any] | None:
            assert self.emulator is not None
            key = (kmock.resource(resource), namespace, name)
            if key not in self.emulator.objects or self.emulator.objects[key].deleted:
                return None
            return json.loads(json.dumps(self.emulator.objects[key].raw))

        result: dict[str, Any] | None = self._in_loop(read)
        return result

    def pods(self, namespace: str | None = None) -> list[dict[str, Any]]:
        wanted = namespace or self.namespace

        def read() -> list[dict[str, Any]]:
            assert self.emulator is not None
            found = []
            for (resource, ns, _name), obj in self.emulator.objects.items():
                if resource.plural == "pods" and ns == wanted and not obj.deleted:
                    found.append(json.loads(json.dumps(obj.raw)))
            return found

        result: list[dict[str, Any]] = self._in_loop(read)
        return result

    def helper_pods(self) -> list[dict[str, Any]]:
        return [
            pod
            for pod in self.pods()
            if (pod["metadata"].get("labels") or {}).get("app.kubernetes.io/component")
            == "node-probe"
        ]

    def emulator_delete_pod(self, name: str, namespace: str | None = None) -> None:
        """Delete a pod behind the API's back (what the garbage collector would do)."""

        def delete() -> None:
            assert self.emulator is not None
            self.emulator.objects[PODS, namespace or self.namespace, name].delete()

        self._in_loop(delete)

    def allow_only(self, rules: set[tuple[str, str]]) -> None:
        """Grant the job's service account exactly ``rules`` ((verb, resource) pairs)."""

        def update() -> None:
            assert self.emulator is not None
            self.emulator.allowed = set(rules)

        self._in_loop(update)

    def short_watches(self) -> None:
        """Watches end at once after the current state, as a real server ends them at
        ``timeoutSeconds`` (clients must watch again)."""

        def snapshot(request: kmock.Request) -> tuple[Any, ...]:
            assert self.emulator is not None
            wanted = request.params.get("fieldSelector", "").removeprefix("metadata.name=")
            events: list[Any] = [b""]
            for (resource, ns, name), obj in self.emulator.objects.items():
                if (
                    resource == PODS
                    and ns == request.namespace
                    and name == wanted
                    and not obj.deleted
                ):
                    events.append({"type": "ADDED", "object": obj.raw})
            return tuple(events)

        def register() -> None:
            assert self.emulator is not None
            self.emulator[kmock.action.WATCH] << snapshot

        self._in_loop(register)

    @property
    def identity(self) -> tuple[str, str] | None:
        """(pod, node) a SelfSubjectReview names (None: a token without pod claims)."""
        assert self.emulator is not None
        return self.emulator.identity

    @identity.setter
    def identity(self, value: tuple[str, str] | None) -> None:
        def update() -> None:
            assert self.emulator is not None
            self.emulator.identity = value

        self._in_loop(update)

    def deny(self, verb: str, resource: str) -> None:
        def update() -> None:
            assert self.emulator is not None
            self.emulator.denied.add((verb, resource))

        self._in_loop(update)

    def set_outage(self, down: bool) -> None:
        """The API server goes away (503 to every client with a token) or comes back."""

        def update() -> None:
            assert self.emulator is not None
            self.emulator.outage = down

        self._in_loop(update)

    def fail(self, verb: str, resource: str, times: int = 1) -> None:
        """The next ``times`` requests ``verb resource`` get HTTP 500."""

        def update() -> None:
            assert self.emulator is not None
            self.emulator.failures[verb, resource] = times

        self._in_loop(update)

    def concurrent_writer(self, patches: int) -> None:
        """Someone else changes the object right before each of our next ``patches`` patches."""

        def update() -> None:
            assert self.emulator is not None
            self.emulator.concurrent_writes = patches

        self._in_loop(update)

    def set_log(self, pod: str, container: str, text: str, previous: bool = False) -> None:
        self.logs[(self.namespace, pod, container, previous)] = text

    def patch_status(self, name: str, status: dict[str, Any], namespace: str | None = None) -> None:
        """What the kubelet does: a merge patch of ``pods/{name}/status`` (emits a watch event)."""
        ns = namespace or self.namespace
        body = json.dumps({"status": status}).encode()
        request = urllib.request.Request(
            f"{self.url}/api/v1/namespaces/{ns}/pods/{name}/status",
            data=body,
            method="PATCH",
            headers={"Content-Type": "application/merge-patch+json"},
        )
        context = ssl._create_unverified_context() if self.url.startswith("https") else None
        with urllib.request.urlopen(request, timeout=5, context=context) as response:
            response.read()

    def requests(self) -> list[Recorded]:
        def read() -> list[Recorded]:
            assert self.emulator is not None
            return [
                Recorded(
                    str(getattr(r.method, "value", r.method)).upper(),
                    r.url.path,
                    dict(r.params),
                    _sent_body(r.body),
                    dict(r.headers),
                )
                for r in [*self.emulator.archive, *list(self.emulator)]
            ]

        result: list[Recorded] = self._in_loop(read)
        return result

    # --- pods/log -----------------------------------------------------------------------------
    def _serve_log(self, request: kmock.Request) -> Any:
        name = request.name or ""
        namespace = request.namespace or ""
        container = request.params.get("container", "")
        previous = request.params.get("previous") == "true"
        assert self.emulator is not None
        key = (PODS, namespace, name)
        if key not in self.emulator.objects or self.emulator.objects[key].deleted:
            raise kmock.KubernetesError(
                status=404, reason="NotFound", message=f'pods "{name}" not found', details={}
            )
        text = self.logs.get((namespace, name, container, previous))
        if text is None:
            raise kmock.KubernetesError(
                status=400,
                reason="BadRequest",
                message=f'previous terminated container "{container}" in pod "{name}" not found'
                if previous
                else f'container "{container}" in pod "{name}" is waiting to start',
                details={},
            )
        if "tailLines" in request.params:
            lines = text.splitlines(keepends=True)
            text = "".join(lines[-int(request.params["tailLines"]) :])
        data = text.encode()
        if "limitBytes" in request.params:
            data = data[: int(request.params["limitBytes"])]
        return kmock.Response(status=200, headers={"Content-Type": "text/plain"}, payload=data)


# --- the kubelet ----------------------------------------------------------------------------------
Scenario = Callable[["FakeCluster", dict[str, Any]], None]


def _container(
    state: dict[str, Any], restarts: int = 0, image: str = "x", image_id: str = ""
) -> dict[str, Any]:
    return {
        "name": "node-report",
        "ready": False,
        "restartCount": restarts,
        "image": image,
        "imageID": image_id,
        "state": state,
    }


def image_id_of(image: str) -> str:
    """The ``imageID`` containerd reports: ``repo@sha256:<digest>``. An image pinned by digest
    runs that digest; a tag runs whatever digest it points to (here: one derived from the name)."""
    if "@sha256:" in image:
        return image
    import hashlib

    repository = image.rsplit(":", 1)[0] if ":" in image.rsplit("/", 1)[-1] else image
    return f"{repository}@sha256:{hashlib.sha256(image.encode()).hexdigest()}"


def finishes(
    log: str, exit_code: int = 0, delay: float = 0.0, image_id: str | None = None
) -> Scenario:
    """The helper runs node-report, which prints ``log`` and exits with ``exit_code``; its status
    names the image it ran (``image_id``, default what the pod's image resolves to)."""

    def play(cluster: FakeCluster, pod: dict[str, Any]) -> None:
        name = pod["metadata"]["name"]
        image = str(((pod.get("spec") or {}).get("containers") or [{}])[0].get("image") or "x")
        ran = image_id if image_id is not None else image_id_of(image)
        cluster.patch_status(
            name,
            {
                "phase": "Running",
                "containerStatuses": [_container({"running": {}}, image=image, image_id=ran)],
            },
        )
        time.sleep(delay)
        cluster.set_log(name, "node-report", log)
        terminated = {"exitCode": exit_code, "reason": "Completed" if exit_code == 0 else "Error"}
        cluster.patch_status(
            name,
            {
                "phase": "Succeeded" if exit_code == 0 else "Failed",
                "containerStatuses": [
                    _container({"terminated": terminated}, image=image, image_id=ran)
                ],
            },
        )

    return play


def rejected(
    reason: str = "OutOfcpu",
    message: str = "Pod was rejected: Node didn't have enough resource: cpu",
) -> Scenario:
    """The kubelet refuses the pinned pod (what "unschedulable" looks like with nodeName)."""

    def play(cluster: FakeCluster, pod: dict[str, Any]) -> None:
        cluster.patch_status(
            pod["metadata"]["name"], {"phase": "Failed", "reason": reason, "message": message}
        )

    return play


def unschedulable() -> Scenario:
    """A scheduler-style refusal: PodScheduled=False, reason Unschedulable."""

    def play(cluster: FakeCluster, pod: dict[str, Any]) -> None:
        condition = {
            "type": "PodScheduled",
            "status": "False",
            "reason": "Unschedulable",
            "message": "0/3 nodes are available: 1 node(s) had untolerated taint.",
        }
        cluster.patch_status(
            pod["metadata"]["name"], {"phase": "Pending", "conditions": [condition]}
        )

    return play


def oom_killed() -> Scenario:
    """node-report exceeds the helper's memory limit: the kernel kills it, the log is empty."""

    def play(cluster: FakeCluster, pod: dict[str, Any]) -> None:
        name = pod["metadata"]["name"]
        cluster.set_log(name, "node-report", "")
        terminated = {"exitCode": 137, "reason": "OOMKilled"}
        cluster.patch_status(
            name, {"phase": "Failed", "containerStatuses": [_container({"terminated": terminated})]}
        )

    return play


def image_pull_fails(reason: str = "ErrImagePull") -> Scenario:
    def play(cluster: FakeCluster, pod: dict[str, Any]) -> None:
        waiting = {
            "reason": reason,
            "message": 'failed to pull image "registry.invalid/x": not found',
        }
        cluster.patch_status(
            pod["metadata"]["name"],
            {"phase": "Pending", "containerStatuses": [_container({"waiting": waiting})]},
        )

    return play


def cannot_start() -> Scenario:
    """The image has no dind-preflight: the runtime cannot exec the command."""

    def play(cluster: FakeCluster, pod: dict[str, Any]) -> None:
        terminated = {
            "exitCode": 128,
            "reason": "StartError",
            "message": 'exec: "dind-preflight": executable file not found in $PATH',
        }
        cluster.patch_status(
            pod["metadata"]["name"],
            {"phase": "Failed", "containerStatuses": [_container({"terminated": terminated})]},
        )

    return play


def stays_pending() -> Scenario:
    def play(cluster: FakeCluster, pod: dict[str, Any]) -> None:
        cluster.patch_status(pod["metadata"]["name"], {"phase": "Pending"})

    return play


class FakeKubelet:
    """Plays ``scenario`` once for every helper pod that appears; remembers what it saw."""

    def __init__(self, cluster: FakeCluster, scenario: Scenario) -> None:
        self.cluster = cluster
        self.scenario = scenario
        self.seen: list[dict[str, Any]] = []
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fake-kubelet", daemon=True)

    def _run(self) -> None:
        handled: set[str] = set()
        while not self._stop.is_set():
            try:
                for pod in self.cluster.helper_pods():
                    name = pod["metadata"]["name"]
                    if name not in handled:
                        handled.add(name)
                        self.seen.append(pod)
                        self.scenario(self.cluster, pod)
            except BaseException as exc:  # surfaced by the test through .errors
                self.errors.append(exc)
            self._stop.wait(0.005)

    def __enter__(self) -> FakeKubelet:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)


@contextlib.contextmanager
def running_cluster(workdir: Path, tls: ssl.SSLContext | None = None) -> Iterator[FakeCluster]:
    cluster = FakeCluster(workdir, tls=tls)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()
