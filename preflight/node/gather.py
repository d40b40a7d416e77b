"""Read a host root (and its proc directory) into :class:`HostFacts`; the only I/O of the analysis.

Every read goes through :class:`HostFS`, confined to ROOT (or to PROC for proc files) and
bounded in size; a problem with one file becomes its status in the facts, never an exception.
Only a ROOT that does not exist or cannot be read at all is an error (:class:`InputError`).
"""

from __future__ import annotations

import dataclasses
import os
import stat
import zlib
from collections.abc import Callable, Sequence

from preflight.errors import InputError
from preflight.node import index_filter
from preflight.node.facts import (
    ConfDir,
    FileRead,
    FileStatus,
    HostFacts,
    KernelTree,
    SysModule,
    absent,
)
from preflight.node.hostfs import HostFS
from preflight.node.kernel import normalize, release_sort_key
from preflight.node.modprobe_conf import MODPROBE_DIRS
from preflight.node.modules_load import ETC_MODULES, MODULES_LOAD_DIRS

CONF_LIMIT = 4 * 1024 * 1024  # one configuration file
INDEX_LIMIT = 64 * 1024 * 1024  # modules.dep / modules.alias of one kernel
PROC_LIMIT = 4 * 1024 * 1024  # /proc/modules and friends
CONFIG_GZ_LIMIT = 16 * 1024 * 1024  # /proc/config.gz, decompressed
MAX_KERNELS = 16  # installed kernels examined (the running one always is)
MAX_CONF_FILES = 512  # names read from one configuration directory


def check_root(root: str, what: str = "host root") -> None:
    """Raise :class:`InputError` (exit 66) unless ``root`` is a readable directory."""
    try:
        mode = os.stat(root).st_mode
    except FileNotFoundError as exc:
        raise InputError(f"{what} {root} does not exist") from exc
    except OSError as exc:
        raise InputError(f"{what} {root} cannot be read: {exc.strerror}") from exc
    if not stat.S_ISDIR(mode):
        raise InputError(f"{what} {root} is not a directory")
    try:
        with os.scandir(root) as entries:
            next(entries, None)
    except OSError as exc:
        raise InputError(f"{what} {root} cannot be read: {exc.strerror}") from exc


def gather(root: str, proc: str | None, modules: Sequence[str]) -> HostFacts:
    """Read everything the node analysis needs from ``root`` (and ``proc``, default ROOT/proc)."""
    check_root(root)
    fs = HostFS(root)
    proc_fs, proc_label = _proc_fs(fs, root, proc)
    osrelease = _proc_read(proc_fs, "/sys/kernel/osrelease", 4096)
    release = osrelease.text.strip() if osrelease.ok else None
    return HostFacts(
        root=root,
        proc=proc_label,
        osrelease=osrelease,
        proc_modules=_proc_read(proc_fs, "/modules", PROC_LIMIT),
        cmdline=_proc_read(proc_fs, "/cmdline", 65536),
        proc_config=_read_gzip(proc_fs, "/config.gz"),
        modules_disabled=_proc_read(proc_fs, "/sys/kernel/modules_disabled", 64),
        kernel_modprobe=_proc_read(proc_fs, "/sys/kernel/modprobe", 4096),
        ip_tables_names=_proc_read(proc_fs, "/net/ip_tables_names", 65536),
        sys_modules=tuple(_sys_module(fs, name) for name in modules),
        kernels=_kernels(fs, release, frozenset(normalize(m) for m in modules)),
        modules_dir=fs.listdir("/lib/modules"),
        modules_load_dirs=tuple(_conf_dir(fs, d) for d in MODULES_LOAD_DIRS),
        etc_modules=fs.read(ETC_MODULES, CONF_LIMIT),
        modprobe_dirs=tuple(_conf_dir(fs, d) for d in MODPROBE_DIRS),
        os_release=_first_ok(fs, ("/etc/os-release", "/usr/lib/os-release")),
        has_grubby=any(fs.kind(p) is FileStatus.OK for p in ("/usr/sbin/grubby", "/sbin/grubby")),
        selinux_config=fs.read("/etc/selinux/config", CONF_LIMIT),
        selinux_enforce=fs.read("/sys/fs/selinux/enforce", 64),
    )


def _proc_fs(fs: HostFS, root: str, proc: str | None) -> tuple[HostFS | None, str | None]:
    if proc is not None:
        check_root(proc, "proc directory")
        return HostFS(proc), proc
    host_proc = fs.host_path("/proc")
    if host_proc is None or fs.kind("/proc") is not FileStatus.DIRECTORY:
        return None, None
    return HostFS(host_proc), os.path.join(root, "proc")


