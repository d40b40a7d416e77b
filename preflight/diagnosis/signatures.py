"""The catalog of known dind failure signatures: log text -> cause code.

Each signature is a regular expression over one line of the dind service's log (dockerd's own
output, the dind entrypoint's, or a client error text). Patterns are pinned to real output:
``tests/kube/logs/*.log`` are captured from real dockerd processes, and a test re-captures them.
``weight`` ranks signatures when several match: the most specific line names the cause.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from preflight.diagnosis import causes
from preflight.diagnosis.model import SignatureMatch


@dataclass(frozen=True)
class Signature:
    """One known failure: what it looks like in a log line, and what it means."""

    id: str
    cause: str  # a code of :mod:`preflight.diagnosis.causes`
    pattern: re.Pattern[str]
    weight: int  # higher = more specific; the strongest match names the cause
    text: str  # what the line means, for humans


def _sig(id_: str, cause: str, pattern: str, weight: int, text: str) -> Signature:
    return Signature(id_, cause, re.compile(pattern), weight, text)


SIGNATURES: tuple[Signature, ...] = (
    # --- netfilter: the field report and its relatives -------------------------------------
    _sig(
        "iptables-legacy-nat-table-missing",
        causes.IPTABLE_NAT_MISSING,
        r"can't initialize iptables table `nat': Table does not exist",
        100,
        "legacy iptables has no nat table: iptable_nat is not loaded",
    ),
    _sig(
        "iptables-legacy-filter-table-missing",
        causes.IPTABLE_FILTER_MISSING,
        r"can't initialize iptables table `filter': Table does not exist",
        100,
        "legacy iptables has no filter table: iptable_filter is not loaded",
    ),
    _sig(
        "iptables-legacy-no-ip-tables",
        causes.IP_TABLES_MISSING,
        r"iptables who\? \(do you need to insmod\?\)",
        100,
        "legacy iptables finds no ip_tables support in the kernel",
    ),
    _sig(
        "iptables-nft-nat-chain-missing",
        causes.NFT_CHAIN_NAT_MISSING,
        r"CHAIN_ADD failed \(No such file or directory\): chain (PREROUTING|POSTROUTING|OUTPUT)",
        100,
        "nf_tables cannot create a nat base chain: nft_chain_nat is not available",
    ),
    _sig(
        "iptables-nft-nat-table-unsupported",
        causes.NFT_CHAIN_NAT_MISSING,
        r"TABLE_ADD failed \(Not supported\): table nat",
        100,
        "nf_tables does not support the nat table on this kernel",
    ),
    _sig(
        "iptables-nft-no-nf-tables",
        causes.NF_TABLES_MISSING,
        r"Could not fetch rule set generation id: Invalid argument",
        100,
        "iptables-nft finds no nf_tables support in the kernel",
    ),
    _sig(
        "dockerd-nat-chain-failed",
        causes.NAT_UNAVAILABLE,
        r"failed to create NAT chain DOCKER",
        50,
        "dockerd could not create its NAT chain (the iptables output says why)",
    ),
    # --- not privileged ----------------------------------------------------------------------
    _sig(
        "iptables-permission-denied",
        causes.NOT_PRIVILEGED,
        r"Permission denied \(you must be root\)",
        90,
        "iptables lacks CAP_NET_ADMIN: the container is not privileged",
    ),
    _sig(
        "dind-mount-permission-denied",
        causes.NOT_PRIVILEGED,
        r"mount: permission denied \(are you root\?\)",
        90,
        "the dind entrypoint cannot mount: the container is not privileged",
    ),
    _sig(
        "dind-securityfs-not-mounted",
        causes.NOT_PRIVILEGED,
        r"Could not mount /sys/kernel/security\.",
        60,
        "the dind entrypoint could not mount securityfs (usually: not privileged)",
    ),
    # --- storage -----------------------------------------------------------------------------
    _sig(
        "overlay-no-d-type",
        causes.BACKING_FS_NO_D_TYPE,
        r"formatted without d_type support",
        95,
        "the backing filesystem lacks d_type: overlay2 cannot work",
    ),
    _sig(
        "graphdriver-not-supported",
        causes.STORAGE_DRIVER_UNSUPPORTED,
        r"error initializing graphdriver: driver not supported",
        80,
        "dockerd cannot initialise the requested storage driver",
    ),
    _sig(
        "overlay-mount-failed",
        causes.STORAGE_DRIVER_UNSUPPORTED,
        r"failed to mount overlay: ",
        40,
        "an overlay mount failed (overlay on overlay, or no overlay module)",
    ),
    # --- cgroups -----------------------------------------------------------------------------
    _sig(
        "cgroup-v2-invalid-state",
        causes.CGROUP_V2_UNSUPPORTED,
        r"cannot enter cgroupv2 .* with domain controllers -- it is in an invalid state",
        90,
        "an old dind entrypoint cannot handle cgroup v2",
    ),
    _sig(
        "cgroup-v1-sed-write-error",
        causes.CGROUP_V2_UNSUPPORTED,
        r"^sed: write error$",
        30,
        "an old dind entrypoint failed writing cgroup files (cgroup v2)",
    ),
    # --- the job's configuration -------------------------------------------------------------
    _sig(
        "http-to-https-port",
        causes.TLS_PORT_MISMATCH,
        r"Client sent an HTTP request to an HTTPS server",
        90,
        "plain HTTP was sent to dind's TLS port",
    ),
    _sig(
        "api-port-in-use",
        causes.PORT_IN_USE,
        r"failed to load listeners: listen tcp [^ ]+: bind: address already in use",
        90,
        "another container of the pod already listens on dind's port",
    ),
)

_LISTEN = re.compile(r"API listen on (?:\[[^\]]*\]|[0-9.]+|[A-Za-z0-9.\-]+):(\d+)")


def match_lines(
    lines: Iterable[str], catalog: tuple[Signature, ...] = SIGNATURES
) -> list[SignatureMatch]:
    """Every (signature, line) match, in log order; one line may match several signatures."""
    found: list[SignatureMatch] = []
    for raw in lines:
        line = raw.rstrip("\r\n")
        for signature in catalog:
            if signature.pattern.search(line):
                found.append(
                    SignatureMatch(signature=signature.id, cause=signature.cause, line=line)
                )
    return found


def by_id(signature_id: str) -> Signature:
    """The catalog entry with ``signature_id`` (KeyError if unknown)."""
    for signature in SIGNATURES:
        if signature.id == signature_id:
            return signature
    raise KeyError(signature_id)


def strongest(matches: Iterable[SignatureMatch]) -> SignatureMatch | None:
    """The match that names the cause: highest weight, and the latest line among equals."""
    best: SignatureMatch | None = None
    best_weight = -1
    for match in matches:
        weight = by_id(match.signature).weight
        if weight >= best_weight:
            best, best_weight = match, weight
    return best


def listen_ports(lines: Iterable[str]) -> list[int]:
    """TCP ports dockerd said it listens on (``API listen on [::]:2376``), in log order."""
    ports: list[int] = []
    for line in lines:
        for found in _LISTEN.finditer(line):
            port = int(found.group(1))
            if port not in ports:
                ports.append(port)
    return ports
