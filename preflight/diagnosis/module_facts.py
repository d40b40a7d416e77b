"""The module-fact rule, as the diagnosis imports it: see :mod:`preflight.node.loadability`
(the one source shared by node-report, the agent, audit, resolve and the job)."""

from __future__ import annotations

from preflight.node.loadability import (
    ABSENT,
    BLOCKED,
    DENIED,
    FAULTS,
    LOADED,
    NOT_LOADED,
    UNCHECKED,
    UNKNOWN,
    UNLOADABLE,
    describe,
    module_fact,
)

__all__ = [
    "ABSENT",
    "BLOCKED",
    "DENIED",
    "FAULTS",
    "LOADED",
    "NOT_LOADED",
    "UNCHECKED",
    "UNKNOWN",
    "UNLOADABLE",
    "describe",
    "module_fact",
]
