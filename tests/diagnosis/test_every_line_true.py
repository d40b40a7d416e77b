"""Issue 21: the headline, the node table, "also:" lines, notes and JUnit never contradict each
other or the evidence; each explanation is written once; the job's own mistakes are exit 78.

Log lines are the formats real programs print (sources next to each constant).
"""

from __future__ import annotations

import dataclasses
import re
import xml.etree.ElementTree as ET

from preflight.artifacts.healthy import healthy_junit
from preflight.artifacts.junit import build_junit, build_probe_junit
from preflight.diagnosis.decide import decide
from preflight.diagnosis.render import render_text, why_lines
from preflight.exitcodes import ExitCode
from preflight.gitlab.issue_text import node_fact_lines
from preflight.probe.model import ProbeResult, Verdict
from tests.diagnosis.evidence import NAT_LINE, module, node, probe, service

# moby cmd/dockerd/daemon.go: Infof("API listen on %s", ls.Addr()) (tests/kube/logs, dockerd 20.10)
LISTEN_2375 = 'time="2026-12-07T10:00:02.3Z" level=info msg="API listen on [::]:2375"'
# moby cmd/dockerd: Warn("Binding to IP address without --tlsverify is insecure ...") with its
# host field (tests/kube/logs/*, dockerd 20.10.24).
PLAIN_2376 = (
    'time="2026-12-07T10:00:00.5Z" level=warning msg="Binding to IP address without --tlsverify '
    "is insecure and gives root access on this machine to everyone who has access to your "
    'network." host="tcp://0.0.0.0:2376"'
)
LISTEN_2376 = 'time="2026-12-07T10:00:02.3Z" level=info msg="API listen on [::]:2376"'
# moby overlay2 supportsOverlay: errors.Wrap(err, "failed to mount overlay") logged at error level
# with the storage-driver field; then cmd/dockerd's exit line around graphdriver.ErrNotSupported.
OVERLAY_EPERM = (
    'time="2026-12-07T10:00:00.3Z" level=error msg="failed to mount overlay: operation not '
    'permitted" storage-driver=overlay2'
)
DRIVER_EXIT = (
    "failed to start daemon: error initializing graphdriver: driver not supported: overlay2"
)
# moby libnetwork's `iptables --wait -t nat -L -n` check, a warning (wording as in
# tests/diagnosis/real_logs/geerlingguy-docker-arm-34-no-nft-rpi.log) around iptables-nft 1.8.10's
# "Could not fetch rule set generation id: Permission denied (you must be root)".
IPTABLES_EPERM_WARNING = (
    'time="2026-12-07T10:00:00.2Z" level=warning msg="Running iptables --wait -t nat -L -n failed '
    "with message: `iptables v1.8.10 (nf_tables): Could not fetch rule set generation id: "
    'Permission denied (you must be root)`, error: exit status 4"'
)
# moby 27.0.1+ bridge driver: WithError(err).Warn("ip6tables is enabled, but cannot set up
# ip6tables chains") (tests/diagnosis/real_logs/warpme-miniarch-101-ip6tables-warning.log).
IP6TABLES_WARNING = (
    "WARN[2025-10-17T09:37:09.461073768Z] ip6tables is enabled, but cannot set up ip6tables "
    'chains  error="failed to create NAT chain DOCKER: iptables failed: ip6tables --wait -t nat '
    "-N DOCKER: ip6tables v1.8.11 (legacy): can't initialize ip6tables table `nat': Table does "
    "not exist (do you need to insmod?)\\nPerhaps ip6tables or your kernel needs to be "
    'upgraded.\\n (exit status 3)"'
)


def test_a_listen_line_on_another_port_is_the_jobs_mistake_even_from_a_log_file() -> None:
    for verdict in (Verdict.REFUSED, Verdict.TIMEOUT):
        for state in ("running", "unknown"):
            d = decide(
                probe(verdict, "tcp://docker:2376"),
                service(state, log=LISTEN_2375, exit_code=None, reason=None),
                None,
            )
            assert (d.cause.code, d.exit_code) == ("tls-port-mismatch", ExitCode.CONFIG)
            assert "DOCKER_HOST=tcp://docker:2376 names port 2376" in d.cause.summary
            assert "listens on port 2375 (API listen on [::]:2375)" in d.cause.summary


