"""systemd-modules-load semantics (systemd 252): which files are read, and which names they list.

- Directories in precedence order: ``/etc``, ``/run``, ``/usr/local/lib``, ``/usr/lib``
  ``modules-load.d``, and ``/lib/modules-load.d`` last (split-usr builds such as Debian's; on a
  merged-usr host it is the same directory as ``/usr/lib/...`` and adds nothing).
- Only names ending in ``.conf`` that are not hidden are read. A basename seen in an earlier
  directory overrides the later ones, whatever it is: an empty file or a symlink to ``/dev/null``
  therefore masks a vendor file. The survivors are read in lexicographic order of basename.
- ``read_line`` ends a line at ``\\n``, ``\\r`` or NUL; each line is stripped of whitespace; a line
  starting with ``#`` or ``;`` is a comment; anything else is one module name, whole (no inline
  comments, no parameters).
- ``/etc/modules`` is read only through a ``.conf`` that leads to it (Debian ships
  ``/etc/modules-load.d/modules.conf -> ../modules``); nothing else ever reads it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from preflight.node.facts import ConfDir, FileRead, FileStatus

MODULES_LOAD_DIRS = (
    "/etc/modules-load.d",
    "/run/modules-load.d",
    "/usr/local/lib/modules-load.d",
    "/usr/lib/modules-load.d",
    "/lib/modules-load.d",
)
ETC_MODULES = "/etc/modules"
VENDOR_DIRS = ("/run/", "/usr/local/lib/", "/usr/lib/", "/lib/")
COMMENT_CHARS = "#;"
_LINE_END = re.compile(r"\r\n|[\n\r\0]")


class FileRole(str, Enum):
    """What systemd-modules-load does with a name found in one of its directories."""

    EFFECTIVE = "effective"  # read
    OVERRIDDEN = "overridden"  # a file of the same name in an earlier directory wins
    NOT_CONF = "not-conf"  # does not end in .conf: never read
    HIDDEN = "hidden"  # starts with a dot: never read
    DIRECTORY = "directory"  # kmod skips directories (and they override nothing)


@dataclass(frozen=True)
class ConfFile:
    """One name in a modules-load.d (or modprobe.d) directory and what becomes of it."""

    path: str
    role: FileRole
    read: FileRead
    by: str | None = None  # for OVERRIDDEN: the file that wins

    @property
    def name(self) -> str:
        """The basename."""
        return self.path.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class ListedName:
    """A line of a file that names something to load."""

    path: str  # the file the line is in (e.g. /etc/modules)
    line: int
    text: str  # the stripped line: the whole thing is what systemd looks up
    via: str | None = None  # the .conf that leads to ``path``, when it is not ``path`` itself


def is_hidden_or_backup(name: str) -> bool:
    """systemd's ``hidden_or_backup_file`` for the names that could end in ``.conf``."""
    return name.startswith(".") or name in ("lost+found", "aquota.user", "aquota.group")


def select_files(
    dirs: Sequence[ConfDir],
    *,
    suffixes: tuple[str, ...] = (".conf",),
    skip_directories: bool = False,
) -> list[ConfFile]:
    """Every name in ``dirs`` with its role; EFFECTIVE ones sorted by basename, others after.

    A directory that is the same as an earlier one (``/lib`` -> ``/usr/lib``) is skipped.
    ``skip_directories`` is kmod's rule (a directory named ``x.conf`` is ignored and overrides
    nothing); systemd 252 lets it win the name and then fails to read it.
    """
    seen_dirs: set[str] = set()
    winners: dict[str, ConfFile] = {}
    others: list[ConfFile] = []
    for conf_dir in dirs:
        listing = conf_dir.listing
        if listing.status is not FileStatus.OK:
            continue
        key = listing.target or listing.path
        if key in seen_dirs:
            continue
        seen_dirs.add(key)
        for read in conf_dir.files:
            name = read.path.rsplit("/", 1)[-1]
            if is_hidden_or_backup(name):
                others.append(ConfFile(read.path, FileRole.HIDDEN, read))
            elif not any(name.endswith(s) and len(name) > len(s) for s in suffixes):
                others.append(ConfFile(read.path, FileRole.NOT_CONF, read))
            elif skip_directories and read.status is FileStatus.DIRECTORY:
                others.append(ConfFile(read.path, FileRole.DIRECTORY, read))
            elif name in winners:
                others.append(ConfFile(read.path, FileRole.OVERRIDDEN, read, winners[name].path))
            else:
                winners[name] = ConfFile(read.path, FileRole.EFFECTIVE, read)
    effective = [winners[name] for name in sorted(winners)]
    return effective + others


def split_lines(data: bytes) -> list[tuple[int, str]]:
    """Lines as systemd's ``read_line`` sees them, numbered by ``\\n``; stripped; no blanks."""
    out: list[tuple[int, str]] = []
    text = data.decode("utf-8", errors="replace")
    for lineno, physical in enumerate(text.split("\n"), start=1):
        for piece in _LINE_END.split(physical):
            stripped = piece.strip(" \t\n\r")
            if stripped:
                out.append((lineno, stripped))
    return out


def listed_names(path: str, read: FileRead, via: str | None = None) -> list[ListedName]:
    """The non-comment lines of a file that systemd-modules-load would try to load."""
    if not read.ok:
        return []
    return [
        ListedName(path, lineno, text, via)
        for lineno, text in split_lines(read.data)
        if text[0] not in COMMENT_CHARS
    ]


def leads_to_etc_modules(conf: ConfFile) -> bool:
    """The .conf is (a symlink chain to) ``/etc/modules``."""
    return conf.read.target == ETC_MODULES and conf.path != ETC_MODULES


def effective_names(files: Sequence[ConfFile]) -> list[ListedName]:
    """Every name systemd-modules-load would try, in order, with the file it came from."""
    names: list[ListedName] = []
    for conf in files:
        if conf.role is not FileRole.EFFECTIVE:
            continue
        target = conf.read.target
        if target and target != conf.path and conf.read.status is FileStatus.OK:
            names.extend(listed_names(target, conf.read, via=conf.path))
        else:
            names.extend(listed_names(conf.path, conf.read))
    return names


def is_empty_mask(conf: ConfFile) -> bool:
    """An effective file that lists nothing: a symlink to /dev/null, or empty of names."""
    if conf.read.status is FileStatus.NULL:
        return True
    return conf.read.ok and not listed_names(conf.path, conf.read)


def is_vendor_path(path: str) -> bool:
    """A file shipped by a package (anything but ``/etc``): edit it and an update undoes it."""
    return path.startswith(VENDOR_DIRS)
