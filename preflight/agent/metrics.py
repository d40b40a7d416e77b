"""The agent's Prometheus metrics (``/metrics``), in a registry of its own.

- ``dind_preflight_condition{condition,status}``: 1 for the condition's current status, else 0
- ``dind_preflight_module_loaded{module,backend}`` / ``dind_preflight_module_loads_at_boot``
  (``backend``: the module's own set, legacy | nf_tables | shared for nat/conntrack/xt)
- ``dind_preflight_check_duration_seconds``: a histogram of the analysis time
- ``dind_preflight_last_check_timestamp_seconds``, ``..._last_good_check_timestamp_seconds``
  (the last check that found the node ready now)
- ``dind_preflight_publish_failures_total``: rounds the API did not accept
"""

from __future__ import annotations

from typing import Any

from preflight.node.model import NodeReport
from preflight.readiness.model import NodeReadiness, Status


class AgentMetrics:
    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        r = self.registry
        self.condition = Gauge(
            "dind_preflight_condition",
            "1 for the current status of each dind condition, 0 for the others",
            ["condition", "status"],
            registry=r,
        )
        self.loaded = Gauge(
            "dind_preflight_module_loaded",
            "1 when the module is loaded or built into the running kernel",
            ["module", "backend"],
            registry=r,
        )
        self.at_boot = Gauge(
            "dind_preflight_module_loads_at_boot",
            "1 when the module is loaded at the next boot",
            ["module", "backend"],
            registry=r,
        )
        self.duration = Histogram(
            "dind_preflight_check_duration_seconds",
            "Time one node analysis took",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
            registry=r,
        )
        self.last_check = Gauge(
            "dind_preflight_last_check_timestamp_seconds",
            "Unix time of the last completed check",
            registry=r,
        )
        self.last_good = Gauge(
            "dind_preflight_last_good_check_timestamp_seconds",
            "Unix time of the last check that found the node ready for dind now",
            registry=r,
        )
        self.publish_failures = Counter(
            "dind_preflight_publish_failures",
            "Publishing rounds the Kubernetes API did not accept",
            registry=r,
        )

    def record(
        self, report: NodeReport | None, readiness: NodeReadiness, seconds: float, at: float
    ) -> None:
        for item in readiness.conditions:
            for status in Status:
                self.condition.labels(item.condition, status.value).set(
                    1 if item.status is status else 0
                )
        if report is not None:
            from preflight.node.module_sets import backend_of

            for name, state in report.modules.items():
                backend = backend_of(name)  # each module's own backend, whatever was picked
                self.loaded.labels(name, backend).set(1 if state.loaded else 0)
                self.at_boot.labels(name, backend).set(1 if state.loads_at_boot else 0)
        self.duration.observe(seconds)
        self.last_check.set(at)
        if readiness.now.status is Status.TRUE:
            self.last_good.set(at)

    def serve(self, port: int, address: str = "0.0.0.0") -> Any:
        """Serve ``/metrics`` from a background thread; returns the server (``.shutdown()``)."""
        from prometheus_client import start_http_server

        server, _thread = start_http_server(port, addr=address, registry=self.registry)
        return server

    def text(self) -> str:
        from prometheus_client import generate_latest

        return generate_latest(self.registry).decode()
