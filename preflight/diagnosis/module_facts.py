"""What a node report says about one module, in the words the decision needs. Pure.

``not-loaded`` alone is never a fault: the kernel loads a table module on first use when nothing
blocks it, and an nf_tables node never uses the legacy modules. A fault needs the module to be
``absent`` (the running kernel does not have it), ``blocked`` (a blacklist, an install rule or
``module_blacklist=``) or ``unloadable`` (``modules_disabled=1``, or the running kernel's modules
are not installed). ``unknown`` means the report could not see (e.g. permission denied).
"""

from __future__ import annotations

from preflight.node.model import ModuleState, NodeReport

LOADED = "loaded"
NOT_LOADED = "not-loaded"
ABSENT = "absent"
BLOCKED = "blocked"
UNLOADABLE = "unloadable"
UNKNOWN = "unknown"
UNCHECKED = "unchecked"

FAULTS = (ABSENT, BLOCKED, UNLOADABLE)
_HARD_BLOCKERS = frozenset(
    {"blacklisted", "install-false", "install-true", "kernel-module-blacklist"}
)
_UNLOADABLE_FINDINGS = frozenset({"modules-disabled", "running-kernel-modules-missing"})


def module_fact(node: NodeReport | None, name: str) -> str:
    """One of the constants above for module ``name``."""
    if node is None:
        return UNCHECKED
    state = node.modules.get(name)
    if state is None:
        return UNCHECKED
    if not state.loaded_known:
        return UNKNOWN
    if state.loaded:
        return LOADED
    if _absent(node, state):
        return ABSENT
    if any(b.code in _HARD_BLOCKERS for b in state.blockers):
        return BLOCKED
    if any(f.code in _UNLOADABLE_FINDINGS for f in node.findings):
        return UNLOADABLE
    return NOT_LOADED


def _absent(node: NodeReport, state: ModuleState) -> bool:
    # "available" is only meaningful when the running kernel's index was read.
    if state.available:
        return False
    if node.module_support is False:
        return True
    return node.evidence_source != "job-proc" and any(
        k.running and k.problem is None for k in node.kernels
    )


def describe(name: str, fact: str) -> str:
    """One sentence for a module fact, e.g. ``iptable_nat is blocked on the node``."""
    words = {
        LOADED: "is loaded",
        NOT_LOADED: "is not loaded (nothing stops the kernel from loading it on first use)",
        ABSENT: "does not exist for the running kernel",
        BLOCKED: "is blocked (a blacklist, install rule or module_blacklist=)",
        UNLOADABLE: "is not loaded and cannot be loaded into the running kernel",
        UNKNOWN: "could not be read",
        UNCHECKED: "was not checked",
    }
    return f"{name} {words[fact]}"
