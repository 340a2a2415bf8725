"""Prometheus metrics of one service instance, in a registry of its own (tests run several at once)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

_LATENCY_BUCKETS_S = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)


class ServiceMetrics:
    """What `/metrics` shows: stations connected, load against limit, solve time, profile pushes."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.connected_stations = Gauge(
            "gridcharge_connected_stations", "Stations connected to the OCPP endpoint.", registry=self.registry
        )
        self.site_load_kw = Gauge(
            "gridcharge_site_load_kw", "Site load from the latest meter samples (kW).", ["site"], registry=self.registry
        )
        self.site_limit_kw = Gauge(
            "gridcharge_site_limit_kw", "Grid connection limit in force now (kW).", ["site"], registry=self.registry
        )
        self.runs = Counter(
            "gridcharge_runs", "Scheduler runs by solve status.", ["site", "status"], registry=self.registry
        )
        self.run_failures = Counter(
            "gridcharge_run_failures", "Runs that ended in an error.", ["site"], registry=self.registry
        )
        self.solve_seconds = Histogram(
            "gridcharge_solve_seconds", "Optimizer time per run.", ["site"], registry=self.registry,
            buckets=_LATENCY_BUCKETS_S,
        )  # fmt: skip
        self.push_seconds = Histogram(
            "gridcharge_profile_push_seconds",
            "Time from sending a profile to its acknowledgement.",
            ["site"],
            registry=self.registry,
            buckets=_LATENCY_BUCKETS_S,
        )
        self.push_failures = Counter(
            "gridcharge_profile_push_failures",
            "Profiles rejected, failed or not acknowledged in time.",
            ["site"],
            registry=self.registry,
        )

    def exposition(self) -> bytes:
        """The Prometheus text format of every metric."""
        return generate_latest(self.registry)
