"""The readiness verdict (the JSON contract of ``audit --json``). Pure data.

Add fields freely; never rename the ones ``docs/fleet-mode.md`` documents.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from preflight.node.model import Remedy

READY_NOW = "DindReady"
READY_AFTER_REBOOT = "DindReadyAfterReboot"
CONDITION_TYPES = (READY_NOW, READY_AFTER_REBOOT)


class Status(str, Enum):
    """A NodeCondition status."""

    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


@dataclass(frozen=True)
class Readiness:
    """One condition: its status, the cause code behind it, a one-line message and the fix."""

    condition: str  # DindReady | DindReadyAfterReboot
    status: Status
    code: str  # the cause or finding code, e.g. iptable_nat-missing, etc-modules-not-read
    message: str  # one line
    fix: Remedy | None = None

    @property
    def reason(self) -> str:
        """The condition's ``reason``: the code CamelCased (``iptable_nat-missing`` ->
        ``IptableNatMissing``), Kubernetes' convention for reasons."""
        return camel_case(self.code)


@dataclass(frozen=True)
class NodeReadiness:
    """Both conditions for one node, and the iptables backend they were judged for."""

    now: Readiness
    after_reboot: Readiness
    backend: str = "unknown"  # what a current docker:dind picks here: legacy | nf_tables | unknown
    backends: tuple[str, ...] = ()  # every backend whose module set was checked

    @property
    def conditions(self) -> tuple[Readiness, Readiness]:
        return (self.now, self.after_reboot)


def camel_case(code: str) -> str:
    """``iptable_nat-missing`` -> ``IptableNatMissing``."""
    words = [w for w in code.replace("_", "-").split("-") if w]
    return "".join(w[:1].upper() + w[1:] for w in words) or "Unknown"
