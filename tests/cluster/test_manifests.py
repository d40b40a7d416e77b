"""Every shipped manifest is accepted by the real API server: its validation, defaulting, the
admission chain and the CEL of our own admission policies (server-side dry run, after the two
namespaces it lives in exist). The scenarios (test_fleet_mode, test_job_mode) apply them for
real, the way the docs say; this catches the ones no scenario reaches."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster.controlplane import ControlPlane
from tests.cluster.support import REPO

MANIFESTS = sorted(
    path
    for path in (REPO / "deploy").rglob("*.yaml")
    if "helm" not in path.relative_to(REPO / "deploy").parts  # Helm values, not manifests
)
NAMESPACES = ("gitlab-runner", "dind-preflight")


@pytest.fixture(scope="module")
def namespaces(cluster: ControlPlane) -> Iterator[None]:
    for name in NAMESPACES:
        cluster.kubectl("create", "namespace", name)
    try:
        yield
    finally:
        cluster.kubectl("delete", "namespace", *NAMESPACES, "--timeout=120s", check=False)


def test_there_are_manifests() -> None:
    assert len(MANIFESTS) >= 15, MANIFESTS


@pytest.mark.parametrize("manifest", MANIFESTS, ids=[str(p.relative_to(REPO)) for p in MANIFESTS])
def test_the_api_server_accepts_it(cluster: ControlPlane, namespaces: None, manifest: Path) -> None:
    done = cluster.kubectl("apply", "--dry-run=server", "-f", str(manifest), check=False)
    assert done.returncode == 0, f"{manifest.relative_to(REPO)}:\n{done.stderr}"
