"""The node analysis as other parts call it: a host root in, a :class:`NodeReport` out."""

from __future__ import annotations

from collections.abc import Sequence

from preflight.node.analysis import (
    DEFAULT_MODULES,
    analyze,
    analyze_backend,
    analyze_backends,
    loaded_only_facts,
)
from preflight.node.gather import gather
from preflight.node.model import NodeReport


def analyze_host(
    root: str = "/", proc: str | None = None, modules: Sequence[str] = DEFAULT_MODULES
) -> NodeReport:
    """Analyse the host mounted at ``root`` (its proc at ``proc``, default ``ROOT/proc``).

    Raises :class:`preflight.errors.InputError` (exit 66) when ``root`` (or an explicit ``proc``)
    does not exist or cannot be read; everything else becomes findings and notes.
    """
    return analyze(gather(root, proc, modules), modules)


def analyze_host_backend(
    root: str = "/", proc: str | None = None, backend: str = "auto"
) -> NodeReport:
    """Analyse ``root`` for the module set of an iptables backend (``auto``, ``legacy``,
    ``nf_tables``); both sets are read (the diagnosis needs whichever dind used)."""
    from preflight.node.module_sets import union

    return analyze_backend(gather(root, proc, union("legacy", "nf_tables")), backend)


def analyze_host_backends(
    root: str = "/", proc: str | None = None, backends: Sequence[str] = ("legacy", "nf_tables")
) -> NodeReport:
    """Analyse ``root`` for every backend a node must serve (default: both; see
    :func:`preflight.node.analysis.analyze_backends`)."""
    from preflight.node.module_sets import union

    return analyze_backends(gather(root, proc, union("legacy", "nf_tables")), backends)


def parse_backends(text: str) -> tuple[str, ...]:
    """``legacy,nft`` -> ``("legacy", "nf_tables")``; ValueError on an unknown name."""
    names = {"legacy": "legacy", "nft": "nf_tables", "nf_tables": "nf_tables"}
    out: list[str] = []
    for item in text.split(","):
        item = item.strip().lower()
        if not item:
            continue
        if item not in names:
            raise ValueError(f"unknown backend {item!r} (legacy, nft)")
        if names[item] not in out:
            out.append(names[item])
    if not out:
        raise ValueError("no backend named (legacy, nft)")
    return tuple(out)


def analyze_loaded_only(
    proc_modules_text: str | None,
    kernel: str | None,
    modules: Sequence[str] = DEFAULT_MODULES,
    ip_tables_names: str | None = None,
) -> NodeReport:
    """The fallback when only the job's own /proc is visible: loaded now, boot unknown.

    ``/proc/modules`` is not namespaced, so a job sees the node's loaded modules; boot
    persistence, built-ins and blacklists cannot be seen from there (``loads_at_boot_known`` is
    False and a ``boot-persistence-unknown`` finding says why).
    """
    facts = loaded_only_facts(proc_modules_text, kernel, ip_tables_names)
    return analyze(facts, modules, evidence_source="job-proc")
