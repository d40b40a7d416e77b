"""Reducing the module index to the checked modules changes no answer about them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from preflight.node.analysis import analyze
from preflight.node.gather import gather
from preflight.node.module_sets import union
from tests.node import profiles
from tests.node.rootbuilder import HostRoot

PROFILES: dict[str, Callable[[Path], HostRoot]] = {
    "centos8-before": lambda p: profiles.centos8_field_report(p, "before"),
    "rocky9": profiles.rocky9,
    "debian11": profiles.debian11_split_usr,
    "debian12": profiles.debian12,
    "ubuntu2404": profiles.ubuntu2404,
    "builtin": profiles.builtin_netfilter,
}
CHECKED = union("legacy", "nf_tables")


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_the_reduced_index_gives_the_same_report(tmp_path: Path, name: str) -> None:
    root = PROFILES[name](tmp_path)
    whole = gather(str(root.path), None, [])  # nothing named: every line kept
    reduced = gather(str(root.path), None, CHECKED)
    assert analyze(reduced, CHECKED) == analyze(whole, CHECKED)
    # and it is smaller: only the checked modules and their dependencies are left
    for full, small in zip(whole.kernels, reduced.kernels, strict=True):
        assert len(small.modules_dep.data) <= len(full.modules_dep.data)
