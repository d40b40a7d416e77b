"""modprobe.d as kmod reads it: which files count, and their blacklist/install/alias lines.

kmod (libkmod-config.c) lists ``*.conf`` and ``*.alias`` files of every configuration directory,
skips hidden names and directories, sorts all of them by basename, and lets the first directory
win for a basename seen twice. Each file is read as logical lines (a trailing backslash joins the
next line); a line starting with ``#`` is a comment; names are normalised (``-`` is ``_``).
``blacklist X`` only stops loads that honour blacklists (systemd-modules-load, ``modprobe -b``,
alias lookups); ``install X CMD`` replaces every load of X, also as a dependency: the first
matching rule (shell wildcards allowed) in file order wins.
"""

from __future__ import annotations

import fnmatch
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from preflight.node.kernel import normalize

# kmod 30 reads /etc, /run, /usr/local/lib and /lib; kmod 32+ also /usr/lib (DISTCONFDIR) before /lib.
MODPROBE_DIRS = (
    "/etc/modprobe.d",
    "/run/modprobe.d",
    "/usr/local/lib/modprobe.d",
    "/usr/lib/modprobe.d",
    "/lib/modprobe.d",
)


@dataclass(frozen=True)
class Origin:
    """Where a configuration line came from."""

    path: str
    line: int  # 0: the kernel command line
    text: str
    last_line: int = 0  # the last physical line of a backslash-continued line

    def where(self) -> str:
        """``path:line`` (just the path for the command line)."""
        return f"{self.path}:{self.line}" if self.line else self.path


@dataclass(frozen=True)
class InstallRule:
    """``install PATTERN COMMAND``."""

    pattern: str
    command: str
    origin: Origin


@dataclass(frozen=True)
class AliasRule:
    """``alias PATTERN MODULE``."""

    pattern: str
    module: str
    origin: Origin


@dataclass(frozen=True)
class ModprobeConfig:
    """The parsed, effective modprobe.d configuration."""

    blacklist: tuple[tuple[str, Origin], ...] = ()
    install: tuple[InstallRule, ...] = ()
    aliases: tuple[AliasRule, ...] = ()
    files: tuple[str, ...] = ()  # the files read, in order

    def blacklisted_by(self, name: str) -> tuple[Origin, ...]:
        """The ``blacklist`` lines naming module ``name`` (exact match after normalisation)."""
        wanted = normalize(name)
        return tuple(origin for bl, origin in self.blacklist if bl == wanted)

    def install_rule(self, name: str) -> InstallRule | None:
        """The install rule kmod would run for module ``name`` (first match wins)."""
        wanted = normalize(name)
        for rule in self.install:
            if fnmatch.fnmatchcase(wanted, rule.pattern):
                return rule
        return None

    def alias_targets(self, name: str) -> tuple[AliasRule, ...]:
        """Config aliases whose pattern matches ``name`` (they override every other lookup)."""
        wanted = normalize(name)
        return tuple(a for a in self.aliases if fnmatch.fnmatchcase(wanted, a.pattern))


def is_conf_name(name: str) -> bool:
    """kmod's filter: ``*.conf`` or ``*.alias``, not hidden."""
    if name.startswith("."):
        return False
    return (len(name) >= 6 and name.endswith(".conf")) or (
        len(name) >= 7 and name.endswith(".alias")
    )


def logical_lines(text: str) -> list[tuple[int, int, str]]:
    """kmod's ``getline_wrapped``: (first physical line, last physical line, logical line)."""
    out: list[tuple[int, int, str]] = []
    buf: list[str] = []
    start = 1
    lineno = 1
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt == "\n":
                lineno += 1
            else:
                buf.append(nxt)
            i += 2
            continue
        if char == "\n":
            out.append((start, lineno, "".join(buf)))
            buf = []
            lineno += 1
            start = lineno
        else:
            buf.append(char)
        i += 1
    if buf:
        out.append((start, lineno, "".join(buf)))
    return out


# strtok_r(line, "\t ") twice, then the rest of the line: command, module name, arguments.
_COMMAND_LINE = re.compile(r"^[ \t]*([^ \t]+)(?:[ \t]+([^ \t]+))?(?:[ \t](.*))?$", re.DOTALL)


def parse_modprobe_file(path: str, text: str) -> ModprobeConfig:
    """Parse one modprobe.d file."""
    blacklist: list[tuple[str, Origin]] = []
    install: list[InstallRule] = []
    aliases: list[AliasRule] = []
    for lineno, last, line in logical_lines(text):
        if not line or line.startswith("#"):
            continue
        match = _COMMAND_LINE.match(line)
        if match is None:
            continue
        cmd, name, rest = match.group(1), match.group(2), match.group(3) or ""
        origin = Origin(path, lineno, line.strip(), last)
        if cmd == "blacklist" and name:
            blacklist.append((normalize(name), origin))
        elif cmd == "install" and name and rest.strip(" \t"):
            install.append(InstallRule(normalize(name), rest.strip(" \t"), origin))
        elif cmd == "alias" and name and rest.strip(" \t"):
            target = rest.replace("\t", " ").split()[0]
            aliases.append(AliasRule(normalize(name), normalize(target), origin))
    return ModprobeConfig(tuple(blacklist), tuple(install), tuple(aliases), (path,))


def merge(configs: Sequence[ModprobeConfig]) -> ModprobeConfig:
    """Concatenate parsed files in reading order."""
    return ModprobeConfig(
        blacklist=tuple(b for c in configs for b in c.blacklist),
        install=tuple(r for c in configs for r in c.install),
        aliases=tuple(a for c in configs for a in c.aliases),
        files=tuple(f for c in configs for f in c.files),
    )


class InstallEffect(str, Enum):
    """What an install command does to a load."""

    FAILS = "fails"  # e.g. /bin/false: the load fails
    NOTHING = "nothing"  # e.g. /bin/true: reports success, loads nothing
    LOADS = "loads"  # runs modprobe/insmod for the module itself
    UNKNOWN = "unknown"  # some other command


_FAIL_COMMANDS = {"false", "/bin/false", "/usr/bin/false", "/sbin/false", "/usr/sbin/false"}
_NOOP_COMMANDS = {"true", "/bin/true", "/usr/bin/true", ":"}


def install_effect(rule: InstallRule, module: str) -> InstallEffect:
    """Classify an install command for ``module``: does the load fail, do nothing, or happen?"""
    try:
        words = shlex.split(rule.command, comments=False, posix=True)
    except ValueError:
        words = rule.command.split()
    if not words:
        return InstallEffect.NOTHING
    first = words[0]
    if first == "exit":
        return InstallEffect.NOTHING if words[1:2] in ([], ["0"]) else InstallEffect.FAILS
    if first in _FAIL_COMMANDS:
        return InstallEffect.FAILS
    if first in _NOOP_COMMANDS:
        return InstallEffect.NOTHING
    text = " ".join(words)
    loaders = ("modprobe", "insmod")
    if any(w.rsplit("/", 1)[-1] in loaders for w in words) and normalize(module) in normalize(text):
        return InstallEffect.LOADS
    return InstallEffect.UNKNOWN