def test_a_tls_client_on_a_plain_http_port_is_the_jobs_mistake() -> None:
    tls = dataclasses.replace(probe(Verdict.TIMEOUT, "tcp://docker:2376"), tls=True)
    log = f"{PLAIN_2376}\n{LISTEN_2376}"
    d = decide(tls, service("running", log=log, exit_code=None, reason=None), None)
    assert (d.cause.code, d.exit_code) == ("tls-port-mismatch", ExitCode.CONFIG)
    assert "serves plain HTTP on port 2376" in d.cause.summary
    plain = decide(
        probe(Verdict.REFUSED, "tcp://docker:2376"),
        service("running", log=log, exit_code=None, reason=None),
        None,
    )
    assert plain.cause.code == "dind-not-ready"  # same port, same scheme: nothing to blame


def test_an_eperm_overlay_mount_is_not_privileged_and_nothing_says_otherwise() -> None:
    log = "\n".join([IPTABLES_EPERM_WARNING, OVERLAY_EPERM, DRIVER_EXIT])
    d = decide(probe(Verdict.REFUSED), service(log=log), None)
    assert d.cause.code == "not-privileged"
    assert d.other_causes == [] and d.notes == []  # the warning agrees: no note against it
    assert not any("storage" in line for line in why_lines(d))


def test_one_ip6tables_warning_is_one_note_and_no_also_line() -> None:
    d = decide(probe(Verdict.REFUSED), service(log=f"{IP6TABLES_WARNING}\n{NAT_LINE}"), None)
    assert d.cause.code == "iptable_nat-missing"
    why = why_lines(d)
    assert [line for line in why if line.startswith("also:")] == []
    notes = [line for line in why if line.startswith("note:")]
    assert len(notes) == 1 and "ip6tables" in notes[0] and "not the cause" in notes[0]


def test_the_node_table_has_the_decided_backends_rows_only() -> None:
    report = node(nat=False)
    modules = dict(report.modules)
    modules["nft_chain_nat"] = module("nft_chain_nat", loaded=True, boot=True)
    nft_line = NAT_LINE.replace("(legacy)", "(nf_tables)").replace(
        "can't initialize iptables table `nat': Table does not exist (do you need to insmod?)",
        "CHAIN_ADD failed (No such file or directory): chain PREROUTING",
    )
    d = decide(
        probe(Verdict.REFUSED),
        service(log=nft_line),
        dataclasses.replace(report, modules=modules),
    )
    seen = render_text(d)
    assert d.backend.backend == "nf_tables"
    assert re.search(r"\n +nft_chain_nat +loaded", seen)
    assert not re.search(r"\n +iptable_(nat|filter) ", seen), seen
    junit = build_junit(d)
    assert "iptable_nat" not in junit and "nft_chain_nat" in junit


def test_under_a_legacy_nat_line_the_table_does_not_say_autoloads() -> None:
    report = node(nat=False)
    nat = dataclasses.replace(report.modules["iptable_nat"], autoload_on_use=True)
    filt = dataclasses.replace(report.modules["iptable_filter"], autoload_on_use=True)
    report = dataclasses.replace(report, modules={"iptable_nat": nat, "iptable_filter": filt})
    d = decide(probe(Verdict.REFUSED), service(log=NAT_LINE), report)
    seen = render_text(d).split("\nWhy:")[0]
    rows = [line for line in seen.splitlines() if re.match(r" +iptable_nat ", line)]
    assert len(rows) == 1 and "autoloads" not in rows[0], rows
    assert re.match(r" +iptable_nat +no ", rows[0])
    junit = ET.fromstring(build_junit(d))
    now = junit.find(".//testcase[@name='module iptable_nat loaded now']")
    assert now is not None and now.find("failure") is not None
    assert "dind log shows it missing on use" in now.find("failure").get("message", "")  # type: ignore[union-attr]


