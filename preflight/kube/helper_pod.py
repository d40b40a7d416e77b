"""Run the helper pod on the job's node: create it, wait with a watch, read its log, delete it.

Deletion happens on every path: success, failure, our timeout, an API error, SIGTERM and SIGINT
(see :mod:`preflight.kube.signals`). Should even that fail, the ownerReference to the job pod
makes Kubernetes delete the helper with the job, and ``activeDeadlineSeconds`` stops it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

from preflight.kube import permissions
from preflight.kube.client import KubeContext, KubeError, KubeForbidden, KubeNotFound, remaining
from preflight.kube.discovery import JobPod
from preflight.kube.helper_pod_manifest import (
    HELPER_CONTAINER,
    RESOURCES,
    helper_pod_manifest,
    helper_pod_name,
)
from preflight.kube.helper_pod_state import (
    HelperPhase,
    HelperState,
    helper_state,
    parse_node_report,
)
from preflight.kube.settings import KubeSettings
from preflight.kube.signals import signals_as_exceptions
from preflight.node.model import NodeReport

POLL_INTERVAL_S = 0.5  # only when watching is not allowed
LOG_LIMIT_BYTES = 4 * 1024 * 1024
DELETE_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class HelperOutcome:
    """What the helper pod gave: a node report, or the problem (one line) and its last state."""

    pod_name: str
    report: NodeReport | None
    state: HelperState
    problem: str | None = None
    deleted: bool = False
    manifest: dict[str, Any] | None = None


def run_helper_pod(
    ctx: KubeContext, job: JobPod, settings: KubeSettings, deadline: float
) -> HelperOutcome:
    """Run ``node-report`` on ``job``'s node within ``deadline`` (monotonic) and clean up."""
    name = helper_pod_name(settings.job_id, job.name)
    image = settings.helper_image or job.build_image
    if not image or not job.node_name:
        missing = "image" if not image else "node name"
        return HelperOutcome(
            name,
            None,
            HelperState(HelperPhase.GONE, f"no {missing}"),
            f"helper pod not started: no {missing} known for the job pod",
        )
    pull_secrets = (
        settings.helper_pull_secrets
        if settings.helper_pull_secrets is not None
        else job.pull_secrets
    )
    manifest = helper_pod_manifest(
        name=name,
        job=job,
        image=image,
        pull_policy=settings.helper_pull_policy,
        pull_secrets=pull_secrets,
        deadline_s=settings.helper_deadline_s,
        job_id=settings.job_id,
    )
    with signals_as_exceptions() as guard:
        maybe_created = False
        outcome: HelperOutcome | None = None
        try:
            try:
                maybe_created = True  # a create cut short may still have reached the API
                ctx.call(
                    permissions.CREATE_POD,
                    ctx.api.create_namespaced_pod,
                    ctx.namespace,
                    manifest,
                    _preload_content=False,
                    timeout=max(0.5, min(remaining(deadline), 10.0)),
                )
            except KubeError as exc:
                if exc.status is not None and 400 <= exc.status < 500:
                    maybe_created = False  # refused: nothing was created
                raise
            state = wait_for_helper(ctx, name, deadline)
            outcome = _collect(ctx, name, state, deadline, manifest)
        except KubeError as exc:
            outcome = HelperOutcome(
                name,
                None,
                HelperState(HelperPhase.GONE, "api error"),
                f"helper pod: {exc.limitation}",
                manifest=manifest,
            )
        finally:
            if maybe_created:
                with guard.deferred():
                    deleted, problem = delete_helper(ctx, name)
                if outcome is not None:
                    outcome = _with_deletion(outcome, deleted, problem)
    assert outcome is not None
    return outcome


def _with_deletion(outcome: HelperOutcome, deleted: bool, problem: str | None) -> HelperOutcome:
    text = outcome.problem
    if problem:
        text = f"{text}; {problem}" if text else problem
    return replace(outcome, problem=text, deleted=deleted)


def _collect(
    ctx: KubeContext, name: str, state: HelperState, deadline: float, manifest: dict[str, Any]
) -> HelperOutcome:
    if state.phase is not HelperPhase.FINISHED:
        return HelperOutcome(name, None, state, _problem_text(state), manifest=manifest)
    text = ctx.get_text(
        permissions.GET_POD_LOG,
        ctx.api.read_namespaced_pod_log,
        name,
        ctx.namespace,
        container=HELPER_CONTAINER,
        limit_bytes=LOG_LIMIT_BYTES,
        timeout=max(0.5, min(remaining(deadline), 10.0)),
    )
    try:
        report = parse_node_report(text)
    except ValueError as exc:
        return HelperOutcome(
            name, None, state, f"helper pod {name} gave no node report: {exc}", manifest=manifest
        )
    return HelperOutcome(name, report, state, manifest=manifest)


