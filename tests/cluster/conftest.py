"""The real control plane, started once for the session (tests/cluster/controlplane.py), and the
images the test kubelet knows. Every test module makes its own namespaces and nodes and removes
them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.cluster.controlplane import ControlPlane, control_plane
from tests.cluster.kubelet import ImageTable, dind_standin_image, product_image

# The images the shipped manifests and the docs name, and the dind images projects choose.
AGENT_IMAGE = "registry.gitlab.com/dind-preflight/dind-preflight:0.1.0"
EXAMPLE_IMAGE = "registry.example.com/ci/dind-preflight:0.1.0"
DIND_IMAGES = ("docker:dind", "docker:20.10-dind", "docker:27-dind")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A cluster test waits on controllers and pods: minutes, not the suite's 120 s default."""
    for item in items:
        if "tests/cluster/" in str(item.fspath) and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(400))


@pytest.fixture(scope="session")
def cluster() -> Iterator[ControlPlane]:
    with control_plane() as running:
        yield running


@pytest.fixture(scope="session")
def images() -> ImageTable:
    table = ImageTable()
    for reference in (AGENT_IMAGE, EXAMPLE_IMAGE):
        table.add(product_image(reference))
    for reference in DIND_IMAGES:
        table.add(dind_standin_image(reference))
    return table