def test_the_headline_never_says_not_loaded_where_the_node_says_loaded() -> None:
    d = decide(probe(Verdict.REFUSED), service(log=NAT_LINE), node(nat=True))
    assert d.cause.code == "iptable_nat-missing"
    assert "is not loaded" not in d.cause.summary
    assert d.cause.summary.startswith("iptable_nat was not loaded when dind started")
    assert "the node report says iptable_nat is loaded now" in d.cause.summary


ETC_MODULES_WHY = (
    "nothing reads /etc/modules on this host: systemd-modules-load reads only "
    "modules-load.d/*.conf, and no effective .conf there leads to /etc/modules"
)


def test_each_explanation_once_under_why_and_in_the_issue_evidence() -> None:
    from preflight.node.model import Finding, IgnoredSource, Severity

    findings = []
    modules = {}
    report = node(nat=False, filt=False, findings=False)
    for line, name in enumerate(("iptable_nat", "iptable_filter"), start=1):
        findings.append(
            Finding(
                code="etc-modules-not-read",
                severity=Severity.ERROR,
                module=name,
                message=f"{name} will not load at boot: it is listed in /etc/modules:{line}, "
                f"but {ETC_MODULES_WHY}",
            )
        )
        ignored = IgnoredSource(
            path="/etc/modules",
            line=line,
            text=name,
            code="etc-modules-not-read",
            reason=ETC_MODULES_WHY,
        )
        modules[name] = dataclasses.replace(report.modules[name], ignored=(ignored,))
    report = dataclasses.replace(report, findings=findings, modules=modules)
    d = decide(probe(Verdict.REFUSED), service(log=NAT_LINE), report)
    why = "\n".join(why_lines(d))
    assert why.count("systemd-modules-load reads only") == 1, why
    assert (
        "iptable_filter will not load at boot: it is listed in /etc/modules:2, but nothing "
        "reads /etc/modules on this host (as above)" in why
    )
    evidence = "\n".join(node_fact_lines(report))
    assert evidence.count("systemd-modules-load reads only") == 1, evidence


def test_junit_says_unknown_where_the_log_says_unknown() -> None:
    d = decide(probe(Verdict.REFUSED), service(log=NAT_LINE), node(nat=False, known=False))
    text = render_text(d)
    assert re.search(r"\n +iptable_filter +unknown ", text), text
    junit = ET.fromstring(build_junit(d))
    now = junit.find(".//testcase[@name='module iptable_filter loaded now']")
    assert now is not None and now.find("failure") is None
    skipped = now.find("skipped")
    assert skipped is not None and skipped.get("message", "").startswith("unknown whether")
    assert "probably" not in build_junit(d)


def test_the_healthy_junit_is_the_one_the_xml_writer_builds() -> None:
    for elapsed in (0.0, 0.0123, 2.5):
        result = ProbeResult(
            verdict=Verdict.HEALTHY, docker_host="tcp://docker:2375", elapsed_s=elapsed, detail="ok"
        )
        assert healthy_junit(elapsed) == build_probe_junit(result)


def test_exit_69_says_what_to_read_and_where() -> None:
    from preflight.diagnosis.render import fix_section_lines

    d = decide(probe(Verdict.REFUSED), None, None)
    assert (d.cause.code, d.exit_code) == ("not-established", ExitCode.UNAVAILABLE)
    fix = " ".join(fix_section_lines(d))
    assert "CI_DEBUG_SERVICES=true" in fix and "kubectl logs <job pod> -c svc-0" in fix
    assert "limitations" not in fix and "could not see" not in fix
    blind = decide(probe(Verdict.REFUSED), None, None, ["no Kubernetes API: not in a pod"])
    text = render_text(blind)
    assert "could not see: no Kubernetes API: not in a pod" in text
    assert 'the "could not see" lines under Why: 1 of them' in " ".join(fix_section_lines(blind))


def test_the_quarantine_line_does_not_promise_a_load_the_log_shows_failed() -> None:
    d = decide(probe(Verdict.REFUSED), service(log=NAT_LINE), node(nat=False))
    assert d.cause.code == "iptable_nat-missing"
    assert "nothing stops the kernel from loading it on first use" not in render_text(d)
    assert "nothing stops the kernel" not in d.quarantine.reason
