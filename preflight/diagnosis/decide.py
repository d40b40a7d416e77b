"""The diagnosis decision: evidence in, one :class:`Diagnosis` out. Pure; no I/O.

The rules (:data:`RULES`, first match wins; ``docs/kubernetes.md`` carries the same table, and a
test checks it) follow the corrected product rule of ``linux-modules.md``: the iptables backend
dind used decides which modules matter, Kubernetes' own words come before any node inference,
"not loaded" alone is never a fault, and only evidence the job cannot forge may quarantine.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from preflight.diagnosis import causes, signatures
from preflight.diagnosis.backend import LEGACY, NF_TABLES, detect_backend
from preflight.diagnosis.model import (
    BackendEvidence,
    Cause,
    Confidence,
    Diagnosis,
    FaultClass,
    QuarantineDecision,
    ServiceEvidence,
    SignatureMatch,
)
from preflight.diagnosis.remedies import cause_for_module, is_module_cause, nat_module, remedy
from preflight.diagnosis.trust import NodeTrust, node_trust, quarantine_decision
from preflight.node.loadability import FAULTS, LOADED, NOT_LOADED, UNKNOWN, describe, module_fact
from preflight.node.model import NodeReport, Remedy
from preflight.node.module_sets import MODULE_SETS
from preflight.probe.model import ProbeResult, Verdict

IMAGE_PULL_REASONS = frozenset(
    {"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"}
)
CONFIG_ERROR_REASONS = frozenset(
    {"CreateContainerConfigError", "CreateContainerError", "RunContainerError"}
)
_TABLE_MODULES = frozenset(m for s in MODULE_SETS.values() for m in s.tables)
_DOWN_VERDICTS = frozenset({Verdict.REFUSED, Verdict.TIMEOUT, Verdict.UNREACHABLE})
# moby prints warnings as logrus text (level=warning) or JSON ("level":"warning").
_WARNING_LEVEL = re.compile(r'level=warn(?:ing)?\b|"level":\s*"warn(?:ing)?"')
_IP6TABLES_WARNING = "ip6tables is enabled, but cannot set up ip6tables chains"


@dataclass(frozen=True)
class Rule:
    """One row of the decision table (documented in ``docs/kubernetes.md``)."""

    id: str
    when: str
    gives: str


RULES: tuple[Rule, ...] = (
    Rule("healthy", "the daemon answered and the service is not dead", "`healthy`, exit 0"),
    Rule(
        "signature",
        "a fatal line of the service log matches a signature (warning-level lines never "
        "decide; moby's ip6tables warning becomes a note)",
        "its cause; a module cause names the module of the backend dind used",
    ),
    Rule(
        "kubernetes",
        "Kubernetes says why the service is down: OOMKilled, image pull, a config error, or a "
        "dead service whose spec is not privileged",
        "`service-oom-killed`, `service-image-unavailable`, `service-config-error`, "
        "`not-privileged`",
    ),
    Rule(
        "tls-port",
        "the probe saw a TLS mismatch, or dind listens on another port than `DOCKER_HOST`",
        "`tls-port-mismatch`, exit 78",
    ),
    Rule(
        "node-module",
        "the daemon is down, the backend is known, and a module of its set is absent, blocked "
        "or unloadable on the node (not loaded alone is not enough)",
        "the module's cause (e.g. `nft_chain_nat-missing` on nf_tables)",
    ),
    Rule(
        "not-established",
        "anything else",
        "`no-dind-service`, `dind-exited`, `dind-not-ready` or `not-established`; exit 69 "
        "(`no-dind-service`: 78), no action, node facts listed as possible causes",
    ),
)


@dataclass(frozen=True)
class _Primary:
    rule: str
    code: str
    confidence: Confidence
    detail: str = ""
    module: str | None = None
    quarantine: QuarantineDecision | None = None
    summary: str = ""  # replaces the catalog's summary where the evidence words it otherwise


def decide(
    probe: ProbeResult | None,
    service: ServiceEvidence | None,
    node: NodeReport | None,
    limitations: Sequence[str] = (),
    *,
    helper_trust: NodeTrust | None = None,
) -> Diagnosis:
    """Turn the evidence into one diagnosis (cause, fault, confidence, quarantine, remedy).

    ``helper_trust`` says whether a helper pod's report counts as node-side evidence (see
    :func:`preflight.diagnosis.trust.helper_image_trust`); without it a helper report does not.
    """
    trust = node_trust(node, helper_trust)
    backend = _backend(probe, service, node)
    primary = _primary(probe, service, node, backend, trust)
    notes = _warning_notes(service, primary.code)
    entry = causes.info(primary.code)
    cause = causes.cause(primary.code, primary.detail)
    if primary.summary:
        cause = Cause(cause.code, primary.summary, cause.module)
    if primary.rule in ("signature", "node-module"):
        cause = Cause(cause.code, cause.summary, primary.module)
    quarantine = primary.quarantine or quarantine_decision(entry.fault)
    confidence = primary.confidence
    if not quarantine.allowed and confidence is Confidence.HIGH and _is_fault(entry.fault):
        confidence = Confidence.MEDIUM  # job-supplied evidence alone: reduced confidence
    others: list[Cause] = []
    possible: list[Cause] = []
    if primary.code != causes.HEALTHY:
        for module, fact in _node_problems(node, backend.backend):
            if module == cause.module:
                continue
            problem = _module_cause(module, fact)
            if primary.rule == "not-established":
                if fact in FAULTS or module in _TABLE_MODULES:  # xt_* load on first use
                    possible.append(problem)
            elif fact in FAULTS and backend.backend in MODULE_SETS:
                others.append(problem)
        others += _log_warnings(service, primary.code)
    return Diagnosis(
        cause=cause,
        fault=entry.fault,
        confidence=confidence,
        probe=probe,
        service=service,
        node_report=node,
        remedy=_remedy(primary.code, cause.module, limitations),
        limitations=list(limitations),
        other_causes=others,
        backend=backend,
        quarantine=quarantine,
        possible_causes=possible,
        notes=notes,
        node_trust=("node-side: " if trust.node_side else "job-side: ") + trust.why
        if trust
        else "",
    )


def _remedy(code: str, module: str | None, limitations: Sequence[str]) -> Remedy | None:
    """The catalog's fix; for a cause not established, first what could not be seen (the
    "could not see:" lines of the same log), when something could not."""
    fix = remedy(code, module)
    if code != causes.NOT_ESTABLISHED or not limitations or fix is None:
        return fix
    return Remedy(
        text='Give dind-preflight what it could not see (the "could not see" lines under Why: '
        f"{len(limitations)} of them) and run again; meanwhile: {fix.text}"
    )


def _is_fault(fault: FaultClass) -> bool:
    return fault in (FaultClass.NODE, FaultClass.RUNNER)


# --- evidence ----------------------------------------------------------------------------------


def _deep_matches(probe: ProbeResult | None) -> list[SignatureMatch]:
    """A failed ``--deep`` step's error text (the daemon's words) through the same signatures."""
    if probe is None or not probe.deep:
        return []
    lines = [line for step in probe.deep if not step.ok for line in step.detail.splitlines()]
    return signatures.match_lines(lines)


def _backend(
    probe: ProbeResult | None, service: ServiceEvidence | None, node: NodeReport | None
) -> BackendEvidence:
    where = ""
    tables: list[str] | None = None
    if node is not None:
        tables = node.iptables.legacy_tables
        where = (
            "the job pod's network namespace"
            if node.evidence_source == "job-proc"
            else "the node report's /proc/net/ip_tables_names"
        )
    deep = [s.detail for s in probe.deep or [] if not s.ok] if probe is not None else []
    return detect_backend(
        [*_fatal_or_plain_lines(service), *deep],
        legacy_env=service.iptables_legacy_env if service else None,
        legacy_tables=tables,
        legacy_tables_where=where,
        image=service.image if service else None,
    )


def _fatal_or_plain_lines(service: ServiceEvidence | None) -> list[str]:
    if service is None:
        return []
    return [line for line in service.log_tail if not _WARNING_LEVEL.search(line)]


def is_fatal(match: SignatureMatch) -> bool:
    """A match that may decide: not marked a warning, and not on a warning-level line."""
    return match.fatal and not _WARNING_LEVEL.search(match.line)


def _warning_notes(service: ServiceEvidence | None, code: str) -> list[str]:
    """One note per warning that did not decide; none for a warning that says what the
    decided cause says (it agrees, it is not a second opinion)."""
    if service is None:
        return []
    notes: list[str] = []
    if any(_IP6TABLES_WARNING in line for line in service.log_tail):
        notes.append(
            "dockerd warned that it cannot set up ip6tables chains (the node lacks IPv6 nat "
            "support): it keeps running without IPv6 NAT; this warning is not the cause"
        )
    ignored = [m for m in service.matches if not is_fatal(m)]
    for match in ignored:
        if _IP6TABLES_WARNING in match.line or match.cause == code:
            continue
        notes.append(f"warning-level log line did not decide ({match.signature}): {match.line}")
    return list(dict.fromkeys(notes))


def _log_warnings(service: ServiceEvidence | None, code: str) -> list[Cause]:
    """Warning-level matches never decide, but what they say stays visible among the others:
    once per cause, and not for moby's ip6tables warning, which has its own note saying that
    dockerd carries on without IPv6 NAT (it is not a cause of a dead daemon)."""
    if service is None:
        return []
    seen = {code}
    out: list[Cause] = []
    for match in service.matches:
        if is_fatal(match) or match.cause in seen or _IP6TABLES_WARNING in match.line:
            continue
        seen.add(match.cause)
        out.append(
            causes.cause(match.cause, "(A warning in the dind log: dockerd did not stop on it.)")
        )
    return out


def _node_problems(node: NodeReport | None, backend: str) -> list[tuple[str, str]]:
    """(module, fact) for each checked module of the backend's set that is not loaded."""
    if node is None:
        return []
    names = _set_modules(backend, node)
    out = []
    for name in names:
        fact = module_fact(node, name)
        state = node.modules.get(name)
        # Not loaded, whether it loads for a container unknown (the job's own /proc): listed
        # as a possible cause, never a fault.
        seen_missing = state is not None and state.loaded_known and not state.loaded
        if fact in (*FAULTS, NOT_LOADED) or (fact == UNKNOWN and seen_missing):
            out.append((name, fact))
    return out


