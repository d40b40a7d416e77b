"""Node evidence without a helper pod: a host root the user gives, or the job's own ``/proc``.

The kernel is shared by every container on a node, so the job's own ``/proc/modules`` shows what
is loaded on the node; boot persistence cannot be seen from there. This is the one place that
calls the node analysis (:mod:`preflight.node.api`) for the diagnosis.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from preflight.diagnosis.model import ServiceEvidence
from preflight.errors import InputError, PreflightError
from preflight.node.model import NodeReport

MAX_PROC_READ = 1024 * 1024


@dataclass(frozen=True)
class NodeEvidence:
    """A node report (or none), where it came from, and what could not be seen."""

    report: NodeReport | None
    source: str  # host-root | job-proc | none
    limitations: tuple[str, ...] = ()


def analyze_host_root(root: str, proc: str | None = None) -> NodeReport:
    """The full node analysis of a host root (the wiring to :func:`preflight.node.api.analyze_host`)."""
    from preflight.node.api import analyze_host

    return analyze_host(root, proc)


def analyze_job_proc(
    proc_modules_text: str | None, kernel: str | None, ip_tables_names: str | None
) -> NodeReport:
    """The loaded-only analysis of what a job's own /proc shows (the wiring to the node API)."""
    from preflight.node.api import analyze_loaded_only

    return analyze_loaded_only(proc_modules_text, kernel, ip_tables_names=ip_tables_names)


def _read(path: str) -> tuple[str | None, str | None]:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read(MAX_PROC_READ), None
    except OSError as exc:
        return None, f"{path}: {exc.strerror or exc}"


def local_node_evidence(host_root: str | None, proc: str = "/proc") -> NodeEvidence:
    """Analyse ``host_root`` when given, else the loaded modules in ``proc``."""
    if host_root:
        try:
            return NodeEvidence(analyze_host_root(host_root), "host-root")
        except PreflightError as exc:
            return NodeEvidence(None, "none", (f"host root {host_root}: {exc}",))
    modules_text, modules_error = _read(os.path.join(proc, "modules"))
    kernel, _ = _read(os.path.join(proc, "sys", "kernel", "osrelease"))
    tables, _ = _read(os.path.join(proc, "net", "ip_tables_names"))
    limits: tuple[str, ...] = ()
    if modules_error:
        limits = (f"cannot read the loaded modules ({modules_error})",)
    report = analyze_job_proc(modules_text, kernel.strip() if kernel else None, tables)
    return NodeEvidence(report, "job-proc", limits)


def service_from_log_file(path: str, tail: int = 200) -> ServiceEvidence:
    """The dind service's evidence from the tail of its log file (no Kubernetes: state unknown).

    Raises :class:`InputError` for anything but a readable regular file (a FIFO, a device).
    """
    from preflight.diagnosis.signatures import match_lines
    from preflight.input_files import MAX_LOG_BYTES, read_text

    text = read_text(path, "the dind service log", MAX_LOG_BYTES, tail=True)
    lines = text.splitlines()[-tail:]
    return ServiceEvidence(
        container=os.path.basename(path), log_tail=lines, matches=match_lines(lines)
    )


def log_shows_death(path: str) -> bool:
    """True when the dind log file already holds a fatal start-up line (stop waiting for it)."""
    from preflight.input_files import MAX_LOG_BYTES, read_text
    from preflight.probe.daemon_log import fatal_line

    try:
        text = read_text(path, "the dind service log", MAX_LOG_BYTES, tail=True)
    except InputError:
        return False
    return fatal_line(text) is not None


def host_name(root: str) -> str | None:
    """The node's name as its root tells it (``etc/hostname``), or None."""
    text, _ = _read(os.path.join(root, "etc", "hostname"))
    name = (text or "").strip().splitlines()[0].strip() if (text or "").strip() else ""
    return name[:253] or None
