"""Plain facts read from a host root: what :mod:`preflight.node.gather` hands to the analysis.

Nothing here does I/O. The gathering adapter fills these dataclasses with raw file contents and
their status (missing, dangling, a loop, a directory, unreadable, truncated...), and the pure
analysis (:mod:`preflight.node.analysis`) decides what they mean.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class FileStatus(str, Enum):
    """What a path turned out to be."""

    OK = "ok"  # a regular file, read (maybe truncated)
    NULL = "null"  # a symlink to /dev/null: an empty file that masks others
    MISSING = "missing"  # no such file, and no symlink on the way
    DANGLING = "dangling"  # a symlink on the way points at nothing
    LOOP = "loop"  # too many symlinks (a loop)
    DIRECTORY = "directory"  # a directory where a file was expected
    NOT_DIRECTORY = "not-directory"  # a file where a directory was expected
    SPECIAL = "special"  # a FIFO, socket or device: never read
    UNREADABLE = "unreadable"  # permission denied or an I/O error


@dataclass(frozen=True)
class FileRead:
    """The outcome of reading one path under ROOT."""

    path: str  # the path asked for, absolute inside ROOT
    status: FileStatus
    target: str | None = None  # where it resolved to inside ROOT (after symlinks), if anywhere
    links: tuple[str, ...] = ()  # symlinks followed on the way, as "path -> target"
    data: bytes = b""
    truncated: bool = False
    error: str | None = None  # strerror text for UNREADABLE and friends

    @property
    def ok(self) -> bool:
        """A regular file (or /dev/null) whose content is in ``data``."""
        return self.status in (FileStatus.OK, FileStatus.NULL)

    @property
    def text(self) -> str:
        """The content decoded as UTF-8, undecodable bytes replaced."""
        return self.data.decode("utf-8", errors="replace")


@dataclass(frozen=True)
class DirListing:
    """The names in one directory under ROOT."""

    path: str
    status: FileStatus  # OK when listed
    target: str | None = None
    names: tuple[str, ...] = ()
    truncated: bool = False
    error: str | None = None


def absent(path: str) -> FileRead:
    """A file that was not looked at (or could not be), as a MISSING read."""
    return FileRead(path, FileStatus.MISSING)


@dataclass(frozen=True)
class ConfDir:
    """One configuration directory (e.g. ``/usr/lib/modules-load.d``) and its files, read."""

    listing: DirListing
    files: tuple[FileRead, ...] = ()  # one read per listed name, in listing order

    @property
    def path(self) -> str:
        """The directory as named (before symlinks)."""
        return self.listing.path


@dataclass(frozen=True)
class KernelTree:
    """One ``/lib/modules/KVER`` directory and the kmod index files in it."""

    release: str
    path: str
    modules_dep: FileRead
    modules_builtin: FileRead
    modules_alias: FileRead
    builtin_modinfo: FileRead
    config: FileRead  # /boot/config-KVER or /lib/modules/KVER/config
    has_modules: bool = False  # a kernel/ directory or a vmlinuz: a real kernel, not leftovers


@dataclass(frozen=True)
class SysModule:
    """``/sys/module/NAME`` for one checked module."""

    name: str
    exists: bool
    initstate: str | None = None  # "live", "coming", "going"; None for a built-in


@dataclass(frozen=True)
class HostFacts:
    """Everything read from one host root (and its proc directory)."""

    root: str
    proc: str | None  # the proc directory used, as given/derived; None when there is none
    osrelease: FileRead
    proc_modules: FileRead
    cmdline: FileRead
    proc_config: FileRead  # /proc/config.gz, decompressed
    modules_disabled: FileRead
    kernel_modprobe: FileRead  # /proc/sys/kernel/modprobe
    ip_tables_names: FileRead
    sys_modules: tuple[SysModule, ...] = ()
    kernels: tuple[KernelTree, ...] = ()
    modules_dir: DirListing | None = None  # /lib/modules
    modules_load_dirs: tuple[ConfDir, ...] = ()
    etc_modules: FileRead = field(default_factory=lambda: absent("/etc/modules"))
    modprobe_dirs: tuple[ConfDir, ...] = ()
    os_release: FileRead = field(default_factory=lambda: absent("/etc/os-release"))
    has_grubby: bool = False
    # SELinux: the mode the next boot applies, and the running kernel's mode (where readable).
    selinux_config: FileRead = field(default_factory=lambda: absent("/etc/selinux/config"))
    selinux_enforce: FileRead = field(default_factory=lambda: absent("/sys/fs/selinux/enforce"))
    # False when the facts come from somewhere that cannot show the host's configuration (the
    # job's own /proc): whether a container's module request is denied is then unknown.
    host_config_visible: bool = True
