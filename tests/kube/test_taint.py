"""The node taint: which taint for which diagnosis (pure), and applying it (fake API)."""

from __future__ import annotations

from typing import Any

import pytest

from preflight.actions.taint import TAINT_KEY, Taint, taint_for, with_taint
from preflight.diagnosis.decide import decide
from preflight.diagnosis.model import Confidence, Diagnosis
from preflight.kube.client import connect
from preflight.kube.settings import KubeSettings
from preflight.kube.taint_node import taint_node
from preflight.probe.model import Verdict
from tests.diagnosis.evidence import NAT_LINE, NOT_PRIVILEGED_LINE, node, probe, service
from tests.kube.fake_cluster import FakeCluster

NAT = Taint(TAINT_KEY, "iptable_nat-missing")
OTHER = {"key": "node-role.kubernetes.io/ci", "value": "true", "effect": "NoSchedule"}


def on_node(diagnosis: Diagnosis, name: str | None = "worker-3") -> Diagnosis:
    import dataclasses

    return dataclasses.replace(diagnosis, node=name)


@pytest.mark.parametrize(
    ("diagnosis", "expected"),
    [
        (on_node(decide(probe(Verdict.REFUSED), service(log=NAT_LINE), node(nat=False))), NAT),
        # the log line alone, or the job's own /proc: never a taint (the job can forge them)
        (on_node(decide(probe(Verdict.REFUSED), service(log=NAT_LINE), None)), None),
        (on_node(decide(probe(Verdict.REFUSED), None, node(nat=False, source="job-proc"))), None),
        (
            on_node(
                decide(probe(Verdict.REFUSED), service(log=NOT_PRIVILEGED_LINE), node(nat=False))
            ),
            None,
        ),
        (on_node(decide(probe(Verdict.TIMEOUT), None, None)), None),
        (on_node(decide(probe(Verdict.HEALTHY), None, None)), None),
        (on_node(decide(probe(Verdict.REFUSED), service(log=NAT_LINE), None), None), None),
    ],
    ids=[
        "node-fault",
        "log-alone",
        "job-proc",
        "runner-fault",
        "unknown",
        "healthy",
        "no-node-name",
    ],
)
def test_taint_for(diagnosis: Diagnosis, expected: Taint | None) -> None:
    assert taint_for(diagnosis) == expected


def test_low_confidence_node_fault_is_not_tainted() -> None:
    import dataclasses

    diagnosis = on_node(decide(probe(Verdict.REFUSED), service(log=NAT_LINE), None))
    assert taint_for(dataclasses.replace(diagnosis, confidence=Confidence.LOW)) is None


@pytest.mark.parametrize(
    ("existing", "expected"),
    [
        (None, [NAT.to_api()]),
        ([], [NAT.to_api()]),
        ([OTHER], [OTHER, NAT.to_api()]),
        ([OTHER, NAT.to_api()], None),
        (
            [
                {
                    "key": TAINT_KEY,
                    "value": "nf_tables-missing",
                    "effect": "NoSchedule",
                    "timeAdded": "x",
                },
                OTHER,
            ],
            [NAT.to_api(), OTHER],
        ),
        (
            [{"key": TAINT_KEY, "value": "x", "effect": "NoExecute"}],
            [{"key": TAINT_KEY, "value": "x", "effect": "NoExecute"}, NAT.to_api()],
        ),
    ],
    ids=["none", "empty", "keeps-others", "idempotent", "updates-cause", "other-effect"],
)
def test_with_taint(
    existing: list[dict[str, Any]] | None, expected: list[dict[str, Any]] | None
) -> None:
    assert with_taint(existing, NAT) == expected


def _node(cluster: FakeCluster, taints: list[dict[str, Any]]) -> None:
    cluster.add(
        "v1/nodes",
        None,
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": "worker-3"},
            "spec": {"taints": taints},
        },
    )


def _patches(cluster: FakeCluster) -> list[Any]:
    return [
        r for r in cluster.requests() if r.method == "PATCH" and r.path.endswith("/nodes/worker-3")
    ]


def test_taint_node_adds_keeps_others_and_is_idempotent(
    cluster: FakeCluster, settings: KubeSettings
) -> None:
    _node(cluster, [OTHER])
    ctx = connect(settings)
    first = taint_node(ctx, "worker-3", NAT)
    assert first.changed and first.problem is None
    stored = cluster.get("v1/nodes", None, "worker-3")
    assert stored is not None and stored["spec"]["taints"] == [OTHER, NAT.to_api()]
    (patch,) = _patches(cluster)
    assert patch.data["spec"]["taints"] == [OTHER, NAT.to_api()]
    assert patch.data["metadata"]["resourceVersion"] == "1"
    again = taint_node(ctx, "worker-3", NAT)
    assert not again.changed and again.problem is None
    assert len(_patches(cluster)) == 1


def test_taint_node_retries_on_conflict(cluster: FakeCluster, settings: KubeSettings) -> None:
    _node(cluster, [])
    cluster.concurrent_writer(1)
    outcome = taint_node(connect(settings), "worker-3", NAT)
    assert outcome.changed and outcome.problem is None
    assert len(_patches(cluster)) == 2
    stored = cluster.get("v1/nodes", None, "worker-3")
    assert stored is not None and stored["spec"]["taints"] == [NAT.to_api()]


def test_taint_node_gives_up_after_repeated_conflicts(
    cluster: FakeCluster, settings: KubeSettings
) -> None:
    _node(cluster, [])
    cluster.concurrent_writer(5)
    outcome = taint_node(connect(settings), "worker-3", NAT, attempts=3)
    assert not outcome.changed and "kept changing" in (outcome.problem or "")


def test_taint_node_without_cluster_role(cluster: FakeCluster, settings: KubeSettings) -> None:
    _node(cluster, [])
    cluster.deny("patch", "nodes")
    outcome = taint_node(connect(settings), "worker-3", NAT)
    assert not outcome.changed
    assert outcome.problem is not None
    assert "cannot patch nodes cluster-wide: forbidden (403)" in outcome.problem
    assert "deploy/rbac/clusterrole-taint.yaml" in outcome.problem


def test_taint_missing_node(cluster: FakeCluster, settings: KubeSettings) -> None:
    outcome = taint_node(connect(settings), "worker-9", NAT)
    assert not outcome.changed and "HTTP 404" in (outcome.problem or "")