def _set_modules(backend: str, node: NodeReport) -> tuple[str, ...]:
    if backend in MODULE_SETS:
        return MODULE_SETS[backend].required
    # Unknown backend: whatever the report checked, IPv4 ones of either set.
    known = {m for s in MODULE_SETS.values() for m in s.required}
    return tuple(name for name in node.modules if name in known)


def _module_cause(module: str, fact: str) -> Cause:
    code = cause_for_module(module)
    return Cause(code, f"{causes.info(code).summary} Here: {describe(module, fact)}.", module)


# --- the rules ---------------------------------------------------------------------------------


def _primary(
    probe: ProbeResult | None,
    service: ServiceEvidence | None,
    node: NodeReport | None,
    backend: BackendEvidence,
    trust: NodeTrust | None,
) -> _Primary:
    dead = service is not None and service.dead
    if probe is not None and probe.healthy and not dead:
        return _Primary("healthy", causes.HEALTHY, Confidence.HIGH)

    fatal = [m for m in service.matches if is_fatal(m)] if service is not None else []
    fatal += _deep_matches(probe)
    best = signatures.strongest(fatal)
    if best is not None:
        return _from_signature(best, service, node, backend, trust)

    from_kubernetes = _kubernetes(service)
    if from_kubernetes is not None:
        return from_kubernetes

    mismatch = _tls_or_port_mismatch(probe, service)
    if mismatch:
        return _Primary("tls-port", causes.TLS_PORT_MISMATCH, Confidence.HIGH, mismatch)

    unseen = probe is None and (service is None or service.state == "unknown")
    down = dead or _daemon_down(probe) or unseen
    if down and backend.backend in (LEGACY, NF_TABLES) and service_present(service):
        for module, fact in _node_problems(node, backend.backend):
            if fact not in FAULTS:
                continue
            code = cause_for_module(module)
            detail = f"{describe(module, fact)} on the node; dind used {backend.backend}."
            decision = quarantine_decision(
                causes.info(code).fault,
                node_agrees=describe(module, fact),
                trust=trust,
                job_evidence=tuple(_job_evidence(service, node)),
            )
            confidence = Confidence.HIGH if dead else Confidence.MEDIUM
            return _Primary("node-module", code, confidence, detail, module, decision)

    return _not_established(probe, service)