def _problem_text(state: HelperState) -> str:
    detail = f" ({state.detail})" if state.detail else ""
    if state.phase is HelperPhase.UNSCHEDULABLE:
        return f"helper pod could not run on the node{detail}"
    if state.phase is HelperPhase.IMAGE_PULL_FAILED:
        return (
            f"helper pod image could not be pulled{detail}; set --helper-image, "
            "--helper-pull-policy or --helper-pull-secret"
        )
    if state.phase is HelperPhase.START_FAILED:
        return (
            f"helper pod could not start dind-preflight{detail}; the image must contain "
            "dind-preflight (set --helper-image)"
        )
    if state.phase is HelperPhase.OOM_KILLED:
        return (
            f"helper pod was OOM-killed{detail}: node-report needed more than the helper's "
            f"memory limit ({RESOURCES['limits']['memory']}); no node report"
        )
    if state.phase is HelperPhase.TIMEOUT:
        return f"helper pod did not finish within the timeout{detail}"
    if state.phase is HelperPhase.DEADLINE:
        return f"helper pod exceeded its activeDeadlineSeconds{detail}"
    return f"helper pod ended without a result{detail}"


def wait_for_helper(ctx: KubeContext, name: str, deadline: float) -> HelperState:
    """Watch the helper pod (``metadata.name`` field selector) until it is done or time is up."""
    try:
        return _watch(ctx, name, deadline)
    except KubeForbidden:
        return _poll(ctx, name, deadline)  # no 'watch' verb: fall back to 'get'


def _watch(ctx: KubeContext, name: str, deadline: float) -> HelperState:
    from kubernetes import watch

    watch_class: Any = watch.Watch

    # A plain function, so that Watch cannot tell the return type and yields raw dicts: no
    # model validation of each event (which a partial or newer object could fail).
    def list_pods(*args: Any, **kwargs: Any) -> Any:
        return ctx.api.list_namespaced_pod(*args, **kwargs)

    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    state = HelperState(HelperPhase.PENDING, "created")
    while True:
        left = remaining(deadline)
        if left <= 0:
            return HelperState(HelperPhase.TIMEOUT, _last_seen(state))
        watcher: Any = watch_class()
        try:
            stream = watcher.stream(
                list_pods,
                ctx.namespace,
                field_selector=f"metadata.name={name}",
                timeout_seconds=max(1, int(left)),
                _request_timeout=(min(3.0, left), left),
            )
            for event in stream:
                if not isinstance(event, dict):
                    continue
                raw = event.get("raw_object") or {}
                if (raw.get("metadata") or {}).get("name") != name:
                    continue  # a server that ignores the field selector
                state = helper_state(None if event.get("type") == "DELETED" else raw)
                if state.phase.terminal:
                    return state
                if remaining(deadline) <= 0:
                    return HelperState(HelperPhase.TIMEOUT, _last_seen(state))
            time.sleep(min(0.1, remaining(deadline)))  # the server ended the watch: watch again
        except ApiException as exc:
            if exc.status in (401, 403):
                raise KubeForbidden(
                    permissions.forbidden_advice(
                        permissions.WATCH_POD, ctx.namespace, int(exc.status), str(exc.body or "")
                    ),
                    int(exc.status),
                ) from None
            raise KubeError(f"watch pods: HTTP {exc.status} {exc.reason}", exc.status) from None
        except (HTTPError, OSError):
            if remaining(deadline) <= 0:
                return HelperState(HelperPhase.TIMEOUT, _last_seen(state))
            time.sleep(min(0.2, remaining(deadline)))  # the stream broke: watch again
        finally:
            watcher.stop()


def _poll(ctx: KubeContext, name: str, deadline: float) -> HelperState:
    state = HelperState(HelperPhase.PENDING, "created")
    while remaining(deadline) > 0:
        try:
            pod = ctx.get_json(
                permissions.GET_POD,
                ctx.api.read_namespaced_pod,
                name,
                ctx.namespace,
                timeout=max(0.5, min(remaining(deadline), 5.0)),
            )
        except KubeNotFound:
            pod = None
        state = helper_state(pod)
        if state.phase.terminal:
            return state
        time.sleep(min(POLL_INTERVAL_S, remaining(deadline)))
    return HelperState(HelperPhase.TIMEOUT, _last_seen(state))


def _last_seen(state: HelperState) -> str:
    return f"last seen {state.phase.value}" + (f": {state.detail}" if state.detail else "")


def delete_helper(ctx: KubeContext, name: str) -> tuple[bool, str | None]:
    """Delete at once (grace 0, background propagation); gone already counts as deleted."""
    try:
        ctx.call(
            permissions.DELETE_POD,
            ctx.api.delete_namespaced_pod,
            name,
            ctx.namespace,
            grace_period_seconds=0,
            propagation_policy="Background",
            _preload_content=False,
            timeout=DELETE_TIMEOUT_S,
        )
    except KubeNotFound:
        return True, None
    except KubeError as exc:
        return False, (
            f"helper pod {name} not deleted ({exc.limitation}); Kubernetes removes it with the "
            "job pod (ownerReference)"
        )
    return True, None
