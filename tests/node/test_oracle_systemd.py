"""Differential test: which modules-load.d files are effective, against systemd itself.

``systemd-analyze cat-config --root=DIR modules-load.d`` (systemd 252) prints every effective
file, in the order systemd-modules-load reads them, each under a ``# PATH`` header. We generate
random trees (precedence, same-name overrides, /dev/null masks, empty files, hidden and backup
names, relative symlinks, merged or split /usr) and compare the file list and the names each file
lists. Its known caveats are kept out of the trees: absolute symlinks resolve on the machine (we
only use /dev/null, which is the same everywhere), and a dangling symlink or a directory aborts
the listing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from preflight.node.gather import gather
from preflight.node.modules_load import FileRole, effective_names, select_files, split_lines
from tests.node.rootbuilder import HostRoot

DIRS = ("/etc", "/run", "/usr/local/lib", "/usr/lib", "/lib")
NAMES = (
    "a.conf",
    "b.conf",
    "k8s.conf",
    "modules.conf",
    "z.conf",
    "dind",
    ".hidden.conf",
    "b.conf.rpmsave",
    "c.conf~",
)
LINES = st.sampled_from(
    [
        "iptable_nat",
        "iptable_filter",
        "  overlay  ",
        "#iptable_nat",
        "; br_netfilter",
        "",
        "nf_nat opt=1",
        "iptable-nat",
        "\tveth",
    ]
)


def systemd_analyze() -> str:
    path = shutil.which("systemd-analyze")
    if path is None:
        pytest.fail("systemd-analyze is not installed (make test installs systemd)")
    return path


@st.composite
def trees(draw: st.DrawFn) -> dict[str, object]:
    """{"merged": bool, "files": {path: ("text", str) | ("null",) | ("link", rel_target)}}."""
    merged = draw(st.booleans())
    files: dict[str, tuple[str, ...]] = {}
    dirs = [d for d in DIRS if not (merged and d == "/lib")]
    for directory in dirs:
        for name in draw(st.lists(st.sampled_from(NAMES), max_size=4, unique=True)):
            kind = draw(st.sampled_from(["text", "text", "text", "empty", "null"]))
            path = f"{directory}/modules-load.d/{name}"
            if kind == "text":
                lines = draw(st.lists(LINES, min_size=1, max_size=4))
                files[path] = ("text", "".join(f"{line}\n" for line in lines))
            elif kind == "empty":
                files[path] = ("text", "")
            else:
                files[path] = ("null",)
    # Some names are relative symlinks to an existing regular file (e.g. modules.conf -> ../modules).
    regular = sorted(p for p, v in files.items() if v[0] == "text")
    if draw(st.booleans()):
        files["/etc/modules"] = ("text", "iptable_nat\n# comment\nnf_conntrack\n")
        regular.append("/etc/modules")
    for directory in draw(st.lists(st.sampled_from(dirs), max_size=2, unique=True)):
        if regular:
            target = draw(st.sampled_from(regular))
            name = draw(st.sampled_from(["link.conf", "modules.conf", "zz-link.conf"]))
            path = f"{directory}/modules-load.d/{name}"
            if path not in files and path != target:
                files[path] = ("link", target)
    return {"merged": merged, "files": files}


def build(base: Path, tree: dict[str, object]) -> HostRoot:
    root = HostRoot(base)
    if tree["merged"]:
        root.merged_usr()
    else:
        root.split_usr()
    files = tree["files"]
    assert isinstance(files, dict)
    for path, spec in files.items():
        if spec[0] == "text":
            root.file(path, spec[1])
        elif spec[0] == "null":
            root.symlink(path, "/dev/null")
    for path, spec in files.items():
        if spec[0] == "link":
            link_dir = Path(path).parent
            root.symlink(path, os.path.relpath(spec[1], str(link_dir)))
    return root


def oracle(root: Path) -> list[tuple[str, list[str]]]:
    """(path inside root, names listed) for each file systemd-analyze prints."""
    result = subprocess.run(
        [systemd_analyze(), "cat-config", f"--root={root}", "modules-load.d"],
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode()
    sections: list[tuple[str, bytearray]] = []
    prefix = f"# {root}/".encode()
    for line in result.stdout.splitlines(keepends=True):
        if line.startswith(prefix):
            sections.append(("/" + line[len(prefix) :].decode().rstrip("\n"), bytearray()))
        elif sections:
            sections[-1][1].extend(line)
    return [
        (path, [t for _, t in split_lines(bytes(body)) if t[0] not in "#;"])
        for path, body in sections
    ]


def ours(root: Path) -> list[tuple[str, list[str]]]:
    facts = gather(str(root), None, [])
    files = select_files(facts.modules_load_dirs)
    out: list[tuple[str, list[str]]] = []
    for conf in files:
        if conf.role is not FileRole.EFFECTIVE:
            continue
        names = [n.text for n in effective_names([conf])]
        out.append((conf.path, names))
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tree=trees())
def test_effective_files_match_systemd(tree: dict[str, object]) -> None:
    base = Path(tempfile.mkdtemp(prefix="dpf-oracle-"))
    try:
        root = build(base / "root", tree)
        assert ours(root.path) == oracle(root.path)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_field_report_layouts_match_systemd(tmp_path: Path) -> None:
    """The two layouts that matter most, spelled out: Debian's link, and RHEL's absence of it."""
    debian = build(
        tmp_path / "debian",
        {
            "merged": True,
            "files": {
                "/etc/modules": ("text", "iptable_nat\n"),
                "/etc/modules-load.d/modules.conf": ("link", "/etc/modules"),
            },
        },
    )
    assert (
        oracle(debian.path)
        == ours(debian.path)
        == [("/etc/modules-load.d/modules.conf", ["iptable_nat"])]
    )
    rhel = build(
        tmp_path / "rhel", {"merged": True, "files": {"/etc/modules": ("text", "iptable_nat\n")}}
    )
    assert oracle(rhel.path) == ours(rhel.path) == []
