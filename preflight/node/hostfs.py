"""Bounded reads confined to a host root, as if the process were chrooted into it.

Every path is resolved component by component with directory file descriptors: a symlink's target
is read and followed *inside* ROOT (an absolute target starts again at ROOT, ``..`` never climbs
above it), so nothing outside ROOT is ever opened. Symlink loops, dangling links, directories,
FIFOs, devices, unreadable and huge files never raise: they come back as a :class:`FileRead` with
a :class:`FileStatus` saying what was found. A symlink to ``/dev/null`` is recognised by its
target, without opening anything (it is how systemd and kmod files are masked).
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from preflight.node.facts import DirListing, FileRead, FileStatus

MAX_SYMLINKS = 40  # the kernel's own limit (ELOOP)
MAX_DEPTH = 256  # path components kept open at once
DEFAULT_LIMIT = 4 * 1024 * 1024  # bytes read from one configuration file
MAX_DIR_ENTRIES = 4096  # entries listed from one directory
NULL_DEVICE = "/dev/null"


@dataclass
class _Walk:
    """The result of resolving a path: the parent directory fd and the final name (or a failure)."""

    status: FileStatus
    logical: str | None = None
    parent_fd: int | None = None
    name: str | None = None
    mode: int = 0  # lstat mode of the final component (never a symlink)
    links: list[str] = field(default_factory=list)
    error: str | None = None


def _split(path: str) -> list[str]:
    return [part for part in path.split("/") if part not in ("", ".")]


def _join(parts: list[str]) -> str:
    return "/" + "/".join(parts)


class HostFS:
    """Read files under ``root`` as that host would see them, never leaving ``root``."""

    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)

    @contextmanager
    def _resolve(self, path: str) -> Iterator[_Walk]:
        """Resolve ``path`` inside ROOT; yields the walk with an open parent fd (closed after)."""
        opened: list[int] = []
        try:
            yield self._walk(path, opened)
        finally:
            for fd in opened:
                os.close(fd)

    def _walk(self, path: str, opened: list[int]) -> _Walk:
        try:
            root_fd = os.open(self.root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as exc:
            return _Walk(_status_of(exc), error=exc.strerror)
        opened.append(root_fd)
        stack = [root_fd]  # fds of the directories in ``names``, ROOT first
        names: list[str] = []
        todo = _split(path)
        links: list[str] = []
        while todo:
            part = todo.pop(0)
            if part == "..":
                if names:
                    names.pop()
                    stack.pop()
                continue
            last = not todo
            logical = _join([*names, part])
            if _join([*names, part, *todo]) == NULL_DEVICE:
                # /dev/null by name, whether or not ROOT has a /dev: a masking entry.
                return _Walk(FileStatus.NULL, logical=NULL_DEVICE, links=links)
            try:
                st = os.stat(part, dir_fd=stack[-1], follow_symlinks=False)
            except OSError as exc:
                status = _status_of(exc)
                if status is FileStatus.MISSING and links:
                    status = FileStatus.DANGLING
                return _Walk(status, logical=logical, links=links, error=exc.strerror)
            if stat.S_ISLNK(st.st_mode):
                if len(links) >= MAX_SYMLINKS:
                    return _Walk(FileStatus.LOOP, logical=logical, links=links, error="ELOOP")
                try:
                    target = os.readlink(part, dir_fd=stack[-1])
                except OSError as exc:
                    return _Walk(_status_of(exc), logical=logical, links=links, error=exc.strerror)
                links.append(f"{logical} -> {target}")
                if target.startswith("/"):
                    del stack[1:]
                    names.clear()
                todo[:0] = [p for p in target.split("/") if p not in ("", ".")]
                continue
            if last:
                return _Walk(
                    FileStatus.OK,
                    logical=logical,
                    parent_fd=stack[-1],
                    name=part,
                    mode=st.st_mode,
                    links=links,
                )
            if not stat.S_ISDIR(st.st_mode):
                return _Walk(
                    FileStatus.NOT_DIRECTORY,
                    logical=logical,
                    links=links,
                    error=os.strerror(errno.ENOTDIR),
                )
            if len(names) >= MAX_DEPTH:
                return _Walk(FileStatus.LOOP, logical=logical, links=links, error="too deep")
            try:
                fd = os.open(
                    part,
                    os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                    dir_fd=stack[-1],
                )
            except OSError as exc:
                return _Walk(_status_of(exc), logical=logical, links=links, error=exc.strerror)
            opened.append(fd)
            stack.append(fd)
            names.append(part)
        # The path named ROOT itself (or climbed back to it).
        return _Walk(FileStatus.DIRECTORY, logical=_join(names), links=links)

    def read(self, path: str, limit: int = DEFAULT_LIMIT) -> FileRead:
        """Read at most ``limit`` bytes of the regular file at ``path`` (inside ROOT)."""
        with self._resolve(path) as walk:
            if walk.parent_fd is None or walk.name is None:
                return FileRead(
                    path, walk.status, walk.logical, tuple(walk.links), error=walk.error
                )
            if stat.S_ISDIR(walk.mode):
                return FileRead(path, FileStatus.DIRECTORY, walk.logical, tuple(walk.links))
            if not stat.S_ISREG(walk.mode):
                # FIFOs, sockets and devices are never opened (opening some has side effects).
                return FileRead(path, FileStatus.SPECIAL, walk.logical, tuple(walk.links))
            try:
                fd = os.open(
                    walk.name,
                    os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY,
                    dir_fd=walk.parent_fd,
                )
            except OSError as exc:
                return FileRead(
                    path, _status_of(exc), walk.logical, tuple(walk.links), error=exc.strerror
                )
            try:
                mode = os.fstat(fd).st_mode
                if stat.S_ISDIR(mode):
                    return FileRead(path, FileStatus.DIRECTORY, walk.logical, tuple(walk.links))
                if not stat.S_ISREG(mode):
                    return FileRead(path, FileStatus.SPECIAL, walk.logical, tuple(walk.links))
                data, truncated = _read_bounded(fd, limit)
            except OSError as exc:
                return FileRead(
                    path, _status_of(exc), walk.logical, tuple(walk.links), error=exc.strerror
                )
            finally:
                os.close(fd)
            return FileRead(path, FileStatus.OK, walk.logical, tuple(walk.links), data, truncated)

    def listdir(self, path: str, limit: int = MAX_DIR_ENTRIES) -> DirListing:
        """The sorted names in the directory at ``path`` (at most ``limit``)."""
        with self._resolve(path) as walk:
            if walk.status is FileStatus.DIRECTORY and walk.parent_fd is None:
                # ROOT itself.
                return _list(path, walk.logical, None, self.root, limit)
            if walk.parent_fd is None or walk.name is None:
                return DirListing(path, walk.status, walk.logical, error=walk.error)
            return _list(path, walk.logical, walk.parent_fd, walk.name, limit)

    def kind(self, path: str) -> FileStatus:
        """What ``path`` is, following symlinks inside ROOT (OK means a regular file)."""
        with self._resolve(path) as walk:
            if walk.parent_fd is None or walk.name is None:
                return walk.status
            if stat.S_ISDIR(walk.mode):
                return FileStatus.DIRECTORY
            if stat.S_ISREG(walk.mode):
                return FileStatus.OK
            return FileStatus.SPECIAL

    def resolve(self, path: str) -> str | None:
        """The path ``path`` resolves to inside ROOT, or None when it does not resolve."""
        with self._resolve(path) as walk:
            if walk.status in (FileStatus.OK, FileStatus.DIRECTORY, FileStatus.NULL):
                return walk.logical
            return None

    def host_path(self, path: str) -> str | None:
        """The machine path of ``path`` resolved inside ROOT (for a sub-root such as PROC)."""
        logical = self.resolve(path)
        if logical is None:
            return None
        return os.path.join(self.root, logical.lstrip("/")) if logical != "/" else self.root


def _list(path: str, logical: str | None, dir_fd: int | None, name: str, limit: int) -> DirListing:
    """List the directory ``name`` (relative to ``dir_fd``, or absolute when it is None)."""
    nofollow = os.O_NOFOLLOW if dir_fd is not None else 0  # ROOT itself may be a symlink
    try:
        fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | nofollow | os.O_CLOEXEC, dir_fd=dir_fd)
    except OSError as exc:
        status = _status_of(exc)
        if exc.errno == errno.ENOTDIR:
            status = FileStatus.NOT_DIRECTORY
        return DirListing(path, status, logical, error=exc.strerror)
    names: list[str] = []
    truncated = False
    try:
        with os.scandir(fd) as entries:
            for entry in entries:
                if len(names) >= limit:
                    truncated = True
                    break
                names.append(entry.name)
    except OSError as exc:
        return DirListing(path, _status_of(exc), logical, error=exc.strerror)
    finally:
        os.close(fd)
    return DirListing(path, FileStatus.OK, logical, tuple(sorted(names)), truncated)


def _read_bounded(fd: int, limit: int) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = os.read(fd, min(65536, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    data = b"".join(chunks)
    if len(data) > limit:
        return data[:limit], True
    return data, False


def _status_of(exc: OSError) -> FileStatus:
    if exc.errno == errno.ENOENT:
        return FileStatus.MISSING
    if exc.errno == errno.ELOOP:
        return FileStatus.LOOP
    if exc.errno == errno.ENOTDIR:
        return FileStatus.NOT_DIRECTORY
    if exc.errno == errno.EISDIR:
        return FileStatus.DIRECTORY
    return FileStatus.UNREADABLE
