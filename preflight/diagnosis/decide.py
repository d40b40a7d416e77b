"""The diagnosis decision: evidence in, one :class:`Diagnosis` out. Pure; no I/O.

The rules, first match wins (``docs/kubernetes.md`` has the table):

1. The daemon answered and the service is not dead: ``healthy``.
2. The service log matches a known failure signature on a fatal line: the strongest names the
   cause, with high confidence (medium when a node report contradicts a module signature).
   Warning-level lines never decide; their causes are listed among the other causes.
3. The daemon is down (or its state unknown) and the node report says ``iptable_nat`` is not
   loaded (nor built in): ``iptable_nat-missing``, a node fault, even where the kernel could
   autoload it (the product rule in ``linux-modules.md``); then the same for ``iptable_filter``.
4. The probe saw a TLS mismatch, or dind listens on another port than ``DOCKER_HOST`` names:
   ``tls-port-mismatch``, the job's fault.
5. What Kubernetes says about the service: OOM-killed, image not pullable, no dind service.
6. The service exited without a known signature: ``dind-exited``; running but not answering:
   ``dind-not-ready``; otherwise ``not-established``.

A node problem seen alongside a different primary cause goes into ``other_causes``.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from preflight.diagnosis import causes, signatures
from preflight.diagnosis.model import (
    Cause,
    Confidence,
    Diagnosis,
    ServiceEvidence,
    SignatureMatch,
)
from preflight.node.fix_steps import module_remedy
from preflight.node.model import NodeReport, Remedy
from preflight.probe.model import ProbeResult, Verdict

IMAGE_PULL_REASONS = frozenset(
    {"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"}
)
_DOWN_VERDICTS = frozenset({Verdict.REFUSED, Verdict.TIMEOUT, Verdict.UNREACHABLE})
# Module causes a node report can confirm or contradict, by the module they name.
_MODULE_CAUSES = {
    causes.IPTABLE_NAT_MISSING: "iptable_nat",
    causes.IPTABLE_FILTER_MISSING: "iptable_filter",
    causes.NAT_UNAVAILABLE: "iptable_nat",
}


def decide(
    probe: ProbeResult | None,
    service: ServiceEvidence | None,
    node: NodeReport | None,
    limitations: Sequence[str] = (),
) -> Diagnosis:
    """Turn the evidence into one diagnosis (cause, fault class, confidence, remedy)."""
    code, confidence, detail = _primary(probe, service, node)
    entry = causes.info(code)
    others = [
        causes.cause(other)
        for other in _node_module_problems(node)
        if other != code and not _same_module(other, code)
    ]
    others += _log_warnings(service, code)
    if code == causes.HEALTHY:
        others = []
    return Diagnosis(
        cause=causes.cause(code, detail),
        fault=entry.fault,
        confidence=confidence,
        probe=probe,
        service=service,
        node_report=node,
        remedy=remedy_for(code, node),
        limitations=list(limitations),
        other_causes=others,
    )


def _primary(
    probe: ProbeResult | None, service: ServiceEvidence | None, node: NodeReport | None
) -> tuple[str, Confidence, str]:
    dead = service is not None and service.dead
    if probe is not None and probe.healthy and not dead:
        return causes.HEALTHY, Confidence.HIGH, ""

    best = signatures.strongest(service.matches) if service is not None else None
    if best is not None:
        confidence = _signature_confidence(best, node)
        detail = ""
        if confidence is Confidence.MEDIUM and best.cause in _MODULE_CAUSES:
            detail = (
                f"The node has {_MODULE_CAUSES[best.cause]} loaded now: it was probably loaded "
                "after dind started (by hand?); check that it also loads at boot."
            )
        return best.cause, confidence, detail

    # Without a probe, only a dead service (or no view of it at all) says the daemon is down.
    unseen = probe is None and (service is None or service.state == "unknown")
    if dead or _daemon_down(probe) or unseen:
        for code in _node_module_problems(node):
            return code, _node_confidence(node, dead), _node_detail(node, code)

    mismatch = _tls_or_port_mismatch(probe, service)
    if mismatch:
        return causes.TLS_PORT_MISMATCH, Confidence.HIGH, mismatch

    if service is not None:
        if service.state == "absent" and (probe is None or not probe.healthy):
            return causes.NO_DIND_SERVICE, Confidence.MEDIUM, ""
        if service.reason == "OOMKilled":
            return causes.SERVICE_OOM_KILLED, Confidence.HIGH, ""
        if service.state == "waiting" and service.reason in IMAGE_PULL_REASONS:
            return causes.SERVICE_IMAGE_UNAVAILABLE, Confidence.HIGH, _k8s_detail(service)
        if dead:
            return causes.DIND_EXITED, Confidence.MEDIUM, _exit_detail(service)
        if service.state == "running" and _daemon_down(probe):
            return causes.DIND_NOT_READY, Confidence.LOW, ""
    return causes.NOT_ESTABLISHED, Confidence.LOW, ""


def _log_warnings(service: ServiceEvidence | None, code: str) -> list[Cause]:
    """Warning-level signature matches: they never decide (``signatures.strongest`` skips them),
    but what they say stays visible among the other causes."""
    if service is None:
        return []
    return [
        causes.cause(match.cause, "(A warning in the dind log: dockerd did not stop on it.)")
        for match in signatures.warnings(service.matches)
        if match.cause != code
    ]


def _daemon_down(probe: ProbeResult | None) -> bool:
    return probe is not None and not probe.healthy and probe.verdict in _DOWN_VERDICTS


def _node_module_problems(node: NodeReport | None) -> list[str]:
    """Cause codes for modules dind needs that the node report says are absent right now."""
    if node is None:
        return []
    found = []
    for code in (causes.IPTABLE_NAT_MISSING, causes.IPTABLE_FILTER_MISSING):
        state = node.modules.get(_MODULE_CAUSES[code])
        if state is not None and state.loaded_known and not state.loaded:
            found.append(code)
    return found


def _same_module(code: str, other: str) -> bool:
    module = _MODULE_CAUSES.get(code)
    return module is not None and module == _MODULE_CAUSES.get(other)


def _signature_confidence(match: SignatureMatch, node: NodeReport | None) -> Confidence:
    """High, unless the node report says the module the signature blames is there after all."""
    module = _MODULE_CAUSES.get(match.cause)
    if module is not None and node is not None:
        state = node.modules.get(module)
        if state is not None and state.loaded_known and state.loaded:
            return Confidence.MEDIUM  # loaded since dind died (someone ran modprobe?)
    return Confidence.HIGH


def _node_confidence(node: NodeReport | None, dead: bool) -> Confidence:
    if dead and node is not None and node.evidence_source != "job-proc":
        return Confidence.HIGH
    return Confidence.MEDIUM


def _node_detail(node: NodeReport | None, code: str) -> str:
    module = causes.info(code).module
    if node is None or module is None:
        return ""
    state = node.modules.get(module)
    where = "the job's own /proc/modules" if node.evidence_source == "job-proc" else "the node"
    boot = ""
    if state is not None and state.loads_at_boot_known and not state.loads_at_boot:
        boot = " It is not set up to load at boot either."
    return f"Seen on {where}: {module} is not loaded.{boot}"


def _k8s_detail(service: ServiceEvidence) -> str:
    parts = [p for p in (service.reason, service.message) if p]
    return f"Kubernetes says: {': '.join(parts)}." if parts else ""


def _exit_detail(service: ServiceEvidence) -> str:
    text = f"Exit code {service.exit_code}." if service.exit_code is not None else ""
    last = next((line.strip() for line in reversed(service.log_tail) if line.strip()), "")
    if last:
        text += f" Last log line: {last[:300]}"
    return text.strip()


def _tls_or_port_mismatch(probe: ProbeResult | None, service: ServiceEvidence | None) -> str:
    """Why the job's DOCKER_HOST does not fit the daemon ('' when it does, or nothing says so)."""
    if probe is not None and probe.verdict is Verdict.TLS_MISMATCH:
        return probe.detail
    if probe is None or service is None or service.state != "running":
        return ""
    if probe.verdict is not Verdict.REFUSED:
        return ""
    wanted = _port_of(probe.docker_host)
    listening = signatures.listen_ports(service.log_tail)
    if wanted is None or not listening or wanted in listening:
        return ""
    ports = ", ".join(str(p) for p in listening)
    return f"DOCKER_HOST names port {wanted}, the dind service listens on {ports}."


def _port_of(docker_host: str) -> int | None:
    parts = urlsplit(docker_host)
    if parts.scheme != "tcp":
        return None
    try:
        return parts.port
    except ValueError:
        return None


def remedy_for(code: str, node: NodeReport | None) -> Remedy | None:
    """The node report's own remedy for the module the cause names, else the catalog's fix."""
    module = causes.info(code).module
    found = module_remedy(node, module) if node is not None and module is not None else None
    return found or causes.default_remedy(code)
