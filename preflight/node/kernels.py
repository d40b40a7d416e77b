"""The kernel inventory: every installed kernel and whether it has (and would load) the checked
modules, for "will dind still work after the next boot?". Pure."""

from __future__ import annotations

from collections.abc import Sequence

from preflight.node import remedy
from preflight.node.facts import FileStatus, KernelTree
from preflight.node.findings import status_text
from preflight.node.kernel import KernelIndex, release_sort_key
from preflight.node.model import (
    Finding,
    KernelModules,
    ModuleState,
    Severity,
)
from preflight.node.module_state import HostView, first_use_suffices, listings, loads


def kernel_inventory(
    host: HostView, names: Sequence[str], states: dict[str, ModuleState]
) -> tuple[list[KernelModules], list[Finding]]:
    kernels: list[KernelModules] = []
    findings: list[Finding] = []
    releases = sorted(host.indexes, key=release_sort_key, reverse=True)
    newest = releases[0] if releases else None
    running_key = release_sort_key(host.kernel) if host.kernel else None
    for release in releases:
        index = host.indexes[release]
        running = release == host.kernel
        tree = next(t for t in host.facts.kernels if t.release == release)
        problem = None if index.has_index else _index_problem(tree)
        missing = [n for n in names if index.has_index and not index.exists(n)]
        if running and host.module_support is False:
            missing = [n for n in names if not states[n].builtin]
        builtin = [n for n in names if n in index.builtin]
        later_boot = [
            n
            for n in names
            if n not in missing and n not in builtin and not _boot_loads(host, index, n)
        ]
        on_first_use = [n for n in later_boot if first_use_suffices(host, n, index)]
        not_at_boot = [n for n in later_boot if n not in on_first_use]
        kernels.append(
            KernelModules(
                release=release,
                running=running,
                missing=missing,
                builtin=builtin,
                not_at_boot=not_at_boot,
                on_first_use=on_first_use,
                newest=release == newest,
                problem=problem,
            )
        )
        if problem and tree.modules_dep.status is not FileStatus.UNREADABLE:
            findings.append(
                Finding(
                    "modules-dep-missing",
                    Severity.ERROR if running or release == newest else Severity.WARNING,
                    None,
                    f"kernel {release}: {problem}",
                    remedy.run_depmod(release),
                    kernel=release,
                )
            )
        elif problem:  # it exists but cannot be read: unknown, and nothing to fix
            findings.append(
                Finding(
                    "module-index-unreadable",
                    Severity.WARNING,
                    None,
                    f"kernel {release}: modules unknown (could not read {tree.modules_dep.path})",
                    kernel=release,
                    evidence=[tree.modules_dep.path],
                )
            )
        if running or not missing:
            continue
        later = running_key is None or release_sort_key(release) > running_key
        for name in missing:
            findings.append(
                Finding(
                    "kernel-missing-module",
                    Severity.ERROR if later else Severity.WARNING,
                    name,
                    f"installed kernel {release} has no {name}"
                    + (
                        ": it is newer than the running kernel, so probably the next boot, "
                        "after which dind would fail"
                        if later and running_key is not None
                        else ": booting it would break dind"
                    ),
                    remedy.remove_kernel(release, missing),
                    kernel=release,
                )
            )
    return kernels, findings


def _index_problem(tree: KernelTree) -> str:
    status = tree.modules_dep.status
    if status is FileStatus.MISSING:
        return f"{tree.path}/modules.dep is missing (run depmod): kmod can find no module"
    return f"{tree.path}/modules.dep cannot be read ({status_text(tree.modules_dep)})"


def _boot_loads(host: HostView, index: KernelIndex, name: str) -> bool:
    """``name`` would be present after booting the kernel of ``index``."""
    return name in index.builtin or loads(listings(host, name, index)[1])
