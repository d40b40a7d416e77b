"""Reads confined to ROOT: symlinks resolved inside it, and every odd file handled, never raised."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from preflight.node.facts import FileStatus
from preflight.node.hostfs import MAX_SYMLINKS, HostFS
from tests.node.privileges import as_nobody
from tests.node.rootbuilder import HostRoot


@pytest.fixture
def root(tmp_path: Path) -> HostRoot:
    return HostRoot(tmp_path / "root")


def test_plain_file(root: HostRoot) -> None:
    root.file("/etc/a.conf", "iptable_nat\n")
    read = HostFS(str(root.path)).read("/etc/a.conf")
    assert (read.status, read.data, read.target, read.links) == (
        FileStatus.OK,
        b"iptable_nat\n",
        "/etc/a.conf",
        (),
    )


def test_absolute_symlink_resolves_inside_root(root: HostRoot, tmp_path: Path) -> None:
    root.file("/opt/dind/modules.conf", "inside\n")
    root.symlink("/etc/modules-load.d/dind.conf", "/opt/dind/modules.conf")
    read = HostFS(str(root.path)).read("/etc/modules-load.d/dind.conf")
    assert (read.status, read.data, read.target) == (
        FileStatus.OK,
        b"inside\n",
        "/opt/dind/modules.conf",
    )
    assert read.links == ("/etc/modules-load.d/dind.conf -> /opt/dind/modules.conf",)


@pytest.mark.parametrize(
    "target",
    ["../../../outside/secret", "/../../outside/secret", "{outside}/secret"],
    ids=["relative-escape", "absolute-dotdot", "machine-path"],
)
def test_links_never_leave_root(root: HostRoot, tmp_path: Path, target: str) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("secret\n")
    root.symlink("/etc/x.conf", target.format(outside=outside))
    read = HostFS(str(root.path)).read("/etc/x.conf")
    assert read.status is FileStatus.DANGLING
    assert read.data == b""


def test_dotdot_applies_after_symlink_resolution(root: HostRoot) -> None:
    root.file("/b/d", "right\n")
    root.file("/d", "wrong\n")
    root.dir("/b/c")
    root.symlink("/a", "/b/c")
    read = HostFS(str(root.path)).read("/a/../d")
    assert (read.status, read.data, read.target) == (FileStatus.OK, b"right\n", "/b/d")


@pytest.mark.parametrize("target", ["/dev/null", "../../dev/null", "/dev/./null"])
def test_dev_null_is_recognised_by_name(root: HostRoot, target: str) -> None:
    root.symlink("/etc/modules-load.d/x.conf", target)
    read = HostFS(str(root.path)).read("/etc/modules-load.d/x.conf")
    assert (read.status, read.data, read.target) == (FileStatus.NULL, b"", "/dev/null")
    assert read.ok


def test_dev_null_in_root_is_never_opened(root: HostRoot) -> None:
    root.file("/dev/null", "not empty\n")
    root.symlink("/etc/x.conf", "/dev/null")
    assert HostFS(str(root.path)).read("/etc/x.conf").data == b""


def test_symlink_loop(root: HostRoot) -> None:
    root.symlink("/etc/a.conf", "b.conf")
    root.symlink("/etc/b.conf", "a.conf")
    root.symlink("/etc/self.conf", "self.conf")
    fs = HostFS(str(root.path))
    assert fs.read("/etc/a.conf").status is FileStatus.LOOP
    assert fs.read("/etc/self.conf").status is FileStatus.LOOP


def test_symlink_chain_limit(root: HostRoot) -> None:
    root.file("/etc/end", "ok\n")
    for i in range(MAX_SYMLINKS + 1):
        root.symlink(f"/etc/l{i}", "end" if i == 0 else f"l{i - 1}")
    fs = HostFS(str(root.path))
    assert fs.read(f"/etc/l{MAX_SYMLINKS - 1}").status is FileStatus.OK
    assert fs.read(f"/etc/l{MAX_SYMLINKS}").status is FileStatus.LOOP


def test_dangling_and_missing(root: HostRoot) -> None:
    root.symlink("/etc/gone.conf", "/nowhere/x")
    fs = HostFS(str(root.path))
    assert fs.read("/etc/gone.conf").status is FileStatus.DANGLING
    assert fs.read("/etc/absent.conf").status is FileStatus.MISSING


def test_directory_and_not_a_directory(root: HostRoot) -> None:
    root.dir("/etc/modules-load.d/dir.conf")
    root.file("/etc/modules", "x\n")
    fs = HostFS(str(root.path))
    assert fs.read("/etc/modules-load.d/dir.conf").status is FileStatus.DIRECTORY
    assert fs.read("/etc/modules/x.conf").status is FileStatus.NOT_DIRECTORY
    assert fs.read("/").status is FileStatus.DIRECTORY


@pytest.mark.timeout(10)
def test_fifo_is_not_read_and_does_not_hang(root: HostRoot) -> None:
    root.dir("/etc/modules-load.d")
    os.mkfifo(root.host("/etc/modules-load.d/pipe.conf"))
    read = HostFS(str(root.path)).read("/etc/modules-load.d/pipe.conf")
    assert read.status is FileStatus.SPECIAL


def test_huge_file_is_truncated(root: HostRoot) -> None:
    root.file("/etc/big.conf", b"iptable_nat\n" * 100_000)
    read = HostFS(str(root.path)).read("/etc/big.conf", limit=4096)
    assert (read.status, len(read.data), read.truncated) == (FileStatus.OK, 4096, True)
    exact = HostFS(str(root.path)).read("/etc/big.conf", limit=1_200_000)
    assert (len(exact.data), exact.truncated) == (1_200_000, False)


def test_binary_file_is_read_as_bytes(root: HostRoot) -> None:
    root.file("/etc/bin.conf", bytes(range(256)))
    read = HostFS(str(root.path)).read("/etc/bin.conf")
    assert read.status is FileStatus.OK and read.data == bytes(range(256))
    assert "\ufffd" in read.text


def test_unreadable_file(public_tmp: Path) -> None:
    root = HostRoot(public_tmp / "root")
    root.path.chmod(0o755)
    root.file("/etc/secret.conf", "x\n", mode=0o000)
    root.host("/etc").chmod(0o755)
    fs = HostFS(str(root.path))
    with as_nobody():
        read = fs.read("/etc/secret.conf")
    assert read.status is FileStatus.UNREADABLE
    assert read.error == "Permission denied"


def test_listdir_through_merged_usr(root: HostRoot) -> None:
    root.merged_usr()
    root.lines("/usr/lib/modules-load.d/b.conf", "x")
    root.lines("/usr/lib/modules-load.d/a.conf", "y")
    listing = HostFS(str(root.path)).listdir("/lib/modules-load.d")
    assert (listing.status, listing.names, listing.target) == (
        FileStatus.OK,
        ("a.conf", "b.conf"),
        "/usr/lib/modules-load.d",
    )


def test_listdir_limit_and_failures(root: HostRoot) -> None:
    for i in range(10):
        root.file(f"/etc/many/{i:02}.conf", "")
    root.file("/etc/file", "")
    fs = HostFS(str(root.path))
    listing = fs.listdir("/etc/many", limit=4)
    assert (len(listing.names), listing.truncated) == (4, True)
    assert fs.listdir("/etc/file").status is FileStatus.NOT_DIRECTORY
    assert fs.listdir("/etc/none").status is FileStatus.MISSING


def test_device_is_never_opened(root: HostRoot) -> None:
    root.dir("/etc/modules-load.d")
    device = root.host("/etc/modules-load.d/zero.conf")
    os.mknod(device, 0o644 | stat.S_IFCHR, os.makedev(1, 5))  # like /dev/zero: endless
    opened: list[str] = []
    real_open = os.open

    def spy(path: str, flags: int, *args: object, **kwargs: object) -> int:
        opened.append(str(path))
        return real_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]

    os.open = spy  # type: ignore[assignment]
    try:
        read = HostFS(str(root.path)).read("/etc/modules-load.d/zero.conf")
    finally:
        os.open = real_open
    assert read.status is FileStatus.SPECIAL
    assert "zero.conf" not in opened
