"""The catalog of known dind failure signatures: log text -> cause code.

Each signature is a regular expression over one line of the dind service's log (dockerd's own
output, the dind entrypoint's, or a client error text). Patterns match the *meaning*, not one
rendering of a line:

- they search anywhere in the line, so prefixes (journald ``host dockerd[pid]:``, CI step tags such
  as ``[build:L16:6s]``, supervisord and ``docker logs --timestamps`` stamps, ``time=... level=...``)
  do not matter;
- they stop at the key phrase, so a line cut after it (a CI log column limit, a post that elided
  the rest) still matches;
- the wordings of every moby / containerd / iptables / entrypoint version we know of are listed
  next to each pattern with the source line they come from.

Two facts ride along with every match (the contract shared with the decision code):

``fatal``
    False for lines that cannot have stopped dockerd: the signature is a known warning (moby 27's
    "ip6tables is enabled, but cannot set up ip6tables chains"), or the log record it belongs to
    is at warning level or below (``level=warning``, ``WARN[...]``, ``level=info``...). Warnings
    never decide a diagnosis; they stay visible as notes.
``backend``
    ``legacy`` / ``nf_tables`` as the iptables text itself says (``iptables v1.8.9 (legacy)``, or a
    message only one backend prints), else ``""``. The backend decides which kernel module a
    generic NAT failure blames (legacy -> ``iptable_nat``, nf_tables -> ``nft_chain_nat``).

Patterns are pinned to real output: ``tests/kube/logs/*.log`` are captured from real dockerd
processes, and ``tests/diagnosis/real_logs/`` holds logs users posted in public bug reports, each
with the cause its thread established. ``weight`` ranks signatures when several fatal lines match:
the most specific line names the cause.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from preflight.diagnosis import causes
from preflight.diagnosis.model import SignatureMatch

LEGACY = "legacy"
NF_TABLES = "nf_tables"


@dataclass(frozen=True)
class Signature:
    """One known failure: what it looks like in a log line, and what it means."""

    id: str
    cause: str  # a code of :mod:`preflight.diagnosis.causes`
    pattern: re.Pattern[str]
    weight: int  # higher = more specific; the strongest fatal match names the cause
    text: str  # what the line means, for humans
    fatal: bool = True  # False: a known warning, never decides
    backend: str = ""  # the iptables backend the message implies ("" when it does not say)
    cause_by_backend: tuple[tuple[str, str], ...] = ()  # (backend, cause) when the line says


def _sig(
    id_: str,
    cause: str,
    pattern: str,
    weight: int,
    text: str,
    *,
    fatal: bool = True,
    backend: str = "",
    cause_by_backend: tuple[tuple[str, str], ...] = (),
) -> Signature:
    return Signature(
        id_, cause, re.compile(pattern), weight, text, fatal, backend, cause_by_backend
    )


SIGNATURES: tuple[Signature, ...] = (
    # --- netfilter, legacy backend -------------------------------------------------------------
    # iptables 1.4-1.8 (legacy): "can't initialize iptables table `%s': %s" (strings of
    # /usr/sbin/xtables-legacy-multi, Debian iptables 1.8.9-2).
    # The reason after the table name is cut in many posts, and "Permission denied" there means
    # the container is not privileged, not that the table is missing.
    _sig(
        "iptables-legacy-nat-table-missing",
        causes.IPTABLE_NAT_MISSING,
        r"can't initialize iptables table [`'\"]nat['\"](?!: Permission denied)",
        100,
        "legacy iptables has no nat table: iptable_nat is not loaded",
        backend=LEGACY,
    ),
    _sig(
        "iptables-legacy-filter-table-missing",
        causes.IPTABLE_FILTER_MISSING,
        r"can't initialize iptables table [`'\"]filter['\"](?!: Permission denied)",
        100,
        "legacy iptables has no filter table: iptable_filter is not loaded",
        backend=LEGACY,
    ),
    # Same source line, ip6tables flavour ("can't initialize ip6tables table `%s': %s").
    # moby 26.1.0-27.0.0 stopped on it; moby 27.0.1+ (moby/moby#47918) logs it as a warning.
    _sig(
        "ip6tables-legacy-nat-table-missing",
        causes.IP6TABLE_NAT_MISSING,
        r"can't initialize ip6tables table [`'\"]nat['\"](?!: Permission denied)",
        100,
        "legacy ip6tables has no nat table: ip6table_nat is not loaded (IPv6 only)",
        backend=LEGACY,
    ),
    # libiptc (legacy): "iptables who? (do you need to insmod?)" when ip_tables is absent
    # (strings of /usr/lib/x86_64-linux-gnu/libip4tc.so.2, Debian libip4tc2 1.8.9-2).
    _sig(
        "iptables-legacy-no-ip-tables",
        causes.IP_TABLES_MISSING,
        r"iptables who\? \(do you need to insmod\?\)",
        100,
        "legacy iptables finds no ip_tables support in the kernel",
        backend=LEGACY,
    ),
    # --- netfilter, nf_tables backend ----------------------------------------------------------
    # iptables-nft 1.8.x batch errors: "<op> failed (<errno text>): <object>" (op names TABLE_ADD,
    # CHAIN_ADD, RULE_APPEND in strings of /usr/sbin/xtables-nft-multi, Debian 1.8.9-2), e.g.
    # "CHAIN_ADD failed (No such file or directory): chain PREROUTING". Posts often cut the
    # line before the chain name; a user chain (DOCKER...) named there is something else.
    _sig(
        "iptables-nft-nat-chain-missing",
        causes.NFT_CHAIN_NAT_MISSING,
        r"CHAIN_ADD failed \(No such file or directory\)"
        r"(?!: chain (?!PREROUTING|POSTROUTING|OUTPUT|INPUT)\S)",
        100,
        "nf_tables cannot create a nat base chain: nft_chain_nat is not available",
        backend=NF_TABLES,
    ),
    _sig(
        "iptables-nft-nat-table-unsupported",
        causes.NFT_CHAIN_NAT_MISSING,
        r"TABLE_ADD failed \(Not supported\): table nat",
        100,
        "nf_tables does not support the nat table on this kernel",
        backend=NF_TABLES,
    ),
    # iptables-nft without nf_tables in the kernel: "Could not fetch rule set generation id: %s"
    # (EINVAL), and since 1.8.7 "%s/%s Failed to initialize nft: %s" / 1.8.10 "%s: Failed to
    # initialize nft: %s" with "Protocol not supported" (strings of xtables-nft-multi 1.8.9).
    _sig(
        "iptables-nft-no-nf-tables",
        causes.NF_TABLES_MISSING,
        r"Could not fetch rule set generation id: Invalid argument",
        100,
        "iptables-nft finds no nf_tables support in the kernel",
        backend=NF_TABLES,
    ),
    _sig(
        "iptables-nft-init-unsupported",
        causes.NF_TABLES_MISSING,
        r"Failed to initialize nft: Protocol not supported",
        100,
        "iptables-nft cannot talk nf_tables: the kernel has no nf_tables support",
        backend=NF_TABLES,
    ),
    # docker:dind images from Dec 2023 (docker-library/docker#461) default to iptables-nft; on
    # nodes whose netfilter is driven by legacy iptables (GKE COS) the first rule append into
    # a chain dockerd just made fails: "RULE_APPEND failed (No such file or directory): rule in
    # chain DOCKER-ISOLATION-STAGE-1" (docker-library/docker#463, #467; fixed by #465/#468).
    _sig(
        "iptables-nft-rule-append-enoent",
        causes.IPTABLES_BACKEND_MISMATCH,
        r"RULE_APPEND failed \(No such file or directory\)",
        70,
        "iptables-nft in dind cannot append rules next to the node's legacy rules",
        backend=NF_TABLES,
    ),
    # moby: "failed to create NAT chain %s: %v" (libnetwork/iptables/iptables.go, moby 17-26;
    # daemon/libnetwork/drivers/bridge/internal/iptabler/iptabler.go in moby 28). The iptables
    # text after it says which backend failed, and so which module matters. When the command
    # that failed is ip6tables, the IPv6 signature above speaks for it.
    _sig(
        "dockerd-nat-chain-failed",
        causes.NAT_UNAVAILABLE,
        r"failed to create NAT chain(?![^:]*: iptables failed: ip6tables)",
        50,
        "dockerd could not create its NAT chain (the iptables output says why)",
        cause_by_backend=(
            (LEGACY, causes.IPTABLE_NAT_MISSING),
            (NF_TABLES, causes.NFT_CHAIN_NAT_MISSING),
        ),
    ),
    # moby 27.0.1+: log.G(ctx).WithError(err).Warn("ip6tables is enabled, but cannot set up
    # ip6tables chains") (libnetwork/drivers/bridge/bridge_linux.go:520 in v27.0.3). dockerd
    # carries on with IPv4: never a reason for a dead daemon.
    _sig(
        "dockerd-ip6tables-chains-warning",
        causes.IP6TABLE_NAT_MISSING,
        r"ip6tables is enabled, but cannot set up ip6tables chains",
        20,
        "dockerd could not set up IPv6 NAT and continues without it (a warning)",
        fatal=False,
    ),
    # --- not privileged ------------------------------------------------------------------------
    _sig(
        "iptables-permission-denied",
        causes.NOT_PRIVILEGED,
        r"Permission denied \(you must be root\)",
        90,
        "iptables lacks CAP_NET_ADMIN: the container is not privileged",
    ),
    # busybox mount: "mount: permission denied (are you root?)"; util-linux 2.39+ mount:
    # "mount: /sys/kernel/security: permission denied." (docker:dind entrypoint, `dind` script).
    _sig(
        "dind-mount-permission-denied",
        causes.NOT_PRIVILEGED,
        r"mount: (?:\S+: )?permission denied",
        90,
        "the dind entrypoint cannot mount: the container is not privileged",
    ),
    # hack/dind (moby) as shipped in docker:dind: "Could not mount /sys/kernel/security."
    _sig(
        "dind-securityfs-not-mounted",
        causes.NOT_PRIVILEGED,
        r"Could not mount /sys/kernel/security",
        60,
        "the dind entrypoint could not mount securityfs (usually: not privileged)",
    ),
    # libnetwork bridge driver at start-up: "Setup IP forwarding failed: %v"
    # (drivers/bridge/setup_ip_forwarding.go:24, vendored in moby v1.9.1) and "Unable to enable
    # local routing for hairpin mode: %v" (libnetwork/drivers/bridge/setup_ipv4_linux.go:87,
    # moby v27.0.3), each around "open /proc/sys/...: read-only file system" -- /proc/sys is
    # read-only in an unprivileged container. Other read-only /proc/sys paths (a container's
    # own interface, moby/moby#47751) are not this.
    _sig(
        "dockerd-proc-sys-read-only",
        causes.NOT_PRIVILEGED,
        r"/proc/sys/net/ipv4/(?:ip_forward|conf/docker0/route_localnet): read-only file system",
        90,
        "dockerd cannot write /proc/sys: the container is not privileged",
    ),
    # moby overlay2 supportsOverlay: errors.Wrap(err, "failed to mount overlay") around mount(2)
    # (daemon/graphdriver/overlay2/check.go in v20.10.24; overlayutils in v27.0.3), logged at
    # error level before graphdriver.ErrNotSupported. EPERM ("operation not permitted") is
    # mount(2) refusing a caller without CAP_SYS_ADMIN: the dind container is not privileged
    # (the same log's iptables says "Permission denied (you must be root)"), not an
    # unsupported storage driver.
    _sig(
        "overlay-mount-eperm",
        causes.NOT_PRIVILEGED,
        r"failed to mount overlay: operation not permitted",
        80,
        "dockerd may not mount overlay (EPERM): the container is not privileged",
    ),
    # --- storage -------------------------------------------------------------------------------
    # moby daemon/graphdriver/overlayutils/overlayutils.go (17.12+): "%s: the backing %s
    # filesystem is formatted without d_type support, which leads to incorrect behavior."
    # (a WARN in moby 1.13-17.09); containerd snapshots/overlay/overlayutils/check.go: "%s does
    # not support d_type. If the backing filesystem is xfs, please reformat with ftype=1".
    _sig(
        "overlay-no-d-type",
        causes.BACKING_FS_NO_D_TYPE,
        r"formatted without d_type support|does not support d_type",
        95,
        "the backing filesystem lacks d_type: overlay2 cannot work",
    ),
    # moby 1.12-19.03 overlay/overlay2 Init: logrus.Errorf("'overlay2' is not supported over
    # %s", backingFs) then graphdriver.ErrIncompatibleFS = "backing file system is unsupported
    # for this graph driver" (daemon/graphdriver/overlay2/overlay.go:163 in v18.09.9).
    _sig(
        "overlay-unsupported-backing-fs",
        causes.STORAGE_BACKING_FS_UNSUPPORTED,
        r"'overlay2?' is not supported over \w+|backing file system is unsupported for this "
        r"graph driver",
        85,
        "overlay cannot stack on the filesystem under /var/lib/docker",
    ),
    # moby 20.10+ overlayutils.SupportsOverlay logs the probe mount's error: overlay on overlay
    # (dind without a volume for /var/lib/docker) gives "failed to mount overlay: invalid
    # argument" (daemon/graphdriver/overlay2/overlay.go, logger.Error(err) before
    # ErrNotSupported in v20.10.24 and v27.0.3).
    _sig(
        "overlay-probe-mount-invalid",
        causes.STORAGE_BACKING_FS_UNSUPPORTED,
        r"failed to mount overlay: invalid argument",
        60,
        "the overlay probe mount failed: /var/lib/docker is on overlay (no volume)",
    ),
    _sig(
        "overlay-mount-failed",
        causes.STORAGE_DRIVER_UNSUPPORTED,
        r"failed to mount overlay: ",
        40,
        "an overlay mount failed",
    ),
    # moby 1.8-18.09: "'overlay' not found as a supported filesystem on this host. Please ensure
    # kernel is new enough and has overlay support loaded." (daemon/graphdriver/overlay/overlay.go
    # :180 in v1.9.1, overlay2/overlay.go:292 in v18.09.9);
    # terminals and journal views cut it early, so the pattern stops at "supported".
    _sig(
        "overlay-not-in-kernel",
        causes.OVERLAY_FS_MISSING,
        r"'overlay' not found as a supported",
        60,
        "the kernel offers no overlay filesystem",
    ),
    # graphdriver.ErrNotSupported = "driver not supported" (daemon/graphdriver/errors.go),
    # wrapped as "error initializing graphdriver: driver not supported[: overlay2]": the
    # consequence line; a more specific line above it names the reason.
    _sig(
        "graphdriver-not-supported",
        causes.STORAGE_DRIVER_UNSUPPORTED,
        r"error initializing graphdriver: driver not supported",
        40,
        "dockerd cannot initialise the requested storage driver",
    ),
    # --- cgroups -------------------------------------------------------------------------------
    # runc libcontainer/cgroups/fs2: "cannot enter cgroupv2 %q with domain controllers -- it is
    # in an invalid state" / "-- it is in threaded mode" (containerd/containerd#6659).
    _sig(
        "cgroup-v2-invalid-state",
        causes.CGROUP_V2_UNSUPPORTED,
        r"cannot enter cgroupv2 \S+ with domain controllers -- it is in "
        r"(?:an invalid state|threaded mode)",
        90,
        "the dind entrypoint did not set up cgroup v2 nesting",
    ),
    # containerd/cgroups ErrMountPointNotExist = "cgroups: cgroup mountpoint does not exist"
    # (vendor/github.com/containerd/cgroups/errors.go:26 in moby v20.10.24; cgroup1/errors.go:26
    # in v27.0.3): an old dind's cgroup v1 code on a cgroup v2 node. Often quoted without prefix.
    _sig(
        "cgroup-v1-mountpoint-missing",
        causes.CGROUP_V2_UNSUPPORTED,
        r"cgroup mountpoint does not exist",
        60,
        "an old dind image expects cgroup v1 on a cgroup v2 node",
    ),
    # docker:dind `dind` script (moby hack/dind, cgroup v2 nesting):
    #   sed -e 's/ / +/g' -e 's/^/+/' < cgroup.controllers > cgroup.subtree_control
    # busybox sed says "sed: write error", GNU sed (devcontainers' docker-init.sh) says
    # "sed: couldn't flush stdout: Device or resource busy". Nothing may follow on the line.
    _sig(
        "cgroup-v1-sed-write-error",
        causes.CGROUP_V2_UNSUPPORTED,
        r"(?:^|[\s\]>:|])sed: (?:write error|couldn't flush stdout: Device or resource busy)"
        r"\s*$",
        30,
        "the dind entrypoint failed enabling cgroup v2 controllers",
    ),
    # --- the job's configuration ---------------------------------------------------------------
    # Go net/http (the moby API server): the reply body "Client sent an HTTP request to an HTTPS
    # server." that the job's client prints, and, in newer Go, the server's own log line
    # "http: TLS handshake error from <addr>: client sent an HTTP request to an HTTPS server"
    # (net/http/server.go). Go client: "http: server gave HTTP response to HTTPS client".
    _sig(
        "http-to-https-port",
        causes.TLS_PORT_MISMATCH,
        r"[Cc]lient sent an HTTP request to an HTTPS server",
        90,
        "plain HTTP was sent to dind's TLS port",
    ),
    _sig(
        "https-to-http-port",
        causes.TLS_PORT_MISMATCH,
        r"server gave HTTP response to HTTPS client",
        90,
        "TLS was spoken to dind's plain-HTTP port",
    ),
    # moby cmd/dockerd/daemon.go: errors.Wrap(err, "failed to load listeners") (:167 in v20.10.24,
    # :181 in v27.0.3) around Go's "listen tcp %s: bind: address already in use"; only the bind
    # error is matched, so a cut or reworded prefix does not matter.
    _sig(
        "api-port-in-use",
        causes.PORT_IN_USE,
        r"listen tcp \S*:\d+: bind: address already in use",
        90,
        "another process of the pod already listens on dind's port",
    ),
    # moby cmd/dockerd/daemon_unix.go: "failed to allocate daemon listening port %d (err: %v)"
    # (:117 in v17.03.2-ce, :98 in v27.0.3) -- dockerd was told to listen on the same port twice.
    _sig(
        "api-port-allocated-twice",
        causes.PORT_ALREADY_ALLOCATED,
        r"failed to allocate daemon listening port \d+",
        90,
        "dockerd was given the same listening port twice",
    ),
    # moby pkg/pidfile (v1.9.1 pidfile.go:23 ... v23.0.6 pidfile.go:26): "pid file found, ensure
    # docker is not running or delete %s"; moby 24+ cmd/dockerd/daemon.go:152 (v24.0.9):
    # "failed to start daemon, ensure docker is not running or delete %s" wrapping pkg/pidfile's
    # "process with PID %d is still running" (v24.0.9 pidfile.go:49).
    _sig(
        "dockerd-pid-file-exists",
        causes.STALE_PID_FILE,
        r"ensure docker is not running or delete \S",
        90,
        "a pid file from an earlier dockerd is still there",
    ),
)

# moby cmd/dockerd/daemon.go: log.G(ctx).Infof("API listen on %s", ls.Addr()) -- e.g.
# `level=info msg="API listen on [::]:2375"` (tests/kube/logs, dockerd 20.10).
_LISTEN = re.compile(r"API listen on (?:\[[^\]]*\]|[0-9.]+|[A-Za-z0-9.\-]+):(\d+)")
# dockerd serving plain HTTP on a TCP port says so at start: moby cmd/dockerd/daemon.go
# `Warn("Binding to IP address without --tlsverify is insecure and gives root access on this
# machine to everyone who has access to your network.")` with field host="tcp://0.0.0.0:2375"
# (tests/kube/logs, dockerd 20.10; moby 26 in a dind log posted 2024-05-29), and moby 23+
# "[DEPRECATION NOTICE]: API is accessible on http://0.0.0.0:2375 without encryption."
# (daemon/info.go; the same `docker info` warning begins "WARNING: API is accessible on").
_PLAIN_HTTP = re.compile(
    r"without --tlsverify\b.*?\bhost=\"?tcp://(?:\[[^\]]*\]|[^:\s\"]+):(\d+)"
    r"|API is accessible on http://(?:\[[^\]]*\]|[^:\s/]+):(\d+) without encryption"
)
# iptables prints its backend after its version: "iptables v1.8.9 (legacy)", "ip6tables
# v1.8.11 (nf_tables)"; 1.8.7+ iptables-nft also says "Failed to initialize nft".
_BACKEND = re.compile(r"\bip6?tables(?:-\w+)? v\d+(?:\.\d+)+ \((legacy|nf_tables)\)")
_NFT_ONLY = re.compile(r"Failed to initialize nft")
# Where a log record starts, and at which level. logfmt ``level=warning``, logrus text
# ``WARN[0000]``, and dockerd's own exit line (printed bare on stderr since moby 19.03:
# "failed to start daemon: ...", before that logrus "Error starting daemon: ...").
_RECORD = re.compile(
    r"\blevel=(?P<logfmt>[a-z]+)\b"
    r"|\b(?P<logrus>TRAC|DEBU|INFO|WARN|ERRO|FATA|PANI)\[[^\]]*\]"
    r"|(?P<exit>\bfailed to start daemon\b|\bError starting daemon\b)"
)
_NOT_FATAL_LEVELS = frozenset(
    {"trace", "debug", "info", "warning", "warn", "TRAC", "DEBU", "INFO", "WARN"}
)


def _record_is_fatal(line: str) -> bool | None:
    """Whether the log record on ``line`` can be fatal; None when the line names no level."""
    found = _RECORD.search(line)
    if found is None:
        return None
    level = found.group("logfmt") or found.group("logrus")
    return level is None or level not in _NOT_FATAL_LEVELS


def backend_of(line: str) -> str:
    """The iptables backend ``line`` names (``legacy`` / ``nf_tables``), or ``""``."""
    found = _BACKEND.search(line)
    if found is not None:
        return found.group(1)
    return NF_TABLES if _NFT_ONLY.search(line) else ""


def match_lines(
    lines: Iterable[str], catalog: tuple[Signature, ...] = SIGNATURES
) -> list[SignatureMatch]:
    """Every (signature, line) match, in log order; one line may match several signatures.

    A line is judged on its own level: a bare line (iptables' output that dockerd printed after
    its error, dockerd's own "failed to ..." exit line) may be fatal, whatever came before it.
    """
    found: list[SignatureMatch] = []
    for raw in lines:
        line = raw.rstrip("\r\n")
        record_fatal = _record_is_fatal(line) is not False
        printed = backend_of(line)
        for signature in catalog:
            if not signature.pattern.search(line):
                continue
            backend = printed or signature.backend
            cause = dict(signature.cause_by_backend).get(backend, signature.cause)
            found.append(
                SignatureMatch(
                    signature=signature.id,
                    cause=cause,
                    line=line,
                    fatal=signature.fatal and record_fatal,
                    backend=backend,
                )
            )
    return found


def by_id(signature_id: str) -> Signature:
    """The catalog entry with ``signature_id`` (KeyError if unknown)."""
    for signature in SIGNATURES:
        if signature.id == signature_id:
            return signature
    raise KeyError(signature_id)


def strongest(matches: Iterable[SignatureMatch]) -> SignatureMatch | None:
    """The fatal match that names the cause: highest weight, and the latest line among equals.

    Warning-level matches (``fatal`` False) never name the cause; see :func:`warnings`.
    """
    best: SignatureMatch | None = None
    best_weight = -1
    for match in matches:
        if not match.fatal:
            continue
        weight = by_id(match.signature).weight
        if weight >= best_weight:
            best, best_weight = match, weight
    return best


def warnings(matches: Iterable[SignatureMatch]) -> list[SignatureMatch]:
    """The warning-level matches (they did not stop dockerd), first of each cause, in log order."""
    seen: set[str] = set()
    notes: list[SignatureMatch] = []
    for match in matches:
        if not match.fatal and match.cause not in seen:
            seen.add(match.cause)
            notes.append(match)
    return notes


def listen_line(lines: Iterable[str]) -> str:
    """The first ``API listen on host:port`` phrase of the log, as dockerd wrote it."""
    for line in lines:
        found = _LISTEN.search(line)
        if found is not None:
            return found.group(0)
    return ""


def plain_http_ports(lines: Iterable[str]) -> list[int]:
    """TCP ports dockerd said it serves without TLS, in log order."""
    ports: list[int] = []
    for line in lines:
        for found in _PLAIN_HTTP.finditer(line):
            port = int(found.group(1) or found.group(2))
            if port not in ports:
                ports.append(port)
    return ports


def listen_ports(lines: Iterable[str]) -> list[int]:
    """TCP ports dockerd said it listens on (``API listen on [::]:2376``), in log order."""
    ports: list[int] = []
    for line in lines:
        for found in _LISTEN.finditer(line):
            port = int(found.group(1))
            if port not in ports:
                ports.append(port)
    return ports