def service_present(service: ServiceEvidence | None) -> bool:
    return service is None or service.state != "absent"


def _from_signature(
    best: SignatureMatch,
    service: ServiceEvidence | None,
    node: NodeReport | None,
    backend: BackendEvidence,
    trust: NodeTrust | None,
) -> _Primary:
    code = _for_backend(best.cause, backend.backend)
    entry = causes.info(code)
    module = entry.module
    if code == causes.NAT_UNAVAILABLE:
        known = backend.backend in (LEGACY, NF_TABLES)
        module = nat_module(backend.backend) if known else None
    evidence = [f"log line ({best.signature}): {best.line[:300]}", *_job_evidence(None, node)]
    agrees = contradicts = kubernetes = ""
    detail = summary = ""
    if module is not None and is_module_cause(code):
        fact = module_fact(node, module)
        if fact == LOADED:
            contradicts = describe(module, fact)
            # The log speaks of the moment dind started, the node report of now: the headline
            # says both, never "is not loaded" beside a report that says it is.
            said = signatures.by_id(best.signature).text.split(": ", 1)[0]
            summary = (
                f"{module} was not loaded when dind started ({said}, says the dind log); the "
                f"node report says {module} is loaded now: it was probably loaded after dind "
                "started (by hand?); check that it also loads at boot."
            )
        elif fact in FAULTS:
            # Absent, blocked, unloadable or denied for a container (the module-fact rule).
            # "Not loaded, nothing blocks it" is no agreement: the kernel would have loaded it,
            # so a nat-table line there is a forgery or a cause the node report cannot see.
            agrees = describe(module, fact)
    if code == causes.NOT_PRIVILEGED and service is not None and service.privileged is False:
        kubernetes = "the dind service's spec is not privileged (securityContext.privileged)"
    elif code == causes.NOT_PRIVILEGED and service is not None and service.privileged is True:
        contradicts = "the dind service's spec is privileged"
    decision = quarantine_decision(
        entry.fault,
        kubernetes=kubernetes,
        node_agrees=agrees,
        node_contradicts=contradicts,
        trust=trust,
        job_evidence=tuple(evidence),
    )
    confidence = Confidence.HIGH
    if contradicts:
        confidence = Confidence.LOW
    return _Primary("signature", code, confidence, detail, module, decision, summary)


