"""Evidence for the decision table: backends x service situations x node situations.

Log lines are the formats the real programs print:
- the entrypoint's ``iptables --version`` line (docker-library/docker ``dockerd-entrypoint.sh``
  runs ``iptables --version`` after choosing the backend): the exact output of Debian's
  iptables-legacy / iptables-nft 1.8.x (``tests/probe/test_backends_real.py`` runs them);
- legacy nat missing / nft nat chain missing: as real dockerd processes print them through
  iptables wrappers (``tests/kube/logs/legacy-nat-missing.log``, ``nft-nat-missing.log``);
- moby 27's ip6tables warning: the text quoted in issue 10 (``level=warning msg="ip6tables is
  enabled, but cannot set up ip6tables chains"``);
- ``mount: permission denied (are you root?)``, ``error initializing graphdriver: driver not
  supported: overlay2``, ``failed to load listeners: ... bind: address already in use``: as in
  ``tests/kube/logs/`` and the signature catalog's cited sources.
"""

from __future__ import annotations

from dataclasses import dataclass

from preflight.diagnosis.model import ServiceEvidence
from preflight.diagnosis.signatures import match_lines
from preflight.node.model import (
    Blocker,
    IptablesState,
    KernelModules,
    ModuleRequests,
    ModuleState,
    NodeReport,
)
from preflight.node.module_sets import MODULE_SETS, union
from preflight.probe.model import ProbeResult, Verdict

BACKENDS = ("legacy", "nf_tables", "unknown")
NAT_OF = {"legacy": "iptable_nat", "nf_tables": "nft_chain_nat"}
OTHER = {"legacy": "nf_tables", "nf_tables": "legacy"}

VERSION_LINE = {"legacy": "iptables v1.8.10 (legacy)", "nf_tables": "iptables v1.8.10 (nf_tables)"}
_DOCKERD_NAT = (
    "failed to start daemon: Error initializing network controller: error obtaining controller "
    'instance: failed to register "bridge" driver: failed to create NAT chain DOCKER: iptables '
    "failed: iptables --wait -t nat -N DOCKER: "
)
NAT_FAILURE = {
    "legacy": _DOCKERD_NAT
    + "iptables v1.8.10 (legacy): can't initialize iptables table `nat': Table does not exist "
    "(do you need to insmod?)\nPerhaps iptables or your kernel needs to be upgraded.\n (exit status 3)",
    "nf_tables": _DOCKERD_NAT
    + "iptables v1.8.10 (nf_tables): CHAIN_ADD failed (No such file or directory): chain "
    "PREROUTING\n (exit status 4)",
    # no iptables output kept (e.g. a truncated log): the backend is not in the line
    "unknown": _DOCKERD_NAT + " (exit status 1)",
}
IP6TABLES_WARNING = (
    'time="2025-01-10T10:00:00.000000000Z" level=warning msg="ip6tables is enabled, but cannot set '
    'up ip6tables chains" error="failed to create NAT chain DOCKER: iptables failed: ip6tables '
    "--wait -t nat -N DOCKER: ip6tables v1.8.10 (nf_tables): CHAIN_ADD failed (No such file or "
    'directory): chain PREROUTING\\n (exit status 4)"'
)
SERVICES = (
    "nat-signature",
    "not-privileged-signature",
    "storage-signature",
    "port-in-use-signature",
    "unknown-fatal",
    "running-but-slow",
    "image-pull",
    "oom-killed",
    "absent",
    "warning-only",
)
# not-loaded: not loaded, nothing blocks it, no SELinux (it loads on first use: no fault);
# denied: not loaded on a RHEL-family node with SELinux enforcing (a container's request is
# denied: a fault). The module-fact rule, preflight/node/loadability.py.
NODES = ("fine", "absent", "blocked", "unreadable", "contradicting", "not-loaded", "denied")


def _log(backend: str, *lines: str) -> list[str]:
    head = [VERSION_LINE[backend]] if backend in VERSION_LINE else []
    return [*head, *"\n".join(lines).splitlines()]


