"""The audit table the README quotes ("Before your maintenance window"), from the renderer."""

from __future__ import annotations

from preflight.audit.model import NodeAudit
from preflight.audit.render import table
from preflight.readiness.model import NodeReadiness, Readiness, Status


def _node(name: str, after: Status, code: str, msg: str, source: str) -> NodeAudit:
    return NodeAudit(
        name,
        NodeReadiness(
            Readiness(
                "DindReady",
                Status.TRUE,
                "modules-loaded",
                "iptable_nat, iptable_filter loaded (legacy iptables backend)",
            ),
            Readiness("DindReadyAfterReboot", after, code, msg),
        ),
        source,
    )


def example() -> str:
    return table(
        [
            _node(
                "worker-1",
                Status.TRUE,
                "modules-load-at-boot",
                "iptable_nat, iptable_filter load at boot",
                "agent",
            ),
            _node(
                "worker-2",
                Status.FALSE,
                "etc-modules-not-read",
                "iptable_nat will not be loaded after the next boot, and SELinux denies a "
                "container's request to load it: loaded now, but iptable_nat will not load at "
                "boot: it is listed in /etc/modules:1, but nothing reads /etc/modules on this "
                "host: systemd-modules-load reads only modules-load.d/*.conf, and no effective "
                ".conf there leads to /etc/modules (Debian and Ubuntu ship modules.conf -> "
                "../modules; RHEL, CentOS, Rocky and Fedora do not)",
                "agent",
            ),
            _node(
                "worker-3",
                Status.FALSE,
                "kernel-missing-module",
                "iptable_nat is missing from an installed kernel (any may boot next): installed "
                "kernel 4.18.0-372.9.1.el8.x86_64 has no iptable_nat: it is newer than the "
                "running kernel, so probably the next boot, after which dind would fail",
                "helper-pod",
            ),
        ]
    )
