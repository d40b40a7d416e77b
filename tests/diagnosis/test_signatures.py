"""The signature catalog on real log text (saved captures) and on single lines, both ways."""

from __future__ import annotations

import re

import pytest

from preflight.diagnosis import causes
from preflight.diagnosis.signatures import (
    SIGNATURES,
    by_id,
    listen_ports,
    match_lines,
    strongest,
    warnings,
)
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


# --- the fatal / backend contract --------------------------------------------------------------

NAT_LEGACY = (
    "failed to start daemon: Error initializing network controller: error obtaining controller "
    "instance: failed to create NAT chain DOCKER: iptables failed: iptables -t nat -N DOCKER: "
    "iptables v1.8.9 (legacy): something else went wrong"
)


@pytest.mark.parametrize(
    ("line", "fatal"),
    [
        # logfmt (moby, non-TTY), logrus text (TTY), dockerd's bare exit line, no level at all
        (
            'time="2025-01-01T00:00:00Z" level=error msg="failed to mount overlay: invalid argument"',
            True,
        ),
        (
            'time="2025-01-01T00:00:00Z" level=warning msg="failed to mount overlay: invalid argument"',
            False,
        ),
        (
            'level=info msg="unable to detect if iptables supports xlock: Permission denied (you must be root)"',
            False,
        ),
        (
            "WARN[0001] overlay: the backing xfs filesystem is formatted without d_type support",
            False,
        ),
        (
            "FATA[0001] Error starting daemon: error initializing graphdriver: driver not supported",
            True,
        ),
        (
            "Jun 22 19:23:35 host dockerd[1]: failed to start daemon: pid file found, ensure docker is not running or delete /var/run/docker.pid",
            True,
        ),
        ("sed: write error", True),
    ],
)
def test_a_match_is_fatal_unless_its_record_is_at_warning_level_or_below(
    line: str, fatal: bool
) -> None:
    matches = match_lines([line])
    assert matches, line
    assert {m.fatal for m in matches} == {fatal}


def test_the_moby_27_ip6tables_warning_never_decides_and_stays_visible() -> None:
    warning = (
        "WARN[2025-10-17T09:37:09.461073768Z] ip6tables is enabled, but cannot set up ip6tables "
        'chains  error="failed to create NAT chain DOCKER: iptables failed: ip6tables --wait -t nat '
        "-N DOCKER: ip6tables v1.8.11 (legacy): can't initialize ip6tables table `nat': Table does "
        "not exist (do you need to insmod?)\\nPerhaps ip6tables or your kernel needs to be "
        'upgraded.\\n (exit status 3)"'
    )
    matches = match_lines([warning])
    assert {m.signature for m in matches} == {
        "dockerd-ip6tables-chains-warning",
        "ip6tables-legacy-nat-table-missing",
    }
    assert not any(m.fatal for m in matches)
    assert strongest(matches) is None
    assert [m.cause for m in warnings(matches)] == [causes.IP6TABLE_NAT_MISSING]
    # next to a fatal line of another cause, the fatal line decides
    both = match_lines([warning, NAT_LEGACY.replace("something else went wrong", LEGACY_NAT)])
    best = strongest(both)
    assert best is not None and best.cause == causes.IPTABLE_NAT_MISSING


LEGACY_NAT = "can't initialize iptables table `nat': Table does not exist (do you need to insmod?)"


@pytest.mark.parametrize(
    ("line", "backend", "cause"),
    [
        (NAT_LEGACY, "legacy", causes.IPTABLE_NAT_MISSING),
        (NAT_LEGACY.replace("(legacy)", "(nf_tables)"), "nf_tables", causes.NFT_CHAIN_NAT_MISSING),
        (NAT_LEGACY.replace("iptables v1.8.9 (legacy): ", ""), "", causes.NAT_UNAVAILABLE),
        (
            "failed to create NAT chain DOCKER: iptables failed: iptables --wait -t nat -N DOCKER: "
            "iptables/1.8.7 Failed to initialize nft: Protocol not supported",
            "nf_tables",
            causes.NF_TABLES_MISSING,
        ),
    ],
)
def test_the_backend_printed_in_the_line_decides_the_module(
    line: str, backend: str, cause: str
) -> None:
    best = strongest(match_lines([line]))
    assert best is not None
    assert (best.backend, best.cause) == (backend, cause)


