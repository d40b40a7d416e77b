"""Keep only what the checked modules need from a kernel's module index files. Pure.

A distribution kernel's ``modules.dep``, ``modules.alias`` and ``modules.builtin`` describe
thousands of modules (about 11 MB of Python objects per kernel once parsed), and a node keeps
several kernels installed: the helper pod's memory limit would not hold. Every question the
analysis asks is about the checked modules and their dependencies (``modules.dep`` lists a
module's dependencies in full on its own line), so the lines about other modules are dropped
right after reading, one file at a time.
"""

from __future__ import annotations

from collections.abc import Iterable

from preflight.node.kernel import module_name_from_path, normalize


def _name_of(path: bytes) -> str | None:
    return module_name_from_path(path.decode("utf-8", errors="replace").strip())


def dep_closure(data: bytes, wanted: Iterable[str]) -> frozenset[str]:
    """``wanted`` and every module its ``modules.dep`` lines depend on."""
    names = set(wanted)
    found = set(names)
    for line in data.splitlines():
        head, sep, rest = line.partition(b":")
        if sep and _name_of(head) in names:
            for dep in rest.split():
                name = _name_of(dep)
                if name is not None:
                    found.add(name)
    return frozenset(found)


def filter_modules_dep(data: bytes, keep: frozenset[str]) -> bytes:
    """The ``modules.dep`` lines of the modules in ``keep``."""
    out = [
        line for line in data.splitlines(keepends=True) if _name_of(line.partition(b":")[0]) in keep
    ]
    return b"".join(out)


def filter_modules_alias(data: bytes, keep: frozenset[str]) -> bytes:
    """The ``alias PATTERN MODULE`` lines whose module is in ``keep`` (comments dropped)."""
    out = []
    for line in data.splitlines(keepends=True):
        parts = line.split()
        is_alias = len(parts) >= 3 and parts[0] == b"alias"
        if is_alias and normalize(parts[2].decode("utf-8", errors="replace")) in keep:
            out.append(line)
    return b"".join(out)


def filter_modules_builtin(data: bytes, keep: frozenset[str]) -> bytes:
    """The ``modules.builtin`` paths of the modules in ``keep``."""
    return b"".join(line for line in data.splitlines(keepends=True) if _name_of(line) in keep)


def filter_builtin_modinfo(data: bytes, keep: frozenset[str]) -> bytes:
    """The NUL-separated ``module.key=value`` entries of the modules in ``keep``."""
    out = []
    for entry in data.split(b"\0"):
        module, dot, _ = entry.partition(b".")
        if dot and normalize(module.decode("utf-8", errors="replace")) in keep:
            out.append(entry)
    return b"\0".join(out) + (b"\0" if out else b"")
