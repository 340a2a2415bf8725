"""What a run leaves behind: its `RunRecord` in the store, its metrics, and one log line."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from connectors.metrics import ServiceMetrics
from connectors.push import PushResult
from connectors.runtime import SolveReason
from connectors.snapshots import SnapshotInputs
from connectors.state import LiveState
from connectors.store.protocol import RunRecord, Store
from connectors.views import limit_now_kw
from models import Allocation

LOGGER = logging.getLogger("connectors.service")


@dataclass(frozen=True)
class RunFacts:
    """One finished run: what it read, decided and sent, and how long each stage took."""

    site_id: str
    inputs: SnapshotInputs
    allocation: Allocation
    at: datetime
    results: list[PushResult]
    durations_s: tuple[float, float, float]
    """snapshot, solve, push."""
    reasons: frozenset[SolveReason]


async def record_run(store: Store, metrics: ServiceMetrics, state: LiveState, run: RunFacts) -> None:
    """Store the run (site load from the guns' latest samples, the limit in force), count it, log it."""
    site_id, allocation = run.site_id, run.allocation
    power_kw = {
        gun_id: gun.power_kw
        for gun_id in run.inputs.site.guns()
        if (gun := state.guns.get(gun_id)) is not None and gun.session is not None and gun.power_kw is not None
    }
    site_load_kw = sum(power_kw.values())
    site_limit_kw = limit_now_kw(run.inputs.site, run.inputs.limit_series, run.at)
    snapshot_s, solve_s, push_s = run.durations_s
    failed = [result for result in run.results if result.outcome is None or not result.outcome.ok]
    await store.add_run(
        RunRecord(
            site_id=site_id,
            at=run.at,
            status=str(allocation.status),
            site_load_kw=site_load_kw,
            site_limit_kw=site_limit_kw,
            gun_power_kw=power_kw,
            gun_limit_kw={gun_id: limit.limit_kw for gun_id, limit in allocation.limits_now.items()},
            snapshot_s=snapshot_s,
            solve_s=solve_s,
            push_s=push_s,
        )
    )
    metrics.runs.labels(site_id, str(allocation.status)).inc()
    metrics.solve_seconds.labels(site_id).observe(solve_s)
    metrics.site_load_kw.labels(site_id).set(site_load_kw)
    if site_limit_kw is not None:
        metrics.site_limit_kw.labels(site_id).set(site_limit_kw)
    for result in run.results:
        if result.latency_s is not None:
            metrics.push_seconds.labels(site_id).observe(result.latency_s)
    if failed:
        metrics.push_failures.labels(site_id).inc(len(failed))
    LOGGER.info(
        "site %s run (%s): %s, %d sessions, %d profiles sent, %d not accepted; load %.1f of %s kW; "
        "snapshot %.3f s, solve %.3f s, push %.3f s",
        site_id,
        ",".join(sorted(run.reasons)),
        allocation.status,
        len(allocation.limits_now),
        len(run.results),
        len(failed),
        site_load_kw,
        "-" if site_limit_kw is None else f"{site_limit_kw:.1f}",
        snapshot_s,
        solve_s,
        push_s,
    )