def test_a_failed_ip6tables_nat_chain_is_not_read_as_ipv4_nat() -> None:
    line = (
        "failed to start daemon: Error initializing network controller: error obtaining "
        "controller instance: failed to create NAT chain DOCKER: iptables failed: ip6tables "
        "--wait -t nat -N DOCKER: ip6tables v1.8.10 (legacy): "
        + LEGACY_NAT.replace("iptables", "ip6tables")
    )
    assert [m.cause for m in match_lines([line])] == [causes.IP6TABLE_NAT_MISSING]


@pytest.mark.parametrize(
    ("line", "cause"),
    [
        # cut before the chain name (basecamp/kamal#1762) and a user chain (not a nat base chain)
        (
            "  iptables v1.8.11 (nf_tables): CHAIN_ADD failed (No such file or directory)",
            causes.NFT_CHAIN_NAT_MISSING,
        ),
        (
            "iptables v1.8.9 (nf_tables): CHAIN_ADD failed (No such file or directory): chain DOCKER-USER",
            None,
        ),
        # not privileged, whatever table legacy iptables was opening
        (
            "iptables v1.8.9 (legacy): can't initialize iptables table `nat': Permission denied (you must be root)",
            causes.NOT_PRIVILEGED,
        ),
        # util-linux 2.39 mount wording next to busybox's
        ("mount: /sys/kernel/security: permission denied.", causes.NOT_PRIVILEGED),
        # a CI step tag and a supervisord stamp in front of the entrypoint's sed
        ("[jdk11-build:L16:6s] sed: write error", causes.CGROUP_V2_UNSUPPORTED),
        (
            "2023-01-03T21:10:32.388264297Z  sed: couldn't flush stdout: Device or resource busy",
            causes.CGROUP_V2_UNSUPPORTED,
        ),
        # containerd's d_type wording
        (
            'level=error msg="/var/lib/docker/x does not support d_type. If the backing filesystem is xfs, please reformat with ftype=1 to enable d_type support"',
            causes.BACKING_FS_NO_D_TYPE,
        ),
        # the two pid-file wordings (moby <= 23 pkg/pidfile, moby >= 24 cmd/dockerd)
        (
            "failed to start daemon: pid file found, ensure docker is not running or delete /var/run/docker.pid",
            causes.STALE_PID_FILE,
        ),
        (
            "failed to start daemon, ensure docker is not running or delete /var/run/docker.pid: process with PID 32 is still running",
            causes.STALE_PID_FILE,
        ),
        # dockerd told to listen twice (cut by the poster) vs. another process on the port
        (
            "failed to allocate daemon listening port 2375 ... port is already allocated",
            causes.PORT_ALREADY_ALLOCATED,
        ),
        (
            "failed to load listeners: listen tcp 0.0.0.0:2375: bind: address already in use",
            causes.PORT_IN_USE,
        ),
        # Go net/http's server-side log of plain HTTP on a TLS port (newer Go), as dockerd logs it
        (
            "http: TLS handshake error from 127.0.0.1:47034: client sent an HTTP request to an "
            "HTTPS server",
            causes.TLS_PORT_MISMATCH,
        ),
        # a read-only /proc/sys entry that is not dockerd's own start-up (moby/moby#47751)
        (
            "failed to disable IPv6 forwarding for container's interface eth0: open /proc/sys/net/ipv6/conf/eth0/disable_ipv6: read-only file system: unknown.",
            None,
        ),
        (
            "FATA[0000] Error starting daemon: Error initializing network controller: Error initializing bridge driver: Setup IP forwarding failed: open /proc/sys/net/ipv4/ip_forward: read-only file system",
            causes.NOT_PRIVILEGED,
        ),
    ],
    ids=lambda value: str(value)[:50],
)
def test_wordings_prefixes_and_cuts(line: str, cause: str | None) -> None:
    best = strongest(match_lines([line]))
    assert (best.cause if best else None) == cause
