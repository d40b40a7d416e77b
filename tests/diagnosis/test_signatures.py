"""The signature catalog on real log text (saved captures) and on single lines, both ways."""

from __future__ import annotations

import re

import pytest

from preflight.diagnosis import causes
from preflight.diagnosis.signatures import SIGNATURES, by_id, listen_ports, match_lines, strongest
from tests.kube.failing_daemons import MODES, saved_log

LINES = [
    # (line, expected strongest cause or None)
    (
        "iptables v1.8.4 (legacy): can't initialize iptables table `nat': Table does not exist "
        "(do you need to insmod?)",
        causes.IPTABLE_NAT_MISSING,
    ),
    (
        "iptables v1.8.7 (legacy): can't initialize iptables table `filter': Table does not exist "
        "(do you need to insmod?)",
        causes.IPTABLE_FILTER_MISSING,
    ),
    ("iptables who? (do you need to insmod?)", causes.IP_TABLES_MISSING),
    (
        "iptables v1.8.9 (nf_tables): CHAIN_ADD failed (No such file or directory): chain PREROUTING",
        causes.NFT_CHAIN_NAT_MISSING,
    ),
    (
        "iptables v1.8.9 (nf_tables): CHAIN_ADD failed (No such file or directory): chain POSTROUTING",
        causes.NFT_CHAIN_NAT_MISSING,
    ),
    (
        "iptables v1.8.9 (nf_tables): TABLE_ADD failed (Not supported): table nat",
        causes.NFT_CHAIN_NAT_MISSING,
    ),
    (
        "iptables v1.8.9 (nf_tables): Could not fetch rule set generation id: Invalid argument",
        causes.NF_TABLES_MISSING,
    ),
    (
        "iptables v1.8.9 (nf_tables): Could not fetch rule set generation id: Permission denied "
        "(you must be root)",
        causes.NOT_PRIVILEGED,
    ),
    ("mount: permission denied (are you root?)", causes.NOT_PRIVILEGED),
    ("Could not mount /sys/kernel/security.", causes.NOT_PRIVILEGED),
    (
        'time="2024-01-01T00:00:00Z" level=error msg="failed to mount overlay: invalid argument" '
        "storage-driver=overlay2",
        causes.STORAGE_BACKING_FS_UNSUPPORTED,
    ),
    (
        "failed to start daemon: error initializing graphdriver: driver not supported: overlay2",
        causes.STORAGE_DRIVER_UNSUPPORTED,
    ),
    (
        # moby daemon/graphdriver/overlay2: the message for xfs with ftype=0
        "overlay2: the backing xfs filesystem is formatted without d_type support, which leads to "
        "incorrect behavior. Reformat the filesystem with ftype=1 to enable d_type support. "
        "Running without d_type is not supported.",
        causes.BACKING_FS_NO_D_TYPE,
    ),
    (
        'cannot enter cgroupv2 "/sys/fs/cgroup/docker" with domain controllers -- it is in an '
        "invalid state",
        causes.CGROUP_V2_UNSUPPORTED,
    ),
    ("sed: write error", causes.CGROUP_V2_UNSUPPORTED),
    ("Client sent an HTTP request to an HTTPS server.", causes.TLS_PORT_MISMATCH),
    (
        "failed to load listeners: listen tcp 0.0.0.0:2375: bind: address already in use",
        causes.PORT_IN_USE,
    ),
    ("failed to create NAT chain DOCKER: iptables failed: (exit status 1)", causes.NAT_UNAVAILABLE),
    # Lines that look close but are not failures.
    ('level=info msg="API listen on [::]:2376"', None),
    ('level=warning msg="Your kernel does not support cgroup blkio weight"', None),
    (
        "Cannot connect to the Docker daemon at tcp://docker:2375. Is the docker daemon running?",
        None,
    ),
    ("sed: write error while editing a file", None),
    ('level=info msg="Loading containers: start."', None),
]


@pytest.mark.parametrize(("line", "cause"), LINES, ids=[line[:60] for line, _ in LINES])
def test_single_lines(line: str, cause: str | None) -> None:
    best = strongest(match_lines([line]))
    assert (best.cause if best else None) == cause


@pytest.mark.parametrize("mode", MODES, ids=[m.name for m in MODES])
def test_saved_real_logs(mode: object) -> None:
    name, cause = mode.name, mode.cause
    text = saved_log(name)
    best = strongest(match_lines(text.splitlines()))
    assert (best.cause if best else None) == cause
    if best is not None:
        assert best.line in text.splitlines()


def test_the_field_report_log_names_the_nat_table_line() -> None:
    matches = match_lines(saved_log("legacy-nat-missing").splitlines())
    ids = [m.signature for m in matches]
    assert ids == ["iptables-legacy-nat-table-missing", "dockerd-nat-chain-failed"]
    best = strongest(matches)
    assert best is not None and best.signature == "iptables-legacy-nat-table-missing"
    assert "(legacy): can't initialize iptables table `nat'" in best.line


def test_catalog_is_consistent() -> None:
    ids = [s.id for s in SIGNATURES]
    assert len(ids) == len(set(ids))
    for signature in SIGNATURES:
        assert signature.cause in causes.CAUSES, signature.id
        assert re.fullmatch(r"[a-z0-9-]+", signature.id)
        assert by_id(signature.id) is signature
    with pytest.raises(KeyError):
        by_id("no-such-signature")


def test_strongest_prefers_weight_then_the_latest_line() -> None:
    lines = [
        "failed to create NAT chain DOCKER: first",
        "iptables v1.8.9 (nf_tables): CHAIN_ADD failed (No such file or directory): chain OUTPUT",
        "failed to create NAT chain DOCKER: again",
    ]
    best = strongest(match_lines(lines))
    assert best is not None and best.cause == causes.NFT_CHAIN_NAT_MISSING
    two = match_lines(
        [
            "sed: write error",
            "mount: permission denied (are you root?)",
            "Could not mount /sys/kernel/security.",
        ]
    )
    best_two = strongest(two)
    assert best_two is not None and best_two.signature == "dind-mount-permission-denied"
    assert strongest([]) is None


def test_listen_ports() -> None:
    lines = [
        'level=info msg="API listen on /var/run/docker.sock"',
        'level=info msg="API listen on [::]:2376"',
        'level=info msg="API listen on 127.0.0.1:2375"',
        'level=info msg="API listen on [::]:2376"',
    ]
    assert listen_ports(lines) == [2376, 2375]
    assert listen_ports(saved_log("tls-daemon").splitlines()) != []
    assert listen_ports(["nothing here"]) == []