def _for_backend(code: str, backend: str) -> str:
    """A module cause in the terms of the backend dind used (never iptable_* on nf_tables)."""
    if backend == NF_TABLES:
        return {
            causes.IPTABLE_NAT_MISSING: causes.NFT_CHAIN_NAT_MISSING,
            causes.IPTABLE_FILTER_MISSING: causes.NF_TABLES_MISSING,
            causes.IP_TABLES_MISSING: causes.NF_TABLES_MISSING,
        }.get(code, code)
    if backend == LEGACY:
        return {
            causes.NFT_CHAIN_NAT_MISSING: causes.IPTABLE_NAT_MISSING,
            causes.NF_TABLES_MISSING: causes.IP_TABLES_MISSING,
        }.get(code, code)
    return code


def _job_evidence(service: ServiceEvidence | None, node: NodeReport | None) -> list[str]:
    out = []
    if service is not None and service.state == "unknown" and service.log_tail:
        out.append("service log given without Kubernetes (job-supplied)")
    if node is not None and node.evidence_source == "job-proc":
        out.append("the job's own /proc/modules (job-side view)")
    return out


def _kubernetes(service: ServiceEvidence | None) -> _Primary | None:
    """Kubernetes' own record of the service (its state, reason and spec)."""
    if service is None or service.state in ("unknown", "absent"):
        return None
    reasons = {service.reason, service.last_reason}
    said = _k8s_detail(service)
    if "OOMKilled" in reasons:
        return _kube(causes.SERVICE_OOM_KILLED, f"reason OOMKilled ({service.container})", said)
    if service.state == "waiting" and service.reason in IMAGE_PULL_REASONS:
        return _kube(causes.SERVICE_IMAGE_UNAVAILABLE, f"waiting: {service.reason}", said)
    if service.state == "waiting" and service.reason in CONFIG_ERROR_REASONS:
        return _kube(causes.SERVICE_CONFIG_ERROR, f"waiting: {service.reason}", said)
    if service.dead and service.privileged is False:
        return _kube(
            causes.NOT_PRIVILEGED,
            "the dead dind service's spec is not privileged (securityContext.privileged)",
            "Kubernetes' pod spec says the dind service is not privileged.",
        )
    return None


