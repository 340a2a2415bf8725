"""End to end: a car plugging into an idle gun while the other guns' plans fill the site's limit."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from connectors.app import running_service
from connectors.settings import SchedulerSection
from connectors.simulator.charge_point import SimulatedChargePoint, SimulatedEv
from models import StationCapabilities
from tests.connectors.service.fleet import (
    INTERVAL_S,
    TOLERANCE_KW,
    depot,
    fast_settings,
    fleet,
    measured_totals,
    simulated_stations,
    station_limits_kw,
    totals_over,
    until,
)

LIMIT_KW = 50.0
ACTIVE = 5


def test_a_car_plugging_into_an_idle_gun_keeps_the_site_within_its_limit(tmp_path: Path) -> None:
    site = depot(ACTIVE + 1, limit_kw=LIMIT_KW)
    gun_ids = list(site.guns())
    idle_id = gun_ids[-1]
    # a slow re-solve after the plug-in: the idle gun's tx default alone must keep the site within its limit
    scheduler = SchedulerSection(interval_s=INTERVAL_S, debounce_s=1.0, ack_timeout_s=2.0, follow_s=0.5)
    settings = fast_settings(tmp_path, site, scheduler=scheduler)

    async def scenario() -> None:
        async with running_service(settings, api=False) as running:
            state, store = running.runtime.state, running.runtime.store
            async with fleet(running, [f"CP{index:02d}" for index in range(ACTIVE)]) as active:
                [idle] = simulated_stations(running, [f"CP{ACTIVE:02d}"])
                await idle.connect()
                try:
                    stations = [*active, idle]

                    def planned_to_the_limit() -> bool:
                        return sum(state.guns[gun].held.limit_kw for gun in gun_ids[:ACTIVE]) > LIMIT_KW - 1.0  # type: ignore[union-attr]

                    await until(lambda: all(state.guns[gun].held for gun in gun_ids[:ACTIVE]), 10.0, "steered")
                    await until(planned_to_the_limit, 10.0, "the plans fill the limit")
                    # the idle gun's tx default is cut to the room the plans leave
                    await until(
                        lambda: sum(station_limits_kw(stations, datetime.now(UTC))) <= LIMIT_KW + TOLERANCE_KW,
                        5 * INTERVAL_S,
                        "plans and the idle gun's tx default within the limit",
                    )

                    plugged = datetime.now(UTC)
                    await idle.start_transaction(ev=SimulatedEv(max_power_kw=22.0))
                    await until(lambda: state.guns[idle_id].held is not None, 10.0, "the new car steered")
                    await until(lambda: idle.power_kw > 1.0, 5 * INTERVAL_S, "and charging")
                    await asyncio.sleep(2 * INTERVAL_S)  # samples after it settled, too
                    totals = await measured_totals(
                        running, store, gun_ids, plugged - timedelta(seconds=1), datetime.now(UTC)
                    )
                    assert len(totals) >= 3
                    assert max(total for _, total in totals) <= LIMIT_KW + TOLERANCE_KW
                finally:
                    await idle.stop()

    asyncio.run(asyncio.wait_for(scenario(), 60.0))


def test_an_idle_gun_that_cannot_be_steered_is_reserved_before_a_car_plugs_in(tmp_path: Path) -> None:
    site = depot(4, limit_kw=40.0)
    gun_ids = list(site.guns())

    async def scenario() -> None:
        async with running_service(fast_settings(tmp_path, site), api=False) as running:
            state, store = running.runtime.state, running.runtime.store
            async with fleet(running, ["CP00", "CP01", "CP02"]) as steered:
                unsteered = SimulatedChargePoint(
                    "CP03",
                    running.station_url("CP03"),
                    "1.6",
                    capabilities=StationCapabilities(ocpp_version="1.6", smart_charging=False),
                    ev=SimulatedEv(max_power_kw=22.0),
                    meter_interval_s=0.2,
                )
                await unsteered.connect()
                try:
                    await until(
                        lambda: (
                            state.stations["CP03"].capabilities is not None
                            and not state.stations["CP03"].capabilities.smart_charging
                        ),
                        5.0,
                        "the station told it takes no profiles",
                    )
                    # the three plans leave the 22 kW a car on CP03 may draw unasked
                    await until(
                        lambda: sum(station_limits_kw(steered, datetime.now(UTC))) <= 18.0 + TOLERANCE_KW,
                        5 * INTERVAL_S,
                        "the plans leave room for the gun that cannot be steered",
                    )
                    plugged = datetime.now(UTC)
                    await unsteered.start_transaction()
                    await until(lambda: unsteered.power_kw > 20.0, 5 * INTERVAL_S, "the car draws all it wants")
                    # samples of three whole seconds from the plug-in on (stations stamp to the second)
                    totals = await totals_over(running, store, gun_ids, plugged, 3)
                    assert max(total for _, total in totals) <= 40.0 + TOLERANCE_KW
                finally:
                    await unsteered.stop()

    asyncio.run(asyncio.wait_for(scenario(), 60.0))
