"""An incident's identity (pure): the (node, cause) key, its labels, and the hidden issue marker.

One open issue per incident. GitLab has no create-if-absent, so issues are found again by the
key label ``dind-preflight::key::<key>``; the marker (an HTML comment GitLab does not render)
records which runner and which reporter opened the issue, for the election in
:mod:`preflight.gitlab.issue_election`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from preflight.diagnosis.model import Diagnosis
from preflight.gitlab.markdown import safe_token

BASE_LABEL = "dind-preflight"
_MARKER = re.compile(r"<!-- dind-preflight v1 ([^<>]*?) -->")
_FIELD = re.compile(r"(\w+)=([A-Za-z0-9._-]+)")


@dataclass(frozen=True)
class Incident:
    """What is broken where: the node and the cause code, and the key derived from them."""

    node: str  # safe token (unknown when the node is not known)
    cause: str  # safe token, e.g. iptable_nat-missing
    key: str  # 12 hex digits of sha256(node, cause)
    module: str | None = None
    fault: str = "unknown"

    @property
    def key_label(self) -> str:
        """The label that finds this incident's issue."""
        return f"{BASE_LABEL}::key::{self.key}"

    @property
    def labels(self) -> tuple[str, ...]:
        """Every label of the issue: filter by all incidents, cause, node, fault or key."""
        return (
            BASE_LABEL,
            f"{BASE_LABEL}::cause::{self.cause}",
            f"{BASE_LABEL}::node::{self.node}",
            f"{BASE_LABEL}::fault::{self.fault}",
            self.key_label,
        )


def incident_key(node: str, cause: str) -> str:
    """12 hex digits that identify (node, cause) across jobs and runners."""
    return hashlib.sha256(f"{node}\n{cause}".encode()).hexdigest()[:12]


def incident_of(diagnosis: Diagnosis) -> Incident:
    """The incident a diagnosis describes."""
    node = safe_token(diagnosis.node, empty="unknown-node")
    cause = safe_token(diagnosis.cause.code, empty="unknown-cause")
    module = safe_token(diagnosis.cause.module, empty="") or None
    return Incident(
        node=node,
        cause=cause,
        key=incident_key(node, cause),
        module=module,
        fault=safe_token(diagnosis.fault.value),
    )


@dataclass(frozen=True)
class IssueMarker:
    """The hidden line in an issue body: which incident, runner, job and reporter opened it."""

    key: str
    runner_id: int | None = None
    job_id: int | None = None
    reporter: str | None = None  # random per report: finds one's own duplicates


def format_marker(marker: IssueMarker) -> str:
    """``<!-- dind-preflight v1 key=... runner=... job=... reporter=... -->``."""
    fields = [f"key={safe_token(marker.key)}"]
    if marker.runner_id is not None:
        fields.append(f"runner={marker.runner_id}")
    if marker.job_id is not None:
        fields.append(f"job={marker.job_id}")
    if marker.reporter:
        fields.append(f"reporter={safe_token(marker.reporter)}")
    return f"<!-- dind-preflight v1 {' '.join(fields)} -->"


def parse_marker(description: str | None) -> IssueMarker | None:
    """The first marker in an issue body, or None (edited away, or not ours)."""
    match = _MARKER.search(description or "")
    if not match:
        return None
    fields = dict(_FIELD.findall(match.group(1)))
    if "key" not in fields:
        return None

    def number(name: str) -> int | None:
        value = fields.get(name, "")
        return int(value) if value.isdigit() else None

    return IssueMarker(
        key=fields["key"],
        runner_id=number("runner"),
        job_id=number("job"),
        reporter=fields.get("reporter"),
    )
