"""Property tests over random directory trees: the analysis never crashes and never reads
anything outside ROOT, whatever the tree holds (symlinks anywhere, loops, FIFOs, binary data)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from preflight.jsonable import to_json
from preflight.node.api import analyze_host
from preflight.node.model import NodeReport
from preflight.node.render import render_text

SECRET = "dpf_outside_secret"
KVER = "6.1.0-13-amd64"
PATHS = [
    "/etc",
    "/etc/modules-load.d",
    "/etc/modules-load.d/a.conf",
    "/etc/modules-load.d/modules.conf",
    "/usr/lib/modules-load.d/a.conf",
    "/usr/lib/modules-load.d",
    "/lib",
    "/usr/lib",
    "/usr",
    "/etc/modules",
    "/etc/modprobe.d",
    "/etc/modprobe.d/x.conf",
    "/lib/modprobe.d/y.conf",
    "/lib/modules",
    f"/lib/modules/{KVER}",
    f"/lib/modules/{KVER}/modules.dep",
    f"/lib/modules/{KVER}/modules.builtin",
    f"/lib/modules/{KVER}/kernel",
    "/proc",
    "/proc/modules",
    "/proc/sys/kernel/osrelease",
    "/proc/cmdline",
    "/proc/config.gz",
    "/proc/net",
    "/proc/net/ip_tables_names",
    "/sys/module/iptable_nat",
    "/sys/module/iptable_nat/initstate",
    f"/boot/config-{KVER}",
    "/etc/os-release",
    "/run/modules-load.d/b.conf",
    "/usr/sbin/grubby",
]
TARGETS = [
    "/",
    "..",
    "../..",
    "../../../..",
    "/dev/null",
    "../../dev/null",
    "{outside}",
    "{outside}/x",
    "/etc",
    "/etc/modules",
    "self",
    "../modules",
    "/proc",
    "/lib/modules",
    "usr/lib",
    "a.conf",
    "/usr/lib/modules-load.d/a.conf",
    "/proc/self",
    "../" * 12 + "etc/passwd",
]
CONTENT = st.one_of(
    st.sampled_from(
        [
            "iptable_nat\niptable_filter\n",
            "dpf_inside_name\n",
            "blacklist iptable_nat\ninstall iptable_filter /bin/false\n",
            "kernel/net/ipv4/netfilter/iptable_nat.ko: kernel/x.ko\n",
            f"{KVER}\n",
            "iptable_nat 16384 0 - Live 0x0\n",
            "modules_load=iptable_nat module_blacklist=iptable_filter\n",
            "CONFIG_MODULES=y\nCONFIG_IP_NF_NAT=m\n",
            "live\n",
            "",
        ]
    ),
    st.binary(max_size=300).map(lambda b: b.decode("latin-1")),
)
OPERATION = st.one_of(
    st.tuples(st.just("file"), st.sampled_from(PATHS), CONTENT),
    st.tuples(st.just("link"), st.sampled_from(PATHS), st.sampled_from(TARGETS)),
    st.tuples(st.sampled_from(["dir", "fifo"]), st.sampled_from(PATHS), st.just("")),
)


def _inside(root: Path, rel: str) -> Path | None:
    """The path of ``rel`` under ``root`` with every parent a real directory inside ``root``
    (created as needed), or None when a parent is a symlink or a file: the tree builder never
    follows a link, so it cannot write outside ``root`` whatever links it made before."""
    parts = [p for p in rel.split("/") if p]
    current = root
    for part in parts[:-1]:
        current = current / part
        if current.is_symlink() or (current.exists() and not current.is_dir()):
            return None
        if not current.exists():
            current.mkdir()
    path = current / parts[-1]
    if path.is_symlink() or path.exists():
        return None
    real_root = os.path.realpath(root)
    assert os.path.realpath(path.parent).startswith(real_root + os.sep) or (
        os.path.realpath(path.parent) == real_root
    )
    return path


def _apply(root: Path, outside: Path, operations: list[tuple[str, str, str]]) -> None:
    for kind, rel, arg in operations:
        path = _inside(root, rel)
        if path is None:
            continue  # a parent is a link or a file: this operation does not apply
        if kind == "file":
            path.write_bytes(arg.encode("latin-1", errors="replace"))
        elif kind == "dir":
            path.mkdir()
        elif kind == "link":
            os.symlink(arg.replace("{outside}", str(outside)), path)
        else:
            os.mkfifo(path)


@contextmanager
def opened_paths() -> Iterator[list[str]]:
    """Record the real path of every file descriptor opened through ``os.open``."""
    seen: list[str] = []
    real_open = os.open

    def recording_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        fd = real_open(path, flags, *args, **kwargs)
        seen.append(os.readlink(f"/proc/self/fd/{fd}"))
        return fd

    os.open = recording_open  # type: ignore[assignment]
    try:
        yield seen
    finally:
        os.open = real_open


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations=st.lists(OPERATION, max_size=25), with_proc=st.booleans())
def test_never_crashes_and_never_leaves_root(
    operations: list[tuple[str, str, str]], with_proc: bool
) -> None:
    base = Path(tempfile.mkdtemp(prefix="dpf-prop-"))
    try:
        root = base / "root"
        outside = base / "outside"
        root.mkdir()
        outside.mkdir()
        (outside / "x").write_text(f"{SECRET}\n")
        (outside / "modules-load.d").mkdir()
        (outside / "modules-load.d" / "a.conf").write_text(f"{SECRET}\n")
        _apply(root, outside, operations)
        # An explicit --proc is used as given (not resolved inside ROOT): pass only a real one.
        explicit = root / "proc"
        proc = (
            str(explicit) if with_proc and explicit.is_dir() and not explicit.is_symlink() else None
        )
        analyze_host(str(root), proc)  # first run: lazy imports happen outside the recording
        with opened_paths() as seen:
            report = analyze_host(str(root), proc, ["iptable_nat", "iptable_filter", SECRET[:-7]])
        real_root = os.path.realpath(root)
        escaped = [p for p in seen if p != real_root and not p.startswith(real_root + os.sep)]
        assert escaped == []
        _assert_well_formed(report)
        assert SECRET not in json.dumps(to_json(report))
        assert SECRET not in render_text(report)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _assert_well_formed(report: NodeReport) -> None:
    text = json.dumps(to_json(report))
    assert json.loads(text)["modules"].keys() == report.modules.keys()
    for finding in report.findings:
        assert finding.severity.value in ("error", "warning", "info")
        assert finding.code and finding.message
    assert report.ok == all(m.loaded and m.loads_at_boot for m in report.modules.values())