def _kube(code: str, record: str, detail: str) -> _Primary:
    decision = quarantine_decision(causes.info(code).fault, kubernetes=record)
    return _Primary("kubernetes", code, Confidence.HIGH, detail, None, decision)


def _not_established(probe: ProbeResult | None, service: ServiceEvidence | None) -> _Primary:
    if service is not None:
        if service.state == "absent" and (probe is None or not probe.healthy):
            return _Primary("not-established", causes.NO_DIND_SERVICE, Confidence.MEDIUM)
        if service.dead:
            return _Primary(
                "not-established", causes.DIND_EXITED, Confidence.MEDIUM, _exit_detail(service)
            )
        if service.state == "running" and _daemon_down(probe):
            return _Primary("not-established", causes.DIND_NOT_READY, Confidence.LOW)
    return _Primary("not-established", causes.NOT_ESTABLISHED, Confidence.LOW)


def _daemon_down(probe: ProbeResult | None) -> bool:
    return probe is not None and not probe.healthy and probe.verdict in _DOWN_VERDICTS


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
    """Why the job's DOCKER_HOST does not fit the daemon ('' when it does, or nothing says so).

    The probe's own TLS verdict, else the service log: dockerd's ``API listen on [::]:2375`` on
    another port than DOCKER_HOST's, or its plain-HTTP warning (``Binding to IP address without
    --tlsverify`` / ``API is accessible on http://...``) on the port a TLS client dials. The log
    counts while the service runs or when only its log is known (a log file, no Kubernetes).
    """
    if probe is not None and probe.verdict is Verdict.TLS_MISMATCH:
        return probe.detail
    if probe is None or service is None or service.state not in ("running", "unknown"):
        return ""
    if probe.verdict not in (Verdict.REFUSED, Verdict.TIMEOUT):
        return ""
    wanted = _port_of(probe.docker_host)
    if wanted is None:
        return ""
    listening = signatures.listen_ports(service.log_tail)
    if listening and wanted not in listening:
        ports = " and ".join(str(p) for p in listening)
        line = signatures.listen_line(service.log_tail)
        return (
            f"DOCKER_HOST={probe.docker_host} names port {wanted}; the dind service log says "
            f"dockerd listens on port {ports} ({line})."
        )
    plain = signatures.plain_http_ports(service.log_tail)
    if probe.tls and wanted in plain:
        return (
            f"DOCKER_HOST={probe.docker_host} is dialled with TLS (DOCKER_TLS_VERIFY / "
            f"DOCKER_CERT_PATH); the dind service log says dockerd serves plain HTTP on port "
            f"{wanted} (started without --tlsverify)."
        )
    return ""


def _port_of(docker_host: str) -> int | None:
    parts = urlsplit(docker_host)
    if parts.scheme != "tcp":
        return None
    try:
        return parts.port
    except ValueError:
        return None


def rule_table_markdown() -> str:
    """The decision table as ``docs/kubernetes.md`` shows it (a test keeps the two equal)."""
    rows = ["| # | rule | when | gives |", "| --- | --- | --- | --- |"]
    for number, rule in enumerate(RULES, start=1):
        rows.append(f"| {number} | `{rule.id}` | {rule.when} | {rule.gives} |")
    return "\n".join(rows) + "\n"
