"""Leader election with a ``coordination.k8s.io/v1`` Lease: exactly one replica acts.

:func:`decide` (pure) says whether this replica holds, may take, or must wait for the lease;
:class:`LeaseKeeper` reads and writes it. Every write carries the ``resourceVersion`` it was
computed from, so two replicas racing for an expired lease cannot both win: the API answers 409
to the second. A leader that cannot renew stops acting before its lease runs out
(``renew_deadline_s`` < ``duration_s``), so two leaders never overlap.

Expiry is judged on this replica's own clock, as client-go's leader election does
(``observedTime``): a lease held by another replica expires ``leaseDurationSeconds`` after this
replica last saw its record change, never by comparing the holder's ``renewTime`` (the other
replica's clock) with ours. A replica that just started waits one duration before taking a held
lease; clock skew between nodes cannot make two leaders.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import Enum
from typing import Any

from preflight.gitlab.incident_issue import parse_timestamp
from preflight.kube.client import KubeConflict, KubeContext, KubeError, KubeNotFound
from preflight.kube.permissions import Permission

GET_LEASE = Permission("get", "leases", why="see which reporter replica leads")
CREATE_LEASE = Permission("create", "leases", why="become the leader")
UPDATE_LEASE = Permission("patch", "leases", why="renew or take the leadership")


class LeaseStep(str, Enum):
    RENEW = "renew"  # we hold it
    TAKE = "take"  # free or expired: take it
    WAIT = "wait"  # someone else holds it


@dataclass(frozen=True)
class LeaseRecord:
    holder: str | None
    renewed: datetime | None
    duration_s: float
    transitions: int = 0


def record_of(lease: dict[str, Any]) -> LeaseRecord:
    spec = lease.get("spec") or {}
    renew = spec.get("renewTime") or spec.get("acquireTime")
    return LeaseRecord(
        holder=spec.get("holderIdentity") or None,
        renewed=parse_timestamp(renew) if renew else None,
        duration_s=float(spec.get("leaseDurationSeconds") or 15),
        transitions=int(spec.get("leaseTransitions") or 0),
    )


def decide(
    record: LeaseRecord, me: str, now: datetime, observed_at: datetime | None = None
) -> LeaseStep:
    """Renew our own lease; take a free one, or one whose record this replica has seen
    unchanged for longer than its duration (``observed_at``: when this replica, on its own
    clock, saw the record change last; None: just now); otherwise wait."""
    if record.holder == me:
        return LeaseStep.RENEW
    if record.holder is None:
        return LeaseStep.TAKE
    seen = observed_at or now
    if now - seen > timedelta(seconds=record.duration_s):
        return LeaseStep.TAKE
    return LeaseStep.WAIT


def _identity_of(lease: dict[str, Any]) -> tuple[Any, ...]:
    """What makes a renewal visible: the record's fields as written (client-go compares the
    whole LeaderElectionRecord)."""
    spec = lease.get("spec") or {}
    keys = ("holderIdentity", "renewTime", "acquireTime", "leaseTransitions")
    return tuple(spec.get(k) for k in keys)


def _stamp(now: datetime) -> str:
    return now.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class LeaseKeeper:
    """Holds the lease ``name`` in ``namespace`` as ``identity``."""

    ctx: KubeContext
    namespace: str
    name: str
    identity: str
    duration_s: int = 15
    holder: str | None = None  # last seen holder
    problem: str | None = None  # last API problem, for /healthz
    observed: tuple[Any, ...] | None = None  # the record as last seen
    observed_at: datetime | None = None  # when (this replica's clock) it last changed

    def _api(self) -> Any:
        from kubernetes import client

        return client.CoordinationV1Api(self.ctx.api.api_client)

    def try_lead(self, now: datetime | None = None) -> bool:
        """One election round: True when this replica leads until the next round."""
        now = now or datetime.now(timezone.utc)
        api = self._api()
        try:
            lease = self.ctx.get_json(
                GET_LEASE, api.read_namespaced_lease, self.name, self.namespace
            )
        except KubeNotFound:
            return self._create(api, now)
        except KubeError as exc:
            self.problem = exc.limitation
            return False
        record = record_of(lease)
        self.holder = record.holder
        seen = _identity_of(lease)
        if seen != self.observed or self.observed_at is None:
            self.observed, self.observed_at = seen, now
        step = decide(record, self.identity, now, self.observed_at)
        if step is LeaseStep.WAIT:
            self.problem = None
            return False
        spec: dict[str, Any] = {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": self.duration_s,
            "renewTime": _stamp(now),
        }
        if step is LeaseStep.TAKE:
            spec["acquireTime"] = _stamp(now)
            spec["leaseTransitions"] = record.transitions + 1
        try:
            self._patch(api, lease, spec)
        except KubeConflict:
            return False  # someone else wrote first: they lead
        except KubeError as exc:
            self.problem = exc.limitation
            return False
        self.holder, self.problem = self.identity, None
        return True

    def _create(self, api: Any, now: datetime) -> bool:
        body = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": self.duration_s,
                "acquireTime": _stamp(now),
                "renewTime": _stamp(now),
                "leaseTransitions": 0,
            },
        }
        try:
            self.ctx.call(
                CREATE_LEASE,
                api.create_namespaced_lease,
                self.namespace,
                body,
                _preload_content=False,
            )
        except KubeConflict:
            return False
        except KubeError as exc:
            self.problem = exc.limitation
            return False
        self.holder, self.problem = self.identity, None
        return True

    def release(self) -> None:
        """Give the lease up at shutdown so that another replica takes over at once."""
        api = self._api()
        try:
            lease = self.ctx.get_json(
                GET_LEASE, api.read_namespaced_lease, self.name, self.namespace
            )
            if record_of(lease).holder != self.identity:
                return
            self._patch(api, lease, {"holderIdentity": None, "renewTime": None})
        except KubeError:
            pass

    def _patch(self, api: Any, lease: dict[str, Any], spec: dict[str, Any]) -> None:
        """Merge-patch the lease's spec, pinned to the resourceVersion read: a concurrent writer
        makes the API answer 409 (:class:`KubeConflict`) instead of being overwritten."""
        version = (lease.get("metadata") or {}).get("resourceVersion")
        self.ctx.call(
            UPDATE_LEASE,
            api.patch_namespaced_lease,
            self.name,
            self.namespace,
            {"metadata": {"resourceVersion": version}, "spec": spec},
            _content_type="application/merge-patch+json",
            _preload_content=False,
        )