def service_for(kind: str, backend: str, privileged: bool | None = None) -> ServiceEvidence:
    """The dind service in situation ``kind`` under ``backend``."""
    image = "docker:27.5.1-dind"
    dead: dict[str, object] = {"state": "terminated", "exit_code": 1, "reason": "Error"}
    if kind == "nat-signature":
        lines = _log(backend, NAT_FAILURE[backend])
    elif kind == "not-privileged-signature":
        lines = _log(backend, "mount: permission denied (are you root?)")
    elif kind == "storage-signature":
        lines = _log(
            backend,
            "failed to start daemon: error initializing graphdriver: driver not supported: overlay2",
        )
    elif kind == "port-in-use-signature":
        lines = _log(
            backend,
            "failed to load listeners: listen tcp 0.0.0.0:2375: bind: address already in use",
        )
    elif kind == "unknown-fatal":
        # moby libnetwork, when every default address pool overlaps a route (not catalogued)
        lines = _log(
            backend,
            "failed to start daemon: Error initializing network controller: list bridge "
            "addresses failed: PredefinedLocalScopeDefaultNetworks List: [172.17.0.0/16]: no "
            "available network",
        )
    elif kind == "warning-only":
        lines = _log(backend, IP6TABLES_WARNING, "some quiet ending")
    elif kind == "running-but-slow":
        lines = _log(backend, 'level=info msg="Starting up"')
        dead = {"state": "running", "exit_code": None, "reason": None}
    elif kind == "image-pull":
        lines = []
        dead = {"state": "waiting", "exit_code": None, "reason": "ImagePullBackOff"}
    elif kind == "oom-killed":
        lines = _log(backend, 'level=info msg="Starting up"')
        dead = {
            "state": "waiting",
            "exit_code": 137,
            "reason": "CrashLoopBackOff",
            "last_reason": "OOMKilled",
        }
    elif kind == "absent":
        return ServiceEvidence(container="", state="absent")
    else:
        raise ValueError(kind)
    return ServiceEvidence(
        container="svc-0",
        image=image,
        log_tail=lines,
        matches=match_lines(lines),
        privileged=privileged,
        **dead,  # type: ignore[arg-type]
    )


def probe_for(kind: str) -> ProbeResult:
    verdict = Verdict.TIMEOUT if kind == "running-but-slow" else Verdict.REFUSED
    return ProbeResult(verdict=verdict, docker_host="tcp://docker:2375", elapsed_s=1.0, detail="x")


@dataclass(frozen=True)
class _Mod:
    loaded: bool = True
    available: bool = True
    known: bool = True
    blocked: bool = False


def _state(name: str, spec: _Mod) -> ModuleState:
    blockers = (
        [Blocker("install-false", "/etc/modprobe.d/x.conf", 1, f"install {name} /bin/false", name)]
        if spec.blocked
        else []
    )
    return ModuleState(
        name=name,
        loaded=spec.loaded and spec.known,
        builtin=False,
        available=spec.available,
        loads_at_boot=spec.loaded,
        loaded_known=spec.known,
        blockers=blockers,
    )


def node_for(kind: str, backend: str, source: str = "host-root") -> NodeReport:
    """The node in situation ``kind``: about the nat module of ``backend`` (legacy when the
    backend is unknown); ``contradicting``: that module is fine, the other backend's is absent."""
    target = NAT_OF.get(backend, "iptable_nat")
    other = NAT_OF[OTHER.get(backend, "nf_tables")]
    specs = {name: _Mod() for name in union("legacy", "nf_tables")}
    if kind == "absent":
        specs[target] = _Mod(loaded=False, available=False)
    elif kind == "blocked":
        specs[target] = _Mod(loaded=False, blocked=True)
    elif kind == "unreadable":
        specs = {name: _Mod(known=False) for name in specs}
    elif kind == "contradicting":
        specs[other] = _Mod(loaded=False, available=False)
    elif kind in ("not-loaded", "denied"):
        specs[target] = _Mod(loaded=False)
    elif kind != "fine":
        raise ValueError(kind)
    selinux = kind == "denied"
    requests = ModuleRequests(selinux, selinux, "SELinux enforcing" if selinux else "no SELinux")
    return NodeReport(
        root="/host",
        kernel="6.1.0-28-amd64",
        modules={name: _state(name, spec) for name, spec in specs.items()},
        kernels=[KernelModules(release="6.1.0-28-amd64", running=True, newest=True)],
        iptables=IptablesState(),
        evidence_source=source,
        module_requests=requests,
    )


def required_of(backend: str) -> tuple[str, ...]:
    return MODULE_SETS[backend].required if backend in MODULE_SETS else ()
