"""The reporter's Prometheus metrics (prometheus_client, its own registry)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

PREFIX = "dind_preflight_reporter"


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.leader = Gauge(f"{PREFIX}_leader", "1 while this replica holds the lease", registry=r)
        self.open_incidents = Gauge(
            f"{PREFIX}_open_incidents", "Open incident issues in the report project", registry=r
        )
        self.broken_nodes = Gauge(
            f"{PREFIX}_broken_nodes", "Nodes whose DindReady condition is False", registry=r
        )
        self.runners_paused = Gauge(
            f"{PREFIX}_runners_paused",
            "Managed runners paused, by who paused them",
            ["by"],
            registry=r,
        )
        self.actions = Counter(
            f"{PREFIX}_actions",
            "Actions carried out, by kind and result",
            ["kind", "result"],
            registry=r,
        )
        self.api_errors = Counter(
            f"{PREFIX}_api_errors", "Failed API operations, by API", ["api"], registry=r
        )
        self.cycles = Counter(f"{PREFIX}_cycles", "Convergence cycles run as leader", registry=r)
        self.last_cycle = Gauge(
            f"{PREFIX}_last_cycle_timestamp_seconds", "When the last cycle ended", registry=r
        )
        self.job_reports = Counter(
            f"{PREFIX}_job_reports", "Job reports received, by result", ["result"], registry=r
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
