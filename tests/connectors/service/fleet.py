"""What the service tests share: settings for a fast service, a site of simulated stations, a fleet.

Intervals are short (the scheduler runs every `INTERVAL_S`, meters report every `METER_INTERVAL_S`)
so that the tests stay fast; every wait is for a condition, with a deadline.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from connectors.app import RunningService
from connectors.settings import ApiSection, OcppSection, OptimizerSection, SchedulerSection, Settings
from connectors.simulator.charge_point import SimulatedChargePoint, SimulatedEv
from connectors.store.protocol import Store
from models import Gun, LimitNode, MeterSample, Site

INTERVAL_S = 1.0
METER_INTERVAL_S = 0.2
TOLERANCE_KW = 0.1
"""Meters report W to 0.1 and profiles floor to 0.1 A: the measured total may pass the limit by rounding only."""


def depot(station_count: int, limit_kw: float, site_id: str = "depot") -> Site:
    """One grid connection of `limit_kw` with a 22 kW three-phase gun per station CP00, CP01, ..."""
    guns = [Gun(station_id=f"CP{index:02d}", max_power_kw=22.0, phases=3) for index in range(station_count)]
    return Site(id=site_id, root=LimitNode(id="grid", limit_kw=limit_kw, guns=guns))


def with_root_limit(site: Site, limit_kw: float) -> Site:
    return site.model_copy(update={"root": site.root.model_copy(update={"limit_kw": limit_kw})})


def fast_settings(tmp_path: Path, site: Site | None = None, **changes: Any) -> Settings:
    """A service on free loopback ports, running every `INTERVAL_S`, with its store in `tmp_path`."""
    site_file = None
    if site is not None:
        site_file = tmp_path / "site.yaml"
        site_file.write_text(site.to_json(), encoding="utf-8")
    values: dict[str, Any] = {
        "site_file": site_file,
        "store_path": tmp_path / "gridcharge.db",
        "ocpp": OcppSection(host="127.0.0.1", port=0, command_timeout_s=2.0),
        "api": ApiSection(host="127.0.0.1", port=0),
        "scheduler": SchedulerSection(
            interval_s=INTERVAL_S, debounce_s=0.1, ack_timeout_s=2.0, follow_s=0.5, profile_hold_s=60.0
        ),
        "optimizer": OptimizerSection(horizon_s=3600.0, step_s=300.0, solver_time_limit_s=2.0),
    }
    values.update(changes)
    return Settings(**values)


def simulated_stations(
    running: RunningService, station_ids: Sequence[str], cars: Sequence[SimulatedEv] | None = None
) -> list[SimulatedChargePoint]:
    """A simulated station per id, every other one on OCPP 1.6 and 2.0.1, each with a 22 kW car."""
    cars = cars or [SimulatedEv(max_power_kw=22.0) for _ in station_ids]
    return [
        SimulatedChargePoint(
            station_id,
            running.station_url(station_id),
            "1.6" if index % 2 == 0 else "2.0.1",
            ev=car,
            meter_interval_s=METER_INTERVAL_S,
        )
        for index, (station_id, car) in enumerate(zip(station_ids, cars, strict=True))
    ]


@asynccontextmanager
async def fleet(
    running: RunningService, station_ids: Sequence[str], cars: Sequence[SimulatedEv] | None = None
) -> AsyncIterator[list[SimulatedChargePoint]]:
    """`simulated_stations` connected, each with its car plugged in; stopped at the end."""
    stations = simulated_stations(running, station_ids, cars)
    await asyncio.gather(*(station.start() for station in stations))
    try:
        yield stations
    finally:
        await asyncio.gather(*(station.stop() for station in stations))


async def until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Wait for `condition`, checked every 20 ms; fail naming `what` after `timeout_s`."""
    try:
        async with asyncio.timeout(timeout_s):
            while not condition():
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"not within {timeout_s:g} s: {what}") from None


async def measured_totals(
    running: RunningService, store: Store, gun_ids: Sequence[str], start: datetime, end: datetime
) -> list[tuple[datetime, float]]:
    """The site load from meter values, at each sample instant from `start` to `end`.

    Stations stamp samples to the whole second and the store keeps a gun's last sample of each
    second, so the load at an instant is the sum of every gun's sample at that instant (or its
    latest before it).
    """
    await running.runtime.state.writer.flush(store)
    samples: list[MeterSample] = await store.get_meter_samples(gun_ids, start - timedelta(hours=1), end)
    latest: dict[str, float] = {}
    totals: dict[datetime, float] = {}
    for sample in samples:
        if sample.power_kw is None:
            continue
        latest[sample.gun_id] = sample.power_kw
        if sample.timestamp >= start:
            totals[sample.timestamp] = sum(latest.values())  # the last one of an instant counts
    return sorted(totals.items())


async def totals_over(
    running: RunningService, store: Store, gun_ids: Sequence[str], start: datetime, instants: int = 3
) -> list[tuple[datetime, float]]:
    """`measured_totals` from `start`, once they cover `instants` sample instants (seconds)."""
    async with asyncio.timeout(10 * INTERVAL_S):
        while True:
            totals = await measured_totals(running, store, gun_ids, start, datetime.now(start.tzinfo))
            if len(totals) >= instants:
                return totals
            await asyncio.sleep(METER_INTERVAL_S)


def station_limits_kw(stations: Sequence[SimulatedChargePoint], at: datetime) -> list[float]:
    """What each simulated station's profiles allow its gun at `at`, in kW (inf: no limit)."""
    limits = []
    for station in stations:
        limit_w = station.store.limit_at(station.evse_id, at)
        limits.append(float("inf") if limit_w is None else limit_w / 1000)
    return limits