def _proc_read(proc_fs: HostFS | None, path: str, limit: int) -> FileRead:
    if proc_fs is None:
        return absent(f"/proc{path}")
    read = proc_fs.read(path, limit)
    return FileRead(
        f"/proc{path}", read.status, read.target, read.links, read.data, read.truncated, read.error
    )


def _read_gzip(proc_fs: HostFS | None, path: str) -> FileRead:
    read = _proc_read(proc_fs, path, CONFIG_GZ_LIMIT)
    if not read.ok:
        return read
    try:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        data = inflater.decompress(read.data, CONFIG_GZ_LIMIT)
        truncated = bool(inflater.unconsumed_tail)
    except zlib.error as exc:
        return FileRead(read.path, FileStatus.UNREADABLE, read.target, error=f"not gzip: {exc}")
    return FileRead(read.path, FileStatus.OK, read.target, read.links, data, truncated)


def _sys_module(fs: HostFS, name: str) -> SysModule:
    base = f"/sys/module/{normalize(name)}"
    if fs.kind(base) is not FileStatus.DIRECTORY:
        return SysModule(normalize(name), False)
    initstate = fs.read(f"{base}/initstate", 64)
    return SysModule(normalize(name), True, initstate.text.strip() if initstate.ok else None)


def _kernels(fs: HostFS, running: str | None, wanted: frozenset[str]) -> tuple[KernelTree, ...]:
    listing = fs.listdir("/lib/modules")
    releases = [
        name for name in listing.names if fs.kind(f"/lib/modules/{name}") is FileStatus.DIRECTORY
    ]
    releases.sort(key=release_sort_key, reverse=True)
    chosen = releases[:MAX_KERNELS]
    if running in releases and running not in chosen:
        chosen.append(running)
    return tuple(_kernel_tree(fs, release, wanted) for release in chosen)


def _kernel_tree(fs: HostFS, release: str, wanted: frozenset[str]) -> KernelTree:
    """One kernel's index files, reduced right after reading to the lines about ``wanted`` and
    their dependencies (see :mod:`preflight.node.index_filter`): a node with many kernels
    installed must fit the helper pod's memory limit."""
    base = f"/lib/modules/{release}"
    has_modules = (
        fs.kind(f"{base}/kernel") is FileStatus.DIRECTORY
        or fs.kind(f"{base}/vmlinuz") is FileStatus.OK
        or fs.kind(f"/boot/vmlinuz-{release}") is FileStatus.OK
        or fs.kind(f"{base}/modules.dep") is FileStatus.OK
        or fs.kind(f"{base}/modules.builtin") is FileStatus.OK
    )
    dep = fs.read(f"{base}/modules.dep", INDEX_LIMIT)
    keep = index_filter.dep_closure(dep.data, wanted) if dep.ok and wanted else wanted
    return KernelTree(
        release=release,
        path=base,
        modules_dep=_reduced(dep, index_filter.filter_modules_dep, keep),
        modules_builtin=_reduced(
            fs.read(f"{base}/modules.builtin", INDEX_LIMIT),
            index_filter.filter_modules_builtin,
            keep,
        ),
        modules_alias=_reduced(
            fs.read(f"{base}/modules.alias", INDEX_LIMIT), index_filter.filter_modules_alias, keep
        ),
        builtin_modinfo=_reduced(
            fs.read(f"{base}/modules.builtin.modinfo", INDEX_LIMIT),
            index_filter.filter_builtin_modinfo,
            keep,
        ),
        config=_first_ok(fs, (f"/boot/config-{release}", f"{base}/config"), INDEX_LIMIT),
        has_modules=has_modules,
    )


def _reduced(
    read: FileRead, keep_lines: Callable[[bytes, frozenset[str]], bytes], keep: frozenset[str]
) -> FileRead:
    if not read.ok or not read.data or not keep:  # nothing named: keep the whole index
        return read
    return dataclasses.replace(read, data=keep_lines(read.data, keep))


def _conf_dir(fs: HostFS, path: str) -> ConfDir:
    listing = fs.listdir(path, MAX_CONF_FILES)
    files = tuple(fs.read(f"{path}/{name}", CONF_LIMIT) for name in listing.names)
    return ConfDir(listing, files)


def _first_ok(fs: HostFS, paths: Sequence[str], limit: int = CONF_LIMIT) -> FileRead:
    first: FileRead | None = None
    for path in paths:
        read = fs.read(path, limit)
        if read.ok:
            return read
        first = first or read
    assert first is not None
    return first
