"""The module facts a DindReady* condition states, in its message (written and read here). Pure.

A condition has no field of its own for data, and the agent may write only its own conditions,
so the message ends with one bracketed list: the backends checked and, per module, the fact the
module-fact rule (:mod:`preflight.node.loadability`) found, e.g.
``[checked legacy,nf_tables: iptable_nat=denied iptable_filter=denied nft_chain_nat=not-loaded]``.
A job reads exactly these facts and no others (:mod:`preflight.readiness.evidence`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from preflight.node.loadability import BOOT_FACTS, FACTS
from preflight.node.module_sets import BACKENDS, is_known_module

_TAIL = re.compile(r"\[checked ([a-z_,]*): ((?:[a-z0-9_]+=[a-z-]+ ?)*)\]\s*$")
MAX_MESSAGE = 1000


@dataclass(frozen=True)
class Stated:
    backends: tuple[str, ...]
    facts: dict[str, str]


def with_facts(text: str, backends: Sequence[str], facts: Mapping[str, str]) -> str:
    """``text`` (one line, shortened to fit) followed by the facts list."""
    tail = f" [checked {','.join(backends)}: " + " ".join(f"{n}={f}" for n, f in facts.items())
    tail = tail.rstrip() + "]"
    head = " ".join(text.split())
    room = MAX_MESSAGE - len(tail)
    if len(head) > room:
        head = head[: max(0, room - 3)] + "..."
    return head + tail


def stated(message: str, *, boot: bool = False) -> Stated | None:
    """The facts a condition's message states; None when it states none (an older agent, or a
    message not of this form). Unknown module names and facts are dropped."""
    match = _TAIL.search(message)
    if match is None:
        return None
    backends = tuple(b for b in match.group(1).split(",") if b in BACKENDS)
    allowed = BOOT_FACTS if boot else FACTS
    facts: dict[str, str] = {}
    for item in match.group(2).split():
        name, _, fact = item.partition("=")
        if is_known_module(name) and fact in allowed:
            facts[name] = fact
    return Stated(backends, facts)


def without_facts(message: str) -> str:
    """The human part of a condition's message."""
    return _TAIL.sub("", message).rstrip()
